"""Data-parallel ranks: what a stage needs to know about torch.distributed, in one place.

A stage runs on one process (``Ranks()``, world size 1: today's path, bit for bit) or as
one of N ranks of a process group that someone else started: Ray Train's
``TorchTrainer`` (``canids-train --workers N``), or ``torchrun``/``srun`` through the
standard ``WORLD_SIZE``/``RANK``/``MASTER_ADDR`` variables (:func:`ranks_from_env`). No
canids code starts ranks itself.

How a step is split (docs/models.md, "Data-parallel training"): every rank plans the same
global epoch and takes its share of the batches (``BudgetBatchSampler(num_replicas,
rank)``); the node budget per rank is the global budget divided by the world size, so one
optimiser step sees the same number of nodes as one step of a single process. DDP
averages the gradients of the ranks. Losses are summed across ranks; validation outputs
are gathered (every window scored once, by one rank) and the metric is computed on the
whole validation split; rank 0 decides improvement and early stopping and broadcasts
its record; only rank 0 writes artifacts.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import nn

from .config import BatchingConfig

__all__ = ["CommTimer", "LossStep", "Ranks", "leave_process_group", "ranks_from_env"]

T = TypeVar("T")


@dataclass
class CommTimer:
    """Seconds spent inside DDP's gradient all-reduce (a synchronous comm hook: the time
    is the communication, not overlapped with the backward pass). Only used when asked
    for (``Ranks(measure_comm=True)``): it serialises what DDP would overlap."""

    seconds: float = 0.0
    calls: int = 0

    def hook(self) -> Callable[..., Any]:
        """The comm hook. Its ``bucket`` parameter carries no annotation: DDP refuses any
        annotation but ``dist.GradBucket`` itself, and this module's are strings."""
        import torch.distributed as dist

        def timed_allreduce(state, bucket):  # noqa: ANN001, ANN202
            t0 = time.perf_counter()
            tensor = bucket.buffer()
            dist.all_reduce(tensor)
            tensor.div_(dist.get_world_size())
            self.seconds += time.perf_counter() - t0
            self.calls += 1
            fut: torch.futures.Future[torch.Tensor] = torch.futures.Future()
            fut.set_result(tensor)
            return fut

        return timed_allreduce


@dataclass(frozen=True)
class Ranks:
    """This process's place in a data-parallel group (``world_size`` 1: no group)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    measure_comm: bool = False
    comm: CommTimer = field(default_factory=CommTimer, compare=False)

    @property
    def parallel(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def current(cls, *, measure_comm: bool = False) -> Ranks:
        """The initialised default process group's ranks, else a single process."""
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            return cls()
        local = int(os.environ.get("LOCAL_RANK", "0"))
        return cls(dist.get_rank(), dist.get_world_size(), local, measure_comm)

    def device(self, device: torch.device) -> torch.device:
        """One GPU per rank on a node: ``cuda:LOCAL_RANK`` (modulo the visible GPUs)."""
        if self.parallel and device.type == "cuda" and device.index is None:
            device = torch.device("cuda", self.local_rank % max(torch.cuda.device_count(), 1))
            torch.cuda.set_device(device)
        return device

    def seed(self, seed: int) -> int:
        """Rank 0 keeps the stage's seed (a single process is unchanged); other ranks draw
        dropout and negative edges from their own streams."""
        return seed if self.rank == 0 else seed + 1_000_003 * self.rank

    def batching(self, cfg: BatchingConfig) -> BatchingConfig:
        """This rank's share of a step: the global node budget (or batch size) divided by
        the world size, so one step of N ranks sees what one step of one process sees."""
        if not self.parallel:
            return cfg
        return cfg.model_copy(
            update={
                "budget": max(cfg.budget // self.world_size, 1),
                "batch_size": max(cfg.batch_size // self.world_size, 1),
            }
        )

    # ---------------------------------------------------------------- collectives
    def _tensor(self, values: list[float]) -> torch.Tensor:
        import torch.distributed as dist

        on_gpu = dist.get_backend() == "nccl"
        dev = torch.device("cuda", torch.cuda.current_device()) if on_gpu else None
        return torch.tensor(values, dtype=torch.float64, device=dev)

    def sum(self, *values: float) -> tuple[float, ...]:
        """``values`` summed over the ranks (a loss total and its graph count)."""
        if not self.parallel:
            return tuple(float(v) for v in values)
        import torch.distributed as dist

        t = self._tensor([float(v) for v in values])
        dist.all_reduce(t)
        return tuple(float(v) for v in t.cpu().tolist())

    def gather(self, obj: T) -> list[T]:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.parallel:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast(self, obj: T) -> T:
        """Rank 0's ``obj`` on every rank (a decision made once)."""
        if not self.parallel:
            return obj
        import torch.distributed as dist

        box: list[Any] = [obj if self.is_main else None]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        if self.parallel:
            import torch.distributed as dist

            dist.barrier()

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` under DDP (gradients averaged across ranks); itself on one process."""
        if not self.parallel:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        ddp = DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)
        if self.measure_comm:
            ddp.register_comm_hook(None, self.comm.hook())
        return ddp


class LossStep(nn.Module):
    """A training step's loss as a module's ``forward``, so DDP can wrap it: DDP syncs
    gradients only for what runs inside ``forward`` (``VGAE.loss`` is not a forward).
    ``parts`` are the trained modules (the model, a distillation projection); ``fn`` gets
    them and the batch and returns ``(loss, graphs)``."""

    def __init__(self, fn: Callable[..., torch.Tensor], *parts: nn.Module) -> None:
        super().__init__()
        self.parts = nn.ModuleList(parts)
        self._fn = fn

    def forward(self, *args: Any) -> torch.Tensor:
        return self._fn(*self.parts, *args)


def ranks_from_env(device: str = "auto") -> Ranks:
    """Join the process group that ``torchrun`` or ``srun`` describe in the standard
    variables (``WORLD_SIZE`` > 1, ``RANK``, ``MASTER_ADDR``, ``MASTER_PORT``): gloo on
    the CPU, NCCL on GPUs. Without them (or with an initialised group), nothing changes."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return Ranks.current()
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return Ranks()
    gpu = device != "cpu" and torch.cuda.is_available()
    dist.init_process_group("nccl" if gpu else "gloo", init_method="env://")
    return Ranks.current()


def leave_process_group(*, wait: bool) -> None:
    """Leave the group :func:`ranks_from_env` joined, before the process exits: a gloo
    group still open at exit aborted a rank ("terminate called without an active
    exception", exit -6) after a stage had completed on every rank. ``wait`` (a stage
    that ended well on this rank) meets the other ranks at a barrier first, so no rank
    closes its connections while another still reads from them; a rank that failed
    leaves at once (the others then fail on the closed connection, instead of waiting
    for a barrier this rank never reaches)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return
    if wait:
        dist.barrier()
    dist.destroy_process_group()
