"""Zarr v3 layout of a cache: one group per split of flat ragged arrays, row-aligned chunks.

Arrays that run along the same rows share their chunk rows: the node arrays (``x``,
``node_id``, ``node_y``) chunk at :data:`NODE_ROWS` rows, the edge arrays
(``edge_index``, ``edge_attr``) at :data:`EDGE_ROWS`, and the per-graph arrays at
:data:`GRAPH_ROWS`. A batch then decodes, per array, only the chunks that hold its
graphs' rows, and the narrow arrays (``node_id``, ``node_y``) no longer hold 16-64x more
rows per chunk than ``x`` does (which made a random batch decode almost all of them).
The sizes are measured trade-offs (docs/benchmarks.md).
"""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path
from typing import Any

import numpy as np

from .chunks import (
    ArraySpec,
    ChunkWriter,
    read_array_metadata,
    read_chunk,
    stream_sha256,
    write_group_metadata,
)

__all__ = [
    "EDGE_ROWS",
    "GRAPH_ROWS",
    "NODE_ROWS",
    "ROW_KIND",
    "SPLIT_ARRAYS",
    "SplitWriter",
    "array_sha256",
    "split_specs",
    "stored_spec",
    "write_split",
]

# name → (dtype, axis the rows run along). Row counts: graphs (+1 for pointers), nodes, edges.
SPLIT_ARRAYS: dict[str, tuple[str, int]] = {
    "node_ptr": ("int64", 0),
    "edge_ptr": ("int64", 0),
    "node_id": ("int32", 0),
    "x": ("float32", 0),
    "edge_index": ("int32", 1),
    "edge_attr": ("float32", 0),
    "y": ("uint8", 0),
    "node_y": ("uint8", 0),
    "graph_source": ("int32", 0),
    "window_start": ("float64", 0),
    "window_end": ("float64", 0),
}
ROW_KIND: dict[str, str] = {
    "node_ptr": "pointer",
    "edge_ptr": "pointer",
    "node_id": "node",
    "x": "node",
    "node_y": "node",
    "edge_index": "edge",
    "edge_attr": "edge",
    "y": "graph",
    "graph_source": "graph",
    "window_start": "graph",
    "window_end": "graph",
}
NODE_ROWS = 2048  # x: 128 KiB (invariant) to 184 KiB (v1) per chunk; node_id 8 KiB
EDGE_ROWS = 4096  # edge_attr: 80 KiB per chunk; edge_index 32 KiB
GRAPH_ROWS = 1 << 16  # read whole at open: large chunks, few files
_ROWS = {"node": NODE_ROWS, "edge": EDGE_ROWS, "graph": GRAPH_ROWS, "pointer": GRAPH_ROWS}


def split_specs(graphs: int, nodes: int, edges: int, dims: tuple[int, int]) -> dict[str, ArraySpec]:
    """The arrays of a split of ``graphs`` graphs, ``nodes`` nodes and ``edges`` edges;
    ``dims`` are the node and edge feature widths."""
    node_dim, edge_dim = dims
    length = {"pointer": graphs + 1, "graph": graphs, "node": nodes, "edge": edges}
    shapes = {
        "x": (nodes, node_dim),
        "edge_index": (2, edges),
        "edge_attr": (edges, edge_dim),
    }
    out = {}
    for name, (dtype, axis) in SPLIT_ARRAYS.items():
        kind = ROW_KIND[name]
        shape = shapes.get(name, (length[kind],))
        out[name] = ArraySpec(name, dtype, shape, axis, _ROWS[kind])
    return out


def stored_spec(store: Path, split: str, name: str) -> ArraySpec:
    """The spec of an array as its ``zarr.json`` on disk describes it."""
    meta = read_array_metadata(store / split / name)
    return ArraySpec.from_metadata(name, meta, SPLIT_ARRAYS[name][1])


class SplitWriter:
    """Writes one split's arrays from successive pieces (the graphs of one capture at a
    time), so a build holds one piece and one unfinished chunk per array in memory."""

    def __init__(
        self,
        store: Path,
        split: str,
        counts: tuple[int, int, int],
        dims: tuple[int, int],
        pool: Executor | None = None,
    ) -> None:
        folder = store / split
        write_group_metadata(folder)
        self.specs = split_specs(*counts, dims)
        self.split = split
        self.writers = {
            name: ChunkWriter(folder / name, spec, pool) for name, spec in self.specs.items()
        }
        self._nodes = 0
        self._edges = 0
        self.writers["node_ptr"].append(np.zeros(1, np.int64))
        self.writers["edge_ptr"].append(np.zeros(1, np.int64))

    def append(self, piece: dict[str, np.ndarray]) -> None:
        """Graphs with their own pointers (starting at 0), shifted here onto the split's."""
        node_ptr, edge_ptr = piece["node_ptr"], piece["edge_ptr"]
        self.writers["node_ptr"].append(node_ptr[1:] + self._nodes)
        self.writers["edge_ptr"].append(edge_ptr[1:] + self._edges)
        self._nodes += int(node_ptr[-1])
        self._edges += int(edge_ptr[-1])
        for name, writer in self.writers.items():
            if name not in ("node_ptr", "edge_ptr"):
                writer.append(piece[name])

    def close(self) -> dict[str, dict[str, Any]]:
        return {f"{self.split}/{name}": w.close() for name, w in self.writers.items()}

    def abort(self) -> None:
        for w in self.writers.values():
            w.abort()


def write_split(
    store: Path, split: str, arrays: dict[str, np.ndarray], pool: Executor | None = None
) -> dict[str, dict[str, Any]]:
    """Write one split's arrays in one piece; returns their records (shape, dtype, chunks,
    chunk count, sha256)."""
    if not (store / "zarr.json").is_file():
        write_group_metadata(store)
    x, edge_attr = arrays["x"], arrays["edge_attr"]
    counts = (len(arrays["y"]), len(x), int(np.asarray(arrays["edge_index"]).shape[1]))
    writer = SplitWriter(store, split, counts, (x.shape[1], edge_attr.shape[1]), pool)
    writer.append(arrays)
    return writer.close()


def array_sha256(store: Path, split: str, spec: ArraySpec, *, fix: str) -> str:
    """sha256 of a stored array's values, read chunk by chunk (as the build computed it)."""
    folder = store / split / spec.name

    def blocks() -> Any:
        for i in range(spec.n_chunks):
            yield read_chunk(folder, spec, i, where=f"{split}/{spec.name}", fix=fix)

    return stream_sha256(blocks, spec.shape, spec.axis)
