"""Verifying a cache against its manifest, its sources and the expected build config."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canids_core import check_name, quoted_command

from ..catalog import DatasetSpec, discover_sources
from ..config import BuildConfig
from ..errors import CacheError, CatalogError
from ._io import dataset_dir, file_sha256, staging_dir
from .chunks import chunk_indices_present
from .manifest import Manifest, load_manifest
from .store import SPLIT_ARRAYS, array_sha256, stored_spec

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
    notes: list[str] = field(default_factory=list)  # what was found and is fine

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
            "notes": list(self.notes),
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
    """Quick: the manifest's seal and config digest, sources by size and mtime, every
    array's metadata and the presence of each of its chunk files (a listing, no decode).
    Full: also the sha256 of every source and every array."""
    store = dataset_dir(cache_dir, check_name("dataset", dataset))
    report = VerifyReport(dataset, store, full)
    build_cmd = ["canids-cache", "build", "--dataset", dataset, "--cache-dir", str(cache_dir)]
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
        report.fix = quoted_command([*build_cmd, "--root", str(root) if root else "PATH"])
        return report
    fallback = quoted_command([*build_cmd, "--root", str(root) if root else "PATH", "--force"])
    try:
        manifest = load_manifest(store, dataset, fix=fallback)
    except CacheError as exc:
        report.add(VerifyStatus(exc.status), str(store / "manifest.json"), exc.message)
        report.fix = fallback
        return report
    report.manifest = manifest
    # Rebuild with the config the cache was built with: the build command's defaults
    # would silently change a non-default window, stride, ... on the next build.
    at = [*build_cmd, "--root", str(root or manifest.root)]
    report.fix = quoted_command([*at, *build_flags(manifest.config), "--force"])
    if expected_config is not None and expected_config.digest != manifest.config_digest:
        built = manifest.data["config"]
        want = expected_config.to_json()
        diff = {k: (built.get(k), want[k]) for k in want if built.get(k) != want[k]}
        detail = (
            "built with "
            + ", ".join(f"{k}={a!r}" for k, (a, _) in diff.items())
            + "; expected "
            + ", ".join(f"{k}={b!r}" for k, (_, b) in diff.items())
            if diff
            else f"built with config digest {manifest.config_digest[:12]}; expected "
            f"{expected_config.digest[:12]}"
        )
        report.add(VerifyStatus.CONFIG_MISMATCH, "config", detail)
        report.fix = quoted_command([*at, *build_flags(expected_config), "--force"])
    _check_arrays(report, manifest, store, splits, full)
    if check_sources:
        _check_sources(report, manifest, root or manifest.root, full)
    return report


def build_flags(config: BuildConfig) -> list[str]:
    """The ``canids-cache build`` options that give ``config`` (defaults left out)."""
    default = BuildConfig()
    flags: list[str] = []
    for name in (
        "window",
        "stride",
        "val_fraction",
        "features",
        "validation",
        "val_blocks",
        "val_start_seconds",
        "val_seed",
    ):
        if getattr(config, name) != getattr(default, name):
            flags += [f"--{name.replace('_', '-')}", str(getattr(config, name))]
    if config.skip_bad_rows:
        flags.append("--skip-bad-rows")
    if config.format:
        flags += ["--format", config.format]
    return flags


def _check_arrays(
    report: VerifyReport, manifest: Manifest, store: Path, splits: list[str] | None, full: bool
) -> None:
    wanted = splits or list(manifest.splits)
    for split in wanted:
        if split not in manifest.splits:
            report.add(
                VerifyStatus.INCOMPLETE,
                split,
                f"split not in this cache (it has {', '.join(manifest.splits)})",
            )
            continue
        for name in SPLIT_ARRAYS:
            _check_array(report, manifest, store, split, name, full)


def _check_array(
    report: VerifyReport, manifest: Manifest, store: Path, split: str, name: str, full: bool
) -> None:
    key = f"{split}/{name}"
    record = manifest.arrays.get(key)
    if record is None:
        report.add(VerifyStatus.INCOMPLETE, key, "array missing from the manifest")
        return
    try:
        spec = stored_spec(store, split, name)
    except FileNotFoundError:
        report.add(VerifyStatus.INCOMPLETE, key, "array missing from the store")
        return
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        report.add(VerifyStatus.CORRUPT, key, f"unreadable zarr.json ({type(exc).__name__}: {exc})")
        return
    if (
        list(spec.shape) != record["shape"]
        or spec.dtype != record["dtype"]
        or list(spec.chunks) != record["chunks"]
    ):
        report.add(
            VerifyStatus.CORRUPT,
            key,
            f"shape {list(spec.shape)} {spec.dtype} chunks {list(spec.chunks)}, manifest says "
            f"{record['shape']} {record['dtype']} chunks {record['chunks']}",
        )
        return
    present = chunk_indices_present(store / split / name, spec)
    missing = sorted(set(range(int(record["n_chunks"]))) - present)
    if spec.n_chunks != record["n_chunks"] or missing:
        shown = ", ".join(spec.key(i) for i in missing[:5]) + (" …" if len(missing) > 5 else "")
        report.add(
            VerifyStatus.CORRUPT,
            key,
            f"{len(missing)} of {record['n_chunks']} chunk files missing ({shown}): zarr would "
            "read them as zeros",
        )
        return
    if full:
        try:
            digest = array_sha256(store, split, spec, fix=report.fix)
        except CacheError as exc:
            report.add(VerifyStatus.CORRUPT, key, exc.message)
            return
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
        if st.st_size != rec["size"]:
            report.add(
                VerifyStatus.STALE,
                rec["path"],
                f"size changed since the build ({rec['size']} B → {st.st_size} B)",
            )
        elif st.st_mtime_ns != rec["mtime_ns"] or full:
            # Same size, new mtime (a copy, a touch): only the content can say, so hash it.
            # A file whose bytes are unchanged is not stale, in either mode.
            if file_sha256(path) != rec["sha256"]:
                report.add(VerifyStatus.STALE, rec["path"], "content changed (sha256 differs)")
            elif st.st_mtime_ns != rec["mtime_ns"]:
                report.notes.append(
                    f"{rec['path']}: modified time changed since the build, content unchanged "
                    "(sha256 equal)"
                )
