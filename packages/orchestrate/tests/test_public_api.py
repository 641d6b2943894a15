"""The public API is what the README lists, every name imports, and importing the package
costs neither torch nor Ray (names load on first use)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import canids_orchestrate
import canids_orchestrate.tune
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_names() -> set[str]:
    names: set[str] = set()
    for row in README.read_text().split("## API", 1)[1].splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", row.split("|")[1]))
    return names


def test_readme_lists_exactly_the_public_api() -> None:
    assert _readme_names() == set(canids_orchestrate.__all__)


@pytest.mark.parametrize("module", [canids_orchestrate, canids_orchestrate.tune])
def test_every_exported_name_imports(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    for name in names:
        assert getattr(module, name) is not None, name
    with pytest.raises(AttributeError, match="NoSuchThing"):
        module.NoSuchThing  # type: ignore[attr-defined]  # noqa: B018


def test_every_error_is_a_canids_error() -> None:
    from canids_core import CanidsError

    errors = [n for n in canids_orchestrate.__all__ if n.endswith("Error")]
    assert len(errors) == 8
    for name in errors:
        assert issubclass(getattr(canids_orchestrate, name), canids_orchestrate.OrchestrateError)
    assert issubclass(canids_orchestrate.OrchestrateError, CanidsError)
    assert canids_orchestrate.tune.TrialOutOfMemoryError is canids_orchestrate.TrialOutOfMemoryError


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert canids_orchestrate.__version__ == version("canids-orchestrate")


def test_importing_costs_neither_torch_nor_ray() -> None:
    code = (
        "import sys, canids_orchestrate, canids_orchestrate.tune; "
        "from canids_orchestrate import OrchestrateError, check_overrides; "
        "from canids_orchestrate.tune import TARGETS, WANDB_MODES; "
        "print(sorted(m for m in ('torch', 'torch_geometric', 'zarr', 'ray', 'optuna', 'wandb')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("module", [canids_orchestrate, canids_orchestrate.tune])
def test_no_public_name_is_also_a_submodule(module: object) -> None:
    # Importing a submodule sets the package attribute of its name: a function of the same
    # name would turn into a module for every later import of it.
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(module.__path__)}  # type: ignore[attr-defined]
    assert modules & set(module.__all__) == set()  # type: ignore[attr-defined]
