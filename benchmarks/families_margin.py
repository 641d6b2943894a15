"""``fusion.families_margin``: which fusion the families rule picks with a tie margin
against without one (the rule of canids-models 0.8.0-0.11.0), on finished runs.

    uv run --no-sync python benchmarks/families_margin.py --margin 0.005 \\
        --runs benchmarks/out/family_select/runs/hcrl_sa-families-s0 … [--sizes teacher student]

Each run folder must hold a fusion stage fitted with ``fusion.select=families`` and its
evaluate stage. The margin changes the choice only, never a fit (the fusion stage fits
every candidate's thresholds, calibration and DQN before it chooses, and evaluate reports
every candidate), so the choice is made again from the family figures in the fusion
metrics with ``canids_models.families.choose_by_families``, and the held-out rows of both
picks are read from the evaluate metrics: the figures a fresh run with the margin gives.
Printed per run: the family means, both picks, and the held-out F1 of each pick per split
and protocol.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from canids_models.families import choose_by_families


def repick(run: Path, size: str, margin: float) -> dict[str, Any] | None:
    """Both picks of ``size`` in run folder ``run`` (its one dataset), or None where the
    run has no families fusion for that size."""
    (dataset,) = [d.name for d in run.iterdir() if d.is_dir()]
    folder = run / dataset / size
    fusion_file = folder / "fusion" / "metrics.json"
    if not fusion_file.is_file():
        return None
    sel = json.loads(fusion_file.read_text())["selection"]
    if sel.get("select") != "families":
        return None
    val_f1 = {m: s["frozen_val_f1"] for m, s in sel["scores"].items()}
    methods = tuple(sel["family_mean_f1"])
    before, means = choose_by_families(sel["families"], val_f1, methods, 0.0)
    after, _ = choose_by_families(sel["families"], val_f1, methods, margin)
    # Absent before canids-models 0.12.0, whose rule is margin 0.
    own = sel.get("families_margin") or 0.0
    if choose_by_families(sel["families"], val_f1, methods, own)[0] != sel["method"]:
        raise SystemExit(
            f"{fusion_file}: stored pick {sel['method']} is not what margin {own:g} picks "
            "from its stored figures; made by a families rule this script does not know"
        )
    rows = json.loads((folder / "results" / "metrics.json").read_text())["rows"]
    f1 = {
        (r["split"], r["protocol"], r["model"].removeprefix("fusion:")): r["f1"]
        for r in rows
        if r["held_out"]
    }
    keys = sorted({(s, p) for s, p, _ in f1})
    return {
        "run": run.name,
        "size": size,
        "means": means,
        "before": before,
        "after": after,
        "rows": {f"{s} {p}": (f1[(s, p, before)], f1[(s, p, after)]) for s, p in keys},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--runs", nargs="+", required=True, type=Path)
    ap.add_argument("--sizes", nargs="+", default=["teacher", "student"])
    ap.add_argument("--margin", type=float, default=0.005)
    args = ap.parse_args()
    changed = 0
    for run in args.runs:
        for size in args.sizes:
            got = repick(run, size, args.margin)
            if got is None:
                continue
            means = ", ".join(f"{m} {v:.3f}" for m, v in got["means"].items())
            line = f"{got['run']} {size}: {got['before']} -> {got['after']} (means {means})"
            print(line)
            if got["before"] != got["after"]:
                changed += 1
                for key, (old, new) in got["rows"].items():
                    print(f"    {key}: {_f(old)} -> {_f(new)}")
    print(f"picks changed by margin {args.margin:g}: {changed}")


def _f(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
