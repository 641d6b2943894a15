"""``CacheManager``: the one entry point for building, verifying and describing a cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from canids_core import check_name

from ..catalog import get_dataset, resolve_root
from ..config import BuildConfig
from ..errors import CatalogError
from ._io import dataset_dir, resolve_cache_dir
from .build import BuildProgress, BuildResult, build_cache
from .sizes import SplitSizes, read_split_sizes
from .space import StagingInfo, clean_staging, staging_info
from .status import cache_status, disk_usage
from .verify import VerifyReport, verify_cache

__all__ = ["CacheManager"]


class CacheManager:
    """A cache folder (``cache_dir``, else ``$CANIDS_CACHE_DIR``, else ``./cache``).

    Each dataset lives in ``<cache_dir>/<dataset>``: a Zarr v3 store whose
    ``manifest.json`` is written last, so a store without it was never finished.
    Builds are staged in ``<cache_dir>/.staging/<dataset>`` and renamed into place.
    """

    def __init__(
        self, cache_dir: str | Path | None = None, *, datasets_file: str | Path | None = None
    ) -> None:
        self.cache_dir = resolve_cache_dir(cache_dir)
        self.datasets_file = datasets_file

    def path(self, dataset: str) -> Path:
        # Every dataset name that reaches the cache passes the one name rule first: it
        # becomes a folder and a word of printed fix lines (canids_core.check_name).
        return dataset_dir(self.cache_dir, check_name("dataset", dataset))

    def build(
        self,
        dataset: str,
        root: str | Path | None = None,
        config: BuildConfig | None = None,
        *,
        workers: int = 1,
        progress: Callable[[BuildProgress], None] | None = None,
        max_skipped_fraction: float = 0.01,
        check_space: bool = True,
        clean_staging: bool = False,
    ) -> BuildResult:
        """Build (or finish an interrupted build of) ``dataset``.

        Files are processed in a process pool, one capture per worker at a time; each
        finished file is staged, so a rerun after a crash resumes. The store is published
        by rename only when complete, and a lock stops two builds of one cache.

        With ``skip_bad_rows`` in the config, a file whose skipped rows exceed
        ``max_skipped_fraction`` of its rows fails the build. ``check_space`` refuses a
        build the filesystem has no room for, before it starts; ``clean_staging`` drops
        the staged parts of an interrupted build instead of resuming from them.
        """
        spec = get_dataset(check_name("dataset", dataset), self.datasets_file)
        if not 0.0 <= max_skipped_fraction <= 1.0:
            raise CatalogError(
                f"max_skipped_fraction must be in [0, 1], got {max_skipped_fraction}"
            )
        return build_cache(
            self.cache_dir,
            spec,
            resolve_root(spec, root),
            config or BuildConfig(),
            workers=workers,
            progress=progress,
            max_skipped_fraction=max_skipped_fraction,
            check_space=check_space,
            clean_staging=clean_staging,
        )

    def clean(
        self, dataset: str | None = None, *, only_finished: bool = False
    ) -> list[StagingInfo]:
        """Free the staged parts of ``dataset`` (else of every dataset) that no running
        build holds, and stores a killed publish left aside; what was removed."""
        if dataset is not None:
            check_name("dataset", dataset)
        return clean_staging(self.cache_dir, dataset, only_finished=only_finished)

    def staging(self, dataset: str) -> StagingInfo | None:
        """The staging folder of ``dataset``: running, interrupted or finished (reclaimable)."""
        return staging_info(self.cache_dir, check_name("dataset", dataset))

    def verify(
        self,
        dataset: str,
        *,
        full: bool = False,
        config: BuildConfig | None = None,
        root: str | Path | None = None,
        check_sources: bool = True,
        splits: list[str] | None = None,
    ) -> VerifyReport:
        return verify_cache(
            self.cache_dir,
            check_name("dataset", dataset),
            full=full,
            expected_config=config,
            root=Path(root).resolve() if root else None,
            check_sources=check_sources,
            splits=splits,
        )

    def sizes(self, dataset: str, split: str, *, check_sources: bool = True) -> SplitSizes:
        """Node and edge counts per graph of ``split`` (quick verify first; no graphs built)."""
        return read_split_sizes(
            self.cache_dir, check_name("dataset", dataset), split, check_sources=check_sources
        )

    def size_on_disk(self, dataset: str) -> int:
        """Bytes of the published cache of ``dataset`` (0 when there is none)."""
        store = self.path(dataset)
        return disk_usage(store) if store.is_dir() else 0

    def datasets(self) -> list[str]:
        if not self.cache_dir.is_dir():
            return []
        return sorted(
            p.name for p in self.cache_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
        )

    def status(self) -> dict[str, Any]:
        return cache_status(self.cache_dir)
