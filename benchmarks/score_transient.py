"""How a model's score settles after a capture starts: the median score of every window,
binned by the time since its capture's start, from the ``results/scores.npz`` an evaluate
run writes. No label is read (a bin's median is over all of its windows), so it can be
computed on any capture, test captures included, as an audit.

Why it matters: the calibrated protocol sets each capture's threshold on its first
seconds. If the score of normal traffic is still falling then, the threshold sits above
the capture's steady state and subtle attacks pass under it (docs/results.md, set_01 t04).

    uv run python benchmarks/score_transient.py RUNS/full-s1/set_01/teacher/results/scores.npz

Prints one row per (file, split): the median over the split's captures of each capture's
median score in each time bin; ``-`` where a capture has fewer than ``--min-windows``
windows in a bin.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np

DEFAULT_EDGES = (0.0, 1.0, 2.5, 5.0, 10.0, 30.0, float("inf"))


def _label(lo: float, hi: float) -> str:
    return f"> {lo:g} s" if np.isinf(hi) else f"{lo:g}–{hi:g} s"


def split_profile(
    scores: np.ndarray,
    since_start: np.ndarray,
    source: np.ndarray,
    edges: tuple[float, ...],
    min_windows: int,
) -> list[float]:
    """Median over captures of each capture's median score per (lo, hi] time bin."""
    rows = []
    for capture in np.unique(source):
        mine = source == capture
        row = []
        for lo, hi in itertools.pairwise(edges):
            sel = mine & (since_start > lo) & (since_start <= hi)
            row.append(float(np.median(scores[sel])) if sel.sum() >= min_windows else np.nan)
        rows.append(row)
    table = np.array(rows)
    return [float(np.nanmedian(col)) if np.isfinite(col).any() else float("nan") for col in table.T]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("scores", nargs="+", type=Path, help="results/scores.npz of evaluate runs")
    ap.add_argument("--model", default="vgae", help="vgae, gat or fusion:NAME (default vgae)")
    ap.add_argument(
        "--edges",
        type=float,
        nargs="+",
        default=list(DEFAULT_EDGES),
        help="bin edges in seconds since the capture's start (default 0 1 2.5 5 10 30 inf)",
    )
    ap.add_argument("--min-windows", type=int, default=4)
    args = ap.parse_args()
    edges = tuple(args.edges)
    print(f"median {args.model} score (frozen protocol, raw units) by time since the start")
    bins = " | ".join(_label(lo, hi) for lo, hi in itertools.pairwise(edges))
    print(f"| file | split | captures | {bins} |")
    print("|---|---|---:|" + "---:|" * (len(edges) - 1))
    for path in args.scores:
        with np.load(path) as z:
            keys = set(z.keys())
            for split in sorted({k.split("/")[0] for k in keys}):
                key = f"{split}/frozen/{args.model}/score"
                if key not in keys:
                    continue
                since = z[f"{split}/window_end"] - z[f"{split}/capture_start"]
                source = z[f"{split}/source"]
                prof = split_profile(z[key], since, source, edges, args.min_windows)
                cells = " | ".join("-" if np.isnan(v) else f"{v:.2f}" for v in prof)
                n = len(np.unique(source))
                print(f"| {path} | {split} | {n} | {cells} |")


if __name__ == "__main__":
    main()
