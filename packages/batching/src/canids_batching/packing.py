"""Packing graphs into batches under one or two size budgets.

Both packers take graphs in a given order and return that order, possibly regrouped,
with batch boundaries: batch ``b`` holds ``order[bounds[b]:bounds[b + 1]]``. They never
drop a graph; a graph larger than a budget becomes a batch of its own.

Speed comes from prefix sums: the end of a batch that starts at ``i`` is one binary
search in the cumulative sizes, so the Python loop runs once per *batch* (about one per
hundred graphs at usual budgets), never once per graph. ``bisect`` over a zero-copy
``memoryview`` of the prefix sums costs a fraction of a ``numpy.searchsorted`` call on a
scalar, which is dominated by call overhead.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

import numpy as np

__all__ = ["gather_segments", "pack_sequential", "pack_sorted"]


def _prefix(w: np.ndarray, pad: int = 0) -> np.ndarray:
    # ``pad`` sentinel entries past the end let a search window run off the end
    # without clipping its upper bound on every batch.
    cs = np.empty(w.size + 1 + pad, dtype=np.int64)
    cs[0] = 0
    np.cumsum(w, out=cs[1 : w.size + 1])
    cs[w.size + 1 :] = np.iinfo(np.int64).max
    return cs


def _span(w: np.ndarray, budget: int) -> int:
    # Upper bound on graphs per batch; narrows each binary search to a small window.
    smallest = int(w.min()) if w.size else 0
    return w.size if smallest <= 0 else budget // smallest + 1


def gather_segments(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenate ``arange(s, s + n)`` for each ``(s, n)`` without a Python loop."""
    lengths = np.asarray(lengths, dtype=np.int64)
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    offsets = np.zeros(lengths.size, dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    return np.repeat(np.asarray(starts, dtype=np.int64) - offsets, lengths) + np.arange(total)


def pack_sequential(weights: Sequence[np.ndarray], budgets: Sequence[int]) -> np.ndarray:
    """Greedy packing in the given order: a batch grows until the next graph would overflow.

    ``weights[c][i]`` is the size of the ``i``-th graph under constraint ``c`` (nodes,
    edges) and ``budgets[c]`` its limit. Returns the batch boundaries (``bounds[0] == 0``,
    ``bounds[-1] == len(weights[0])``).
    """
    n = int(weights[0].size)
    spans = [min(n, _span(w, b)) for w, b in zip(weights, budgets, strict=True)]
    views = [memoryview(_prefix(w, s)) for w, s in zip(weights, spans, strict=True)]
    bounds = [0]
    push = bounds.append
    i = 0
    if len(views) == 1:
        cs, budget, span = views[0], int(budgets[0]), spans[0] + 1
        while i < n:
            j = bisect_right(cs, cs[i] + budget, i + 1, i + span) - 1
            i = j if j > i else i + 1
            push(i)
    else:
        (cs0, cs1), (b0, b1) = views, (int(budgets[0]), int(budgets[1]))
        s0, s1 = spans[0] + 1, spans[1] + 1
        while i < n:
            j = bisect_right(cs0, cs0[i] + b0, i + 1, i + s0) - 1
            j1 = bisect_right(cs1, cs1[i] + b1, i + 1, i + s1) - 1
            if j1 < j:
                j = j1
            i = j if j > i else i + 1
            push(i)
    return np.asarray(bounds, dtype=np.int64)


def _pack_pool(
    sorted_w: list[np.ndarray], budgets: Sequence[int]
) -> tuple[list[int], list[int], list[int], list[int]]:
    """Pack one size-sorted (largest first) pool; returns per-batch ``l, p, k, r``.

    Batch ``t`` holds sorted positions ``[l, p)`` (the largest graphs left, taken in order
    while they fit) and ``[k, r)`` (the smallest graphs left, added while they fit). The
    budget left unused by a batch is therefore smaller than the smallest graph that
    remains, the property that makes first-fit decreasing fill well, at one pair of
    binary searches per batch instead of one search per graph.
    """
    m = int(sorted_w[0].size)
    views = [memoryview(_prefix(w)) for w in sorted_w]
    bud = [int(b) for b in budgets]
    ls: list[int] = []
    ps: list[int] = []
    ks: list[int] = []
    rs: list[int] = []
    lo, hi = 0, m
    while lo < hi:
        p = hi
        for cs, b in zip(views, bud, strict=True):
            p = min(p, bisect_right(cs, cs[lo] + b, lo + 1, hi + 1) - 1)
        if p <= lo:
            p = lo + 1
        k = p
        for cs, b in zip(views, bud, strict=True):
            gap = b - (cs[p] - cs[lo])
            # Smallest k with cs[hi] - cs[k] <= gap: the suffix [k, hi) still fits.
            k = max(k, hi if gap <= 0 else bisect_left(cs, cs[hi] - gap, p, hi + 1))
        ls.append(lo)
        ps.append(p)
        ks.append(k)
        rs.append(hi)
        lo, hi = p, k
    return ls, ps, ks, rs


def pack_sorted(
    weights: Sequence[np.ndarray],
    budgets: Sequence[int],
    bucket_size: int,
    rng: np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """First-fit-decreasing style packing of consecutive buckets of the given order.

    Each bucket of ``bucket_size`` graphs (in the given, usually shuffled, order) is
    sorted by size, largest first, and packed by :func:`_pack_pool`. The last batch of a
    bucket is usually part-filled, so its graphs are carried into the next bucket rather
    than emitted; only the final bucket emits its remainder. With two budgets, graphs
    are sorted by their dominant share ``max(nodes / node_budget, edges / edge_budget)``.
    When ``rng`` is given the batch order is shuffled, so batch sizes do not trend
    within an epoch.

    Returns ``(perm, bounds, remainder)``: positions into the input order, regrouped, the
    batch boundaries over ``perm``, and the index of the remainder batch (the final
    bucket's last, the one ``drop_last`` drops).
    """
    n = int(weights[0].size)
    share = weights[0] / budgets[0]
    if len(weights) == 2:
        share = np.maximum(share, weights[1] / budgets[1])
    # Sort keys as int16 so that numpy's stable sort is a radix sort (~5x faster than on
    # floats): 1/16000 of the budget resolves every integer size of budgets up to 16000;
    # all oversized graphs share the top key and come first.
    key = (-np.round(np.minimum(share, 2.0) * 16000)).astype(np.int16)
    pieces_start: list[np.ndarray] = []
    batch_lengths: list[np.ndarray] = []
    carry = np.empty(0, dtype=np.int64)
    for start in range(0, n, bucket_size):
        pool = np.concatenate([carry, np.arange(start, min(n, start + bucket_size))])
        pool = pool[np.argsort(key[pool], kind="stable")]
        ls, ps, ks, rs = (
            np.asarray(v, dtype=np.int64) for v in _pack_pool([w[pool] for w in weights], budgets)
        )
        last = start + bucket_size >= n
        keep = ls.size if last else ls.size - 1
        if not last:
            tail = np.concatenate([np.arange(ls[-1], ps[-1]), np.arange(ks[-1], rs[-1])])
            carry = pool[tail]
        if keep:
            ls, ps, ks, rs = ls[:keep], ps[:keep], ks[:keep], rs[:keep]
            starts = np.stack([ls, ks], axis=1).ravel()
            lens = np.stack([ps - ls, rs - ks], axis=1).ravel()
            pieces_start.append(pool[gather_segments(starts, lens)])
            batch_lengths.append((ps - ls) + (rs - ks))
    perm = np.concatenate(pieces_start) if pieces_start else np.empty(0, np.int64)
    lengths = np.concatenate(batch_lengths) if batch_lengths else np.empty(0, np.int64)
    remainder = lengths.size - 1
    if rng is not None and lengths.size > 1:
        order = rng.permutation(lengths.size)
        remainder = int(np.flatnonzero(order == remainder)[0])
        starts = np.zeros(lengths.size, dtype=np.int64)
        np.cumsum(lengths[:-1], out=starts[1:])
        perm = perm[gather_segments(starts[order], lengths[order])]
        lengths = lengths[order]
    bounds = np.zeros(lengths.size + 1, dtype=np.int64)
    np.cumsum(lengths, out=bounds[1:])
    return perm, bounds, remainder
