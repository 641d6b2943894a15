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

import json
from pathlib import Path
from typing import Any

from _bench import start_out
from detection_ablation import BY_VALIDATION, JUDGE_0_17, mean_std, paired_runs, run_arguments
from frozen_warmup import setting_tables

BASELINE = "fusion.cut_fusions=false"
# The candidates printed beside the default, whichever each run picked.
SHOWN = ("cut_mean", "cut_max", "either", "dqn")


def candidate_table(dataset: str, size: str, runs: list[Path]) -> list[str]:
    """Held-out F1 of the default, each of :data:`SHOWN` and both detectors in the runs
    with the cut fusions: per seed and mean ± std, per split and protocol."""
    per_run = []
    for run in runs:
        m = json.loads((run / dataset / size / "results" / "metrics.json").read_text())
        f1: dict[tuple[str, str], dict[str, Any]] = {}
        for r in m["rows"]:
            model = r["model"].removeprefix("fusion:")
            if r["held_out"] and model in ("vgae", "gat", m["fusion_method"], *SHOWN):
                cell = f1.setdefault((r["split"], r["protocol"]), {})
                cell[model] = r["f1"]
                if model == m["fusion_method"]:
                    cell["default"] = r["f1"]
        per_run.append(f1)
    columns = ("default", *SHOWN, "vgae", "gat")
    lines = [
        f"\n### {dataset}, {size}: every candidate's held-out F1 with the cut fusions "
        f"(seeds {' / '.join(r.name.rsplit('-s', 1)[1] for r in runs)}; the default is "
        "the run's pick)\n",
        "| split | protocol | " + " | ".join(columns) + " |",
        "|---|---|" + "---|" * len(columns),
    ]
    for key in sorted(per_run[0]):
        cells = []
        for col in columns:
            values = [f1[key].get(col) for f1 in per_run]
            seeds = " / ".join("—" if v is None else f"{v:.3f}" for v in values)
            cells.append(f"{mean_std(values)} ({seeds})")
        lines.append(f"| {key[0]} | {key[1]} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = run_arguments(__doc__ or "", "benchmarks/out/cut_fusions", [0])
    ap.add_argument("--sizes", nargs="+", default=["teacher"], choices=["teacher", "student"])
    args = ap.parse_args()
    out, log = start_out(args.out, "cut_fusions")
    cut_runs: dict[tuple[str, str], list[Path]] = {}

    def settings(dataset: str, root: Path, seed: int, size: str) -> dict[str, Path]:
        base, cut = paired_runs(
            dataset, root, seed, size, out, log, [BASELINE], "cut", (BY_VALIDATION, *JUDGE_0_17)
        )
        cut_runs.setdefault((dataset, size), []).append(cut)
        return {"0.15.0 candidates": base, "with the cut fusions": cut}

    setting_tables(args, settings, out, "cut_fusions.md")
    lines = [line for key, runs in cut_runs.items() for line in candidate_table(*key, runs)]
    with (out / "cut_fusions.md").open("a") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
