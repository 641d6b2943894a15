"""Cache paths and atomic writes: single files through canids-core's one atomic writer, and
a folder of arrays published by renaming it into place."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from canids_core import atomic_write_json

__all__ = [
    "dataset_dir",
    "resolve_cache_dir",
    "save_arrays_atomic",
    "staging_dir",
]


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The one cache location: ``cache_dir``, else ``$CANIDS_CACHE_DIR``, else ``./cache``."""
    chosen = cache_dir or os.environ.get("CANIDS_CACHE_DIR") or "cache"
    return Path(chosen).expanduser().resolve()


def dataset_dir(cache_dir: Path, dataset: str) -> Path:
    return cache_dir / dataset


def staging_dir(cache_dir: Path, dataset: str) -> Path:
    """Where a build writes before it publishes by renaming into :func:`dataset_dir`."""
    return cache_dir / ".staging" / dataset


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_arrays_atomic(path: Path, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
    """A folder of ``.npy`` files plus ``meta.json``, renamed into place when complete.

    A folder, not a file, so it cannot go through ``canids_core.atomic_file``: the same
    protocol (write beside, fsync, rename, fsync the parent) applied to a directory.

    Plain ``.npy`` rather than ``.npz``: zip computes a CRC of every byte, and the
    arrays are read back with ``mmap`` at assembly.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"))
    try:
        for name, arr in arrays.items():
            with open(tmp / f"{name}.npy", "wb") as fh:
                np.save(fh, arr)
                fh.flush()
                os.fsync(fh.fileno())
        atomic_write_json(tmp / "meta.json", meta)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(path.parent)
