"""Zarr arrays decoded chunk by chunk on first use, then served from memory.

Opening a split reads only metadata and the small per-graph arrays; node and edge
arrays are decoded the first time a batch needs one of their chunks and kept, so
later epochs gather straight from memory.
"""

from __future__ import annotations

import mmap

import numpy as np
import zarr

from .errors import CacheError

__all__ = ["LazyArray"]


def _anonymous_buffer(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """Zero-filled memory that is committed page by page as chunks arrive.

    Not ``np.empty``: numpy asks for transparent huge pages on large arrays, and the
    first scattered writes into those stall on page compaction (measured: half the
    first-batch time of a 200k-graph cache went to copying into such a buffer).
    """
    nbytes = int(np.prod(shape)) * dtype.itemsize
    if nbytes == 0:
        return np.zeros(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(shape)


class LazyArray:
    """Rows of a Zarr array along ``axis``, fetched by index with chunk-level caching."""

    def __init__(self, array: zarr.Array, axis: int = 0, *, fix: str | None = None) -> None:
        self.array = array
        self.axis = axis
        # The command a damaged chunk's error names (the caller knows the cache).
        self.fix = fix or "canids-cache verify --full (it prints the rebuild command)"
        self.rows = int(array.shape[axis])
        self.chunk = max(int(array.chunks[axis]), 1)
        self.buffer = _anonymous_buffer(tuple(array.shape), np.dtype(array.dtype))
        self.loaded = np.zeros(-(-self.rows // self.chunk), bool)

    @property
    def fraction_loaded(self) -> float:
        return float(self.loaded.mean()) if len(self.loaded) else 1.0

    def _load(self, chunks: np.ndarray) -> None:
        # A mask, not np.unique: this runs on every batch, usually with nothing to load.
        want = np.zeros(len(self.loaded), bool)
        want[chunks] = True
        missing = np.flatnonzero(want & ~self.loaded)
        if not len(missing):
            return
        # All missing chunks in one orthogonal selection: zarr fetches and decodes them
        # concurrently, instead of one Python-level call per chunk.
        starts = missing * self.chunk
        counts = np.minimum(starts + self.chunk, self.rows) - starts
        rows = np.repeat(starts - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
        sel = tuple(rows if i == self.axis else slice(None) for i in range(self.array.ndim))
        try:
            block = self.array.get_orthogonal_selection(sel)
        except Exception as exc:  # a damaged chunk fails inside its codec, with many types
            raise CacheError(
                f"{self.array.store_path}: {len(missing)} chunk(s) from row {int(starts[0])} "
                f"cannot be read ({type(exc).__name__}: {exc}); the cache is damaged",
                status="corrupt",
                fix=self.fix,
            ) from exc
        if self.axis == 0:
            self.buffer[rows] = block
        else:
            self.buffer[:, rows] = block
        self.loaded[missing] = True

    def take(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, np.int64)
        if len(index):
            self._load(index // self.chunk)
        return np.take(self.buffer, index, axis=self.axis)

    def load_all(self) -> np.ndarray:
        self._load(np.arange(len(self.loaded)))
        return self.buffer
