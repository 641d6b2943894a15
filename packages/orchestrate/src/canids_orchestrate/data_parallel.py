"""One stage on N data-parallel workers: a Ray Train ``TorchTrainer``.

``canids-train STAGE --workers N`` (or ``train.workers = N``) calls
:func:`run_data_parallel`. Ray Train starts the N ranks (placement groups, one process
group: gloo on the CPU, NCCL on GPUs); each rank runs the same stage code as a single
process (``canids_models.run_stage``) with its :class:`canids_models.Ranks`. canids starts
no process itself.

- Data: every rank opens the same Zarr cache lazily (``CachedGraphDataset``: no copy per
  worker) and takes its share of each epoch through ``BudgetBatchSampler(num_replicas,
  rank)``; the per-rank budget is the global budget / N.
- Checkpoints: after every epoch rank 0 saves ``train_state.pt`` (artifact store, atomic)
  and reports a copy of it as the Ray Train checkpoint; every rank reports its metrics
  (``ray.train.report`` is a barrier).
- Failures: a rank that dies (killed, its node lost) makes Ray Train stop the group and
  start a new one, up to ``max_failures`` times (``FailureConfig``); the new ranks resume
  from the last checkpoint (``ray.train.get_checkpoint()``). A stage's own error (a
  ``CanidsError``: bad config, divergence) is not retried: every rank reports it and the
  stage fails with it.
- Result: rank 0 publishes the artifact (DONE last) and reports the outcome, which
  :func:`run_data_parallel` returns; the caller prints the one result line.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import socket
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import OrchestrateError
from .ray_cluster import import_ray

if TYPE_CHECKING:
    from canids_models import RunConfig

__all__ = ["DataParallelError", "DataParallelJob", "DataParallelResult", "run_data_parallel"]

PLACEMENT_STRATEGIES = ("PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD")


class DataParallelError(OrchestrateError):
    """A data-parallel stage failed: its own error, or more worker failures than allowed."""


@dataclass(frozen=True)
class DataParallelJob:
    """What every rank needs to run one stage (plain values: it travels to the workers)."""

    stage: str
    dataset: str
    size: str
    config: RunConfig
    run: str
    runs_dir: str
    cache_dir: str
    workers: int
    distill_from: str | None = None
    check_sources: bool = True
    cpus_per_worker: float = 1.0
    use_gpu: bool | None = None  # None: when train.device allows it and the cluster has GPUs
    placement_strategy: str = "PACK"
    max_failures: int = 2
    measure_comm: bool = False  # time DDP's all-reduce (serialises it; benchmarks only)


@dataclass
class DataParallelResult:
    """Rank 0's outcome and where the ranks ran."""

    metrics: dict[str, Any]
    paths: dict[str, str]
    placement: list[dict[str, Any]] = field(default_factory=list)
    comm_seconds: list[float] = field(default_factory=list)
    storage: str = ""


def _train_fn(config: dict[str, Any]) -> None:
    """One rank (Ray Train's ``train_loop_per_worker``)."""
    import ray
    import ray.train
    from canids_core import CanidsError
    from canids_models import ArtifactStore, Ranks, StageContext, run_stage
    from canids_models.catalog import STAGES

    job: DataParallelJob = config["job"]
    tctx = ray.train.get_context()
    ranks = Ranks(
        tctx.get_world_rank(), tctx.get_world_size(), tctx.get_local_rank(), job.measure_comm
    )
    node = ray.get_runtime_context().get_node_id()
    where = {"rank": ranks.rank, "node": node, "pid": os.getpid(), "host": socket.gethostname()}
    print(
        f"[rank {ranks.rank}/{ranks.world_size}] pid {os.getpid()} on {where['host']} "
        f"(ray node {node[:12]})",
        flush=True,
    )
    placement = ranks.gather(where)
    store = ArtifactStore(job.runs_dir, job.run)
    key = STAGES[job.stage].produces
    state_file = store.train_state_path(job.dataset, job.size, key)
    checkpoint = ray.train.get_checkpoint()
    resumed = Path(checkpoint.to_directory()) / state_file.name if checkpoint else None

    def resume_path(artifact: str) -> Path | None:
        if resumed is not None and resumed.is_file():
            return resumed
        return state_file if state_file.is_file() else None

    def report(record: dict[str, Any]) -> None:
        metrics = {k: v for k, v in record.items() if isinstance(v, int | float)}
        if not ranks.is_main:
            ray.train.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="canids-ckpt-") as tmp:
            shutil.copy2(state_file, Path(tmp) / state_file.name)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))

    ctx = StageContext(
        job.dataset,
        job.size,
        job.config,
        store,
        Path(job.cache_dir),
        job.distill_from,
        check_sources=job.check_sources,
        log=(lambda line: print(line, flush=True)) if ranks.is_main else (lambda line: None),
        on_epoch=report,
        ranks=ranks,
        resume_path=resume_path,
    )
    outcome, error = None, None
    try:
        outcome = run_stage(job.stage, ctx)
    except CanidsError as exc:  # the stage's own failure: the same on a retry, so final
        error = f"{type(exc).__name__}: {exc}"
    comm = ranks.gather(ranks.comm.seconds)
    errors = [e for e in ranks.gather(error) if e]
    if not ranks.is_main:
        ray.train.report({"final": 1})
        return
    data: dict[str, Any] = {"placement": placement, "comm_seconds": comm}
    data["error"] = errors[0] if errors else None
    if outcome is not None:
        data.update(metrics=outcome.metrics, paths=outcome.paths)
    # Ray Train hands the driver the last checkpoint (its metrics are the checkpoint's):
    # the outcome travels as one.
    with tempfile.TemporaryDirectory(prefix="canids-outcome-") as tmp:
        (Path(tmp) / _OUTCOME).write_text(json.dumps(data, default=str))
        ray.train.report({"final": 1}, checkpoint=ray.train.Checkpoint.from_directory(tmp))


