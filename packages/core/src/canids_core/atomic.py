"""Atomic file writes: a temporary file in the same folder, fsync, rename, fsync the folder.

Every file another process may read while it is written (checkpoints, manifests, run
records, ledgers, tune summaries, profiles) goes through here: a reader sees the old
file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_file", "atomic_write_bytes", "atomic_write_json", "atomic_write_text"]


@contextmanager
def atomic_file(path: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open ``path`` for binary writing so that it appears complete or not at all.

    The temporary file is removed on any error and an existing ``path`` stays intact
    until the rename. Missing parent folders are created.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
    try:
        with open(tmp, "xb") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if os.name == "posix":  # persist the rename itself; Windows cannot open folders
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    with atomic_file(path) as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike[str], data: Any, *, indent: int | None = 1) -> Path:
    """JSON with sorted keys and a final newline; values JSON cannot hold are refused
    (no ``default=str``: a stray object must not be written as its repr)."""
    text = json.dumps(data, indent=indent, sort_keys=True, allow_nan=False)
    return atomic_write_text(path, text + "\n")
