"""Turn whatever the caller has (a dataset, a graph list, two arrays) into size arrays."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from canids_batching.errors import BatchingError

__all__ = ["SizesLike", "as_size_array", "resolve_sizes"]

SizesLike = Any
"""An object with ``sizes() -> (num_nodes, num_edges)``, a ``(num_nodes, num_edges)``
tuple of 1-D integer arrays, or a sequence of graphs with ``num_nodes``/``num_edges``."""


def as_size_array(values: Any, what: str) -> np.ndarray:
    """A 1-D int64 array of non-negative counts, or a BatchingError that says what is wrong."""
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise BatchingError(f"{what}: expected a 1-D array of counts, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise BatchingError(f"{what}: counts must be whole numbers")
    elif arr.dtype.kind not in "iu":
        raise BatchingError(f"{what}: counts must be integers, got dtype {arr.dtype}")
    out = arr.astype(np.int64, copy=False)
    if out.size and int(out.min()) < 0:
        raise BatchingError(f"{what}: counts must be >= 0, found {int(out.min())}")
    return out


def _is_array_like(obj: Any) -> bool:
    return isinstance(obj, np.ndarray | torch.Tensor | list | range)


def resolve_sizes(source: SizesLike) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(num_nodes, num_edges)`` as int64 arrays of equal, non-zero length."""
    if callable(getattr(source, "sizes", None)):
        got = source.sizes()
        if not (isinstance(got, tuple | list) and len(got) == 2):
            raise BatchingError(
                f"{type(source).__name__}.sizes() must return (num_nodes, num_edges), "
                f"got {type(got).__name__}"
            )
        nodes, edges = got
        origin = f"{type(source).__name__}.sizes()"
    elif isinstance(source, tuple) and len(source) == 2 and all(map(_is_array_like, source)):
        nodes, edges = source
        origin = "(num_nodes, num_edges)"
    elif isinstance(source, Sequence) or hasattr(source, "__getitem__"):
        nodes, edges = _sizes_of_graphs(source)
        origin = f"graphs of {type(source).__name__}"
    else:
        raise BatchingError(
            f"cannot read graph sizes from {type(source).__name__}: pass an object with a "
            "sizes() method, a (num_nodes, num_edges) tuple of arrays, or a sequence of "
            "graphs with num_nodes and num_edges"
        )
    n = as_size_array(nodes, f"{origin} num_nodes")
    e = as_size_array(edges, f"{origin} num_edges")
    if n.shape != e.shape:
        raise BatchingError(f"{origin}: num_nodes has {n.size} entries but num_edges has {e.size}")
    if n.size == 0:
        raise BatchingError(f"{origin}: no graphs (empty dataset or split)")
    return n, e


def _sizes_of_graphs(graphs: Any) -> tuple[list[int], list[int]]:
    # Materialises every graph: fine for lists in memory, slow for lazy datasets, which
    # should expose sizes() instead (canids_data.CachedGraphDataset does).
    nodes: list[int] = []
    edges: list[int] = []
    for i in range(len(graphs)):
        g = graphs[i]
        try:
            nodes.append(int(g.num_nodes))
            edges.append(int(g.num_edges))
        except (AttributeError, TypeError) as exc:
            raise BatchingError(
                f"graph {i} ({type(g).__name__}) has no usable num_nodes/num_edges; give the "
                "dataset a sizes() method or pass (num_nodes, num_edges) arrays"
            ) from exc
    return nodes, edges
