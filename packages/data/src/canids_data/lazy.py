"""Zarr arrays decoded chunk by chunk on first use, then served from memory.

Opening a split reads only metadata and the small per-graph arrays; node and edge
arrays are decoded the first time a batch needs one of their chunks and kept, so
later epochs gather straight from memory.
"""

from __future__ import annotations

import numpy as np
import zarr

from .errors import CacheError

__all__ = ["LazyArray"]


class LazyArray:
    """Rows of a Zarr array along ``axis``, fetched by index with chunk-level caching."""

    def __init__(self, array: zarr.Array, axis: int = 0, *, fix: str | None = None) -> None:
        self.array = array
        self.axis = axis
        # The command a damaged chunk's error names (the caller knows the cache).
        self.fix = fix or "canids-cache verify --full (it prints the rebuild command)"
        self.rows = int(array.shape[axis])
        self.chunk = max(int(array.chunks[axis]), 1)
        # np.empty reserves address space only; pages are committed as chunks arrive.
        self.buffer = np.empty(array.shape, dtype=array.dtype)
        self.loaded = np.zeros(-(-self.rows // self.chunk), bool)

    @property
    def fraction_loaded(self) -> float:
        return float(self.loaded.mean()) if len(self.loaded) else 1.0

    def _load(self, chunks: np.ndarray) -> None:
        missing = np.unique(chunks)
        missing = missing[~self.loaded[missing]]
        if not len(missing):
            return
        # One read per run of consecutive chunks: zarr fetches and decodes a run together.
        breaks = np.flatnonzero(np.diff(missing) != 1) + 1
        for run in np.split(missing, breaks):
            lo = int(run[0]) * self.chunk
            hi = min((int(run[-1]) + 1) * self.chunk, self.rows)
            sl = tuple(
                slice(lo, hi) if i == self.axis else slice(None) for i in range(self.array.ndim)
            )
            try:
                self.buffer[sl] = self.array[sl]
            except Exception as exc:  # the codec's error type varies; say where and what
                raise CacheError(
                    f"{self.array.store_path}: rows {lo}..{hi - 1} cannot be read "
                    f"({type(exc).__name__}: {exc}); the cache is damaged",
                    status="corrupt",
                    fix=self.fix,
                ) from exc
        self.loaded[missing] = True

    def take(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, np.int64)
        if len(index):
            self._load(index // self.chunk)
        return np.take(self.buffer, index, axis=self.axis)

    def load_all(self) -> np.ndarray:
        self._load(np.arange(len(self.loaded)))
        return self.buffer
