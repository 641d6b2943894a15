"""The test splits under an opt-in fusion or calibration setting beside the default, on the
same detectors, for the teacher and (``--student``) its distilled student: a check read
after the candidate's verdict, never a choice.

    uv run python benchmarks/option_check.py --data ../shared/data/real \\
        --out benchmarks/out/guard_each --name guard_each --set calibration.guard_at=each \\
        [--datasets set_01 hcrl_sa] [--seeds 0 1 2] [--student | --student-only]
        [--student-keeps vgae gat]

A candidate is judged held out by dataset (``dataset_holdout.py``), where no test split
is read; this script shows what it moves on hcrl_sa's and set_01's test splits. Per
dataset and seed the default pipeline runs once (``runs/<dataset>-s<seed>``: the teacher,
and with ``--student`` its student), then in ``runs/<dataset>-<name>-s<seed>`` the
teacher's fusion and evaluate stages with the ``--set`` items on copies of its detectors
and of its held-out family runs' detectors (the families rule refits each family's fusion
under them), and with ``--student`` the student's on copies of the default student's
detectors (it deploys the fusion of the teacher beside it). Only settings that the fusion
and evaluate stages read belong here: the copies would not be trained again. Finished
stages are reused.

A setting of the student alone (``--student-only``, e.g. ``distill.select=fidelity``):
the option's folder holds a copy of the default teacher's whole pipeline (its detectors,
fusion, results and family runs: nothing of the teacher runs again), and the student's
detectors not named by ``--student-keeps`` are distilled again under the setting.

Printed per dataset and size: both sets' tables and goal lines (``results_tables.py``:
the deployed fusion's held-out F1 per split and protocol, mean ± std over the seeds; each
goal it misses) and every cell that differs between the two, with how many are identical.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import (
    build_cache,
    copy_detectors,
    copy_family_teachers,
    results_metrics,
    run_arguments,
    run_stages,
)
from family_select import write_outputs
from results_tables import compare, goal_lines, table

# A teacher copied whole beside a student-only option: what its student reads.
TEACHER_WHOLE = ("vgae", "gat", "fusion", "results")


def paired(
    dataset: str,
    cache: Path,
    seed: int,
    out: Path,
    log: Path,
    option: tuple[str, list[str]],
    sizes: tuple[str, ...] = ("teacher",),
    keeps: tuple[str, ...] = ("vgae", "gat"),
) -> tuple[Path, Path]:
    """The default run folder and ``option``'s (name, ``--set`` items) beside it: for each
    of ``sizes`` its stages under the option on copies of the default's detectors (the
    student's ``keeps``); a teacher not in ``sizes`` is copied whole and runs nothing."""
    name, sets = option
    seed_set = f"train.seed={seed}"
    base = out / "runs" / f"{dataset}-s{seed}"
    other = out / "runs" / f"{dataset}-{name}-s{seed}"
    run_stages(dataset, "teacher", base, cache, [seed_set], log)
    if "teacher" in sizes:
        copy_detectors(base, other, dataset, "teacher")
        copy_family_teachers(base, other, dataset, keys=("vgae", "gat"))
        run_stages(dataset, "teacher", other, cache, [seed_set, *sets], log)
    else:
        copy_detectors(base, other, dataset, "teacher", keys=TEACHER_WHOLE)
        copy_family_teachers(base, other, dataset)
    if "student" in sizes:
        run_stages(dataset, "student", base, cache, [seed_set], log)
        copy_detectors(base, other, dataset, "student", keys=keeps)
        run_stages(dataset, "student", other, cache, [seed_set, *sets], log)
    return base, other


def lines_for(
    dataset: str,
    size: str,
    pairs: list[tuple[Path, Path]],
    name: str,
    heading: str | None = None,
) -> tuple[list[str], dict[str, Any]]:
    """The tables, goal lines and differing cells of one dataset's pairs, for ``size``;
    the option's table under ``heading`` (its name, where none is given)."""
    base = [results_metrics(b, dataset, size) for b, _ in pairs]
    option = [results_metrics(c, dataset, size) for _, c in pairs]
    lines = [f"\n### {dataset}, {size}: the default\n"]
    lines += [*table(base), "", *goal_lines(base, None)]
    lines += [f"\n### {dataset}, {size}: {heading or name}\n"]
    lines += [*table(option), "", *goal_lines(option, None)]
    lines += [f"\n### {dataset}, {size}: cells that differ ({name} against the default)\n"]
    lines += compare(option, base)
    data = {
        "default": [m["fusion_method"] for m in base],
        name: [m["fusion_method"] for m in option],
        "runs": [[str(b), str(c)] for b, c in pairs],
    }
    return lines, data


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/option_check", [0, 1, 2])
    ap.add_argument("--name", required=True, help="the option's folder name, e.g. guard_each")
    ap.add_argument(
        "--set",
        dest="sets",
        action="append",
        required=True,
        help="a setting of the option (repeatable), e.g. calibration.guard_at=each",
    )
    ap.add_argument("--student", action="store_true", help="also the distilled student")
    ap.add_argument(
        "--student-only",
        action="store_true",
        help="a setting of the student alone: the teacher is copied whole, not run again",
    )
    ap.add_argument(
        "--student-keeps",
        nargs="*",
        choices=["vgae", "gat"],
        help="the default student's detectors the option's student copies (default: both); "
        "the others are distilled again under the option (e.g. --student-keeps vgae for "
        "distill.select)",
    )
    args = ap.parse_args()
    if args.student and args.student_only:
        ap.error("give --student or --student-only, not both")
    if args.student_keeps is not None and not (args.student or args.student_only):
        ap.error("--student-keeps needs --student or --student-only: no student would run")
    out, log = start_out(args.out, "option_check")
    root = Path(args.data).resolve()
    lines: list[str] = []
    data: dict[str, Any] = {}
    sizes = ("teacher", "student") if args.student else ("teacher",)
    if args.student_only:
        sizes = ("student",)
    for dataset in args.datasets:
        cache = build_cache(dataset, root, out, log)
        option = (args.name, list(args.sets))
        keeps = ("vgae", "gat") if args.student_keeps is None else tuple(args.student_keeps)
        pairs = [paired(dataset, cache, s, out, log, option, sizes, keeps) for s in args.seeds]
        for size in sizes:
            more, data[f"{dataset} {size}"] = lines_for(dataset, size, pairs, args.name)
            lines += more
    write_outputs(out, "option_check", data, lines)


if __name__ == "__main__":
    main()
