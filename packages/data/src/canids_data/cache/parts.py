"""A staged part: the graphs of one capture, the unit a build parallelises over and resumes
from.

A part is one file, ``<key>.part``: a header (magic, the length of the JSON record), the
capture's record as JSON (with where each array lies), then every array back to back,
64-byte aligned. It is written through canids-core's atomic writer (temp file beside
it, fsync, rename), so it exists whole or not at all. One file, not a folder of
``.npy`` files: a part costs one fsync instead of a dozen (fsync dominated staging on a
slow disk), and a finished build removes one file per capture.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import numpy as np
from canids_core import atomic_file

from ..graphs import GraphArrays

__all__ = ["GRAPH_FIELDS", "PART_SUFFIX", "load_part", "part_exists", "read_part_meta", "save_part"]

GRAPH_FIELDS = (
    "node_ptr",
    "edge_ptr",
    "node_can",
    "x",
    "edge_index",
    "edge_attr",
    "y",
    "node_y",
    "window_start",
    "msg_start",
    "window_end",
)
PART_SUFFIX = ".part"
_MAGIC = b"CANIDSP1"
_HEADER = struct.Struct("<8sQ")  # magic, bytes of the JSON record
_LAYOUT = "part_layout"  # the record's key that says where each array lies
_ALIGN = 64


def _file(path: Path) -> Path:
    return path.with_name(path.name + PART_SUFFIX)


def part_exists(path: Path) -> bool:
    return _file(path).is_file()


def save_part(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """Write the part ``path`` (+ ``.part``) atomically."""
    arrays = {name: np.ascontiguousarray(arr) for name, arr in arrays.items()}
    layout: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, arr in arrays.items():
        offset += -offset % _ALIGN
        layout[name] = {"dtype": arr.dtype.str, "shape": list(arr.shape), "offset": offset}
        offset += arr.nbytes
    record = json.dumps({**meta, _LAYOUT: layout}, sort_keys=True).encode()
    head = _HEADER.pack(_MAGIC, len(record)) + record
    head += b"\0" * (-len(head) % _ALIGN)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(_file(path)) as fh:
        fh.write(head)
        written = 0
        for name, arr in arrays.items():
            pad = layout[name]["offset"] - written
            fh.write(b"\0" * pad)
            fh.write(arr.data)
            written += pad + arr.nbytes


def _read_record(fh: Any, path: Path) -> tuple[dict[str, Any], int]:
    magic, size = _HEADER.unpack(fh.read(_HEADER.size))
    if magic != _MAGIC:
        raise ValueError(f"{path} is not a canids staged part")
    record = json.loads(fh.read(size))
    start = _HEADER.size + size
    return record, start + (-start % _ALIGN)


def read_part_meta(path: Path) -> dict[str, Any]:
    """The capture's record (without the array layout)."""
    with open(_file(path), "rb") as fh:
        record, _ = _read_record(fh, path)
    record.pop(_LAYOUT, None)
    return record


def load_part(path: Path) -> tuple[GraphArrays, np.ndarray, dict[str, Any]]:
    """The part's graphs and per-graph assignment, as read-only views of the file."""
    file = _file(path)
    with open(file, "rb") as fh:
        record, data_start = _read_record(fh, path)
    layout = record.pop(_LAYOUT)
    data = np.memmap(file, np.uint8, mode="r")

    def arr(name: str) -> np.ndarray:
        rec = layout[name]
        dtype = np.dtype(rec["dtype"])
        count = int(np.prod(rec["shape"]))
        lo = data_start + int(rec["offset"])
        if count == 0:
            return np.zeros(rec["shape"], dtype)
        return np.frombuffer(data[lo : lo + count * dtype.itemsize], dtype).reshape(rec["shape"])

    graphs = GraphArrays(**{name: arr(name) for name in GRAPH_FIELDS})
    return graphs, arr("assign"), record
