"""Concatenating the staged parts of one split, with node IDs mapped through the vocabulary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..graphs import GraphArrays
from ..vocab import Vocabulary
from .worker import ASSIGN_MAIN, ASSIGN_VAL

__all__ = ["assemble_split"]

PartLoader = Callable[[Path], tuple[GraphArrays, np.ndarray, dict[str, Any]]]


def assemble_split(
    split: str,
    members: list[tuple[int, Path]],
    vocab: Vocabulary,
    load: PartLoader,
    dims: tuple[int, int],
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Arrays of ``split`` from the parts of its sources (index into the manifest's sources);
    ``dims`` are the node and edge feature widths (for a split with no graph)."""
    node_dim, edge_dim = dims
    want = ASSIGN_VAL if split == "val" else ASSIGN_MAIN
    pieces: list[GraphArrays] = []
    source_ids: list[np.ndarray] = []
    for source_index, part in members:
        graphs, assign, _ = load(part)
        chosen = graphs.select(np.flatnonzero(assign == want))
        pieces.append(chosen)
        source_ids.append(np.full(chosen.num_graphs, source_index, np.int32))
    node_counts = [np.diff(p.node_ptr) for p in pieces]
    edge_counts = [np.diff(p.edge_ptr) for p in pieces]
    nn = np.concatenate(node_counts) if pieces else np.zeros(0, np.int64)
    ne = np.concatenate(edge_counts) if pieces else np.zeros(0, np.int64)
    node_can = np.concatenate([p.node_can for p in pieces]) if pieces else np.zeros(0, np.uint32)
    data = {
        "node_ptr": np.concatenate(([0], np.cumsum(nn))).astype(np.int64),
        "edge_ptr": np.concatenate(([0], np.cumsum(ne))).astype(np.int64),
        "node_id": vocab.index(node_can),
        "x": _cat([p.x for p in pieces], (0, node_dim), np.float32),
        "edge_index": np.concatenate([p.edge_index for p in pieces], axis=1)
        if pieces
        else np.zeros((2, 0), np.int32),
        "edge_attr": _cat([p.edge_attr for p in pieces], (0, edge_dim), np.float32),
        "y": _cat([p.y for p in pieces], (0,), np.uint8),
        "node_y": _cat([p.node_y for p in pieces], (0,), np.uint8),
        "graph_source": _cat(source_ids, (0,), np.int32),
        "window_start": _cat([p.window_start for p in pieces], (0,), np.float64),
        "window_end": _cat([p.window_end for p in pieces], (0,), np.float64),
    }
    counts = {
        "graphs": len(data["y"]),
        "attack_graphs": int(data["y"].sum()),
        "nodes": len(node_can),
        "edges": int(data["edge_index"].shape[1]),
        "oov_nodes": int((data["node_id"] == 0).sum()),
        "sources": len(members),
    }
    return data, counts


def _cat(arrays: list[np.ndarray], empty_shape: tuple[int, ...], dtype: type) -> np.ndarray:
    return np.concatenate(arrays) if arrays else np.zeros(empty_shape, dtype)
