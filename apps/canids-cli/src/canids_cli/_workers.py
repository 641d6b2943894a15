"""How ``canids-train`` runs a stage on several workers: which path, and the Ray Train call.

Three ways, one stage code:

- one process (``--workers 1``, the default): the stage as it always ran;
- ``--workers N`` (or ``train.workers = N``): a Ray Train ``TorchTrainer`` of N ranks
  (``canids_orchestrate.run_data_parallel``), on the Ray cluster at ``--address`` or
  ``$RAY_ADDRESS``, else one started on this machine;
- started by ``torchrun`` or ``srun`` with the standard ``WORLD_SIZE``/``RANK`` variables:
  this process is one rank (``canids_models.ranks_from_env``); rank 0 prints the result
  line, the other ranks print nothing of their own.

Fusion and evaluate are not data-parallel (``StageSpec.single_worker_reason``): asked for
N workers they run on one and say why.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from canids_models import ArtifactStore, StageContext, StageOutcome

__all__ = ["WorkerPlan", "plan_workers", "run_on_workers"]


@dataclass(frozen=True)
class WorkerPlan:
    """``mode``: ``single``, ``ray`` (N Ray Train workers) or ``env`` (a torchrun rank)."""

    mode: str
    workers: int
    note: str = ""


def plan_workers(stage: str, workers: int) -> WorkerPlan:
    """Which path a stage takes for ``workers`` (already merged into the config)."""
    from canids_core import CanidsError
    from canids_models.catalog import STAGES

    world = int(os.environ.get("WORLD_SIZE", "1") or "1")
    if world > 1:
        if workers > 1:
            raise CanidsError(
                f"this process is one of {world} ranks started by torchrun/srun (WORLD_SIZE="
                f"{world}) and --workers {workers} would start {workers} more: drop --workers "
                "(or train.workers), or start one canids-train without WORLD_SIZE"
            )
        return WorkerPlan("env", world)
    spec = STAGES[stage]
    if workers > 1 and not spec.data_parallel:
        return WorkerPlan("single", 1, f"{stage}: {spec.single_worker_reason}; one worker")
    return WorkerPlan("ray" if workers > 1 else "single", workers)


def run_on_workers(
    ctx: StageContext,
    store: ArtifactStore,
    stage: str,
    workers: int,
    *,
    address: str | None,
    placement: str,
    max_failures: int,
    check_sources: bool,
    echo: Callable[[str], None],
) -> StageOutcome:
    """The stage on ``workers`` Ray Train ranks; rank 0's outcome, as ``run_stage`` returns
    it. Epoch records reach ``ctx.on_epoch`` (W&B) once the stage is done."""
    from canids_models import StageOutcome
    from canids_models.catalog import STAGES
    from canids_orchestrate import DataParallelJob, run_data_parallel

    cfg = ctx.config
    job = DataParallelJob(
        stage=stage,
        dataset=ctx.dataset,
        size=ctx.size,
        config=cfg,
        run=store.run,
        runs_dir=str(store.runs_dir),
        cache_dir=str(ctx.cache_dir),
        workers=workers,
        distill_from=ctx.distill_from,
        check_sources=check_sources,
        cpus_per_worker=float(max(cfg.train.threads, 1)),
        use_gpu=None,
        placement_strategy=placement,
        max_failures=max_failures,
    )
    result = run_data_parallel(job, address=address, echo=echo)
    nodes = sorted({p["node"] for p in result.placement})
    echo(
        f"{stage} ({ctx.size}) ran on {workers} workers over {len(nodes)} node(s): "
        + ", ".join(f"rank {p['rank']} on {p['host']} ({p['node'][:12]})" for p in result.placement)
    )
    metrics: dict[str, Any] = result.metrics
    metrics["workers"] = workers
    metrics["placement"] = result.placement
    if ctx.on_epoch is not None:
        for record in metrics.get("history", []):
            ctx.on_epoch(record)
    return StageOutcome(stage, STAGES[stage].produces, metrics, result.paths)
