"""Fixtures of the cross-package and end-to-end tests."""

from __future__ import annotations

import importlib
import shutil
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from canids_data.synthetic import write_demo_dataset
from canids_testkit.pytest_plugin import (
    chromium,  # noqa: F401 (a fixture: the browser)
    local_slurm,  # noqa: F401 (a fixture: one real SLURM)
    local_slurm_two_nodes,  # noqa: F401 (a fixture: a real two-node SLURM)
)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], ModuleType]:
    """Imports a ``benchmarks/`` script by its module name. Its folder is on ``sys.path``
    for the test only: the scripts import their sibling scripts."""
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    return importlib.import_module


@pytest.fixture(scope="session")
def demo_captures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic demo dataset at ``scale=0.1`` (10 parquet captures). Read-only."""
    root = tmp_path_factory.mktemp("demo_captures") / "root"
    write_demo_dataset(root, seed=0, scale=0.1)
    return root


@pytest.fixture
def demo_copy(tmp_path: Path, demo_captures: Path) -> Path:
    """A private copy of the demo captures (sizes and mtimes kept) that a test may change."""
    root = tmp_path / "root"
    shutil.copytree(demo_captures, root)
    return root
