"""What flagging a window when *either* detector flags it would give, next to the fusion
the run chose, computed after the fact from the ``results/scores.npz`` an evaluate run
writes: an analysis, never a choice.

Why it matters: a fusion chosen on validation can only favour what validation shows, and
validation's attacks are the ones the classifier was trained on. Where a test attack is
one the classifier has never seen (set_01 t04), every fusion that leans on the classifier
misses it while the anomaly branch alone catches it. The OR of the two detectors'
decisions keeps whatever either catches, at the sum of their false alarms; this script
measures both sides of that trade on validation (what a selection would see) and on each
held-out split (what it would have given), under each protocol, each detector at its own
threshold for that protocol (the calibrated one guarded where the run chose so).

    uv run python benchmarks/decision_or.py RUNS/full-s0/set_01/teacher/results/scores.npz

Prints one row per (file, split, protocol): F1 of the GAT, the VGAE, the chosen fusion
and the OR of the two detectors' flags, over the windows that protocol scores.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from canids_models import binary_metrics

PROTOCOLS = ("frozen", "calibrated")


def f1(y: np.ndarray, flags: np.ndarray) -> float | None:
    """The F1 every results table reports (None where it is undefined)."""
    return binary_metrics(y, flags)["f1"]


def rows_of(path: Path, chosen: str) -> list[tuple[str, str, dict[str, float | None]]]:
    """(split, protocol, {gat, vgae, chosen, either: F1}) for every split of one file."""
    out = []
    with np.load(path) as z:
        keys = set(z.keys())
        for split in sorted({k.split("/")[0] for k in keys}):
            y = z[f"{split}/y"]
            for protocol in PROTOCOLS:
                if f"{split}/{protocol}/scored" not in keys:
                    continue  # a validation scored frozen only
                scored = z[f"{split}/{protocol}/scored"]
                flag = {
                    name: z[f"{split}/{protocol}/{name}/flag"][scored]
                    for name in ("gat", "vgae", f"fusion:{chosen}")
                }
                yy = y[scored]
                values = {name: f1(yy, f) for name, f in flag.items()}
                values["either"] = f1(yy, flag["gat"] | flag["vgae"])
                out.append((split, protocol, values))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scores", nargs="+", type=Path, help="results/scores.npz of evaluate runs")
    args = ap.parse_args()
    print("| file | split | protocol | gat | vgae | chosen fusion | either detector |")
    print("|---|---|---|---:|---:|---:|---:|")
    for path in args.scores:
        metrics = json.loads((path.parent / "metrics.json").read_text())
        chosen = metrics["fusion_method"]
        for split, protocol, v in rows_of(path, chosen):
            name = split if split != "val" else "val (not held out)"
            cell = {k: "undefined" if x is None else f"{x:.3f}" for k, x in v.items()}
            print(
                f"| {path} | {name} | {protocol} | {cell['gat']} | {cell['vgae']} | "
                f"{chosen} {cell[f'fusion:{chosen}']} | {cell['either']} |"
            )


if __name__ == "__main__":
    main()
