"""The cache's store from the staged parts of a build: training captures with the same
messages kept once, the vocabulary of the training captures, every split assembled (two at
a time, chunks encoded by a thread pool) and the manifest written last. ``build_cache``
stages it beside the target and publishes it by rename."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__
from ..catalog import DatasetSpec
from ..config import SCHEMA_VERSION, BuildConfig
from ..errors import CacheError
from ..vocab import Vocabulary
from .assemble import assemble_split, split_sizes
from .chunks import write_group_metadata
from .manifest import write_manifest
from .parts import load_part
from .store import SplitWriter
from .worker import SourceJob

__all__ = ["dedupe_sources", "write_store"]


def dedupe_sources(
    jobs: list[SourceJob], metas: list[dict[str, Any]]
) -> tuple[list[bool], list[dict]]:
    """Training captures with the same messages are used once; a test copy of one is refused."""
    first_train: dict[str, str] = {}
    used: list[bool] = []
    decisions: dict[str, dict[str, Any]] = {}
    for job, meta in zip(jobs, metas, strict=True):
        h = str(meta["content_sha256"])
        if job.split != "train":
            continue
        if h in first_train:
            decisions[h]["dropped"].append(job.rel)
        else:
            first_train[h] = job.rel
            decisions[h] = {"content_sha256": h, "kept": job.rel, "dropped": []}
    for job, meta in zip(jobs, metas, strict=True):
        h = str(meta["content_sha256"])
        if job.split != "train" and h in first_train:
            raise CacheError(
                f"test capture {job.rel} holds the same messages as training capture "
                f"{first_train[h]}: held-out evaluation would see training data",
                status="config_mismatch",
                fix="remove one of the two files, then rebuild",
            )
        used.append(job.split != "train" or first_train[h] == job.rel)
    return used, [d for d in decisions.values() if d["dropped"]]


def write_store(
    store: Path,
    spec: DatasetSpec,
    root: Path,
    config: BuildConfig,
    jobs: list[SourceJob],
    metas: list[dict[str, Any]],
    ignored: list[str],
    started: float,
    workers: int,
    build_id: str,
) -> dict[str, Any]:
    used, dedup = dedupe_sources(jobs, metas)
    vocab = Vocabulary.from_ids(
        np.concatenate(
            [
                np.asarray(m["can_ids"], np.uint32)
                for j, m, u in zip(jobs, metas, used, strict=True)
                if u and j.split == "train"
            ]
        )
    )
    if store.exists():
        shutil.rmtree(store)
    write_group_metadata(store)
    split_names = ["train", "val", *sorted({j.split for j in jobs if j.split != "train"})]
    dims = (len(config.node_features), len(config.edge_features))
    arrays: dict[str, Any] = {}
    splits: dict[str, Any] = {}

    def members(split: str) -> list[int]:
        want = "train" if split == "val" else split
        return [i for i, (j, u) in enumerate(zip(jobs, used, strict=True)) if u and j.split == want]

    def one(split: str, encoders: ThreadPoolExecutor) -> tuple[dict[str, Any], dict[str, int]]:
        chosen = members(split)
        sizes = split_sizes(split, [metas[i] for i in chosen])
        writer = SplitWriter(store, split, sizes, dims, encoders)
        try:
            counts = assemble_split(
                split, [(i, Path(jobs[i].part_path)) for i in chosen], vocab, load_part, writer
            )
            return writer.close(), counts
        except BaseException:
            writer.abort()
            raise

    # Splits two at a time, chunks encoded by a pool: zstd, sha256 and file writes release
    # the GIL, so two cores stay busy to the end (the train split is the largest by far).
    threads = max(1, min(workers, 2))
    with (
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="canids-encode") as encoders,
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="canids-split") as pool,
    ):
        results = pool.map(lambda s: one(s, encoders), split_names)
        for split, (records, counts) in zip(split_names, results, strict=True):
            arrays.update(records)
            splits[split] = counts
    sources = []
    for job, meta, u in zip(jobs, metas, used, strict=True):
        rec = {
            k: v
            for k, v in meta.items()
            if k not in ("job", "can_ids", "resumed", "assigned_sizes")
        }
        dup = next((d["kept"] for d in dedup if job.rel in d["dropped"]), None)
        sources.append(
            {
                "path": job.rel,
                "split": job.split,
                "size": job.size,
                "mtime_ns": job.mtime_ns,
                "used": u,
                "duplicate_of": dup,
                **rec,
            }
        )
    finished = time.time()
    manifest = {
        "schema_version": SCHEMA_VERSION,
        "canids_data_version": __version__,
        "dataset": spec.name,
        "root": str(root),
        "spec": {
            "format_hint": spec.format_hint,
            "format": spec.format,
            "splits": {k: list(v) for k, v in spec.splits.items()} if spec.splits else None,
        },
        "config": config.to_json(),
        "config_digest": config.digest,
        "vocabulary": vocab.to_json(),
        "node_features": list(config.node_features),
        "edge_features": list(config.edge_features),
        "sources": sources,
        "ignored_files": ignored,
        "dedup": dedup,
        "splits": splits,
        "arrays": arrays,
        "skipped_rows": {
            s["path"]: s["read_report"]["skipped_rows"]
            for s in sources
            if s["read_report"]["skipped_rows"]
        },
        "build": {
            "id": build_id,
            "started": dt.datetime.fromtimestamp(started, dt.UTC).isoformat(),
            "finished": dt.datetime.fromtimestamp(finished, dt.UTC).isoformat(),
            "seconds": round(finished - started, 3),
            "workers": workers,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        },
    }
    return write_manifest(store, manifest)
