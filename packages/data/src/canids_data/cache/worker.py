"""One capture → one staged part: the unit a build parallelises over and resumes from."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import CacheError
from ..graphs import GraphArrays, build_graphs
from ..readers import read_capture
from ..table import MessageTable
from ._io import file_sha256
from .parts import GRAPH_FIELDS, PART_SUFFIX, save_part
from .space import no_space_error
from .val_split import ASSIGN_EMBARGO, ASSIGN_MAIN, ASSIGN_VAL, assign_validation

__all__ = [
    "ASSIGN_EMBARGO",
    "ASSIGN_MAIN",
    "ASSIGN_VAL",
    "SourceJob",
    "process_source",
]


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
    max_skipped_fraction: float = 0.01
    dataset: str = ""  # for the fix line of a refusal


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


def _sizes(graphs: GraphArrays, assign: np.ndarray, which: int) -> list[int]:
    """[graphs, nodes, edges] of the windows assigned ``which``."""
    chosen = assign == which
    nn = np.diff(graphs.node_ptr)[chosen]
    ne = np.diff(graphs.edge_ptr)[chosen]
    return [int(chosen.sum()), int(nn.sum()), int(ne.sum())]


def check_skipped(job: SourceJob, rows: int, skipped: int) -> None:
    """A file whose malformed rows exceed the limit is an error, not a quiet 0-message
    capture (a semicolon-delimited file read with ``--skip-bad-rows`` skips every row)."""
    if skipped and skipped > job.max_skipped_fraction * max(rows, 1):
        share = skipped / max(rows, 1)
        raise CacheError(
            f"{job.path}: {skipped:,} of {rows:,} rows were malformed and skipped "
            f"({share:.1%}, above the limit of {job.max_skipped_fraction:.1%}): the file is "
            "probably in another format or delimiter, or damaged",
            status="error",
            fix="repair or remove the file, or force its reader with --format; to accept it "
            f"as it is, build with --max-skipped-fraction {min(1.0, share + 0.001):.3g}",
        )


def process_source(job: SourceJob) -> dict[str, object]:
    """Read, featurise and stage one capture; its record (the manifest's source entry)."""
    try:
        return _process(job)
    except OSError as exc:
        part = Path(job.part_path)  # <cache>/.staging/<dataset>/parts/<key>
        file = part.with_name(part.name + PART_SUFFIX)
        err = no_space_error(exc, file, part.parents[3], job.dataset)
        if err is not None:
            raise err from None
        raise


def _process(job: SourceJob) -> dict[str, object]:
    sha = file_sha256(job.path)
    table, report = read_capture(job.path, job.fmt, skip_bad_rows=job.skip_bad_rows, hint=job.hint)
    check_skipped(job, report.rows, report.skipped_rows)
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
        # [graphs, nodes, edges] per assignment: the split sizes, known before assembly.
        "assigned_sizes": {
            "main": _sizes(graphs, assign, ASSIGN_MAIN),
            "val": _sizes(graphs, assign, ASSIGN_VAL),
        },
        "read_report": report.to_json(),
        "can_ids": np.unique(table.can_id).tolist(),
    }
    arrays = {name: getattr(graphs, name) for name in GRAPH_FIELDS}
    arrays["assign"] = assign
    save_part(Path(job.part_path), arrays, meta)
    return meta
