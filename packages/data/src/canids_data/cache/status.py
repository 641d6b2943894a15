"""What is in a cache folder: datasets, splits, counts, config, size and age."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from ..errors import CacheError
from .manifest import MANIFEST_NAME, load_manifest
from .space import staging_info, tree_bytes

__all__ = ["cache_status", "disk_usage"]


def disk_usage(path: Path) -> int:
    """Bytes of every file under ``path``."""
    return tree_bytes(path)


def cache_status(cache_dir: Path) -> dict[str, Any]:
    """A JSON-ready description of ``cache_dir``; never raises for a damaged dataset."""
    out: dict[str, Any] = {
        "location": str(cache_dir),
        "exists": cache_dir.is_dir(),
        "datasets": {},
        "builds_in_progress": [],
        "reclaimable": [],
    }
    if not cache_dir.is_dir():
        return out
    staging = cache_dir / ".staging"
    if staging.is_dir():
        for d in sorted(staging.iterdir()):
            info = staging_info(cache_dir, d.name)
            if info is None:
                continue
            entry = {
                "dataset": info.dataset,
                "state": info.state,
                "staged_files": info.staged_files,
                "bytes": info.bytes,
                "path": str(info.path),
            }
            # A finished build's leftovers hold nothing to resume: space to free, not a build.
            key = "reclaimable" if info.state == "finished" else "builds_in_progress"
            out[key].append(entry)
    for leftover in sorted(cache_dir.glob(".*.old-*")):
        out["reclaimable"].append(
            {
                "dataset": leftover.name[1:].split(".old-")[0],
                "state": "old store",
                "staged_files": 0,
                "bytes": tree_bytes(leftover),
                "path": str(leftover),
            }
        )
    total = 0
    stores = (p for p in cache_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for store in sorted(stores):
        size = disk_usage(store)
        total += size
        entry: dict[str, Any] = {"path": str(store), "bytes": size}
        if not (store / MANIFEST_NAME).is_file():
            entry["state"] = "incomplete (no manifest.json)"
            out["datasets"][store.name] = entry
            continue
        try:
            m = load_manifest(store, store.name)
        except CacheError as exc:
            entry["state"] = f"unreadable: {str(exc).splitlines()[0]}"
            out["datasets"][store.name] = entry
            continue
        finished = m.data["build"]["finished"]
        built_ts = (store / MANIFEST_NAME).stat().st_mtime
        entry.update(
            {
                "state": "built",
                "root": str(m.root),
                "splits": m.splits,
                "config": {
                    k: m.data["config"].get(k)
                    for k in (
                        "window",
                        "stride",
                        "val_fraction",
                        "skip_bad_rows",
                        "format",
                        "features",
                        "validation",
                        "val_start_seconds",
                    )
                },
                "config_digest": m.config_digest[:16],
                "vocabulary_size": len(m.vocabulary),
                "sources": len(m.sources),
                "sources_used": sum(1 for s in m.sources if s["used"]),
                "skipped_rows": sum(m.data.get("skipped_rows", {}).values()),
                "built": finished,
                "age_seconds": round(time.time() - built_ts, 1),
                "build_seconds": m.data["build"]["seconds"],
            }
        )
        out["datasets"][store.name] = entry
    out["bytes"] = total
    return out
