"""Issue 10's ablation of the current default: each fusion and calibration technique
switched off alone, teacher and distilled student, on the same detectors.

    uv run python benchmarks/technique_ablation.py --data ../shared/data/real \\
        --out benchmarks/out/technique_ablation [--datasets hcrl_sa set_01] \\
        [--seeds 0 1 2] [--techniques families cut ...] [--no-student]

``--techniques`` with no name runs the default pipelines alone: the goal table's runs
(``goal_table.py`` reads their folders), on another machine or at another commit.

Per dataset and seed, the default pipeline runs once into ``runs/<dataset>-full-s<seed>``
(teacher: vgae, gat_curriculum, fusion, evaluate; then the distilled student: vgae, gat,
fusion, evaluate), with ``canids-train`` as a user runs it. Each technique then gets its
own folder ``runs/<dataset>-<technique>-s<seed>`` holding copies of the full run's
detectors (both sizes) and of the teacher's held-out family detectors, whose fusion and
evaluate stages run under that technique's ``--set`` items: what differs from the full
run is the technique alone, not the training's seed-to-seed noise. The student's fusion
reads its own folder's teacher, so a teacher technique reaches the student through the
fusion its teacher deploys (the student's default, ``fusion.select=teacher``).

The detectors' own techniques (the invariant features, validation time blocks, the CAN-ID
embedding off) change what is trained, so their ablation retrains every stage:
``benchmarks/detection_ablation.py --variants v1 tail ids``.

Printed per dataset and size: mean ± std over the seeds of the chosen fusion's held-out
F1 for every split and protocol, the full system beside each technique off; the picks
per run; and issue 10's goal misses per column (``results_tables.goal_misses``). Finished
stages are reused, so an interrupted run resumes.
"""

from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _bench import start_out
from canids_core.atomic import atomic_write_json
from detection_ablation import (
    build_cache,
    copy_detectors,
    copy_family_teachers,
    mean_std,
    run_arguments,
    run_stages,
)
from results_tables import CHOSEN, cells, goal_misses, load, short

SUMMARY = "technique_ablation.json"  # in --out: every dataset's entries, across invocations


@dataclass(frozen=True)
class Technique:
    """What a technique is, and the ``--set`` items that switch it off, per size."""

    what: str
    teacher: tuple[str, ...]
    student: tuple[str, ...]

    def switches(self, size: str) -> tuple[str, ...]:
        """The config items that switch this technique off in a ``size`` pipeline."""
        return self.teacher if size == "teacher" else self.student

    def reaches(self, size: str) -> bool:
        """Whether switching it off can move ``size``'s figures: a teacher technique
        reaches the student through the fusion its teacher deploys."""
        return size == "student" or bool(self.teacher)


TECHNIQUES: dict[str, Technique] = {
    "families": Technique(
        "the fusion chosen on the training captures' held-out attack families (0.17.0); "
        "off: validation's rule",
        ("fusion.select=validation",),
        (),  # the student keeps deploying its teacher's pick, which validation chose
    ),
    "cut": Technique(
        "the cut fusions cut_mean and cut_max among the candidates (0.16.0)",
        ("fusion.cut_fusions=false",),
        ("fusion.cut_fusions=false",),
    ),
    "judge": Technique(
        "the calibration judged on clean calibration windows with a tie margin (0.18.0)",
        ("calibration.clean_validation=false", "calibration.tie_margin=null"),
        ("calibration.clean_validation=false", "calibration.tie_margin=null"),
    ),
    "alone_first": Technique(
        "a tie between fusions to one in which either detector flags alone (0.19.0)",
        ("fusion.tie_order=simplest",),
        ("fusion.tie_order=simplest",),
    ),
    "period": Technique(
        "the deployed fusion calibrated on its own period (0.20.0)",
        ("fusion.period_of=validation",),
        ("fusion.period_of=validation",),
    ),
    "ties": Technique(
        "calibration ties to the longest period and the most sensitive rule (0.23.0)",
        ("calibration.period_ties=first", "calibration.rule_ties=first"),
        ("calibration.period_ties=first", "calibration.rule_ties=first"),
    ),
    "guard": Technique(
        "the guard: a calibrated threshold never below the frozen floor where validation "
        "chooses it (0.7.0)",
        ("calibration.guard=off",),
        ("calibration.guard=off",),
    ),
    "teacher_pick": Technique(
        "the student deploys its teacher's fusion (0.26.0); off: its own families rule, "
        "which distils a student per held-out family",
        (),
        ("fusion.select=auto",),
    ),
}


