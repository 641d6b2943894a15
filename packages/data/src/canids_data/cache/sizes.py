"""Per-graph node and edge counts of a cache split, from the pointer arrays alone."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import CacheError
from ._io import dataset_dir
from .chunks import read_array
from .store import stored_spec
from .verify import verify_cache

__all__ = ["SplitSizes", "read_split_sizes"]

_LONG = 8  # int64 bytes: edge_index, node_id, node_y, batch, ptr and per-graph values in a Batch


@dataclass(frozen=True)
class SplitSizes:
    split: str
    nodes: np.ndarray
    edges: np.ndarray
    node_feature_dim: int
    edge_feature_dim: int

    @property
    def bytes_per_graph(self) -> float:
        """Mean bytes of one graph in a collated batch (x, node_id, node_y, batch per node;
        edge_index and edge_attr per edge; y, source, window_start and ptr per graph)."""
        per_node = 4 * self.node_feature_dim + 3 * _LONG
        per_edge = 2 * _LONG + 4 * self.edge_feature_dim
        return float(per_node * self.nodes.mean() + per_edge * self.edges.mean() + 4 * _LONG)


def read_split_sizes(
    cache_dir: Path, dataset: str, split: str, *, check_sources: bool = True
) -> SplitSizes:
    """Sizes of ``split`` after a quick verify; no graph and no feature array is read."""
    report = verify_cache(cache_dir, dataset, check_sources=check_sources, splits=[split])
    if report.manifest is not None and split not in report.manifest.splits:
        raise CacheError(
            f"split {split!r} is not in the {dataset} cache; it has: "
            + ", ".join(report.manifest.splits),
            status="incomplete",
        )
    report.raise_for_status()
    assert report.manifest is not None
    store = dataset_dir(cache_dir, dataset)

    def pointers(name: str) -> np.ndarray:
        spec = stored_spec(store, split, name)
        return read_array(store / split / name, spec, where=f"{split}/{name}", fix=report.fix)

    node_ptr, edge_ptr = pointers("node_ptr"), pointers("edge_ptr")
    return SplitSizes(
        split,
        np.diff(node_ptr),
        np.diff(edge_ptr),
        len(report.manifest.data["node_features"]),
        len(report.manifest.data["edge_features"]),
    )
