"""Verifying a cache against its manifest, its sources and the expected build config."""

from __future__ import annotations

import enum
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zarr

from ..catalog import DatasetSpec, discover_sources
from ..config import BuildConfig
from ..errors import CacheError, CatalogError
from ._io import dataset_dir, staging_dir
from .manifest import Manifest, load_manifest
from .store import SPLIT_ARRAYS, array_sha256
from .worker import file_sha256

__all__ = ["EXIT_CODES", "Problem", "VerifyReport", "VerifyStatus", "verify_cache"]


class VerifyStatus(enum.StrEnum):
    OK = "ok"
    MISSING = "missing"
    INCOMPLETE = "incomplete"
    STALE = "stale"
    CONFIG_MISMATCH = "config_mismatch"
    CORRUPT = "corrupt"


EXIT_CODES: dict[VerifyStatus, int] = {
    VerifyStatus.OK: 0,
    VerifyStatus.MISSING: 10,
    VerifyStatus.INCOMPLETE: 11,
    VerifyStatus.STALE: 12,
    VerifyStatus.CONFIG_MISMATCH: 13,
    VerifyStatus.CORRUPT: 14,
}
# When several problems exist, the report's status is the first of these that occurs.
_SEVERITY = (
    VerifyStatus.MISSING,
    VerifyStatus.INCOMPLETE,
    VerifyStatus.CORRUPT,
    VerifyStatus.CONFIG_MISMATCH,
    VerifyStatus.STALE,
)


@dataclass(frozen=True)
class Problem:
    status: VerifyStatus
    where: str
    detail: str


@dataclass
class VerifyReport:
    dataset: str
    store: Path
    full: bool
    problems: list[Problem] = field(default_factory=list)
    fix: str = ""
    manifest: Manifest | None = None

    @property
    def status(self) -> VerifyStatus:
        found = {p.status for p in self.problems}
        return next((s for s in _SEVERITY if s in found), VerifyStatus.OK)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def add(self, status: VerifyStatus, where: str, detail: str) -> None:
        self.problems.append(Problem(status, where, detail))

    def raise_for_status(self) -> None:
        if self.problems:
            lines = [f"cache {self.store} is not usable ({self.status}):"]
            lines += [f"  - {p.where}: {p.detail}" for p in self.problems[:10]]
            if len(self.problems) > 10:
                lines.append(f"  … and {len(self.problems) - 10} more problem(s)")
            raise CacheError("\n".join(lines), status=str(self.status), fix=self.fix)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "store": str(self.store),
            "mode": "full" if self.full else "quick",
            "status": str(self.status),
            "exit_code": self.exit_code,
            "problems": [
                {"status": str(p.status), "where": p.where, "detail": p.detail}
                for p in self.problems
            ],
            "fix": self.fix,
        }


def verify_cache(
    cache_dir: Path,
    dataset: str,
    *,
    full: bool = False,
    expected_config: BuildConfig | None = None,
    root: Path | None = None,
    check_sources: bool = True,
    splits: list[str] | None = None,
) -> VerifyReport:
    """Quick: sizes, mtimes and shapes. Full: also sha256 of sources and array checksums."""
    store = dataset_dir(cache_dir, dataset)
    report = VerifyReport(dataset, store, full)
    build_cmd = f"canids-cache build --dataset {dataset} --cache-dir {shlex.quote(str(cache_dir))}"
    if not store.is_dir():
        staged = staging_dir(cache_dir, dataset).exists()
        report.add(
            VerifyStatus.MISSING,
            str(store),
            "no cache here"
            + (
                " (an interrupted build left staged parts: rerunning the build resumes from them)"
                if staged
                else ""
            ),
        )
        report.fix = build_cmd + " --root PATH"
        return report
    try:
        manifest = load_manifest(store, dataset)
    except CacheError as exc:
        report.add(VerifyStatus(exc.status), str(store / "manifest.json"), str(exc).split("\n")[0])
        report.fix = build_cmd + " --root PATH --force"
        return report
    report.manifest = manifest
    # Rebuild with the config the cache was built with: the build command's defaults
    # would silently change a non-default window, stride, ... on the next build.
    at = f"{build_cmd} --root {shlex.quote(str(root or manifest.root))}"
    report.fix = f"{at}{build_flags(manifest.config)} --force"
    if expected_config is not None and expected_config.digest != manifest.config_digest:
        built = manifest.data["config"]
        want = expected_config.to_json()
        diff = {k: (built.get(k), want[k]) for k in want if built.get(k) != want[k]}
        report.add(
            VerifyStatus.CONFIG_MISMATCH,
            "config",
            "built with "
            + ", ".join(f"{k}={a!r}" for k, (a, _) in diff.items())
            + "; expected "
            + ", ".join(f"{k}={b!r}" for k, (_, b) in diff.items()),
        )
        report.fix = f"{at}{build_flags(expected_config)} --force"
    _check_arrays(report, manifest, store, splits, full)
    if check_sources:
        _check_sources(report, manifest, root or manifest.root, full)
    return report


