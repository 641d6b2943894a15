"""Size profile of a graph dataset (or one split of it) and the batching it calls for."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from canids_batching._io import atomic_write_text, load_record, record
from canids_batching._sizes import SizesLike, as_size_array, resolve_sizes
from canids_batching.errors import BatchingError

__all__ = [
    "CV_THRESHOLD",
    "Histogram",
    "Profile",
    "Recommendation",
    "SizeStats",
    "profile_dataset",
    "profile_sizes",
]

CV_THRESHOLD = 0.3
"""Below this coefficient of variation (std / mean) for both nodes and edges, batch
memory barely varies with a fixed batch size, so a budget buys little."""

_KIND, _VERSION = "canids-batching.profile", 1
_HIST_BINS = 64


@dataclass(frozen=True)
class SizeStats:
    """Distribution of one per-graph count (nodes or edges)."""

    mean: float
    std: float
    min: int
    max: int
    median: float
    p25: float
    p75: float
    p90: float
    p95: float
    p99: float
    count: int

    @property
    def cv(self) -> float:
        """Coefficient of variation, std / mean (0 for an all-zero count)."""
        return self.std / self.mean if self.mean > 0 else 0.0

    @classmethod
    def of(cls, values: np.ndarray) -> SizeStats:
        q = np.percentile(values, [25, 50, 75, 90, 95, 99])
        return cls(
            mean=float(values.mean()),
            std=float(values.std()),
            min=int(values.min()),
            max=int(values.max()),
            median=float(q[1]),
            p25=float(q[0]),
            p75=float(q[2]),
            p90=float(q[3]),
            p95=float(q[4]),
            p99=float(q[5]),
            count=int(values.size),
        )


@dataclass(frozen=True)
class Histogram:
    """Counts per bin; ``edges`` has one more entry than ``counts`` (numpy convention)."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]

    @classmethod
    def of(cls, values: np.ndarray) -> Histogram:
        lo, hi = int(values.min()), int(values.max())
        # Unit-wide bins while the range is small, so each bin is one exact count.
        bins = np.arange(lo, hi + 2) if hi - lo < _HIST_BINS else _HIST_BINS
        counts, edges = np.histogram(values, bins=bins)
        return cls(tuple(float(e) for e in edges), tuple(int(c) for c in counts))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Histogram:
        return cls(tuple(float(e) for e in data["edges"]), tuple(int(c) for c in data["counts"]))


@dataclass(frozen=True)
class Recommendation:
    """How to batch: ``strategy`` "batch_size" (``key`` "graphs") or "budget" (``key``
    "nodes" or "edges"), the suggested starting ``value`` and the ``reason``."""

    strategy: Literal["batch_size", "budget"]
    key: Literal["graphs", "nodes", "edges"]
    value: int
    reason: str