_OUTCOME = "canids_outcome.json"


def _init_ray(ray: Any, address: str | None, *, local: bool, echo: Callable[[str], None]) -> None:
    """``ray.init``; a Ray started here is tried 3 times: Ray gives a new raylet a fixed
    30 s to register with its GCS, which an overloaded machine can miss."""
    # Pinned CPU kernels (train.cpu_capability) must reach every rank's process before
    # torch loads there: a worker of a cluster started elsewhere does not inherit them.
    from canids_models.cpu_kernels import KERNEL_VARIABLES

    pinned = {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ}
    extra: dict[str, Any] = {"runtime_env": {"env_vars": pinned}} if pinned else {}
    for attempt in range(3 if local else 1):
        try:
            if local:
                ray.init(log_to_driver=True, include_dashboard=False, **extra)
            else:
                ray.init(address=address, log_to_driver=True, **extra)
            return
        except Exception as exc:
            if attempt == 2 or not local or "timed out during startup" not in str(exc):
                raise
            echo(f"ray: the local Ray did not start ({exc}); trying again")
            ray.shutdown()


def run_data_parallel(
    job: DataParallelJob,
    *,
    address: str | None = None,
    echo: Callable[[str], None] = print,
) -> DataParallelResult:
    """Run ``job.stage`` on ``job.workers`` Ray Train workers; joins the Ray cluster at
    ``address`` (else ``$RAY_ADDRESS``, else starts one on this machine)."""
    if job.placement_strategy not in PLACEMENT_STRATEGIES:
        raise DataParallelError(
            f"placement strategy {job.placement_strategy!r} is not one of "
            f"{', '.join(PLACEMENT_STRATEGIES)}"
        )
    # Ray Train runs each rank in its own working directory: paths must be absolute.
    job = dataclasses.replace(
        job,
        cache_dir=str(Path(job.cache_dir).expanduser().resolve()),
        runs_dir=str(Path(job.runs_dir).expanduser().resolve()),
    )
    # Ray Train's print patch sends every print of a rank through its logger as well: each
    # epoch line would reach the terminal twice.
    os.environ.setdefault("RAY_TRAIN_ENABLE_PRINT_PATCH", "0")
    ray = import_ray()
    from canids_models import ArtifactStore
    from canids_models.catalog import STAGES
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    started_here = False
    if not ray.is_initialized():
        joins = address or os.environ.get("RAY_ADDRESS")
        started_here = not joins
        # A Ray of its own for this stage: no dashboard (it only slows the start).
        _init_ray(ray, address, local=not joins, echo=echo)
    totals = ray.cluster_resources()
    if job.use_gpu is None:
        gpu = job.config.train.device != "cpu" and totals.get("GPU", 0) >= 1
        job = dataclasses.replace(job, use_gpu=gpu)
    echo(
        f"ray train: {job.workers} workers ({job.cpus_per_worker:g} CPU"
        f"{', 1 GPU' if job.use_gpu else ''} each, {job.placement_strategy}) on a cluster of "
        f"{len(ray.nodes())} node(s), {totals.get('CPU', 0):g} CPU, {totals.get('GPU', 0):g} GPU;"
        f" backend {'nccl' if job.use_gpu else 'gloo'}, max_failures {job.max_failures}"
    )
    store = ArtifactStore(job.runs_dir, job.run)
    storage = store.train_storage_dir(job.dataset, job.size, STAGES[job.stage].produces)
    storage.mkdir(parents=True, exist_ok=True)
    trainer = TorchTrainer(
        _train_fn,
        train_loop_config={"job": job},
        scaling_config=ScalingConfig(
            num_workers=job.workers,
            use_gpu=job.use_gpu,
            resources_per_worker={"CPU": job.cpus_per_worker} | ({"GPU": 1} if job.use_gpu else {}),
            placement_strategy=job.placement_strategy,
        ),
        torch_config=TorchConfig(backend="nccl" if job.use_gpu else "gloo"),
        run_config=RunConfig(
            name=f"{job.stage}-{uuid.uuid4().hex[:8]}",
            storage_path=str(storage),
            failure_config=FailureConfig(max_failures=job.max_failures),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
        ),
    )
    try:
        result = trainer.fit()
    except Exception as exc:
        if started_here:
            ray.shutdown()
        raise DataParallelError(
            f"{job.stage} ({job.size}) on {job.workers} workers failed after "
            f"{job.max_failures} restarts: {type(exc).__name__}: {str(exc).splitlines()[0]}; "
            f"Ray Train's logs: {storage}; rerun the same command to resume from the last "
            "epoch checkpoint"
        ) from exc
    data: dict[str, Any] = {}
    if result.checkpoint is not None:
        outcome_file = Path(result.checkpoint.to_directory()) / _OUTCOME
        if outcome_file.is_file():
            data = json.loads(outcome_file.read_text())
    if started_here:  # the workers' last lines reach the terminal before the result line
        ray.shutdown()
    if data.get("error"):
        raise DataParallelError(f"{job.stage} ({job.size}) failed on its ranks: {data['error']}")
    if "metrics" not in data:
        raise DataParallelError(f"{job.stage} ({job.size}): rank 0 reported no outcome")
    # The resume state lives in the artifact store; Ray's copies are spent once DONE exists.
    shutil.rmtree(storage, ignore_errors=True)
    return DataParallelResult(
        data["metrics"], data["paths"], data["placement"], data["comm_seconds"], str(storage)
    )
