"""One epoch's plan: shuffle, pack, drop what must go, equalise ranks, take this rank's share."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from canids_batching.packing import gather_segments, pack_sequential, pack_sorted

__all__ = ["EpochPlan", "plan_epoch"]


@dataclass(frozen=True, eq=False)
class EpochPlan:
    """Batch ``b`` of this rank is ``order[bounds[b]:bounds[b + 1]]`` (graph indices).

    ``dropped_by`` counts the dropped graphs per cause (``drop_last``,
    ``min_batch_size``, ``DDP equalisation``), the same on every rank.
    """

    order: np.ndarray
    bounds: np.ndarray
    dropped_graphs: int = 0
    dropped_batches: int = 0
    split_batches: int = 0
    dropped_by: dict[str, int] = field(default_factory=dict)

    @property
    def num_batches(self) -> int:
        return int(self.bounds.size - 1)


def _select(
    order: np.ndarray, bounds: np.ndarray, batches: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Keep the given batches (indices into ``bounds``), in the given order."""
    starts = bounds[:-1][batches]
    lengths = np.diff(bounds)[batches]
    new_bounds = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=new_bounds[1:])
    return order[gather_segments(starts, lengths)], new_bounds


def plan_epoch(
    weights: Sequence[np.ndarray],
    budgets: Sequence[int],
    *,
    epoch: int,
    seed: int,
    shuffle: bool,
    packing: str,
    bucket_size: int,
    drop_last: bool,
    min_batch_size: int,
    num_replicas: int,
    rank: int,
) -> EpochPlan:
    """Plan one epoch. Every rank computes the same global plan from ``(seed, epoch)``."""
    n = int(weights[0].size)
    rng = np.random.default_rng(np.random.SeedSequence([seed, epoch])) if shuffle else None
    order = np.arange(n, dtype=np.int64)
    if rng is not None:
        rng.shuffle(order)
        ordered = [w[order] for w in weights]
    else:
        ordered = list(weights)
    if packing == "sorted":
        perm, bounds, remainder = pack_sorted(ordered, budgets, bucket_size, rng)
        order = order[perm]
    else:
        bounds = pack_sequential(ordered, budgets)
        remainder = bounds.size - 2
    counts = np.diff(bounds)
    oversized = counts == 1
    if oversized.any():
        first = bounds[:-1][oversized]
        too_big = np.zeros(first.size, dtype=bool)
        for w, b in zip(weights, budgets, strict=True):
            too_big |= w[order[first]] > b
        oversized[np.flatnonzero(oversized)[~too_big]] = False

    keep = np.ones(counts.size, dtype=bool)
    drops = {"drop_last": 0, "min_batch_size": 0, "DDP equalisation": 0}
    if drop_last and counts.size and not oversized[remainder]:
        keep[remainder] = False
        drops["drop_last"] = int(counts[remainder])
    small = keep & (counts < min_batch_size) & ~oversized
    drops["min_batch_size"] = int(counts[small].sum())
    keep &= ~small
    kept = np.flatnonzero(keep)
    dropped_batches = int(counts.size - kept.size)
    if kept.size != counts.size:
        order, bounds = _select(order, bounds, kept)
        counts = np.diff(bounds)

    split = 0
    surplus = counts.size % num_replicas
    if surplus:
        need = num_replicas - surplus
        # Splitting a batch in two keeps every graph and stays within the budget; only
        # batches that leave both halves >= min_batch_size qualify, the largest first.
        can = np.flatnonzero(counts >= 2 * min_batch_size)
        if not drop_last and can.size >= need:
            chosen = can[np.argsort(-counts[can], kind="stable")[:need]]
            mids = bounds[chosen] + counts[chosen] // 2
            bounds = np.sort(np.concatenate([bounds, mids]))
            split = need
        else:
            # Surplus batches are the last ones of the (random) global order.
            cut = counts.size - surplus
            drops["DDP equalisation"] = int(counts[cut:].sum())
            dropped_batches += surplus
            order, bounds = order[: bounds[cut]], bounds[: cut + 1]

    mine = np.arange(rank, bounds.size - 1, num_replicas)
    if num_replicas > 1:
        order, bounds = _select(order, bounds, mine)
    return EpochPlan(
        order=order,
        bounds=bounds,
        dropped_graphs=sum(drops.values()),
        dropped_batches=dropped_batches,
        split_batches=split,
        dropped_by=drops,
    )
