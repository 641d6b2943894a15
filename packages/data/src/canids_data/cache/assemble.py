"""One split of the store from the staged parts of its captures, a capture at a time.

Each part's chosen graphs are written as soon as they are read, with node IDs mapped
through the vocabulary and pointers shifted onto the split's, so assembling holds one
capture's graphs in memory however many captures the split has: build memory is flat
in the total number of messages (docs/benchmarks.md, "Scale").
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ..graphs import GraphArrays
from ..vocab import Vocabulary
from .store import SplitWriter
from .val_split import ASSIGN_MAIN, ASSIGN_VAL

__all__ = ["assemble_split", "split_sizes"]

PartLoader = Callable[[Path], tuple[GraphArrays, np.ndarray, dict[str, Any]]]


def split_sizes(split: str, metas: list[dict[str, Any]]) -> tuple[int, int, int]:
    """(graphs, nodes, edges) of ``split`` from its members' records, before any is read."""
    key = "val" if split == "val" else "main"
    total = np.zeros(3, np.int64)
    for meta in metas:
        total += np.asarray(meta["assigned_sizes"][key], np.int64)
    return int(total[0]), int(total[1]), int(total[2])


def assemble_split(
    split: str,
    members: list[tuple[int, Path]],
    vocab: Vocabulary,
    load: PartLoader,
    writer: SplitWriter,
) -> dict[str, int]:
    """Write ``split`` from the parts of its sources (``members``: the source's index in the
    manifest and its part); returns the split's counts."""
    want = ASSIGN_VAL if split == "val" else ASSIGN_MAIN
    counts = {"graphs": 0, "attack_graphs": 0, "nodes": 0, "edges": 0, "oov_nodes": 0}
    for source_index, part in members:
        graphs, assign, _ = load(part)
        chosen_idx = np.flatnonzero(assign == want)
        chosen = graphs if len(chosen_idx) == graphs.num_graphs else graphs.select(chosen_idx)
        node_id = vocab.index(chosen.node_can)
        k = chosen.num_graphs
        writer.append(
            {
                "node_ptr": chosen.node_ptr,
                "edge_ptr": chosen.edge_ptr,
                "node_id": node_id,
                "x": chosen.x,
                "edge_index": chosen.edge_index,
                "edge_attr": chosen.edge_attr,
                "y": chosen.y,
                "node_y": chosen.node_y,
                "graph_source": np.full(k, source_index, np.int32),
                "window_start": chosen.window_start,
                "window_end": chosen.window_end,
            }
        )
        counts["graphs"] += k
        counts["attack_graphs"] += int(np.count_nonzero(chosen.y))
        counts["nodes"] += len(node_id)
        counts["edges"] += int(chosen.edge_index.shape[1])
        counts["oov_nodes"] += int(np.count_nonzero(node_id == 0))
    counts["sources"] = len(members)
    return counts
