"""The test splits under an opt-in fusion or calibration setting beside the default, on the
same detectors, for the teacher and (``--student``) its distilled student: a check read
after the candidate's verdict, never a choice.

    uv run python benchmarks/option_check.py --data ../shared/data/real \\
        --out benchmarks/out/guard_each --name guard_each --set calibration.guard_at=each \\
        [--datasets set_01 hcrl_sa] [--seeds 0 1 2] [--student]

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


def paired(
    dataset: str,
    cache: Path,
    seed: int,
    out: Path,
    log: Path,
    option: tuple[str, list[str]],
    student: bool,
) -> tuple[Path, Path]:
    """The default run folder and ``option``'s (name, ``--set`` items) beside it, on copies
    of the default's detectors (the teacher's, its family runs', and the student's)."""
    name, sets = option
    seed_set = f"train.seed={seed}"
    base = out / "runs" / f"{dataset}-s{seed}"
    other = out / "runs" / f"{dataset}-{name}-s{seed}"
    run_stages(dataset, "teacher", base, cache, [seed_set], log)
    copy_detectors(base, other, dataset, "teacher")
    copy_family_teachers(base, other, dataset, keys=("vgae", "gat"))
    run_stages(dataset, "teacher", other, cache, [seed_set, *sets], log)
    if student:
        run_stages(dataset, "student", base, cache, [seed_set], log)
        copy_detectors(base, other, dataset, "student")
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
    args = ap.parse_args()
    out, log = start_out(args.out, "option_check")
    root = Path(args.data).resolve()
    lines: list[str] = []
    data: dict[str, Any] = {}
    sizes = ("teacher", "student") if args.student else ("teacher",)
    for dataset in args.datasets:
        cache = build_cache(dataset, root, out, log)
        option = (args.name, list(args.sets))
        pairs = [paired(dataset, cache, s, out, log, option, args.student) for s in args.seeds]
        for size in sizes:
            more, data[f"{dataset} {size}"] = lines_for(dataset, size, pairs, args.name)
            lines += more
    write_outputs(out, "option_check", data, lines)


if __name__ == "__main__":
    main()
