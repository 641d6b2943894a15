"""The chunk files of the cache's Zarr v3 arrays, written and read by canids itself.

Every array is a standard Zarr v3 array (``zarr.json`` metadata, a regular chunk grid,
the ``bytes`` codec then ``zstd`` level 1 with its content checksum, chunk keys
``c.<i>.<j>`` in the array's folder), so ``zarr.open_group`` reads it. canids writes and
reads the chunk files directly because zarr-python costs about 1 ms of CPU per chunk
on each side (its async store and codec pipeline), against ~50 µs here: that overhead
decided the chunk size before (docs/benchmarks.md), and with it gone the chunks can be
small, which is what a random batch wants.

Direct reads are also what makes damage visible: zarr returns the fill value for a
chunk file that does not exist, this module raises :class:`~canids_data.CacheError`
naming the array, the chunk and the fix. Every chunk is written, an all-zero one too
(zarr skips those), so "one file per chunk" is a fact a listing can check.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CacheError

__all__ = [
    "ArraySpec",
    "ChunkWriter",
    "chunk_indices_present",
    "read_array",
    "read_array_metadata",
    "read_chunk",
    "stream_sha256",
    "write_array_metadata",
    "write_group_metadata",
]

_LEVEL = 1
_SEPARATOR = "."
_GROUP_META = {"attributes": {}, "zarr_format": 3, "node_type": "group"}
_MAX_IN_FLIGHT = 64  # chunks handed to the encoder pool before the writer waits


def _zstd() -> Any:
    # numcodecs' Zstd is the codec zarr itself uses for "zstd"; it releases the GIL.
    from numcodecs.zstd import Zstd

    return Zstd(level=_LEVEL, checksum=True)


@dataclass(frozen=True)
class ArraySpec:
    """One array of a split: ``rows`` rows per chunk along the row ``axis``."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    axis: int
    rows: int

    @property
    def length(self) -> int:
        return int(self.shape[self.axis])

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self.rows if i == self.axis else s for i, s in enumerate(self.shape))

    @property
    def n_chunks(self) -> int:
        return -(-self.length // self.rows)

    @property
    def row_bytes(self) -> int:
        other = int(np.prod([s for i, s in enumerate(self.shape) if i != self.axis]))
        return np.dtype(self.dtype).itemsize * other

    def key(self, i: int) -> str:
        """The chunk file of chunk ``i`` along the row axis (``c.3`` or ``c.3.0``)."""
        index = ["0"] * len(self.shape)
        index[self.axis] = str(i)
        return _SEPARATOR.join(["c", *index])

    def metadata(self) -> dict[str, Any]:
        """``zarr.json`` exactly as zarr 3 writes it for this array."""
        dt = np.dtype(self.dtype)
        bytes_codec: dict[str, Any] = {"name": "bytes"}
        if dt.itemsize > 1:
            bytes_codec["configuration"] = {"endian": "little"}
        return {
            "shape": list(self.shape),
            "data_type": dt.name,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(self.chunks)}},
            "chunk_key_encoding": {"name": "default", "configuration": {"separator": _SEPARATOR}},
            "fill_value": 0.0 if dt.kind == "f" else 0,
            "codecs": [
                bytes_codec,
                {"name": "zstd", "configuration": {"level": _LEVEL, "checksum": True}},
            ],
            "attributes": {},
            "zarr_format": 3,
            "node_type": "array",
            "storage_transformers": [],
        }

    @classmethod
    def from_metadata(cls, name: str, meta: dict[str, Any], axis: int) -> ArraySpec:
        shape = tuple(int(s) for s in meta["shape"])
        rows = int(meta["chunk_grid"]["configuration"]["chunk_shape"][axis])
        return cls(name, str(meta["data_type"]), shape, axis, rows)


def write_group_metadata(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zarr.json").write_text(json.dumps(_GROUP_META, indent=2))


def write_array_metadata(folder: Path, spec: ArraySpec) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zarr.json").write_text(json.dumps(spec.metadata(), indent=2))


def read_array_metadata(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "zarr.json").read_text())


