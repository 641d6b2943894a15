"""Synthetic CAN-like sizes and batches drawn from a profile."""

from __future__ import annotations

import canids_batching as cb
import numpy as np
import pytest
import torch


@pytest.fixture
def profile(hcrl_sizes) -> cb.Profile:
    return cb.profile_sizes(*hcrl_sizes, node_feature_dim=11, edge_feature_dim=4)


def test_sample_sizes_follow_the_profile(profile) -> None:
    nodes, edges = cb.sample_sizes(profile, 20000, seed=3)
    assert nodes.min() >= profile.nodes.min
    assert nodes.max() <= profile.nodes.max
    assert edges.min() >= profile.edges.min
    assert edges.max() <= profile.edges.max
    assert nodes.mean() == pytest.approx(profile.nodes.mean, rel=0.03)
    assert edges.mean() == pytest.approx(profile.edges.mean, rel=0.05)
    assert np.corrcoef(nodes, edges)[0, 1] > 0.5  # edges follow nodes
    again = cb.sample_sizes(profile, 20000, seed=3)
    assert np.array_equal(nodes, again[0])
    assert np.array_equal(edges, again[1])


@pytest.mark.parametrize(
    ("key", "budget"), [("nodes", 3000), ("edges", 5000), ("both", (3000, 4000))]
)
def test_batch_fills_the_budget_and_is_well_formed(profile, key, budget) -> None:
    b = cb.make_can_batch(profile, budget, key=key, seed=5, pyg=False)
    n, e, g = b["x"].shape[0], b["edge_index"].shape[1], b["y"].shape[0]
    limits = {"nodes": (budget,), "edges": (budget,), "both": budget}[key]
    counted = {"nodes": [n], "edges": [e], "both": [n, e]}[key]
    assert all(c <= lim for c, lim in zip(counted, limits, strict=True))
    # The binding count is within one graph of its budget.
    assert min(lim - c for c, lim in zip(counted, limits, strict=True)) < 100
    assert b["x"].shape == (n, 11)
    assert b["edge_attr"].shape == (e, 4)
    assert b["x"].dtype == torch.float32
    assert b["edge_index"].dtype == torch.int64
    ptr = b["ptr"]
    assert ptr[0] == 0
    assert ptr[-1] == n
    assert ptr.numel() == g + 1
    assert torch.equal(b["batch"], torch.repeat_interleave(torch.arange(g), ptr.diff()))
    src, dst = b["edge_index"]
    assert torch.equal(b["batch"][src], b["batch"][dst])  # edges stay inside their graph
    assert bool((src != dst).all())


def test_batches_are_deterministic_per_seed(profile) -> None:
    a = cb.make_can_batch(profile, 2000, seed=9, pyg=False)
    b = cb.make_can_batch(profile, 2000, seed=9, pyg=False)
    c = cb.make_can_batch(profile, 2000, seed=10, pyg=False)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["edge_index"], c["edge_index"]) or a["x"].shape != c["x"].shape


def test_a_budget_below_one_graph_gives_one_graph(profile) -> None:
    b = cb.make_can_batch(profile, 5, seed=1, pyg=False)
    assert b["y"].numel() == 1


def test_pyg_output(profile, extra) -> None:
    extra("torch_geometric")
    from torch_geometric.data import Batch

    b = cb.make_can_batch(profile, 2500, seed=2, pyg=True)
    assert isinstance(b, Batch)
    assert b.num_graphs == b.y.numel()
    assert b.num_nodes <= 2500
    assert b.edge_attr.shape == (b.num_edges, 4)
    auto = cb.make_can_batch(profile, 2500, seed=2)
    assert isinstance(auto, Batch)


def test_missing_feature_widths_are_a_clear_error(hcrl_sizes) -> None:
    bare = cb.profile_sizes(*hcrl_sizes)
    with pytest.raises(cb.BatchingError, match="node_features= and edge_features="):
        cb.make_can_batch(bare, 1000)
    ok = cb.make_can_batch(bare, 1000, node_features=3, edge_features=0, pyg=False)
    assert ok["x"].shape[1] == 3
    assert ok["edge_attr"].shape[1] == 0
