"""W&B for tuning: online only with an API key, otherwise offline runs on disk that
``wandb sync`` uploads later. The key never reaches a config, a summary or a trial.

``upload_timeout`` stays short: an interrupted sweep otherwise blocks ``Tuner.fit`` for
up to 30 minutes while the logging actors try to upload, until SLURM kills the job.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["read_offline_history", "wandb_callback", "wandb_mode"]


def wandb_mode(requested: str) -> str:
    """auto → online when WANDB_API_KEY is set, else offline."""
    if requested != "auto":
        return requested
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def wandb_callback(opts: Any, exp_dir: Path, echo: Callable[[str], None]) -> list[Any]:
    mode = wandb_mode(opts.wandb_mode)
    if mode == "disabled":
        echo("wandb: disabled")
        return []
    from ray.air.integrations.wandb import WandbLoggerCallback

    if mode == "offline":
        # Ray's callback passes WANDB_API_KEY on to every logging actor; offline it has no
        # use, so it leaves this process and cannot be written anywhere.
        os.environ.pop("WANDB_API_KEY", None)
        os.environ["WANDB_MODE"] = "offline"
    # W&B's per-run banner and history table, once per trial, would bury Tune's status.
    os.environ.setdefault("WANDB_SILENT", "true")
    echo(
        f"wandb: {mode}, project {opts.wandb_project}, runs under {exp_dir / 'wandb'}"
        + (" (upload later with: wandb sync <run folder>)" if mode == "offline" else "")
    )
    return [
        WandbLoggerCallback(
            project=opts.wandb_project,
            upload_timeout=opts.upload_timeout,
            log_config=False,
            mode=mode,
            dir=str(exp_dir),
        )
    ]


_BLOCK = 32 * 1024
_HEADER = 7  # checksum (4), length (2), chunk type (1)


def _chunks(data: bytes) -> list[bytes]:
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
        if kind == 1:
            records.append(body)
        elif kind == 2:
            partial = body
        elif kind == 3:
            partial += body
        elif kind == 4:
            records.append(partial + body)
            partial = b""
        elif kind == 0 and length == 0:
            break  # zero fill at the end of a block that was never written
    return records


def read_offline_history(run_dir: str | Path) -> list[dict[str, Any]]:
    """The history rows (``wandb.log`` calls) of an offline run folder, read from its
    ``run-*.wandb`` file: proof that ``wandb sync`` has the metrics to upload."""
    import json

    from wandb.proto import wandb_internal_pb2

    files = sorted(Path(run_dir).glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"{run_dir}: no run-*.wandb file (not a W&B run folder)")
    rows: list[dict[str, Any]] = []
    for chunk in _chunks(files[0].read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(chunk)
        if record.WhichOneof("record_type") == "history":
            rows.append(
                {
                    item.key or "/".join(item.nested_key): json.loads(item.value_json)
                    for item in record.history.item
                }
            )
    return rows
