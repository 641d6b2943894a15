"""What stage runs share: the outcome record and the artifact write sequence."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..context import StageContext
from ..cpu_kernels import machine_record
from ..errors import ModelsError
from ..lineage import cache_identity

__all__ = ["StageOutcome", "publish", "require_two_classes"]


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
    training: dict[str, Any] | None = None,
    read: dict[str, str] | None = None,
) -> StageOutcome:
    """Write checkpoint, metrics and resolved config, then the DONE record last; a
    detector's record also says what its weights were made from (``training``:
    :func:`canids_models.detector_reuse.training_record`), a fusion's or a result's the
    finished stamps of what it read (``read``: :func:`canids_models.lineage.read_stamps`);
    every record the identity of the cache it read (``cache``)."""
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
            "machine": machine_record(),
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
            **({"training": training} if training is not None else {}),
            **({"read": read} if read is not None else {}),
            "cache": cache_identity(ctx.split("train").manifest.data),
        },
    )
    return StageOutcome(stage, artifact, metrics, {k: str(v) for k, v in paths.items()})


def require_two_classes(ctx: StageContext, y: np.ndarray) -> None:
    """Validation must hold attack and normal windows, or early stopping, thresholds and
    fusion are fitted blind; only ``eval.one_class_fit`` (by name) allows it."""
    n_att, n_norm = int(np.sum(y)), int(len(y) - np.sum(y))
    if (n_att and n_norm) or ctx.config.eval.one_class_fit:
        return
    raise ModelsError(
        f"{ctx.dataset}: validation holds {n_att} attack and {n_norm} normal windows, so "
        "early stopping, thresholds and fusion would be fitted blind. Rebuild the cache with "
        f"validation blocks (`canids-cache build --dataset {ctx.dataset} --validation blocks`),"
        " or opt into an anomaly-only fit with --set eval.one_class_fit=true"
    )
