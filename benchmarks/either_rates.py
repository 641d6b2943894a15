"""``either`` on attack families its detectors never saw: the VGAE's own cut against a
false-alarm rate of validation's normal windows (the baseline: the VGAE's own cut).

    uv run --no-sync python benchmarks/either_rates.py --cache-dir CACHE \\
        --runs RUN_DIR [RUN_DIR ...] [--size teacher] [--json OUT]

Each RUN_DIR is a run folder whose fusion stage chose with ``fusion.select=families``
(``benchmarks/family_select.py`` writes them as ``runs/<dataset>-families-s<seed>``): it
holds one run per attack family of the training captures, trained without that family's
captures. For each family the script scores the held-out captures' windows (training and
validation parts: training data, no test split is read) with that family's detectors and
prints: AUROC of each detector on them, the VGAE's own frozen cut and where the held-out
attack and normal windows sit on the same (normalised) scale, and the OR's F1 with the
VGAE at its own cut and at each false-alarm rate of the family run's validation normal
windows (the cuts a fusion stage fits as ``either@<rate>``). Means over the families are
what ``fusion.select=families`` compares.

Then, for each run's own (full-data) detectors, where on validation the frozen VGAE's
false alarms fall: the share of normal windows its frozen threshold flags, by time since
the capture's start. A capture's first seconds are the invariant features' warm-up (per-ID
periods still being learnt); the calibrated protocol skips them, the frozen one scores
them, and validation holds every training capture's first seconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import numpy as np
from _bench import command, machine

RATES = (0.05, 0.02, 0.01, 0.005)


def f1(y: np.ndarray, flags: np.ndarray) -> float:
    from canids_models.metrics import binary_metrics

    return float(binary_metrics(y, flags)["f1"] or 0.0)


def run_context(run: Path, size: str, cache: Path) -> Any:
    """The StageContext of ``size``'s artifacts in run folder ``run``, with the config its
    fusion stage ran with."""
    from canids_models import ArtifactStore, RunConfig, StageContext

    dataset = next(p.name for p in run.iterdir() if (p / size / "fusion").is_dir())
    saved = json.loads((run / dataset / size / "fusion" / "config.json").read_text())
    config = RunConfig.model_validate(saved["config"])
    store = ArtifactStore(run.parent, run.name)
    return StageContext(dataset, size, config, store, cache, log=lambda _: None)


def detectors(ctx: Any) -> tuple[Any, Any, Any]:
    """(fusion, gat, vgae) of ``ctx``'s run, loaded once."""
    from canids_models.fusion_model import FusionModel

    fusion = FusionModel.from_checkpoint(ctx.store.load(ctx.dataset, ctx.size, "fusion"))
    return fusion, ctx.load_model("gat"), ctx.load_model("vgae")


def frozen_scores(
    ctx: Any, models: tuple[Any, Any, Any], view: Any, name: str
) -> tuple[Any, np.ndarray, np.ndarray]:
    """(split scores, frozen z_gat, frozen z_vgae) of ``view`` by ``models`` (from
    :func:`detectors`)."""
    from canids_models.scoring import score_split

    fusion, gat, vgae = models
    s = score_split(view, name, gat, vgae, ctx.config.batching, ctx.device)
    z = fusion.frozen_inputs(s)
    return s, z.z_gat, z.z_vgae


def family_rows(run: Path, size: str, cache: Path) -> dict[str, Any]:
    from canids_models import ArtifactStore, StageContext
    from canids_models.attack_families import attack_families
    from canids_models.metrics import auroc

    main = run_context(run, size, cache)
    dataset, config = main.dataset, main.config
    out: dict[str, Any] = {"dataset": dataset, "families": {}}
    for fam in attack_families(main.split("train").manifest.data):
        store = ArtifactStore(run / dataset / "families", fam.name)
        ctx = StageContext(dataset, size, config, store, cache, log=lambda _: None)
        models = detectors(ctx)
        fusion = models[0]
        val = main.split("val")
        rest = val.subset(~np.isin(val.sources(), fam.sources))
        vs, _, vz = frozen_scores(ctx, models, rest, "val")
        vy = vs.y.astype(bool)
        parts = []
        for split in ("train", "val"):
            view = main.split(split)
            held = np.isin(view.sources(), fam.sources)
            if held.any():
                s, zg, zv = frozen_scores(ctx, models, view.subset(held), split)
                parts.append((s.y.astype(bool), zg, zv))
        y, zg, zv = (np.concatenate([p[i] for p in parts]) for i in range(3))
        gat_flags = zg >= fusion.thresholds["gat"].value
        cuts = {"own": fusion.thresholds["vgae"].value}
        cuts |= {f"{r:g}": float(np.quantile(vz[~vy], 1.0 - r)) for r in RATES}
        out["families"][fam.name] = {
            "attack_windows": int(y.sum()),
            "windows": len(y),
            "auroc": {k: round(auroc(y, v) or 0.0, 4) for k, v in (("gat", zg), ("vgae", zv))},
            "gat_f1": round(f1(y, gat_flags), 4),
            "vgae_attack_median": round(float(np.median(zv[y])), 3),
            "vgae_normal_q99": round(float(np.quantile(zv[~y], 0.99)), 3),
            "own_cut_val_normal_rate": round(float((vz[~vy] >= cuts["own"]).mean()), 4),
            "cuts": {k: round(v, 3) for k, v in cuts.items()},
            "either_f1": {k: round(f1(y, gat_flags | (zv >= v)), 4) for k, v in cuts.items()},
        }
    return out


