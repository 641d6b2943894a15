"""Zarr v3 layout of a cache: one group per split of flat ragged arrays."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import zarr
from zarr.codecs import ZstdCodec

__all__ = ["SPLIT_ARRAYS", "array_sha256", "open_split_arrays", "write_split"]

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
_CHUNK_BYTES = 256 << 10
_HASH_ROWS = 1 << 20


def _chunks(shape: tuple[int, ...], itemsize: int, axis: int) -> tuple[int, ...]:
    """About 256 KiB per chunk along ``axis`` (at least 512 rows).

    Chunk size trades build speed against first-batch latency (docs/benchmarks.md):
    hcrl_sa builds at 1.18 / 0.93-1.05 / 0.65-0.69 M messages/s with 1 MiB / 256 KiB /
    64 KiB chunks, and the first random 512-graph batch of a 200k-graph split takes
    about 3.2 / 1.6 / 1.2 s (every chunk write and read has a fixed cost, and larger
    chunks decode more rows than a batch needs).
    """
    per_row = itemsize * int(np.prod([s for i, s in enumerate(shape) if i != axis]) or 1)
    rows = 1 << max(9, int(np.log2(max(_CHUNK_BYTES // per_row, 1))))
    return tuple(min(rows, max(shape[axis], 1)) if i == axis else s for i, s in enumerate(shape))


def array_sha256(arr: np.ndarray | zarr.Array, axis: int = 0) -> str:
    """sha256 of the array's values (C order, little endian), read in slabs along ``axis``."""
    h = hashlib.sha256()
    n = arr.shape[axis] if arr.ndim else 1
    for lo in range(0, max(n, 1), _HASH_ROWS):
        sl = tuple(
            slice(lo, lo + _HASH_ROWS) if i == axis else slice(None) for i in range(arr.ndim)
        )
        block = np.asarray(arr[sl])
        if axis:
            block = np.ascontiguousarray(block)
        h.update(block.astype(block.dtype.newbyteorder("<"), copy=False).tobytes())
    h.update(repr(tuple(arr.shape)).encode())
    return h.hexdigest()


def write_split(
    root: zarr.Group, split: str, arrays: dict[str, np.ndarray]
) -> dict[str, dict[str, object]]:
    """Write one split's arrays; returns their records (shape, dtype, chunks, sha256)."""
    group = root.create_group(split)
    records: dict[str, dict[str, object]] = {}
    for name, (dtype, axis) in SPLIT_ARRAYS.items():
        data = np.ascontiguousarray(arrays[name], dtype=dtype)
        chunks = _chunks(data.shape, data.itemsize, axis)
        # Plain zstd level 1: measured smaller and faster than blosc-zstd (any level or
        # shuffle) and lz4 on these arrays, and a core codec every Zarr v3 reader knows.
        # With its frame checksum, a damaged chunk fails to decode instead of decoding
        # to wrong values that training would read unnoticed (4 bytes per chunk).
        arr = group.create_array(
            name,
            shape=data.shape,
            dtype=data.dtype,
            chunks=chunks,
            compressors=ZstdCodec(level=1, checksum=True),
        )
        if data.size:
            arr[...] = data
        records[f"{split}/{name}"] = {
            "shape": list(data.shape),
            "dtype": str(data.dtype),
            "chunks": list(chunks),
            "sha256": array_sha256(data, axis),
        }
    return records


def open_split_arrays(store: Path, split: str) -> dict[str, zarr.Array]:
    group = zarr.open_group(store, mode="r", zarr_format=3)
    sub = group[split]
    return {name: sub[name] for name in SPLIT_ARRAYS}  # type: ignore[misc]
