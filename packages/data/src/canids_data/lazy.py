"""Cache arrays decoded chunk by chunk on first use, then served from memory.

Opening a split reads only metadata and the small per-graph arrays; node and edge
arrays are decoded the first time a batch needs one of their chunks and kept, so
later epochs gather straight from memory. A chunk file that is missing or does not
decode raises :class:`~canids_data.CacheError` naming the array, the chunk and the fix:
the reader never hands out fill values in place of data.
"""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np

from .cache.chunks import ArraySpec, read_chunk

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
    """Rows of a cache array (``spec`` in ``folder``) along its row axis, fetched by index
    with chunk-level caching. ``where`` names the array in errors (``train/x``) and
    ``fix`` is the command they print."""

    def __init__(
        self, folder: Path, spec: ArraySpec, *, where: str = "", fix: str | None = None
    ) -> None:
        self.folder = folder
        self.spec = spec
        self.axis = spec.axis
        self.where = where or spec.name
        self.fix = fix or "canids-cache verify --full (it prints the rebuild command)"
        self.rows = spec.length
        self.chunk = max(spec.rows, 1)
        self.buffer = _anonymous_buffer(tuple(spec.shape), np.dtype(spec.dtype))
        self.loaded = np.zeros(-(-self.rows // self.chunk), bool)

    @property
    def fraction_loaded(self) -> float:
        return float(self.loaded.mean()) if len(self.loaded) else 1.0

    def _load(self, chunks: np.ndarray) -> None:
        # A mask, not np.unique: this runs on every batch, usually with nothing to load.
        want = np.zeros(len(self.loaded), bool)
        want[chunks] = True
        missing = np.flatnonzero(want & ~self.loaded)
        for i in missing.tolist():
            block = read_chunk(self.folder, self.spec, i, where=self.where, fix=self.fix)
            lo = i * self.chunk
            if self.axis == 0:
                self.buffer[lo : lo + len(block)] = block
            else:
                self.buffer[:, lo : lo + block.shape[1]] = block
            self.loaded[i] = True

    def take(self, index: np.ndarray) -> np.ndarray:
        index = np.asarray(index, np.int64)
        if len(index):
            self._load(index // self.chunk)
        return np.take(self.buffer, index, axis=self.axis)

    def load_all(self) -> np.ndarray:
        self._load(np.arange(len(self.loaded)))
        return self.buffer