BUCKETS = ((0.0, 1.0), (1.0, 2.0), (2.0, 3.0), (3.0, 5.0), (5.0, 10.0), (10.0, float("inf")))


def start_alarms(run: Path, size: str, cache: Path) -> dict[str, Any]:
    """Share of validation's normal windows each frozen detector flags, by seconds since
    the capture's start (the run's own detectors and fusion)."""
    ctx = run_context(run, size, cache)
    models = detectors(ctx)
    fusion = models[0]
    s, z_gat, z_vgae = frozen_scores(ctx, models, ctx.split("val"), "val")
    since = s.window_end - s.capture_start
    normal = s.y == 0
    flags = {
        "vgae": z_vgae >= fusion.thresholds["vgae"].value,
        "gat": z_gat >= fusion.thresholds["gat"].value,
    }
    rows = []
    for lo, hi in BUCKETS:
        m = normal & (since > lo) & (since <= hi)
        rows.append(
            {"from": lo, "to": hi, "windows": int(m.sum())}
            | {k: round(float(f[m].mean()), 4) if m.any() else None for k, f in flags.items()}
        )
    early = normal & flags["vgae"] & (since <= 2.0)
    return {
        "buckets": rows,
        "vgae_false_alarms": int((normal & flags["vgae"]).sum()),
        "in_first_2s": int(early.sum()),
    }


def start_report(name: str, rec: dict[str, Any]) -> list[str]:
    lines = [
        f"\n{name}: validation's normal windows flagged by the frozen thresholds, by seconds "
        f"since the capture's start ({rec['in_first_2s']} of the VGAE's "
        f"{rec['vgae_false_alarms']} false alarms in the first 2 s)\n",
        "| seconds | normal windows | vgae flags | gat flags |",
        "|---|---:|---:|---:|",
    ]
    for r in rec["buckets"]:
        span = f"{r['from']:g}–{r['to']:g}" if r["to"] != float("inf") else f"> {r['from']:g}"
        cells = [f"{r[k]:.3f}" if r[k] is not None else "–" for k in ("vgae", "gat")]
        lines.append(f"| {span} | {r['windows']} | {cells[0]} | {cells[1]} |")
    return lines


def report(name: str, rec: dict[str, Any]) -> list[str]:
    fams = rec["families"]
    keys = ["own", *(f"{r:g}" for r in RATES)]
    lines = [
        f"\n### {name} ({rec['dataset']})\n",
        "| held out | attack windows | AUROC gat / vgae | gat alone | VGAE attack median / "
        "normal q99 / own cut (its val false alarms) | "
        + " | ".join("either, own cut" if k == "own" else f"either@{k}" for k in keys)
        + " |",
        "|---|---:|---|---:|---|" + "---:|" * len(keys),
    ]
    for fam, r in fams.items():
        lines.append(
            f"| {fam} | {r['attack_windows']} of {r['windows']} | {r['auroc']['gat']:.3f} / "
            f"{r['auroc']['vgae']:.3f} | {r['gat_f1']:.3f} | {r['vgae_attack_median']:.2f} / "
            f"{r['vgae_normal_q99']:.2f} / {r['cuts']['own']:.2f} "
            f"({r['own_cut_val_normal_rate']:.3f}) | "
            + " | ".join(f"{r['either_f1'][k]:.3f}" for k in keys)
            + " |"
        )
    means = {k: statistics.fmean(r["either_f1"][k] for r in fams.values()) for k in keys}
    base = means["own"]
    lines.append(
        "| mean | | | | | "
        + " | ".join(
            f"{means[k]:.3f}" + ("" if k == "own" or base == 0 else f" ({means[k] / base:.2f}x)")
            for k in keys
        )
        + " |"
    )
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir", required=True, type=Path)
    ap.add_argument("--runs", nargs="+", required=True, type=Path)
    ap.add_argument("--size", default="teacher", choices=["teacher", "student"])
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    print(f"{machine()}\ncommand: {command()}", flush=True)
    record = {}
    lines: list[str] = []
    for run in args.runs:
        record[run.name] = family_rows(run.resolve(), args.size, args.cache_dir.resolve())
        lines += report(f"{run.name}, {args.size}", record[run.name])
        record[run.name]["start"] = start_alarms(run.resolve(), args.size, args.cache_dir.resolve())
        lines += start_report(f"{run.name}, {args.size}", record[run.name]["start"])
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
