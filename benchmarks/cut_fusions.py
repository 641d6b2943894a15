"""``fusion.cut_fusions``: the cut fusions (each detector's score in units of its own
frozen F1 cut, canids-models 0.16.0) among the candidates, against 0.15.0's candidates
(the baseline, ``fusion.cut_fusions=false``), on the same detectors.

    uv run --no-sync python benchmarks/cut_fusions.py --data ../shared/data/real \\
        --out benchmarks/out/cut_fusions [--datasets set_01 hcrl_sa] [--seeds 0 1 2] \\
        [--sizes teacher student]

Per dataset, size and seed, the pipeline runs once without the cut fusions (its finished
stages are reused: ``guard_floor.py``'s ``<dataset>-edge-s<seed>`` runs, made by 0.15.0,
whose digest that setting keeps, can stand in: put them at ``OUT/runs/<dataset>-s<seed>``
and their cache at ``OUT/cache-<dataset>``), then its ``vgae`` and ``gat`` artifacts are
copied to a second run whose fusion and evaluate stages run with the default. Printed per
split and protocol: the default fusion's F1 and both detectors' under each setting (mean ±
std over the seeds), the frozen VGAE's FPR, how often the fusion falls below the better of
its inputs by more than 0.02, and the picks. The cut fusions are ranked after the older
four, so the picks move only where one of them wins on validation by the tie margin; the
other fusions' fits are the same (``test_cut_fusions.py``), and evaluate reports the cut
fusions' rows whichever is picked.
"""

from __future__ import annotations

from pathlib import Path

from _bench import start_out
from detection_ablation import paired_runs, run_arguments
from frozen_warmup import setting_tables

BASELINE = "fusion.cut_fusions=false"


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/cut_fusions", [0])
    ap.add_argument("--sizes", nargs="+", default=["teacher"], choices=["teacher", "student"])
    args = ap.parse_args()
    out, log = start_out(args.out, "cut_fusions")

    def settings(dataset: str, root: Path, seed: int, size: str) -> dict[str, Path]:
        base, cut = paired_runs(dataset, root, seed, size, out, log, [BASELINE], "cut")
        return {"0.15.0 candidates": base, "with the cut fusions": cut}

    setting_tables(args, settings, out, "cut_fusions.md")


if __name__ == "__main__":
    main()