def full_run(dataset: str, seed: int, sizes: list[str], cache: Path, out: Path, log: Path) -> Path:
    """The default pipeline of every size into ``runs/<dataset>-full-s<seed>``."""
    base = out / "runs" / f"{dataset}-full-s{seed}"
    for size in sizes:
        run_stages(dataset, size, base, cache, [f"train.seed={seed}"], log)
    return base


def technique_run(
    dataset: str,
    seed: int,
    name: str,
    sizes: list[str],
    base: Path,
    cache: Path,
    out: Path,
    log: Path,
) -> tuple[Path, dict[str, float]]:
    """``name`` switched off on copies of ``base``'s detectors: each size's fusion and
    evaluate stages under its ``--set`` items; the seconds of each stage run."""
    technique = TECHNIQUES[name]
    folder = out / "runs" / f"{dataset}-{name}-s{seed}"
    if technique.teacher:
        copy_family_teachers(base, folder, dataset, keys=("vgae", "gat"))
    else:  # the full run's teacher as it is, with its family runs (a student's rule reads them)
        copy_family_teachers(base, folder, dataset)
        copy_detectors(base, folder, dataset, "teacher", ("vgae", "gat", "fusion", "results"))
    seconds: dict[str, float] = {}
    for size in sizes:
        copy_detectors(base, folder, dataset, size)
        if size == "teacher" and not technique.teacher:
            continue
        sets = [f"train.seed={seed}", *technique.switches(size)]
        ran = run_stages(dataset, size, folder, cache, sets, log)
        seconds.update({f"{size}/{k}": round(v, 1) for k, v in ran.items()})
    return folder, seconds


def chosen_f1(metrics: dict[str, Any]) -> dict[tuple[str, str], float | None]:
    """The chosen fusion's F1 per held-out split and protocol."""
    return {(s, p): row["f1"] for (s, p, m), row in cells(metrics).items() if m == CHOSEN}


