"""What every stage run gets: dataset splits, config, artifact store, device, logging."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from canids_data import CachedGraphDataset

from .artifacts import ArtifactStore
from .backend import resolve_backend
from .config import BatchingConfig, RunConfig
from .cpu_kernels import check_kernels
from .ranks import Ranks

__all__ = [
    "BatchTracker",
    "Progress",
    "StageContext",
    "batch_indices",
    "pick_device",
    "seed_everything",
]


def seed_everything(seed: int, deterministic: bool) -> None:
    """Seed every generator a stage draws from and, with ``deterministic``, make torch
    pick deterministic kernels. On CUDA, cuBLAS needs its workspace setting before its
    first use; ops with no deterministic CUDA kernel (scatter reductions in PyG's
    attention) then warn instead of failing (docs/models.md lists them and the measured
    spread)."""
    random.seed(seed)
    np.random.seed(seed)  # legacy global state, for third-party code that still uses it
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@dataclass(frozen=True)
class Progress:
    """Where a stage is within one task (an epoch, the scoring of a split), handed to
    ``StageContext.on_progress`` after every batch. Libraries never draw it: the commands
    turn it into a bar on a terminal, and nothing in a batch job (where the epoch lines
    that ``StageContext.log`` gets are the record)."""

    task: str  # "vgae/teacher epoch 3", "scoring test_01_…"
    done: int  # batches done
    total: int  # batches of the task
    graphs: int  # graphs done
    seconds: float  # since the task started
    values: dict[str, float] = field(default_factory=dict)  # running means (loss)

    @property
    def graphs_per_second(self) -> float:
        return self.graphs / self.seconds if self.seconds > 0 else 0.0


class BatchTracker:
    """Counts the batches of one task and reports each to a progress callback; running
    means of the values it is given (the loss) go with it."""

    def __init__(self, report: Callable[[Progress], None] | None, task: str, total: int) -> None:
        self.report, self.task, self.total = report, task, total
        self.done = self.graphs = 0
        self._sums: dict[str, float] = {}
        self._start = time.perf_counter()

    def advance(self, graphs: int, **values: float) -> None:
        self.done += 1
        self.graphs += graphs
        for key, value in values.items():
            self._sums[key] = self._sums.get(key, 0.0) + value * graphs
        if self.report is None:
            return
        means = {k: v / max(self.graphs, 1) for k, v in self._sums.items()}
        elapsed = time.perf_counter() - self._start
        self.report(Progress(self.task, self.done, self.total, self.graphs, elapsed, means))


@dataclass
class StageContext:
    dataset: str
    size: str
    config: RunConfig
    store: ArtifactStore
    cache_dir: Path | None = None
    distill_from: str | None = None
    check_sources: bool = True
    log: Callable[[str], None] = print
    on_epoch: Callable[[dict[str, Any]], None] | None = None
    on_progress: Callable[[Progress], None] | None = None
    # This process's place in a data-parallel group (canids_models.ranks); one process by
    # default. ``resume_path(artifact)``: where the resume state is read from (Ray Train
    # hands back its last epoch checkpoint); default: the store's train_state.pt.
    ranks: Ranks = field(default_factory=Ranks)
    resume_path: Callable[[str], Path | None] | None = None
    _splits: dict[str, CachedGraphDataset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_kernels(self.config.train.cpu_capability)
        self.device = self.ranks.device(pick_device(self.config.train.device))
        self.backend = resolve_backend(self.config.train.backend, self.device)
        seed_everything(self.ranks.seed(self.config.train.seed), self.config.train.deterministic)
        if self.config.train.threads > 0:
            torch.set_num_threads(self.config.train.threads)

    def split(self, name: str) -> CachedGraphDataset:
        """A cache split, opened (and quick-verified) once per run."""
        if name not in self._splits:
            self._splits[name] = CachedGraphDataset(
                self.cache_dir, self.dataset, name, check_sources=self.check_sources
            )
        return self._splits[name]

    def tracker(self, task: str, total: int) -> BatchTracker:
        """A :class:`BatchTracker` of ``total`` batches that reports to ``on_progress``
        (rank 0's only: one bar per stage)."""
        return BatchTracker(self.on_progress if self.ranks.is_main else None, task, total)

    def state_path(self, artifact: str) -> Path | None:
        """The resume state to continue from, if any (see ``resume_path``)."""
        if self.resume_path is not None:
            return self.resume_path(artifact)
        path = self.store.path(self.dataset, self.size, artifact, "train_state.pt")
        return path if path.is_file() else None

    def test_splits(self) -> list[str]:
        return sorted(s for s in self.split("train").manifest.splits if s.startswith("test_"))

    def model_inputs(self) -> dict[str, int]:
        train = self.split("train")
        return {
            "num_ids": len(train.vocabulary),
            "node_dim": train.num_node_features,
            "edge_dim": train.num_edge_features,
        }

    def gat_inputs(self) -> dict[str, Any]:
        """:meth:`model_inputs` of the GAT: with ``gat.ignore_features``, also the cache's
        node feature columns it sees (saved in its checkpoint)."""
        inputs: dict[str, Any] = dict(self.model_inputs())
        ignore = self.config.gat.ignore_features
        if ignore:
            from .nn.gat import seen_columns

            names = self.split("train").manifest.data["node_features"]
            inputs["node_columns"] = seen_columns(names, ignore)
        return inputs

    def vocabulary_digest(self) -> str:
        return str(self.split("train").manifest.data["vocabulary"]["digest"])

    def generator(self, *salt: int) -> torch.Generator:
        return torch.Generator().manual_seed(
            int(np.random.SeedSequence([self.config.train.seed, *salt]).generate_state(1)[0])
        )

    def load_model(self, key: str, size: str | None = None) -> torch.nn.Module:
        """The ``gat`` or ``vgae`` artifact of ``size`` (default: this run's), in eval mode
        on this run's device, checked against this cache's vocabulary."""
        from .checkpoints import load_model

        return load_model(
            self.store,
            self.dataset,
            size or self.size,
            key,
            vocab_digest=self.vocabulary_digest(),
            device=self.device,
            backend=self.backend,
        )

    def peak_memory(self) -> dict[str, int]:
        import resource

        out = {"host_max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
        if self.device.type == "cuda":
            out["cuda_max_allocated_bytes"] = int(torch.cuda.max_memory_allocated(self.device))
        out["pid"] = os.getpid()
        return out


def batch_indices(
    ds: CachedGraphDataset,
    cfg: BatchingConfig,
    *,
    seed: int,
    epoch: int,
    shuffle: bool,
    ranks: Ranks | None = None,
) -> list[np.ndarray]:
    """Index batches of one epoch: a node/edge budget (BudgetBatchSampler) or a fixed size.

    With ``ranks`` (a data-parallel training epoch), this rank's share: every rank plans
    the same epoch with the per-rank budget (:meth:`Ranks.batching`) and takes batches
    ``rank, rank + N, ...``; every rank gets the same number of batches (the sampler's DDP
    equalisation; fixed batches: each global batch is split in N, a last one smaller
    than N is dropped)."""
    n = len(ds)
    if n == 0:
        return []
    ranks = ranks if ranks is not None and ranks.parallel else None
    if ranks is not None:
        cfg = ranks.batching(cfg)
    if cfg.mode == "budget":
        from canids_batching import BudgetBatchSampler

        sampler = BudgetBatchSampler(
            ds,
            cfg.budget,
            key=cfg.key,
            shuffle=shuffle,
            seed=seed,
            packing=cfg.packing if shuffle else "sequential",
            num_replicas=ranks.world_size if ranks else 1,
            rank=ranks.rank if ranks else 0,
        )
        sampler.set_epoch(epoch)
        return [np.asarray(b, np.int64) for b in sampler]
    order = np.random.default_rng([seed, epoch]).permutation(n) if shuffle else np.arange(n)
    if ranks is None:
        return [order[i : i + cfg.batch_size] for i in range(0, n, cfg.batch_size)]
    step = cfg.batch_size * ranks.world_size
    return [
        np.array_split(order[i : i + step], ranks.world_size)[ranks.rank]
        for i in range(0, n, step)
        if min(step, n - i) >= ranks.world_size
    ]
