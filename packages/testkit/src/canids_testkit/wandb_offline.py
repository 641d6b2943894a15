"""Reading an offline W&B run back from disk: proof, in tests, that ``wandb sync`` has the
metrics a tuning run logged (``canids-tune`` logs offline when there is no API key)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["OfflineRun", "read_offline_history", "read_offline_run", "wandb_records"]

_BLOCK = 32 * 1024
_HEADER = 7  # checksum (4), length (2), chunk type (1)
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def wandb_records(data: bytes) -> list[bytes]:
    """Records of a ``.wandb`` file: a LevelDB-style log (32 KiB blocks, chunks typed FULL,
    FIRST, MIDDLE, LAST) after a 7-byte ``:W&B`` file header."""
    if data[:4] != b":W&B":
        raise ValueError("not a W&B run file (no :W&B header)")
    records: list[bytes] = []
    pos, partial = 7, b""
    while pos + _HEADER <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < _HEADER:  # block trailer padding
            pos += room
            continue
        length = int.from_bytes(data[pos + 4 : pos + 6], "little")
        kind = data[pos + 6]
        body = data[pos + _HEADER : pos + _HEADER + length]
        pos += _HEADER + length
        if kind == _FULL:
            records.append(body)
        elif kind == _FIRST:
            partial = body
        elif kind == _MIDDLE:
            partial += body
        elif kind == _LAST:
            records.append(partial + body)
            partial = b""
        elif kind == 0 and length == 0:
            break  # zero fill at the end of a block that was never written
    return records


@dataclass(frozen=True)
class OfflineRun:
    """What an offline run holds: its project, group, job type and name, its config, its
    history rows (one per ``wandb.log`` call) and its final summary."""

    project: str
    group: str
    job_type: str
    name: str
    config: dict[str, Any]
    history: list[dict[str, Any]]
    summary: dict[str, Any]


def _items(items: Any) -> dict[str, Any]:
    """Record items as a dict. W&B writes a logged object (a table, say) either as one
    item holding a dict or as one item per field with a ``nested_key`` path, depending on
    when it flushes: both read back as the same nested dict."""
    out: dict[str, Any] = {}
    for i in items:
        value = json.loads(i.value_json)
        if i.key:
            out[i.key] = value
            continue
        *parents, last = list(i.nested_key)
        node = out
        for name in parents:
            child = node.get(name)
            if not isinstance(child, dict):
                child = node[name] = {}
            node = child
        node[last] = value
    return out


def read_offline_run(run_dir: str | Path) -> OfflineRun:
    """An offline run folder (``offline-run-*``), read from its ``run-*.wandb`` file."""
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError as exc:  # canids-orchestrate depends on wandb; testkit alone does not
        raise ImportError(
            "read_offline_run needs wandb: install canids-orchestrate (or `pip install "
            "wandb`) beside canids-testkit"
        ) from exc

    files = sorted(Path(run_dir).glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"{run_dir}: no run-*.wandb file (not a W&B run folder)")
    head: dict[str, str] = {}
    config: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for chunk in wandb_records(files[0].read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run = record.run
            head = {
                "project": run.project,
                "group": run.run_group,
                "job_type": run.job_type,
                "name": run.display_name,
            }
            config.update(_items(run.config.update))
        elif kind == "config":
            config.update(_items(record.config.update))
        elif kind == "history":
            rows.append(_items(record.history.item))
        elif kind == "summary":
            summary.update(_items(record.summary.update))
    config.pop("_wandb", None)
    return OfflineRun(
        head.get("project", ""),
        head.get("group", ""),
        head.get("job_type", ""),
        head.get("name", ""),
        config,
        rows,
        summary,
    )


def read_offline_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """The history rows (``wandb.log`` calls) of an offline run folder."""
    return read_offline_run(run_dir).history