def table(columns: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Chosen fusion F1 (mean ± std) per split × protocol, one column per setting."""
    names = list(columns)
    keys = sorted({k for runs in columns.values() for m in runs for k in chosen_f1(m)})
    lines = [
        "| split | protocol | " + " | ".join(names) + " |",
        "|---|---|" + "---:|" * len(names),
    ]
    for split, protocol in keys:
        row = [mean_std([chosen_f1(m).get((split, protocol)) for m in columns[n]]) for n in names]
        lines.append(f"| {short(split)} | {protocol} | " + " | ".join(row) + " |")
    return lines


def picks(columns: dict[str, list[dict[str, Any]]]) -> list[str]:
    return [f"- {n}: {' / '.join(m['fusion_method'] for m in runs)}" for n, runs in columns.items()]


def goals(
    columns: dict[str, list[dict[str, Any]]], teachers: dict[str, list[dict[str, Any]]] | None
) -> list[str]:
    """Issue 10's misses per column (a student held against its own folder's teacher)."""
    out = []
    for name, runs in columns.items():
        found = goal_misses(runs, None if teachers is None else teachers[name])
        read = {a: found.cells(a) for a in ("goal", "input", "teacher")}
        parts = [
            f"F1 goal {read['goal'] - len(found.of('goal'))} of {read['goal']} cells met",
            f"fusion within 0.02 of its better input {read['input'] - len(found.of('input'))} "
            f"of {read['input']}",
        ]
        if teachers is not None:
            parts.append(
                f"within 0.03 of its teacher {read['teacher'] - len(found.of('teacher'))} of "
                f"{read['teacher']}"
            )
        out.append(f"- {name}: " + "; ".join(parts))
    return out


def main() -> None:
    ap = run_arguments(__doc__, "benchmarks/out/technique_ablation", [0, 1, 2])
    ap.add_argument(
        "--techniques",
        nargs="*",
        default=list(TECHNIQUES),
        choices=list(TECHNIQUES),
        help="the techniques to switch off (default: all; none: the full runs alone)",
    )
    ap.add_argument("--no-student", action="store_true")
    args = ap.parse_args()
    out, log = start_out(args.out, "technique_ablation")
    # Read before the runs, not after them: an unreadable summary stops in a second, not at
    # the end of hours of pipelines.
    earlier = read_summary(out / SUMMARY)
    sizes = ["teacher"] if args.no_student else ["teacher", "student"]
    folders: dict[tuple[str, str, int], Path] = {}
    for dataset in args.datasets:
        cache = build_cache(dataset, Path(args.data) / dataset, out, log)
        for seed in args.seeds:
            t0 = time.perf_counter()
            base = full_run(dataset, seed, sizes, cache, out, log)
            folders[dataset, "full", seed] = base
            print(f"{dataset} full seed {seed}: {time.perf_counter() - t0:.0f} s", flush=True)
            for name in args.techniques:
                if not any(TECHNIQUES[name].reaches(s) for s in sizes):
                    continue  # a student's technique, and no student
                folder, seconds = technique_run(dataset, seed, name, sizes, base, cache, out, log)
                folders[dataset, name, seed] = folder
                print(f"{dataset} {name} off, seed {seed}: {seconds}", flush=True)
    report(args.datasets, ["full", *args.techniques], args.seeds, sizes, folders, out, earlier)


def read_summary(path: Path) -> dict[str, Any]:
    """The entries earlier invocations reported into ``path`` (none where it is absent)."""
    if not path.exists():
        return {}
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise SystemExit(
            f"{path}: not a summary this script wrote ({err}); move it aside and run this "
            "command again, and each other dataset's whose entries it held: the script "
            "resumes their run folders and reads every figure again from them"
        ) from err
    if not isinstance(summary, dict):
        raise SystemExit(f"{path}: holds a {type(summary).__name__}, not a summary; move it aside")
    return summary


def report(
    datasets: list[str],
    names: list[str],
    seeds: list[int],
    sizes: list[str],
    folders: dict[tuple[str, str, int], Path],
    out: Path,
    earlier: dict[str, Any] | None = None,
) -> None:
    """Print each dataset's tables and write the summary. Each dataset's entries replace
    that dataset's alone: datasets run by separate invocations (set_01's hours apart from
    hcrl_sa's) accumulate in one file. ``earlier``: the summary as :func:`main` read it
    before its runs (read here where it is not given)."""
    path = out / SUMMARY
    summary = read_summary(path) if earlier is None else dict(earlier)
    loaded = functools.cache(load)  # the student's goals read the teacher's folders again
    for dataset in datasets:
        for size in sizes:
            columns = {
                n: [loaded(folders[dataset, n, s], dataset, size) for s in seeds]
                for n in names
                if all((dataset, n, s) in folders for s in seeds)
                and (n == "full" or TECHNIQUES[n].reaches(size))
            }
            teachers = None
            if size == "student":
                teachers = {
                    n: [loaded(folders[dataset, n, s], dataset, "teacher") for s in seeds]
                    for n in columns
                }
            print(
                f"\n## {dataset}, {size} (seeds {', '.join(map(str, seeds))}): chosen fusion F1\n"
            )
            print("\n".join(table(columns)))
            print("\npicks per seed:\n" + "\n".join(picks(columns)))
            print("\nissue 10's goals:\n" + "\n".join(goals(columns, teachers)))
            summary[f"{dataset}/{size}"] = {
                n: {
                    "seeds": seeds,
                    "picks": [m["fusion_method"] for m in runs],
                    "chosen_f1": [
                        {f"{k[0]}/{k[1]}": v for k, v in chosen_f1(m).items()} for m in runs
                    ],
                }
                for n, runs in columns.items()
            }
    atomic_write_json(path, summary)  # a killed report leaves the old file whole
    print(
        "\ntechniques switched off:\n"
        + "\n".join(f"- {n}: {TECHNIQUES[n].what}" for n in names if n in TECHNIQUES)
    )


if __name__ == "__main__":
    main()
