"""What stage runs share: the outcome record and the artifact write sequence."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..context import StageContext

__all__ = ["StageOutcome", "publish"]


@dataclass
class StageOutcome:
    stage: str
    artifact: str
    metrics: dict[str, Any]
    paths: dict[str, str] = field(default_factory=dict)


def publish(
    ctx: StageContext,
    stage: str,
    artifact: str,
    checkpoint: dict[str, Any] | None,
    metrics: dict[str, Any],
    extra_files: dict[str, str] | None = None,
) -> StageOutcome:
    """Write checkpoint, metrics and resolved config, then the DONE record last."""
    store, ds, size = ctx.store, ctx.dataset, ctx.size
    paths: dict[str, Path] = {}
    if checkpoint is not None:
        paths["checkpoint"] = store.save(ds, size, artifact, "checkpoint.pt", checkpoint)
    paths["metrics"] = store.write_json(ds, size, artifact, "metrics.json", metrics)
    paths["config"] = store.write_json(
        ds,
        size,
        artifact,
        "config.json",
        {
            "stage": stage,
            "config": ctx.config.to_dict(),
            "distill_from": ctx.distill_from,
            "backend": ctx.backend,
            "device": str(ctx.device),
        },
    )
    for name, text in (extra_files or {}).items():
        paths[name] = store.write_text(ds, size, artifact, name, text)
    paths["done"] = store.finish(
        ds,
        size,
        artifact,
        {
            "stage": stage,
            "config_digest": ctx.config.digest,
            "summary": {k: v for k, v in metrics.items() if isinstance(v, int | float | str)},
        },
    )
    return StageOutcome(stage, artifact, metrics, {k: str(v) for k, v in paths.items()})
