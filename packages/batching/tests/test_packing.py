"""Packers against a plain-Python reference, and the invariants of sorted packing."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from canids_batching.packing import gather_segments, pack_sequential, pack_sorted


def reference_greedy(weights: list[list[int]], budgets: list[int]) -> list[int]:
    """Obvious per-graph greedy packing: the spec pack_sequential must reproduce."""
    bounds, used = [0], [0] * len(budgets)
    for i in range(len(weights[0])):
        sizes = [w[i] for w in weights]
        opened = i > bounds[-1]
        if opened and any(u + s > b for u, s, b in zip(used, sizes, budgets, strict=True)):
            bounds.append(i)
            used = [0] * len(budgets)
        used = [u + s for u, s in zip(used, sizes, strict=True)]
    bounds.append(len(weights[0]))
    return bounds


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("budgets", [(50,), (7,), (120, 200)])
def test_sequential_equals_reference_greedy(seed, budgets) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    weights = [rng.integers(0, 60, n) for _ in budgets]  # zeros and oversized included
    got = pack_sequential(weights, budgets)
    assert got.tolist() == reference_greedy([w.tolist() for w in weights], list(budgets))


def test_sequential_single_graph_and_all_oversized() -> None:
    assert pack_sequential([np.array([5])], [3]).tolist() == [0, 1]
    assert pack_sequential([np.array([9, 9, 9])], [3]).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("budgets", [(600,), (600, 900)])
def test_sorted_is_a_permutation_within_budget(seed, budgets, make_skewed) -> None:
    nodes, edges = make_skewed(3000, seed)
    weights = [nodes, edges][: len(budgets)]
    rng = np.random.default_rng(seed)
    perm, bounds, remainder = pack_sorted(weights, budgets, 256, rng)
    assert sorted(perm.tolist()) == list(range(nodes.size))
    assert bounds[0] == 0
    assert bounds[-1] == nodes.size
    assert 0 <= remainder < bounds.size - 1
    for w, b in zip(weights, budgets, strict=True):
        sums = np.add.reduceat(w[perm], bounds[:-1])
        alone = np.diff(bounds) == 1
        assert np.all((sums <= b) | alone)


def test_sorted_leaves_less_than_the_smallest_remaining_graph_unused() -> None:
    # One bucket, no shuffle: batches come out in packing order.
    w = np.array([90, 70, 60, 40, 30, 20, 10, 10, 5, 5])
    perm, bounds, _ = pack_sorted([w], [100], bucket_size=100, rng=None)
    batches = [w[perm[s:e]].tolist() for s, e in itertools.pairwise(bounds)]
    assert batches[0] == [90, 5, 5]  # largest first, topped up with the smallest
    remaining = list(w)
    for batch in batches[:-1]:
        for x in batch:
            remaining.remove(x)
        if remaining:
            assert 100 - sum(batch) < min(remaining)


def test_gather_segments() -> None:
    got = gather_segments(np.array([5, 0, 9]), np.array([2, 0, 3]))
    assert got.tolist() == [5, 6, 9, 10, 11]
    assert gather_segments(np.array([], dtype=np.int64), np.array([], dtype=np.int64)).size == 0
