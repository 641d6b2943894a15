"""Building a cache: parallel over files, resumable, staged beside the target, published by
rename, in a working set that does not grow with the number of captures."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    wait,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canids_core import atomic_write_json

from ..catalog import DatasetSpec, SourceFile, discover_sources
from ..config import BuildConfig
from ..errors import CacheError
from ._io import dataset_dir, staging_dir
from .build_store import write_store
from .lock import BuildLock
from .parts import part_exists, read_part_meta
from .space import (
    BUILD_MARKER,
    check_free_space,
    estimate_build_bytes,
    human_bytes,
    no_space_error,
    staging_info,
)
from .worker import SourceJob, process_source

__all__ = ["BuildProgress", "BuildResult", "build_cache"]


@dataclass
class BuildProgress:
    """Handed to the progress callback after every file."""

    files_done: int
    files_total: int
    messages: int
    graphs: int
    current: str
    resumed: int


@dataclass(frozen=True)
class BuildResult:
    store: Path
    manifest: dict[str, Any]
    seconds: float
    resumed_files: int
    messages: int
    root: Path | None = None
    cleaned_bytes: int = 0  # staging left by an earlier, finished build, removed first

    @property
    def messages_per_second(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else float("inf")


def _part_path(parts: Path, src: SourceFile, size: int, mtime_ns: int, cfg: BuildConfig) -> Path:
    key = f"{src.rel}\0{src.split}\0{size}\0{mtime_ns}\0{cfg.digest}"
    return parts / hashlib.sha256(key.encode()).hexdigest()[:32]


def _family(path: Path, fmt: str | None) -> str:
    return "parquet" if (fmt or "") == "parquet" or path.suffix.lower() == ".parquet" else "text"


def build_cache(
    cache_dir: Path,
    spec: DatasetSpec,
    root: Path,
    config: BuildConfig,
    *,
    workers: int = 1,
    progress: Callable[[BuildProgress], None] | None = None,
    max_skipped_fraction: float = 0.01,
    check_space: bool = True,
    clean_staging: bool = False,
) -> BuildResult:
    """Build ``cache_dir/<dataset>``; see :class:`canids_data.CacheManager` for the contract."""
    started = time.time()
    stage = staging_dir(cache_dir, spec.name)
    with BuildLock(cache_dir / ".locks" / f"{spec.name}.lock"):
        cleaned = 0
        info = staging_info(cache_dir, spec.name, holding_lock=True)
        if info is not None and (clean_staging or info.state == "finished"):
            # A finished build's leftovers hold nothing to resume; --clean-staging drops an
            # interrupted build's parts too (a fresh start).
            cleaned = info.bytes
            shutil.rmtree(stage, ignore_errors=True)
        sources, ignored = discover_sources(spec, root)
        parts = stage / "parts"
        jobs = []
        for src in sources:
            st = src.path.stat()
            jobs.append(
                SourceJob(
                    rel=src.rel,
                    path=str(src.path),
                    split=src.split,
                    size=st.st_size,
                    mtime_ns=st.st_mtime_ns,
                    part_path=str(_part_path(parts, src, st.st_size, st.st_mtime_ns, config)),
                    fmt=config.format or spec.format,
                    hint=spec.format_hint,
                    skip_bad_rows=config.skip_bad_rows,
                    window=config.window,
                    stride=config.stride,
                    val_fraction=config.val_fraction,
                    embargo_windows=config.embargo_windows,
                    features=config.features,
                    validation=config.validation,
                    val_blocks=config.val_blocks,
                    val_start_seconds=config.val_start_seconds,
                    val_start_max_fraction=config.val_start_max_fraction,
                    val_seed=config.val_seed,
                    max_skipped_fraction=max_skipped_fraction,
                    dataset=spec.name,
                )
            )
        todo = [j for j in jobs if not part_exists(Path(j.part_path))]
        need = estimate_build_bytes(
            staged=[(j.size, _family(Path(j.path), j.fmt)) for j in todo],
            stored=[(j.size, _family(Path(j.path), j.fmt)) for j in jobs],
        )
        if check_space:
            check_free_space(cache_dir, need, spec.name)
        build_id = uuid.uuid4().hex
        try:
            parts.mkdir(parents=True, exist_ok=True)
            atomic_write_json(
                stage / BUILD_MARKER,
                {"build_id": build_id, "config_digest": config.digest, "started": started},
            )
            metas = _run_jobs(jobs, workers, progress)
            manifest = write_store(
                stage / "store",
                spec,
                root,
                config,
                jobs,
                metas,
                ignored,
                started,
                workers,
                build_id,
            )
        except OSError as exc:
            shutil.rmtree(stage / "store", ignore_errors=True)  # rebuilt from the parts anyway
            err = no_space_error(exc, stage, cache_dir, spec.name, need)
            if err is None:
                raise
            raise err from None
        except CacheError as exc:
            shutil.rmtree(stage / "store", ignore_errors=True)
            if exc.status == "no_space":  # from a worker: say what the whole build needs
                raise CacheError(
                    f"{exc.message}; the build needs about {human_bytes(need)} in all",
                    status=exc.status,
                    fix=exc.fix,
                ) from None
            raise
        except BaseException:
            shutil.rmtree(stage / "store", ignore_errors=True)
            raise
        _publish(stage / "store", dataset_dir(cache_dir, spec.name))
        # A kill here leaves the staged parts of a published build: the next build
        # removes them, and `canids-cache status` reports them as reclaimable.
        shutil.rmtree(stage, ignore_errors=True)
    resumed = sum(1 for m in metas if m.get("resumed"))
    return BuildResult(
        dataset_dir(cache_dir, spec.name),
        manifest,
        time.time() - started,
        resumed,
        int(sum(int(m["messages"]) for m in metas)),
        root,
        cleaned,
    )


def _run_jobs(
    jobs: list[SourceJob], workers: int, progress: Callable[[BuildProgress], None] | None
) -> list[dict[str, Any]]:
    metas: dict[str, dict[str, Any]] = {}
    todo: list[SourceJob] = []
    for job in jobs:
        part = Path(job.part_path)
        if part_exists(part):
            meta = read_part_meta(part)
            meta["resumed"] = True
            metas[job.rel] = meta
        else:
            todo.append(job)
    counters = {"messages": 0, "graphs": 0}

    def done(meta: dict[str, Any], rel: str) -> None:
        metas[rel] = meta
        counters["messages"] += int(meta["messages"])
        counters["graphs"] += int(meta["graphs"])
        if progress:
            progress(
                BuildProgress(
                    len(metas),
                    len(jobs),
                    counters["messages"],
                    counters["graphs"],
                    rel,
                    len(jobs) - len(todo),
                )
            )

    for meta in list(metas.values()):
        counters["messages"] += int(meta["messages"])
        counters["graphs"] += int(meta["graphs"])
    # Largest files first so one big capture does not start last and finish alone.
    todo.sort(key=lambda j: -j.size)
    if workers <= 1 or len(todo) <= 1:
        for job in todo:
            done(process_source(job), job.rel)
    else:
        ctx = _pool_context()
        with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=ctx) as pool:
            pending: dict[Future[dict[str, Any]], str] = {
                pool.submit(process_source, job): job.rel for job in todo
            }
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    rel = pending.pop(fut)
                    try:
                        meta = fut.result()
                    except BaseException:
                        for other in pending:
                            other.cancel()
                        raise
                    done(meta, rel)
    return [metas[job.rel] for job in jobs]


def _pool_context() -> mp.context.BaseContext:
    """fork when this process has no other thread (fast: workers inherit the imports);
    forkserver otherwise, since forking a process whose threads may hold locks (zarr's
    I/O loop, for one) can deadlock the child."""
    if threading.active_count() == 1 and "fork" in mp.get_all_start_methods():
        return mp.get_context("fork")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["canids_data.cache.worker"])
    return ctx


def _publish(store: Path, target: Path) -> None:
    """Move the finished store into place; an old cache is renamed aside, then removed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    # A kill between the two renames of an earlier publish leaves its old store aside.
    for leftover in target.parent.glob(f".{target.name}.old-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}-{int(time.time())}")
        os.replace(target, old)
    os.replace(store, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
