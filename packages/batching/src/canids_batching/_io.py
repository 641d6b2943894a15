"""Atomic JSON files and strict decoding of the package's result records.

canids-batching is installable alone (torch and numpy only) and imports no other canids
package, so it keeps this private copy of canids-core's atomic writer
(``canids_core.atomic_write_bytes``) instead of importing it: the same protocol, a
temporary file in the same folder, fsync, rename, fsync the folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from canids_batching.errors import BatchingError

__all__ = ["atomic_write_bytes", "atomic_write_text", "load_record", "record"]


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` to ``path`` so a concurrent reader sees the old or the new file."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if os.name == "posix":  # persist the rename itself; Windows cannot open folders
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return target


def record(kind: str, version: int, body: dict[str, Any]) -> str:
    """Encode ``body`` as a JSON record tagged with its kind and schema version."""
    return json.dumps({"kind": kind, "version": version, **body}, indent=2, sort_keys=False)


def load_record(text: str, kind: str, version: int, fields: set[str]) -> dict[str, Any]:
    """Decode a record written by :func:`record`, refusing other kinds and unknown keys."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatchingError(f"not a {kind} JSON record: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != kind:
        got = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise BatchingError(f"expected a {kind!r} record, got kind={got!r}")
    if data.get("version") != version:
        raise BatchingError(
            f"{kind} record has schema version {data.get('version')!r}; this canids-batching "
            f"reads version {version}: regenerate it with the installed version"
        )
    body = {k: v for k, v in data.items() if k not in ("kind", "version")}
    unknown = set(body) - fields
    missing = fields - set(body)
    if unknown or missing:
        raise BatchingError(
            f"{kind} record: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
        )
    return body
