"""``calibration.guard_at``: a guarded calibration rule's floor at validation's edge (the
highest validation score the frozen cut leaves unflagged; the default since
canids-models 0.15.0) against the frozen cut itself (the baseline, 0.7.0-0.14.x's guard,
``calibration.guard_at=threshold``), on the same detectors.

    uv run --no-sync python benchmarks/guard_floor.py --data ../shared/data/real \\
        --out benchmarks/out/guard_floor [--datasets set_01 hcrl_sa] [--seeds 0 1 2] \\
        [--sizes teacher student]

Per dataset, size and seed, the pipeline runs once with the guard on the cut (its
finished stages are reused: runs of canids-models 0.13.0-0.14.x, whose config digest that
setting keeps, can stand in: put them at ``OUT/runs/<dataset>-s<seed>`` and their cache
at ``OUT/cache-<dataset>``), then its ``vgae`` and ``gat`` artifacts are copied to a
second run whose fusion and evaluate stages run with the default guard. Printed per split
and protocol: the default fusion's F1 and both detectors' under each setting (mean ± std
over the seeds), the frozen VGAE's FPR, and how often the fusion falls below the better
of its inputs by more than 0.02. On validation the two floors flag the same windows, so
each run chooses the same rules, period and fusion under both; the frozen protocol does
not read the guard, so only calibrated rows can move.
"""

from __future__ import annotations

from pathlib import Path

from _bench import start_out
from detection_ablation import BY_VALIDATION, JUDGE_0_17, paired_runs, run_arguments
from frozen_warmup import setting_tables

BASELINE = "calibration.guard_at=threshold"


def runs(dataset: str, root: Path, seed: int, size: str, out: Path, log: Path) -> dict[str, Path]:
    base, edge = paired_runs(
        dataset, root, seed, size, out, log, [BASELINE], "edge", (BY_VALIDATION, *JUDGE_0_17)
    )
    return {"floor at the cut": base, "floor at the edge": edge}


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/guard_floor", [0])
    ap.add_argument("--sizes", nargs="+", default=["teacher"], choices=["teacher", "student"])
    args = ap.parse_args()
    out, log = start_out(args.out, "guard_floor")

    def settings(dataset: str, root: Path, seed: int, size: str) -> dict[str, Path]:
        return runs(dataset, root, seed, size, out, log)

    setting_tables(args, settings, out, "guard_floor.md")


if __name__ == "__main__":
    main()
