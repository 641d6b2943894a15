"""Synthetic CAN-like graph sizes and batches drawn from a size profile."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from canids_batching._checks import Key, budgets_for, check_int
from canids_batching._extras import available, require
from canids_batching.errors import BatchingError
from canids_batching.profile import Histogram, Profile

__all__ = ["make_can_batch", "sample_sizes"]


def _draw_hist(hist: Histogram, n: int, rng: np.random.Generator) -> np.ndarray:
    counts = np.asarray(hist.counts, dtype=np.float64)
    edges = np.asarray(hist.edges)
    bins = rng.choice(counts.size, size=n, p=counts / counts.sum())
    lo = np.ceil(edges[bins])
    hi = np.floor(edges[bins + 1])
    # The last bin of numpy.histogram is closed on the right: its top value is included.
    hi = np.where(bins == counts.size - 1, hi + 1, hi)
    return (lo + np.floor(rng.random(n) * np.maximum(hi - lo, 1))).astype(np.int64)


def sample_sizes(profile: Profile, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``n`` (nodes, edges) pairs that follow ``profile``.

    Node counts come from the profile's node histogram; each graph's edge count is its
    node count times an edge/node ratio drawn from a normal with the profile's ratio
    mean and std, clipped to the profile's edge range, so edges stay correlated with
    nodes as in CAN graphs (more IDs in a window, more transitions).
    """
    check_int("n", n, 1)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    nodes = np.clip(_draw_hist(profile.nodes_hist, n, rng), profile.nodes.min, profile.nodes.max)
    ratio = rng.normal(profile.edge_node_ratio_mean, profile.edge_node_ratio_std, n)
    edges = np.clip(np.round(nodes * ratio), profile.edges.min, profile.edges.max)
    return nodes.astype(np.int64), edges.astype(np.int64)


def make_can_batch(
    profile: Profile,
    budget: int | tuple[int, int],
    *,
    key: Key = "nodes",
    seed: int = 0,
    pyg: bool | None = None,
    node_features: int | None = None,
    edge_features: int | None = None,
) -> Any:
    """A synthetic batch of CAN-like graphs that fills ``budget`` as the sampler would.

    Graph sizes come from :func:`sample_sizes`; graphs are added while the batch stays
    within the budget (one graph larger than the budget makes a batch alone), so the
    batch holds between ``budget - largest graph`` and ``budget`` of ``key``. Feature
    widths are the profile's ``node_feature_dim``/``edge_feature_dim`` unless given.
    Features are uniform in [0, 1) (payload bytes / 255, normalised counts and times),
    edges connect random distinct nodes of the same graph, ``y`` is a 0/1 graph label.

    Returns a ``torch_geometric.data.Batch`` when ``pyg`` is True, or None and PyG is
    installed; otherwise a dict of tensors with the same fields: ``x`` [N, F] float32,
    ``edge_index`` [2, E] int64, ``edge_attr`` [E, Fe] float32, ``y`` [G] int64,
    ``batch`` [N] int64 and ``ptr`` [G + 1] int64. ``pyg=True`` without PyG raises
    ImportError naming the ``[pyg]`` extra.
    """
    budgets = budgets_for(key, budget)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    f_node = node_features if node_features is not None else profile.node_feature_dim
    f_edge = edge_features if edge_features is not None else profile.edge_feature_dim
    if f_node is None or f_edge is None:
        raise BatchingError(
            "the profile has no feature widths (it was made from sizes alone); pass "
            "node_features= and edge_features=, or profile the graphs themselves"
        )
    check_int("node_features", f_node, 1)
    check_int("edge_features", f_edge, 0)
    use_pyg = available("torch_geometric") if pyg is None else pyg

    means = {"nodes": profile.nodes.mean, "edges": profile.edges.mean}
    keys = ["nodes", "edges"] if key == "both" else [key]
    guess = min(math.ceil(b / max(means[k], 1.0)) for k, b in zip(keys, budgets, strict=True))
    nodes = np.empty(0, np.int64)
    edges = np.empty(0, np.int64)
    while True:
        more_n, more_e = sample_sizes(profile, guess + 16, seed=int(rng.integers(2**31)))
        nodes, edges = np.concatenate([nodes, more_n]), np.concatenate([edges, more_e])
        sums = {"nodes": np.cumsum(nodes), "edges": np.cumsum(edges)}
        fit = min(
            int(np.searchsorted(sums[k], b, side="right"))
            for k, b in zip(keys, budgets, strict=True)
        )
        if fit < nodes.size:
            break
    nodes, edges = nodes[: max(fit, 1)], edges[: max(fit, 1)]
    return _assemble(nodes, edges, f_node, f_edge, rng, use_pyg)


def _assemble(
    nodes: np.ndarray,
    edges: np.ndarray,
    f_node: int,
    f_edge: int,
    rng: np.random.Generator,
    use_pyg: bool,
) -> Any:
    n_total, e_total, g = int(nodes.sum()), int(edges.sum()), nodes.size
    node_off = np.concatenate([[0], np.cumsum(nodes)[:-1]])
    per_edge_n = np.repeat(nodes, edges)
    src = np.floor(rng.random(e_total) * per_edge_n).astype(np.int64)
    # dst differs from src whenever the graph has two nodes or more: no self-loops.
    step = 1 + np.floor(rng.random(e_total) * np.maximum(per_edge_n - 1, 1)).astype(np.int64)
    dst = np.where(per_edge_n > 1, (src + step) % per_edge_n, src)
    shift = np.repeat(node_off, edges)
    fields = {
        "x": torch.from_numpy(rng.random((n_total, f_node), dtype=np.float32)),
        "edge_index": torch.from_numpy(np.stack([src + shift, dst + shift])),
        "edge_attr": torch.from_numpy(rng.random((e_total, f_edge), dtype=np.float32)),
        "y": torch.from_numpy(rng.integers(0, 2, g)),
        "batch": torch.from_numpy(np.repeat(np.arange(g), nodes)),
        "ptr": torch.from_numpy(np.concatenate([[0], np.cumsum(nodes)])),
    }
    if not use_pyg:
        return fields
    data = require("torch_geometric.data", "make_can_batch(pyg=True)")
    return data.Batch(**fields)
