"""Shared fixtures of the canids-data tests.

Real captures: ``real_data_root``. Synthetic: the session-scoped ``demo_root`` and
``demo_cache`` (read-only; a test that changes files takes ``demo_clone``, a private
copy of both), and small hand-made datasets via ``make_table`` + ``write_dataset``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import zarr
from canids_data import BuildConfig, CacheManager, MessageTable
from canids_data.cache.manifest import write_manifest
from canids_data.cache.store import SPLIT_ARRAYS
from canids_data.synthetic import write_demo_dataset
from canids_data.writers import write_capture

# The repository root: packages/data/tests/conftest.py -> three folders up.
REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_DATA_ENV = "CANIDS_REAL_DATA"
# Beside the checkout, never inside it (the captures are not the project's to copy).
DEFAULT_REAL_DATA = REPO_ROOT.parent / "shared" / "data" / "real"


def running_in_ci() -> bool:
    """CI counts as set for any non-empty value other than ``0`` and ``false`` (``CI=1``,
    ``CI=yes``, ``CI=true``: runners spell it differently)."""
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false")


def locate_real_data() -> tuple[Path | None, str]:
    """The real-capture root (``$CANIDS_REAL_DATA`` or ``<repo>/../shared/data/real``)
    and, when it is absent, why."""
    env = os.environ.get(REAL_DATA_ENV)
    if env:
        root = Path(env).expanduser()
        where = f"${REAL_DATA_ENV}={env}"
    else:
        root = DEFAULT_REAL_DATA
        where = f"{DEFAULT_REAL_DATA} (set ${REAL_DATA_ENV} to point elsewhere)"
    if not root.is_dir():
        return None, f"real CAN captures not found: {where} is not a folder"
    if not any(root.rglob("*.parquet")):
        return None, f"real CAN captures not found: no *.parquet files under {where}"
    return root, ""


@pytest.fixture(scope="session")
def real_data_root() -> Path:
    """Folder of the real captures (``hcrl_sa/``, ``set_01/``).

    Skips the test when the data is absent, except under CI, where missing data is a
    failure: CI is expected to provide it.
    """
    root, why = locate_real_data()
    if root is None:
        if running_in_ci():
            pytest.fail(f"{why}; CI={os.environ['CI']} requires the real data", pytrace=False)
        pytest.skip(why)
    return root


# --- synthetic demo dataset and its cache -------------------------------------------

DEMO_SCALE = 0.1


@dataclass(frozen=True)
class DemoCopy:
    """A built demo cache (``cache_dir/demo``) and the captures it was built from."""

    cache_dir: Path
    root: Path

    @property
    def store(self) -> Path:
        return self.cache_dir / "demo"

    def manifest(self) -> dict:
        return json.loads((self.store / "manifest.json").read_text())


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo captures at ``scale=0.1`` (~35k messages, 9 parquet files). Read-only."""
    root = tmp_path_factory.mktemp("demo") / "root"
    write_demo_dataset(root, seed=0, scale=DEMO_SCALE)
    return root


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory, demo_root: Path) -> DemoCopy:
    """The demo built with the default config and one worker. Read-only."""
    cache = tmp_path_factory.mktemp("demo_cache") / "cache"
    CacheManager(cache).build("demo", demo_root, BuildConfig(), workers=1)
    return DemoCopy(cache, demo_root)


@pytest.fixture
def demo_clone(tmp_path: Path, demo_cache: DemoCopy) -> DemoCopy:
    """A private copy of the demo captures and cache; its manifest names the copied root.

    ``copytree`` keeps sizes and nanosecond mtimes, so the copy verifies as the original.
    """
    root = tmp_path / "root"
    cache = tmp_path / "cache"
    shutil.copytree(demo_cache.root, root)
    shutil.copytree(demo_cache.cache_dir, cache)
    clone = DemoCopy(cache, root)
    data = clone.manifest()
    data["root"] = str(root.resolve())
    # The manifest is sealed by a digest of its content: a deliberate edit reseals it.
    write_manifest(clone.store, data)
    return clone


@pytest.fixture(scope="session")
def read_split() -> Callable[[Path, str], dict[str, np.ndarray]]:
    """Every array of one split, read with plain zarr (``store`` is ``cache_dir/dataset``)."""

    def read(store: Path, split: str) -> dict[str, np.ndarray]:
        group = zarr.open_group(store, mode="r", zarr_format=3)
        return {name: np.asarray(group[split][name][...]) for name in SPLIT_ARRAYS}

    return read


def synthetic_table(
    n: int, seed: int, ids: tuple[int, ...] = (0x100, 0x200, 0x300), *, t0: float = 1000.0
) -> MessageTable:
    """``n`` messages with strictly increasing timestamps over ``ids`` (labels ~5 %)."""
    rng = np.random.default_rng(seed)
    ts = t0 + np.cumsum(rng.uniform(0.0005, 0.002, n))
    can_id = rng.choice(np.asarray(ids, np.uint32), n)
    dlc = np.full(n, 8, np.uint8)
    payload = rng.integers(0, 256, (n, 8)).astype(np.uint8)
    label = (rng.random(n) < 0.05).astype(np.uint8)
    return MessageTable(ts, can_id, dlc, payload, label)


@pytest.fixture(scope="session")
def make_table() -> Callable[..., MessageTable]:
    """:func:`synthetic_table` as a fixture."""
    return synthetic_table


@pytest.fixture(scope="session")
def write_dataset() -> Callable[[Path, dict[str, MessageTable]], list[Path]]:
    """Write ``{"split_folder/name.parquet": table}`` under a root (normalized parquet)."""

    def write(root: Path, tables: dict[str, MessageTable]) -> list[Path]:
        return [write_capture(t, root / rel, "parquet") for rel, t in tables.items()]

    return write


# --- a real, small filesystem ------------------------------------------------------------


@dataclass
class Tmpfs:
    """A tmpfs mounted for one test; :meth:`resize` remounts it with another size."""

    path: Path

    def resize(self, size: int) -> None:
        subprocess.run(
            ["mount", "-o", f"remount,size={size}", str(self.path)], check=True, capture_output=True
        )

    @property
    def used(self) -> int:
        return shutil.disk_usage(self.path).used

    @property
    def free(self) -> int:
        return shutil.disk_usage(self.path).free


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Tmpfs]:
    """A 64 MiB tmpfs at ``tmp_path/fs``, unmounted afterwards. Mounting needs root (or
    CAP_SYS_ADMIN): where it is impossible the test is skipped, except under CI."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            check=False,
        )
        if shutil.which("mount")
        else None
    )
    if done is None or done.returncode != 0:
        why = f"cannot mount a tmpfs ({done.stderr.strip() if done else 'no mount command'})"
        if running_in_ci():
            pytest.fail(f"{why}; CI must allow it", pytrace=False)
        pytest.skip(why)
    try:
        yield Tmpfs(mount)
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)
