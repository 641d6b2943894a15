"""Issue 10's goal table of docs/results.md ("Where the goals stand") from finished runs:
one column per dataset and size, one row per goal, each cell the misses by run.

    uv run --no-sync python benchmarks/goal_table.py \\
        --column hcrl_sa teacher RUN_s0 RUN_s1 RUN_s2 \\
        --column hcrl_sa student RUN_s0 RUN_s1 RUN_s2 \\
        --column set_01 teacher RUN_s0 RUN_s1 RUN_s2 \\
        --column set_01 student RUN_s0 RUN_s1 RUN_s2

Each RUN is a run folder (``<RUN>/<dataset>/<size>/results/metrics.json``), one per seed,
in seed order. A student column holds each run against the teacher's evaluate stage in the
same run folder, as ``results_tables.py`` does, whose goal reading (``goal_misses``) this
table prints: the chosen fusion's calibrated F1 against 0.95, hcrl_sa's frozen t02 and t04
against 0.80 and t03 against 0.70, the chosen fusion against the better of its two inputs
(a miss: more than 0.02 below it) and a student against its teacher (more than 0.03
below). Only held-out test splits are read. The pipeline-time goal is not in a run folder:
docs/results.md times it with ``canids-submit`` alone on the machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from results_tables import GoalMisses, Miss, goal_misses, load, short

SIZES = ("teacher", "student")
ROWS = (
    ("calibrated F1 ≥ 0.95", "goal", "calibrated"),
    ("frozen F1 ≥ 0.80 on hcrl_sa t02 and t04, ≥ 0.70 on t03", "goal", "frozen"),
    ("fusion no more than 0.02 below its better input", "input", None),
    ("student within 0.03 F1 of its teacher", "teacher", None),
)


def _miss(m: Miss) -> str:
    where = f"seed {m.run} {short(m.split)}"
    if m.against == "goal":
        return f"{where} {m.f1:.3f}"
    return f"{where} {m.protocol} by {m.bar - m.f1:.3f}"


def cell(found: GoalMisses, against: str, protocol: str | None) -> str:
    """``met (n cells)`` or ``**missed in k of n**: ...``; empty where the goal does not
    apply (no cell read)."""
    misses, cells = found.of(against, protocol), found.cells(against, protocol)
    if cells == 0:
        return ""
    if not misses:
        return f"met ({cells} cell{'s' if cells != 1 else ''})"
    return f"**missed in {len(misses)} of {cells}**: " + ", ".join(_miss(m) for m in misses)


def column(dataset: str, size: str, runs: list[Path]) -> tuple[str, list[str]]:
    metrics = [load(r, dataset, size) for r in runs]
    teachers = [load(r, dataset, "teacher") for r in runs] if size == "student" else None
    found = goal_misses(metrics, teachers)
    picks = " / ".join(str(m.get("fusion_method")) for m in metrics)
    head = f"{dataset} {size} ({picks})"
    return head, [cell(found, against, protocol) for _, against, protocol in ROWS]


def table(columns: list[tuple[str, list[str]]]) -> list[str]:
    lines = ["| goal | " + " | ".join(h for h, _ in columns) + " |"]
    lines.append("|---|" + "---|" * len(columns))
    for i, (name, _, _) in enumerate(ROWS):
        lines.append(f"| {name} | " + " | ".join(c[i] for _, c in columns) + " |")
    return lines


def _column_arg(values: list[str]) -> tuple[str, str, list[Path]]:
    if len(values) < 3 or values[1] not in SIZES:
        raise SystemExit(
            f"--column {' '.join(values)}: give DATASET SIZE RUN [RUN ...], SIZE one of "
            f"{', '.join(SIZES)} (e.g. --column hcrl_sa teacher runs/full-s0)"
        )
    return values[0], values[1], [Path(v) for v in values[2:]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--column",
        nargs="+",
        action="append",
        required=True,
        metavar="DATASET SIZE RUN",
        help="a dataset, a size and its run folders (repeatable)",
    )
    args = ap.parse_args()
    columns = [column(*_column_arg(values)) for values in args.column]
    print("\n".join(table(columns)))


if __name__ == "__main__":
    main()
