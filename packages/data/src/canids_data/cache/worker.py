"""One capture → one staged part: the unit a build parallelises over and resumes from."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..graphs import GraphArrays, build_graphs
from ..readers import read_capture
from ..table import MessageTable
from ._io import save_arrays_atomic

__all__ = [
    "ASSIGN_EMBARGO",
    "ASSIGN_MAIN",
    "ASSIGN_VAL",
    "SourceJob",
    "load_part",
    "process_source",
]

ASSIGN_MAIN, ASSIGN_VAL, ASSIGN_EMBARGO = 0, 1, 2
_GRAPH_FIELDS = (
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
)


@dataclass(frozen=True)
class SourceJob:
    """Everything a worker needs; plain values so it pickles cheaply."""

    rel: str
    path: str
    split: str
    size: int
    mtime_ns: int
    part_path: str
    fmt: str | None
    hint: str | None
    skip_bad_rows: bool
    window: int
    stride: int
    val_fraction: float
    embargo_windows: int


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            h.update(block)
    return h.hexdigest()


def content_sha256(table: MessageTable) -> str:
    """Hash of the messages themselves: copies that differ only in metadata columns match."""
    h = hashlib.sha256()
    for arr in (table.timestamp, table.can_id, table.dlc, table.payload, table.labels_or_zeros()):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def _assign(num_graphs: int, job: SourceJob) -> np.ndarray:
    """Validation is the tail block of a training capture, after an embargo gap."""
    assign = np.full(num_graphs, ASSIGN_MAIN, np.uint8)
    if job.split != "train" or job.val_fraction <= 0:
        return assign
    n_val = math.floor(num_graphs * job.val_fraction)
    if n_val == 0 or num_graphs - n_val - job.embargo_windows < 1:
        return assign
    assign[num_graphs - n_val :] = ASSIGN_VAL
    assign[num_graphs - n_val - job.embargo_windows : num_graphs - n_val] = ASSIGN_EMBARGO
    return assign


def process_source(job: SourceJob) -> dict[str, object]:
    sha = file_sha256(job.path)
    table, report = read_capture(job.path, job.fmt, skip_bad_rows=job.skip_bad_rows, hint=job.hint)
    graphs = build_graphs(table, job.window, job.stride)
    assign = _assign(graphs.num_graphs, job)
    k = graphs.num_graphs
    covered = (
        0
        if k == 0
        else (k * job.window if job.stride >= job.window else (k - 1) * job.stride + job.window)
    )
    meta: dict[str, object] = {
        "job": asdict(job),
        "sha256": sha,
        "content_sha256": content_sha256(table),
        "format": report.format,
        "labelled": table.labelled,
        "messages": len(table),
        "attack_messages": int(table.labels_or_zeros().sum()),
        "messages_not_in_any_window": len(table) - covered,
        "graphs": k,
        "attack_graphs": int(graphs.y.sum()),
        "assigned": {
            "main": int((assign == ASSIGN_MAIN).sum()),
            "val": int((assign == ASSIGN_VAL).sum()),
            "embargo": int((assign == ASSIGN_EMBARGO).sum()),
        },
        "read_report": report.to_json(),
        "can_ids": np.unique(table.can_id).tolist(),
    }
    arrays = {name: getattr(graphs, name) for name in _GRAPH_FIELDS}
    arrays["assign"] = assign
    save_arrays_atomic(Path(job.part_path), arrays, meta)
    return meta


def load_part(path: Path) -> tuple[GraphArrays, np.ndarray, dict[str, object]]:
    def arr(name: str) -> np.ndarray:
        return np.load(path / f"{name}.npy", mmap_mode="r", allow_pickle=False)

    graphs = GraphArrays(**{name: arr(name) for name in _GRAPH_FIELDS})
    return graphs, arr("assign"), read_part_meta(path)


def read_part_meta(path: Path) -> dict[str, object]:
    return json.loads((path / "meta.json").read_text())
