"""Cache paths (the one cache location, a dataset's store and its staging folder) and the
sha256 of a source file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["dataset_dir", "file_sha256", "resolve_cache_dir", "staging_dir"]


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """The one cache location: ``cache_dir``, else ``$CANIDS_CACHE_DIR``, else ``./cache``."""
    chosen = cache_dir or os.environ.get("CANIDS_CACHE_DIR") or "cache"
    return Path(chosen).expanduser().resolve()


def dataset_dir(cache_dir: Path, dataset: str) -> Path:
    return cache_dir / dataset


def staging_dir(cache_dir: Path, dataset: str) -> Path:
    """Where a build writes before it publishes by renaming into :func:`dataset_dir`."""
    return cache_dir / ".staging" / dataset


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes, read in 8 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(8 << 20):
            h.update(block)
    return h.hexdigest()