@dataclass(frozen=True)
class Profile:
    """Sizes of the graphs of one dataset or split, and the batching they call for."""

    name: str | None
    nodes: SizeStats
    edges: SizeStats
    edge_node_ratio_mean: float
    edge_node_ratio_std: float
    nodes_cv: float
    edges_cv: float
    bytes_per_graph: float | None
    node_feature_dim: int | None
    edge_feature_dim: int | None
    nodes_hist: Histogram
    edges_hist: Histogram
    target_graphs: int
    recommendation: Recommendation

    def to_json(self) -> str:
        return record(_KIND, _VERSION, asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Profile:
        body = load_record(text, _KIND, _VERSION, {f.name for f in fields(cls)})
        try:
            return cls(
                **{
                    **body,
                    "nodes": SizeStats(**body["nodes"]),
                    "edges": SizeStats(**body["edges"]),
                    "nodes_hist": Histogram.from_dict(body["nodes_hist"]),
                    "edges_hist": Histogram.from_dict(body["edges_hist"]),
                    "recommendation": Recommendation(**body["recommendation"]),
                }
            )
        except (TypeError, AttributeError) as exc:
            raise BatchingError(f"malformed {_KIND} record: {exc}") from exc

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        return atomic_write_text(path, self.to_json() + "\n")


def recommend(nodes: SizeStats, edges: SizeStats, target_graphs: int) -> Recommendation:
    """The batching rule (documented in docs/batching.md, "Profiler").

    Fixed batch size when both CVs are below :data:`CV_THRESHOLD`; otherwise a budget on
    the more variable count (edges when edge CV > node CV, nodes otherwise). The start
    value of a budget is the one that holds ``target_graphs`` graphs of mean size, so an
    average batch matches a fixed batch of ``target_graphs``, raised to the largest graph
    so that no graph is oversized; :func:`canids_batching.find_max_budget` then finds the
    most the GPU holds.
    """
    ncv, ecv = nodes.cv, edges.cv
    if ncv < CV_THRESHOLD and ecv < CV_THRESHOLD:
        return Recommendation(
            "batch_size",
            "graphs",
            target_graphs,
            f"node CV {ncv:.2f} and edge CV {ecv:.2f} are both below {CV_THRESHOLD}: sizes "
            "barely vary, so a fixed batch size keeps memory steady",
        )
    key: Literal["nodes", "edges"] = "edges" if ecv > ncv else "nodes"
    stats = edges if key == "edges" else nodes
    value = max(math.ceil(target_graphs * stats.mean), stats.max, 1)
    return Recommendation(
        "budget",
        key,
        value,
        f"node CV {ncv:.2f}, edge CV {ecv:.2f}: at least one is >= {CV_THRESHOLD} and "
        f"{key} vary most, so bound each batch by its {key}; start at "
        f"{target_graphs} x mean {stats.mean:.1f} = {math.ceil(target_graphs * stats.mean)}"
        + (f", raised to the largest graph ({stats.max})" if value == stats.max else ""),
    )


def profile_sizes(
    num_nodes: Any,
    num_edges: Any,
    bytes_per_graph: float | None = None,
    *,
    name: str | None = None,
    node_feature_dim: int | None = None,
    edge_feature_dim: int | None = None,
    target_graphs: int = 64,
) -> Profile:
    """Profile per-graph node and edge counts (1-D integer arrays of equal length)."""
    nodes = as_size_array(num_nodes, "num_nodes")
    edges = as_size_array(num_edges, "num_edges")
    if nodes.shape != edges.shape or nodes.size == 0:
        raise BatchingError(
            f"num_nodes ({nodes.size}) and num_edges ({edges.size}) must be non-empty and "
            "of equal length"
        )
    if isinstance(target_graphs, bool) or not isinstance(target_graphs, int) or target_graphs < 1:
        raise BatchingError(f"target_graphs must be a positive integer, got {target_graphs!r}")
    ratio = edges[nodes > 0] / nodes[nodes > 0]
    ns, es = SizeStats.of(nodes), SizeStats.of(edges)
    return Profile(
        name=name,
        nodes=ns,
        edges=es,
        edge_node_ratio_mean=float(ratio.mean()) if ratio.size else 0.0,
        edge_node_ratio_std=float(ratio.std()) if ratio.size else 0.0,
        nodes_cv=ns.cv,
        edges_cv=es.cv,
        bytes_per_graph=None if bytes_per_graph is None else float(bytes_per_graph),
        node_feature_dim=node_feature_dim,
        edge_feature_dim=edge_feature_dim,
        nodes_hist=Histogram.of(nodes),
        edges_hist=Histogram.of(edges),
        target_graphs=target_graphs,
        recommendation=recommend(ns, es, target_graphs),
    )


def profile_dataset(
    ds: SizesLike,
    *,
    name: str | None = None,
    bytes_per_graph: float | None = None,
    target_graphs: int = 64,
    sample: int = 256,
) -> Profile:
    """Profile a dataset or split: anything :class:`BudgetBatchSampler` accepts.

    For a sequence of graphs (PyG ``Data`` or objects holding tensors), the bytes per
    graph and the node/edge feature widths (``x``, ``edge_attr``) are measured on up to
    ``sample`` evenly spaced graphs unless given. Call it once per split.
    """
    nodes, edges = resolve_sizes(ds)
    node_dim = edge_dim = None
    if not callable(getattr(ds, "sizes", None)) and not isinstance(ds, tuple):
        picks = np.unique(np.linspace(0, nodes.size - 1, min(sample, nodes.size)).astype(int))
        graphs = [ds[int(i)] for i in picks]
        if bytes_per_graph is None:
            bytes_per_graph = float(np.mean([_nbytes(g) for g in graphs]))
        node_dim = _width(graphs[0], "x")
        edge_dim = _width(graphs[0], "edge_attr")
    return profile_sizes(
        nodes,
        edges,
        bytes_per_graph,
        name=name,
        node_feature_dim=node_dim,
        edge_feature_dim=edge_dim,
        target_graphs=target_graphs,
    )


def _tensors(graph: Any) -> list[torch.Tensor]:
    items = graph.to_dict() if callable(getattr(graph, "to_dict", None)) else None
    if items is None:
        items = graph if isinstance(graph, dict) else getattr(graph, "__dict__", {})
    return [v for v in items.values() if isinstance(v, torch.Tensor)]


def _nbytes(graph: Any) -> int:
    return sum(t.element_size() * t.numel() for t in _tensors(graph))


def _width(graph: Any, attr: str) -> int | None:
    t = graph.get(attr) if isinstance(graph, dict) else getattr(graph, attr, None)
    return int(t.shape[1]) if isinstance(t, torch.Tensor) and t.dim() == 2 else None
