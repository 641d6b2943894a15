"""One capture → one staged part: the unit a build parallelises over and resumes from."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..graphs import GraphArrays, build_graphs
from ..readers import read_capture
from ..table import MessageTable
from ._io import save_arrays_atomic
from .val_split import ASSIGN_EMBARGO, ASSIGN_MAIN, ASSIGN_VAL, assign_validation

__all__ = [
    "ASSIGN_EMBARGO",
    "ASSIGN_MAIN",
    "ASSIGN_VAL",
    "SourceJob",
    "load_part",
    "process_source",
]

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
    "window_end",
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
    features: str = "invariant"
    validation: str = "blocks"
    val_blocks: int = 3
    val_start_seconds: float = 10.0
    val_start_max_fraction: float = 0.2
    val_seed: int = 0


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


def _assign(graphs: GraphArrays, job: SourceJob, capture_start: float) -> np.ndarray:
    if job.split != "train":
        return np.full(graphs.num_graphs, ASSIGN_MAIN, np.uint8)
    return assign_validation(
        mode=job.validation,
        y=graphs.y,
        window_end=graphs.window_end,
        capture_start=capture_start,
        val_fraction=job.val_fraction,
        embargo=job.embargo_windows,
        val_blocks=job.val_blocks,
        val_start_seconds=job.val_start_seconds,
        val_start_max_fraction=job.val_start_max_fraction,
        seed=job.val_seed,
        key=job.rel,
    )


def process_source(job: SourceJob) -> dict[str, object]:
    sha = file_sha256(job.path)
    table, report = read_capture(job.path, job.fmt, skip_bad_rows=job.skip_bad_rows, hint=job.hint)
    graphs = build_graphs(table, job.window, job.stride, job.features)
    first_ts = float(table.timestamp[0]) if len(table) else 0.0
    last_ts = float(table.timestamp[-1]) if len(table) else 0.0
    assign = _assign(graphs, job, first_ts)
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
        "first_timestamp": first_ts,
        "last_timestamp": last_ts,
        "assigned": {
            "main": int((assign == ASSIGN_MAIN).sum()),
            "val": int((assign == ASSIGN_VAL).sum()),
            "embargo": int((assign == ASSIGN_EMBARGO).sum()),
        },
        "assigned_attack": {
            "main": int(graphs.y[assign == ASSIGN_MAIN].sum()),
            "val": int(graphs.y[assign == ASSIGN_VAL].sum()),
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
