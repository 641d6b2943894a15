"""Score fusion in units of each detector's own cut, against the MAD-σ units fusion uses,
judged on **validation only** (no test array is opened), on finished runs.

    uv run --no-sync python benchmarks/fusion_scale.py \\
        --runs benchmarks/out/guard_floor/runs/set_01-edge-s0 … [--sizes teacher student]

The score fusions add or compare MAD-z scores: ``mean = (z_gat + z_vgae) / 2``. Where one
detector's attacks lie hundreds of σ out (set_01's GAT: its frozen cut at 105 σ) and the
other's a few (the VGAE: 1.9 σ), the mean is that first detector with the second as a
wobble, and an attack only the second sees cannot cross the mean's cut. Dividing each z
by its detector's frozen F1 cut (``u = z / cut``, 1 at the cut for both) weighs the two
equally at their decision boundaries: ``cut_mean = (u_gat + u_vgae) / 2``, ``cut_max =
max(u_gat, u_vgae)`` (the score form of ``either``; canids-models 0.16.0 fits both, with
:func:`canids_models.fusion_methods.cut_units`, which this script uses too). Printed per
run and size: each fusion's cut fitted on validation's frozen windows (max F1, as the
fusion stage fits it), its validation F1 and confusion, and the highest normal score the
cut leaves unflagged (the guard's floor since canids-models 0.15.0). Reads
``results/scores.npz``'s ``val/`` arrays and the fusion stage's thresholds; the cut is
refitted with the library's own ``fit_threshold``, so ``mean``'s line must equal the
stored one (checked).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from canids_models.fusion_methods import CUT_FUSIONS, cut_units, simple_fusion
from canids_models.metrics import fit_threshold


def validation_lines(folder: Path) -> list[dict[str, Any]]:
    """Each fusion's frozen validation fit in one run's ``size`` folder."""
    arrays = np.load(folder / "results" / "scores.npz")
    fitted = json.loads((folder / "fusion" / "metrics.json").read_text())
    cuts = fitted["thresholds"]
    scored = arrays["val/frozen/scored"].astype(bool)
    y = arrays["val/y"][scored].astype(bool)
    z_gat = arrays["val/frozen/gat/score"][scored].astype(np.float64)
    z_vgae = arrays["val/frozen/vgae/score"][scored].astype(np.float64)
    # The F1 cuts, as the stage takes them (a false-alarm-rate VGAE cut is not its unit).
    vgae_f1_cut = fitted["selection"]["vgae_cut"]["f1_cut"]
    units = cut_units(cuts["gat"]["value"], vgae_f1_cut)
    fused = {
        name: simple_fusion(name, z_gat, z_vgae, units=units)
        for name in ("mean", "max", *CUT_FUSIONS)
    }
    out = []
    for name, score in fused.items():
        cut = fit_threshold(score, y)
        flags = score > cut.value
        tp, fp, fn = int((flags & y).sum()), int((flags & ~y).sum()), int((~flags & y).sum())
        out.append(
            {
                "fusion": name,
                "cut": cut.value,
                "edge": cut.edge,
                "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan"),
                "tp_fp_fn": (tp, fp, fn),
            }
        )
    stored = cuts["mean"]["value"]
    if not np.isclose(out[0]["cut"], stored, rtol=1e-6, atol=1e-9):
        raise SystemExit(
            f"{folder}: the mean's refitted cut {out[0]['cut']:.6g} is not the stored "
            f"{stored:.6g}: these scores are not the ones its fusion stage fitted on"
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, type=Path)
    ap.add_argument("--sizes", nargs="+", default=["teacher", "student"])
    args = ap.parse_args()
    print("| run | size | fusion | val F1 | tp / fp / fn | cut | normal edge |")
    print("|---|---|---|---:|---|---:|---:|")
    for run in args.runs:
        (dataset,) = [d.name for d in run.iterdir() if d.is_dir()]
        for size in args.sizes:
            folder = run / dataset / size
            if not (folder / "results" / "scores.npz").is_file():
                continue
            for line in validation_lines(folder):
                edge = "none" if line["edge"] is None else f"{line['edge']:.3f}"
                tp, fp, fn = line["tp_fp_fn"]
                print(
                    f"| {run.name} | {size} | {line['fusion']} | {line['f1']:.4f} | "
                    f"{tp} / {fp} / {fn} | {line['cut']:.3f} | {edge} |"
                )


if __name__ == "__main__":
    main()
