"""Stage ``evaluate``: held-out test metrics per split, thresholds frozen on validation.

Every row names its split; validation rows are marked ``held_out: false`` so nobody can
mistake them for test results. A metric undefined on a split is ``None`` ("undefined").
"""

from __future__ import annotations

from typing import Any

from ..checkpoints import count_parameters
from ..context import StageContext
from ..metrics import Threshold, binary_metrics
from ..outputs import collect_outputs, gat_probability
from .common import StageOutcome, publish
from .fusion import load_fusion

__all__ = ["format_results_table", "run_evaluate"]

_COLUMNS = ("f1", "precision", "recall", "accuracy", "auroc", "mcc", "fpr")


def run_evaluate(ctx: StageContext) -> StageOutcome:
    cfg, dev = ctx.config, ctx.device
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    fusion = load_fusion(ctx)
    thresholds = {
        "gat": Threshold.from_json(ctx.store.load(ctx.dataset, ctx.size, "gat")["threshold"]),
        "vgae": Threshold.from_json(ctx.store.load(ctx.dataset, ctx.size, "vgae")["threshold"]),
        "fusion": fusion.threshold,
    }
    params = {"gat": count_parameters(gat), "vgae": count_parameters(vgae)}
    params["fusion"] = params["gat"] + params["vgae"] + count_parameters(fusion.policy.qnet)  # type: ignore[union-attr]
    ctx.store.begin(ctx.dataset, ctx.size, "results")
    rows: list[dict[str, Any]] = []
    for split in ["val", *ctx.test_splits()]:
        out = collect_outputs(gat, vgae, ctx.split(split), cfg.batching, dev)
        p = gat_probability(out)
        fused, alpha = fusion.scores(out)
        for model, scores in (("vgae", out["vgae_score"]), ("gat", p), ("fusion", fused)):
            m = binary_metrics(out["y"], thresholds[model].apply(scores), scores)
            rows.append(
                {
                    "dataset": ctx.dataset,
                    "size": ctx.size,
                    "split": split,
                    "held_out": split != "val",
                    "model": model,
                    "parameters": params[model],
                    "threshold": thresholds[model].value,
                    **m,
                }
            )
        ctx.log(f"evaluated {split}: {len(out['y'])} graphs, fusion alpha mean {alpha.mean():.2f}")
    table = format_results_table(rows, ctx.dataset, ctx.size)
    ctx.log(table)
    metrics = {
        "rows": rows,
        "thresholds": {k: t.to_json() for k, t in thresholds.items()},
        "held_out_splits": ctx.test_splits(),
        "parameters": params,
    }
    return publish(ctx, "evaluate", "results", None, metrics, {"results.md": table + "\n"})


def _cell(value: Any) -> str:
    return "undefined" if value is None else f"{value:.3f}"


def format_results_table(rows: list[dict[str, Any]], dataset: str, size: str) -> str:
    head = ["split", "model", "params", "graphs", "attacks", *_COLUMNS]
    lines = [
        f"Held-out results: {dataset} ({size}); thresholds fitted on val and frozen",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        name = r["split"] + ("" if r["held_out"] else " (validation, not held out)")
        lines.append(
            "| "
            + " | ".join(
                [
                    name,
                    r["model"],
                    f"{r['parameters']:,}",
                    str(r["n"]),
                    str(r["positives"]),
                    *(_cell(r[c]) for c in _COLUMNS),
                ]
            )
            + " |"
        )
    return "\n".join(lines)