def build_flags(config: BuildConfig) -> str:
    """The ``canids-cache build`` options that give ``config`` (defaults left out), each
    preceded by a space."""
    default = BuildConfig()
    flags = [
        f"--{name.replace('_', '-')} {getattr(config, name)}"
        for name in (
            "window",
            "stride",
            "val_fraction",
            "features",
            "validation",
            "val_blocks",
            "val_start_seconds",
            "val_seed",
        )
        if getattr(config, name) != getattr(default, name)
    ]
    if config.skip_bad_rows:
        flags.append("--skip-bad-rows")
    if config.format:
        flags.append(f"--format {shlex.quote(config.format)}")
    return "".join(f" {f}" for f in flags)


def _check_arrays(
    report: VerifyReport, manifest: Manifest, store: Path, splits: list[str] | None, full: bool
) -> None:
    wanted = splits or list(manifest.splits)
    try:
        group = zarr.open_group(store, mode="r", zarr_format=3)
    except Exception as exc:  # zarr raises several unrelated types for a broken store
        report.add(VerifyStatus.CORRUPT, str(store / "zarr.json"), f"cannot open the store ({exc})")
        return
    for split in wanted:
        if split not in manifest.splits:
            report.add(
                VerifyStatus.INCOMPLETE,
                split,
                f"split not in this cache (it has {', '.join(manifest.splits)})",
            )
            continue
        for name, (_, axis) in SPLIT_ARRAYS.items():
            key = f"{split}/{name}"
            record = manifest.arrays.get(key)
            if record is None:
                report.add(VerifyStatus.INCOMPLETE, key, "array missing from the manifest")
                continue
            try:
                arr = group[key]
            except KeyError:
                report.add(VerifyStatus.INCOMPLETE, key, "array missing from the store")
                continue
            if list(arr.shape) != record["shape"] or str(arr.dtype) != record["dtype"]:
                report.add(
                    VerifyStatus.CORRUPT,
                    key,
                    f"shape {list(arr.shape)} {arr.dtype}, manifest says "
                    f"{record['shape']} {record['dtype']}",
                )
                continue
            if full:
                try:
                    digest = array_sha256(arr, axis)  # type: ignore[arg-type]
                except Exception as exc:  # a damaged chunk fails in the codec, whatever its type
                    report.add(
                        VerifyStatus.CORRUPT, key, f"cannot decode ({type(exc).__name__}: {exc})"
                    )
                    continue
                if digest != record["sha256"]:
                    report.add(VerifyStatus.CORRUPT, key, "checksum differs from the manifest")


def _check_sources(report: VerifyReport, manifest: Manifest, root: Path, full: bool) -> None:
    if not root.is_dir():
        report.add(
            VerifyStatus.STALE,
            str(root),
            "dataset root not found, so the cache cannot be checked against its sources "
            "(pass --root if the captures moved)",
        )
        return
    listed = {s["path"] for s in manifest.sources}
    spec_data = manifest.data.get("spec", {})
    spec = DatasetSpec(
        manifest.dataset,
        spec_data.get("format_hint"),
        root,
        spec_data.get("format"),
        {k: tuple(v) for k, v in spec_data["splits"].items()} if spec_data.get("splits") else None,
    )
    try:
        current, _ = discover_sources(spec, root)
    except CatalogError as exc:
        report.add(VerifyStatus.STALE, str(root), str(exc))
        return
    for src in current:
        if src.rel not in listed:
            report.add(
                VerifyStatus.STALE, src.rel, "capture is not in the cache (added since the build)"
            )
    for rec in manifest.sources:
        path = root / rec["path"]
        if not path.is_file():
            report.add(VerifyStatus.STALE, rec["path"], "capture was removed since the build")
            continue
        st = path.stat()
        if st.st_size != rec["size"] or st.st_mtime_ns != rec["mtime_ns"]:
            report.add(
                VerifyStatus.STALE,
                rec["path"],
                f"size/mtime changed since the build ({rec['size']} B → {st.st_size} B)",
            )
        elif full and file_sha256(path) != rec["sha256"]:
            report.add(VerifyStatus.STALE, rec["path"], "content changed (sha256 differs)")
