"""BudgetBatchSampler: batches bounded by a node and/or edge budget, exact length, DDP-ready."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, Literal, get_args

import numpy as np
from torch.utils.data import Sampler

from canids_batching._checks import Key, budgets_for, check_int
from canids_batching._plan import EpochPlan, plan_epoch
from canids_batching._sizes import SizesLike, resolve_sizes
from canids_batching.errors import BatchingError, BatchingWarning

__all__ = ["BudgetBatchSampler", "SamplerStats"]

Packing = Literal["sequential", "sorted"]


@dataclass(frozen=True)
class SamplerStats:
    """What one rank's batches look like in one epoch (see :meth:`BudgetBatchSampler.stats`).

    Fill is the share of the budget a batch uses (with two budgets, of the one it uses
    most); batches made of one oversized graph are left out of ``mean_fill`` and
    ``min_fill``. ``dropped_graphs`` counts the graphs of the epoch that no rank receives
    (``drop_last``, ``min_batch_size``, DDP equalisation); ``split_batches`` the batches
    halved so that every rank gets the same number.
    """

    epoch: int
    rank: int
    num_replicas: int
    key: str
    budget: tuple[int, ...]
    batches: int
    graphs: int
    mean_fill: float
    min_fill: float
    oversized: int
    dropped_graphs: int
    dropped_batches: int
    split_batches: int
    nodes_mean: float
    nodes_std: float
    nodes_max: int
    edges_mean: float
    edges_std: float
    edges_max: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BudgetBatchSampler(Sampler[np.ndarray]):
    """Yield batches of graph indices whose total nodes and/or edges stay within a budget.

    Each batch is a read-only int64 numpy array, a slice of the epoch's order (no Python
    int per graph): ``DataLoader(batch_sampler=...)``, ``CachedGraphDataset.collate`` and
    indexing take it as it is; ``batch.tolist()`` gives Python ints.

    Args:
        sizes_or_dataset: an object with ``sizes() -> (num_nodes, num_edges)``, a
            ``(num_nodes, num_edges)`` tuple of 1-D integer arrays, or a sequence of
            graphs with ``num_nodes`` and ``num_edges`` (read once, here).
        budget: the most nodes (``key="nodes"``) or edges (``key="edges"``) a batch may
            hold, or the pair ``(node_budget, edge_budget)`` with ``key="both"``, where a
            batch must respect both.
        shuffle: draw a new graph order every epoch from ``(seed, epoch)``.
        seed: seed of every random choice; all ranks must pass the same one.
        drop_last: drop the epoch's remainder batch (the last packed, usually
            part-filled); with DDP, drop surplus batches instead of splitting batches.
        min_batch_size: batches with fewer graphs are dropped and counted (a graph
            larger than the budget still travels alone and is never dropped).
        packing: ``"sequential"`` packs the shuffled order greedily; ``"sorted"`` packs
            size-sorted buckets of it, largest graphs topped up with the smallest, for a
            higher fill, then shuffles the batch order.
        num_replicas, rank: DDP world size and this process's rank. Every rank plans the
            same global epoch and takes batches ``rank, rank + num_replicas, ...``.
        bucket_size: graphs per bucket for ``packing="sorted"``.

    ``len()`` is the exact number of batches this rank yields in the current epoch.
    Call :meth:`set_epoch` before each epoch, as with ``DistributedSampler``; without it
    every epoch repeats the same order. Without ``shuffle`` every epoch has the same
    batches, so they are planned once and reused.
    """

    def __init__(
        self,
        sizes_or_dataset: SizesLike,
        budget: int | tuple[int, int],
        key: Key = "nodes",
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        min_batch_size: int = 1,
        packing: Packing = "sequential",
        num_replicas: int = 1,
        rank: int = 0,
        bucket_size: int = 4096,
    ) -> None:
        super().__init__()
        self.key = key
        self.budget = budgets_for(key, budget)
        if packing not in get_args(Packing):
            raise BatchingError(f"packing must be 'sequential' or 'sorted', got {packing!r}")
        self.packing = packing
        self.shuffle = bool(shuffle)
        self.seed = check_int("seed", seed, 0)
        self.drop_last = bool(drop_last)
        self.min_batch_size = check_int("min_batch_size", min_batch_size, 1)
        self.num_replicas = check_int("num_replicas", num_replicas, 1)
        self.rank = check_int("rank", rank, 0)
        if self.rank >= self.num_replicas:
            raise BatchingError(
                f"rank must be in [0, num_replicas); got rank={rank}, num_replicas={num_replicas}"
            )
        self.bucket_size = check_int("bucket_size", bucket_size, 1)
        self.num_nodes, self.num_edges = resolve_sizes(sizes_or_dataset)
        # Planning gathers these once per epoch; int32 halves the memory traffic.
        small = [
            a.astype(np.int32) if a.max() < 2**31 else a for a in (self.num_nodes, self.num_edges)
        ]
        self._weights = {"nodes": small[:1], "edges": small[1:]}.get(key, small)
        self._epoch = 0
        self._cache: EpochPlan | None = None
        self._warned: set[str] = set()
        over = np.zeros(self.num_nodes.size, dtype=bool)
        for w, b in zip(self._weights, self.budget, strict=True):
            over |= w > b
        self.num_oversized = int(over.sum())
        if self.num_oversized:
            need = tuple(int(w[over].max()) for w in self._weights)
            warnings.warn(
                f"{self.num_oversized} of {self.num_nodes.size} graphs exceed the budget "
                f"({key}={budget}); each travels alone in its own batch and is counted in "
                f"stats().oversized, never dropped. A budget of at least "
                f"{need[0] if len(need) == 1 else need} batches them all.",
                BatchingWarning,
                stacklevel=2,
            )

    @property
    def epoch(self) -> int:
        return self._epoch

    @property
    def num_graphs(self) -> int:
        return int(self.num_nodes.size)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose order the next ``len()``/``iter()`` describe."""
        epoch = check_int("epoch", epoch, 0)
        if epoch != self._epoch:
            self._epoch = epoch
            if self.shuffle:  # an unshuffled plan does not depend on the epoch
                self._cache = None

    def plan(self) -> EpochPlan:
        """This rank's batches of the current epoch, computed once and cached."""
        if self._cache is None:
            self._cache = plan_epoch(
                self._weights,
                self.budget,
                epoch=self._epoch,
                seed=self.seed,
                shuffle=self.shuffle,
                packing=self.packing,
                bucket_size=self.bucket_size,
                drop_last=self.drop_last,
                min_batch_size=self.min_batch_size,
                num_replicas=self.num_replicas,
                rank=self.rank,
            )
            self._cache.order.flags.writeable = False  # batches are views of it
            for kind, count in self._cache.dropped_by.items():
                # drop_last was asked for; the other causes deserve a word, once.
                if count and kind != "drop_last" and kind not in self._warned:
                    self._warned.add(kind)
                    warnings.warn(
                        f"epoch {self._epoch}: {count} graphs dropped by {kind} (counted in "
                        "stats().dropped_graphs; warned once per sampler)",
                        BatchingWarning,
                        stacklevel=3,
                    )
        return self._cache

    def __len__(self) -> int:
        return self.plan().num_batches

    def __iter__(self) -> Iterator[np.ndarray]:
        plan = self.plan()
        order = plan.order
        # Slices of one read-only array: no list of Python ints per batch (converting
        # them cost ~2/3 of an unshuffled epoch; docs/batching.md).
        for start, stop in pairwise(plan.bounds.tolist()):
            yield order[start:stop]

    def stats(self) -> SamplerStats:
        """Batches, fill and oversized graphs of this rank in the current epoch."""
        plan = self.plan()
        starts = plan.bounds[:-1]
        counts = np.diff(plan.bounds)
        nodes = _batch_sums(self.num_nodes[plan.order], starts)
        edges = _batch_sums(self.num_edges[plan.order], starts)
        sums = {"nodes": [nodes], "edges": [edges]}.get(self.key, [nodes, edges])
        fill = np.max([s / b for s, b in zip(sums, self.budget, strict=True)], axis=0)
        alone = (counts == 1) & (fill > 1.0) if counts.size else counts.astype(bool)
        normal = fill[~alone] if counts.size else fill
        return SamplerStats(
            epoch=self._epoch,
            rank=self.rank,
            num_replicas=self.num_replicas,
            key=self.key,
            budget=self.budget,
            batches=plan.num_batches,
            graphs=int(plan.order.size),
            mean_fill=float(normal.mean()) if normal.size else 0.0,
            min_fill=float(normal.min()) if normal.size else 0.0,
            oversized=int(alone.sum()),
            dropped_graphs=plan.dropped_graphs,
            dropped_batches=plan.dropped_batches,
            split_batches=plan.split_batches,
            nodes_mean=float(nodes.mean()) if nodes.size else 0.0,
            nodes_std=float(nodes.std()) if nodes.size else 0.0,
            nodes_max=int(nodes.max()) if nodes.size else 0,
            edges_mean=float(edges.mean()) if edges.size else 0.0,
            edges_std=float(edges.std()) if edges.size else 0.0,
            edges_max=int(edges.max()) if edges.size else 0,
        )

    def batch_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Nodes and edges of each of this rank's batches in the current epoch."""
        plan = self.plan()
        starts = plan.bounds[:-1]
        return (
            _batch_sums(self.num_nodes[plan.order], starts),
            _batch_sums(self.num_edges[plan.order], starts),
        )


def _batch_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    if starts.size == 0:
        return np.empty(0, dtype=np.int64)
    return np.add.reduceat(values, starts)
