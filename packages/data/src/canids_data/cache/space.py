"""Disk space of a build: the estimate checked before it starts, a full disk said in one
line, and the staged parts that a build leaves behind (kept to resume, freed on request).

A build writes each capture's graphs as a staged part, then the store, then publishes
it; the old cache is removed only after that. So a build needs room for the parts that
are not staged yet, the new store, and, until it is published, the old one besides.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from canids_core import quoted_command

from ..errors import CacheError
from ._io import staging_dir
from .lock import lock_held
from .parts import PART_SUFFIX

__all__ = [
    "BUILD_MARKER",
    "StagingInfo",
    "check_free_space",
    "clean_staging",
    "estimate_build_bytes",
    "human_bytes",
    "no_space_error",
    "staging_info",
    "tree_bytes",
]

BUILD_MARKER = "build.json"  # in .staging/<dataset>: which build the parts belong to
# Bytes written per byte of source by the staged parts and by the store, by source
# format (measured on hcrl_sa and set_01 parquet and on the text writers' output of the
# demo captures, docs/data.md "Disk space"), times a margin for captures that compress
# worse or hold more IDs per window.
_STAGED_PER_SOURCE_BYTE = {"parquet": 4.5, "text": 1.0}  # measured: 3.4-4.3x, 0.4-1.0x
_STORED_PER_SOURCE_BYTE = {"parquet": 1.25, "text": 0.35}  # measured: 1.0-1.2x, 0.15-0.33x
_MARGIN = 1.25
_NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def tree_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except FileNotFoundError:  # removed while we walked
                continue
    return total


def estimate_build_bytes(*, staged: list[tuple[int, str]], stored: list[tuple[int, str]]) -> int:
    """Bytes a build writes: parts for the captures in ``staged`` (not staged yet) and the
    store for all of ``stored``; each a list of (source bytes, ``parquet`` or ``text``)."""
    need = sum(size * _STAGED_PER_SOURCE_BYTE[fam] for size, fam in staged)
    need += sum(size * _STORED_PER_SOURCE_BYTE[fam] for size, fam in stored)
    return int(need * _MARGIN)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_free_space(cache_dir: Path, need: int, dataset: str) -> None:
    """Refuse a build the filesystem of ``cache_dir`` has no room for, before it starts."""
    free = shutil.disk_usage(_existing(cache_dir)).free
    if need > free:
        raise CacheError(
            f"not enough space for the {dataset} cache in {cache_dir}: the build needs about "
            f"{human_bytes(need)} (staged parts and the store), {human_bytes(free)} is free",
            status="no_space",
            fix="free space there, or build elsewhere: "
            + quoted_command(
                ["canids-cache", "build", "--dataset", dataset, "--cache-dir", "OTHER_FOLDER"]
            ),
        )


def no_space_error(
    exc: OSError, where: Path, cache_dir: Path, dataset: str, need: int | None = None
) -> CacheError | None:
    """The one-line error for a full disk while writing ``where`` (``None`` when ``exc`` is
    something else)."""
    if exc.errno not in _NO_SPACE:
        return None
    path = Path(exc.filename) if exc.filename else where
    free = shutil.disk_usage(_existing(path)).free
    needed = f"; the build needs about {human_bytes(need)}" if need else ""
    return CacheError(
        f"no space left on the device while writing {path} ({human_bytes(free)} free"
        f"{needed}); the captures staged so far are kept, so the build resumes once there is "
        "room",
        status="no_space",
        fix="free space and rerun the build, or free the staged parts with: "
        + quoted_command(
            ["canids-cache", "clean", "--dataset", dataset, "--cache-dir", str(cache_dir)]
        ),
    )


@dataclass(frozen=True)
class StagingInfo:
    """The staging folder of one dataset. ``state``: ``running`` (a build holds its lock),
    ``finished`` (left by a build that published; nothing to resume, reclaimable) or
    ``interrupted`` (a build stopped before publishing; a rerun resumes from it)."""

    dataset: str
    path: Path
    state: str
    staged_files: int
    bytes: int


def staging_info(
    cache_dir: Path, dataset: str, *, holding_lock: bool = False
) -> StagingInfo | None:
    """The staging of ``dataset``, or None; ``holding_lock``: the caller is the build that
    holds the dataset's lock (so the lock says nothing about another build)."""
    stage = staging_dir(cache_dir, dataset)
    if not stage.is_dir():
        return None
    parts = stage / "parts"
    staged = sum(1 for _ in parts.glob(f"*{PART_SUFFIX}")) if parts.is_dir() else 0
    if not holding_lock and lock_held(cache_dir / ".locks" / f"{dataset}.lock"):
        state = "running"
    else:
        state = "finished" if _published(cache_dir, dataset, stage) else "interrupted"
    return StagingInfo(dataset, stage, state, staged, tree_bytes(stage))


def _published(cache_dir: Path, dataset: str, stage: Path) -> bool:
    """Whether the cache in place was published by the build these staged parts belong to."""
    try:
        staged = json.loads((stage / BUILD_MARKER).read_text())["build_id"]
        manifest = json.loads((cache_dir / dataset / "manifest.json").read_text())
        return bool(staged) and manifest["build"].get("id") == staged
    except (OSError, ValueError, KeyError, TypeError):
        return False


def clean_staging(
    cache_dir: Path, dataset: str | None = None, *, only_finished: bool = False
) -> list[StagingInfo]:
    """Remove staging folders (of ``dataset``, else of every dataset) that no running build
    holds, and stores a killed publish left aside; what was removed."""
    base = cache_dir / ".staging"
    names = (
        [dataset] if dataset else sorted(p.name for p in base.iterdir()) if base.is_dir() else []
    )
    removed = []
    for name in names:
        info = staging_info(cache_dir, name)
        if info is None or info.state == "running":
            continue
        if only_finished and info.state != "finished":
            continue
        shutil.rmtree(info.path, ignore_errors=True)
        removed.append(info)
    pattern = f".{dataset}.old-*" if dataset else ".*.old-*"
    for leftover in sorted(cache_dir.glob(pattern)) if cache_dir.is_dir() else []:
        size = tree_bytes(leftover)
        shutil.rmtree(leftover, ignore_errors=True)
        name = leftover.name[1:].split(".old-")[0]
        removed.append(StagingInfo(name, leftover, "old store", 0, size))
    return removed
