"""Profiler: statistics, the batching recommendation, JSON, datasets and the histogram PNG."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import canids_batching as cb
import numpy as np
import pytest
import torch


def test_statistics_match_numpy(hcrl_sizes) -> None:
    nodes, edges = hcrl_sizes
    p = cb.profile_sizes(nodes, edges, bytes_per_graph=1234.5, name="train")
    for stats, arr in ((p.nodes, nodes), (p.edges, edges)):
        assert stats.count == arr.size
        assert stats.mean == pytest.approx(arr.mean())
        assert stats.std == pytest.approx(arr.std())
        assert (stats.min, stats.max) == (arr.min(), arr.max())
        q = np.percentile(arr, [25, 50, 75, 90, 95, 99])
        got = [stats.p25, stats.median, stats.p75, stats.p90, stats.p95, stats.p99]
        assert got == pytest.approx(q)
    ratio = edges / nodes
    assert p.edge_node_ratio_mean == pytest.approx(ratio.mean())
    assert p.edge_node_ratio_std == pytest.approx(ratio.std())
    assert p.nodes_cv == pytest.approx(nodes.std() / nodes.mean())
    assert p.edges_cv == pytest.approx(edges.std() / edges.mean())
    assert p.bytes_per_graph == 1234.5
    assert p.name == "train"
    assert sum(p.nodes_hist.counts) == nodes.size
    assert len(p.nodes_hist.edges) == len(p.nodes_hist.counts) + 1


def test_low_variation_recommends_a_fixed_batch_size() -> None:
    nodes = np.full(100, 40)
    nodes[::2] = 44
    rec = cb.profile_sizes(nodes, nodes * 2, target_graphs=32).recommendation
    assert (rec.strategy, rec.key, rec.value) == ("batch_size", "graphs", 32)
    assert "below 0.3" in rec.reason


def test_edges_more_variable_than_nodes_recommends_an_edge_budget() -> None:
    rng = np.random.default_rng(1)
    nodes = rng.integers(30, 40, 1000)
    edges = rng.integers(10, 200, 1000)
    p = cb.profile_sizes(nodes, edges, target_graphs=10)
    assert p.edges_cv > p.nodes_cv
    assert p.edges_cv >= cb.CV_THRESHOLD
    rec = p.recommendation
    assert (rec.strategy, rec.key) == ("budget", "edges")
    assert rec.value == max(math.ceil(10 * edges.mean()), int(edges.max()))


def test_nodes_more_variable_recommends_a_node_budget_raised_to_the_largest_graph() -> None:
    nodes = np.array([1, 1, 1, 1, 200])
    p = cb.profile_sizes(nodes, nodes, target_graphs=4)
    rec = p.recommendation
    assert (rec.strategy, rec.key) == ("budget", "nodes")  # equal CVs: nodes
    assert rec.value == 200  # 4 x mean 40.8 = 164 < largest graph 200
    assert "largest graph" in rec.reason


def test_json_round_trip_and_atomic_save(tmp_path, hcrl_sizes) -> None:
    p = cb.profile_sizes(*hcrl_sizes, node_feature_dim=11, edge_feature_dim=3, name="val")
    assert cb.Profile.from_json(p.to_json()) == p
    path = p.save(tmp_path / "sub" / "profile.json")
    assert cb.Profile.from_json(path.read_text()) == p
    assert [f.name for f in path.parent.iterdir()] == ["profile.json"]
    data = json.loads(p.to_json())
    assert data["kind"] == "canids-batching.profile"
    assert data["version"] == 1
    assert data["recommendation"]["key"] in {"graphs", "nodes", "edges"}


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda d: d.update(extra=1), "unknown keys"),
        (lambda d: d.pop("nodes"), "missing keys"),
        (lambda d: d.update(kind="other"), "expected a 'canids-batching.profile'"),
        (lambda d: d.update(version=99), "schema version"),
    ],
)
def test_from_json_refuses_foreign_records(edit, match, hcrl_sizes) -> None:
    data = json.loads(cb.profile_sizes(*hcrl_sizes).to_json())
    edit(data)
    with pytest.raises(cb.BatchingError, match=match):
        cb.Profile.from_json(json.dumps(data))


def test_profile_dataset_of_graphs_measures_bytes_and_feature_widths() -> None:
    graphs = [
        SimpleNamespace(
            num_nodes=n,
            num_edges=2 * n,
            x=torch.zeros(n, 11),
            edge_attr=torch.zeros(2 * n, 3),
            edge_index=torch.zeros(2, 2 * n, dtype=torch.int64),
        )
        for n in (10, 20, 30)
    ]
    p = cb.profile_dataset(graphs, name="test")
    assert (p.node_feature_dim, p.edge_feature_dim) == (11, 3)
    per_graph = [n * 11 * 4 + 2 * n * 3 * 4 + 2 * 2 * n * 8 for n in (10, 20, 30)]
    assert p.bytes_per_graph == pytest.approx(np.mean(per_graph))
    assert p.nodes.count == 3
    assert p.edges.max == 60


def test_profile_dataset_uses_sizes_method() -> None:
    class Split:
        def sizes(self):
            return np.array([5, 6, 7]), np.array([8, 9, 10])

        def __getitem__(self, i):  # must not be called: sizes() is enough
            raise AssertionError("graphs were materialised")

    p = cb.profile_dataset(Split(), bytes_per_graph=100.0)
    assert p.nodes.mean == 6
    assert p.edges.mean == 9
    assert p.bytes_per_graph == 100.0
    assert p.node_feature_dim is None


@pytest.mark.parametrize(
    ("nodes", "edges", "match"),
    [
        ([], [], "non-empty"),
        ([1, 2], [1], "equal length"),
        ([1, -2], [1, 2], ">= 0"),
        ([1.5, 2], [1, 2], "whole numbers"),
        ([[1, 2]], [[1, 2]], "1-D"),
        (["a"], ["b"], "integers"),
    ],
)
def test_bad_sizes_are_refused(nodes, edges, match) -> None:
    with pytest.raises(cb.BatchingError, match=match):
        cb.profile_sizes(np.asarray(nodes), np.asarray(edges))


def test_plot_profile_writes_a_png(tmp_path, hcrl_sizes, extra) -> None:
    extra("matplotlib")
    p = cb.profile_sizes(*hcrl_sizes, name="train")
    out = cb.plot_profile(p, tmp_path / "hist.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out2 = cb.plot_profile(hcrl_sizes, tmp_path / "raw.png")  # raw sizes work too
    assert out2.stat().st_size > 1000
