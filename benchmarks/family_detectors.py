"""Does the chosen fusion beat its better input on an attack nobody trained on? Read from
the families rule's own figures (training captures only, no test split): per run, the
pick's frozen F1 on each held-out family beside each detector alone at its own frozen
cut (canids-models 0.25.0 records both), their means and the gap.

    uv run python benchmarks/family_detectors.py RUN_DIR [RUN_DIR ...] [--out OUT]

Each RUN_DIR is a run folder (``<runs>/<run>``) whose fusion stages ran under the families
rule; every dataset and size in it with a fusion artifact is read. Prints one row per
(run, dataset, size) and the mean gap; writes ``OUT/family_detectors.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from family_select import write_outputs


def fusion_metrics(run_dir: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(dataset, size, fusion metrics) of every fusion artifact in ``run_dir``."""
    found = []
    for path in sorted(run_dir.glob("*/*/fusion/metrics.json")):
        size, dataset = path.parent.parent.name, path.parent.parent.parent.name
        if size in ("teacher", "student"):
            found.append((dataset, size, json.loads(path.read_text())))
    return found


def row(run: str, dataset: str, size: str, metrics: dict[str, Any]) -> dict[str, Any] | None:
    """The pick against each detector alone on the held-out families; None where the run
    did not choose by families or recorded no detector alone (before 0.25.0)."""
    sel = metrics["selection"]
    families = sel.get("families") or {}
    if not families or not all("detector_f1" in f for f in families.values()):
        return None
    pick = sel["method"]
    per_family = {
        name: {"pick": f["frozen_f1"][pick], **f["detector_f1"]} for name, f in families.items()
    }
    means = {
        k: statistics.fmean(v[k] for v in per_family.values()) for k in ("pick", "gat", "vgae")
    }
    better = max(("gat", "vgae"), key=lambda k: means[k])
    return {
        "run": run,
        "dataset": dataset,
        "size": size,
        "pick": pick,
        "families": per_family,
        "means": means,
        "better_detector": better,
        "gap": means["pick"] - means[better],
        "best_candidate": max(sel["family_mean_f1"], key=lambda m: sel["family_mean_f1"][m]),
        "best_candidate_mean": max(sel["family_mean_f1"].values()),
    }


def lines_for(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| run | dataset | size | pick | per family: pick / gat / vgae | mean: pick / gat / vgae "
        "| pick - better detector | best candidate's mean |",
        "|---|---|---|---|---|---|---:|---|",
    ]
    for r in rows:
        fams = "; ".join(
            f"{n} {v['pick']:.3f} / {v['gat']:.3f} / {v['vgae']:.3f}"
            for n, v in r["families"].items()
        )
        m = r["means"]
        out.append(
            f"| {r['run']} | {r['dataset']} | {r['size']} | `{r['pick']}` | {fams} | "
            f"{m['pick']:.3f} / {m['gat']:.3f} / {m['vgae']:.3f} | {r['gap']:+.3f} "
            f"({r['better_detector']}) | `{r['best_candidate']}` {r['best_candidate_mean']:.3f} |"
        )
    if rows:
        below = sum(r["gap"] < -0.02 for r in rows)
        mean_gap = statistics.fmean(r["gap"] for r in rows)
        out += [
            "",
            f"mean gap {mean_gap:+.3f}; the pick is more than 0.02 below its better detector "
            f"alone in {below} of {len(rows)} runs (training captures' held-out families, frozen)",
        ]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path, help="run folders (<runs>/<run>)")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/family_detectors"))
    args = ap.parse_args()
    rows = []
    for run_dir in args.runs:
        for dataset, size, metrics in fusion_metrics(run_dir):
            r = row(run_dir.name, dataset, size, metrics)
            if r is not None:
                rows.append(r)
    if not rows:
        raise SystemExit(
            "no fusion stage chose by families with detectors alone recorded (canids-models "
            f"0.25.0 or later) in {', '.join(map(str, args.runs))}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    write_outputs(args.out, "family_detectors", {"rows": rows}, lines_for(rows))


if __name__ == "__main__":
    main()