def _row_major(block: np.ndarray, axis: int) -> bytes:
    """The rows of ``block`` as bytes, rows first, little endian: what the checksum hashes."""
    rows = np.moveaxis(block, axis, 0) if axis else block
    rows = np.ascontiguousarray(rows)
    return rows.astype(rows.dtype.newbyteorder("<"), copy=False).tobytes()


class ChunkWriter:
    """Rows appended in order become chunk files; the sha256 of the rows follows along.

    ``pool`` encodes and writes chunks concurrently (zstd releases the GIL). Only the
    rows of one unfinished chunk are kept between calls, as copies: never views of the
    caller's arrays, which would keep their whole buffers alive.
    """

    def __init__(self, folder: Path, spec: ArraySpec, pool: Executor | None = None) -> None:
        self.folder = folder
        self.spec = spec
        self.pool = pool
        self.sha = hashlib.sha256()
        self.chunks_written = 0
        self.pending: list[np.ndarray] = []
        self.pending_rows = 0
        self.futures: list[Future[None]] = []
        self._codec = _zstd()
        write_array_metadata(folder, spec)

    def append(self, block: np.ndarray) -> None:
        block = np.asarray(block, dtype=self.spec.dtype)
        n = block.shape[self.spec.axis]
        if n == 0:
            return
        self.sha.update(_row_major(block, self.spec.axis))
        self.pending.append(block)
        self.pending_rows += n
        if self.pending_rows >= self.spec.rows:
            self._flush(final=False)
        elif block.base is not None:
            # A view (of a staged part's memory map) kept until the chunk fills would keep
            # that whole capture mapped and resident: the per-graph arrays fill a chunk
            # only every 65,536 graphs, so build memory grew with the total. Keep a copy.
            self.pending[-1] = block.copy()

    def _flush(self, final: bool) -> None:
        rows, axis = self.spec.rows, self.spec.axis
        data = self.pending[0] if len(self.pending) == 1 else np.concatenate(self.pending, axis)
        full = (self.pending_rows // rows) * rows
        for lo in range(0, full, rows):
            self._emit(_rows(data, axis, lo, lo + rows))
        rest = _rows(data, axis, full, self.pending_rows)
        self.pending = [rest.copy()] if rest.shape[axis] else []  # less than a chunk
        self.pending_rows = int(rest.shape[axis])
        if final and self.pending_rows:
            # The last chunk is stored at the full chunk shape, padded with the fill value.
            shape = list(rest.shape)
            shape[axis] = rows
            padded = np.zeros(shape, self.spec.dtype)
            if axis:
                padded[:, : self.pending_rows] = rest
            else:
                padded[: self.pending_rows] = rest
            self._emit(padded)
            self.pending, self.pending_rows = [], 0

    def _emit(self, chunk: np.ndarray) -> None:
        i = self.chunks_written
        self.chunks_written += 1
        raw = np.ascontiguousarray(chunk)
        raw = raw.astype(raw.dtype.newbyteorder("<"), copy=False)
        path = self.folder / self.spec.key(i)
        if self.pool is None:
            _write_file(path, self._codec.encode(raw))
            return
        self.futures.append(self.pool.submit(_encode_write, self._codec, path, raw))
        if len(self.futures) >= _MAX_IN_FLIGHT:
            self._drain(keep=_MAX_IN_FLIGHT // 2)

    def _drain(self, keep: int = 0) -> None:
        while len(self.futures) > keep:
            self.futures.pop(0).result()

    def close(self) -> dict[str, Any]:
        """Write the last chunk, wait for the pool; the array's manifest record."""
        if self.pending_rows:
            self._flush(final=True)
        self._drain()
        if self.chunks_written != self.spec.n_chunks:
            raise AssertionError(
                f"{self.folder}: {self.chunks_written} chunks, {self.spec.n_chunks} expected"
            )
        self.sha.update(repr(tuple(self.spec.shape)).encode())
        return {
            "shape": list(self.spec.shape),
            "dtype": self.spec.dtype,
            "chunks": list(self.spec.chunks),
            "n_chunks": self.spec.n_chunks,
            "sha256": self.sha.hexdigest(),
        }

    def abort(self) -> None:
        for fut in self.futures:
            fut.cancel()
        for fut in self.futures:
            if not fut.cancelled():
                # The error being raised already is the one to report; wait for the rest.
                with contextlib.suppress(BaseException):
                    fut.result()
        self.futures.clear()


def _rows(data: np.ndarray, axis: int, lo: int, hi: int) -> np.ndarray:
    return data[:, lo:hi] if axis else data[lo:hi]


def _encode_write(codec: Any, path: Path, raw: np.ndarray) -> None:
    _write_file(path, codec.encode(raw))


def _write_file(path: Path, data: bytes) -> None:
    try:
        with open(path, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        if exc.filename is None:  # a failed write names no file: say which one
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        raise


def stream_sha256(blocks: Callable[[], Any], shape: tuple[int, ...], axis: int) -> str:
    """sha256 of an array given as successive row blocks (as :class:`ChunkWriter` hashes)."""
    h = hashlib.sha256()
    for block in blocks():
        h.update(_row_major(block, axis))
    h.update(repr(tuple(shape)).encode())
    return h.hexdigest()


def chunk_indices_present(folder: Path, spec: ArraySpec) -> set[int]:
    """Chunk indices along the row axis whose file exists: one directory listing."""
    present: set[int] = set()
    prefix = "c" + _SEPARATOR
    with os.scandir(folder) as entries:
        for entry in entries:
            name = entry.name
            if not name.startswith(prefix):
                continue
            parts = name.split(_SEPARATOR)[1:]
            if len(parts) != len(spec.shape) or not all(p.isdigit() for p in parts):
                continue
            present.add(int(parts[spec.axis]))
    return present


def read_chunk(folder: Path, spec: ArraySpec, i: int, *, where: str, fix: str) -> np.ndarray:
    """Chunk ``i`` of the array in ``folder``, cut to the array's rows.

    A missing file or one that does not decode to a whole chunk raises
    :class:`CacheError` (status ``corrupt``) naming ``where`` (``train/x``), the chunk
    file and ``fix``: never the fill value.
    """
    path = folder / spec.key(i)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CacheError(
            f"{where}: chunk {spec.key(i)} (rows {i * spec.rows}-"
            f"{min((i + 1) * spec.rows, spec.length) - 1}) is missing from {folder}; "
            "the cache is damaged",
            status="corrupt",
            fix=fix,
        ) from None
    try:
        data = _zstd().decode(raw)
        values = np.frombuffer(data, dtype=np.dtype(spec.dtype).newbyteorder("<"))
        values = values.reshape(spec.chunks)
    except Exception as exc:  # the codec raises RuntimeError, ValueError, ...; reshape ValueError
        raise CacheError(
            f"{where}: chunk {spec.key(i)} in {folder} cannot be decoded "
            f"({type(exc).__name__}: {exc}); the cache is damaged",
            status="corrupt",
            fix=fix,
        ) from None
    stop = min(spec.rows, spec.length - i * spec.rows)
    if stop < spec.rows:
        values = _rows(values, spec.axis, 0, stop)
    return values.astype(spec.dtype, copy=False)


def read_array(folder: Path, spec: ArraySpec, *, where: str, fix: str) -> np.ndarray:
    """The whole array, chunk by chunk (every chunk checked as in :func:`read_chunk`)."""
    out = np.empty(spec.shape, spec.dtype)
    for i in range(spec.n_chunks):
        lo = i * spec.rows
        block = read_chunk(folder, spec, i, where=where, fix=fix)
        index = tuple(
            slice(lo, lo + block.shape[spec.axis]) if a == spec.axis else slice(None)
            for a in range(len(spec.shape))
        )
        out[index] = block
    return out
