"""The README lists exactly the public API, every name imports, every error is a
JobsError (and so a CanidsError), and the status commands' code imports no torch."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import canids_jobs
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_names() -> set[str]:
    names: set[str] = set()
    for row in README.read_text().split("## API", 1)[1].splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", row.split("|")[1]))
    return names


def test_readme_lists_exactly_the_public_api() -> None:
    assert _readme_names() == set(canids_jobs.__all__)


def test_every_exported_name_imports() -> None:
    assert len(canids_jobs.__all__) == len(set(canids_jobs.__all__))
    for name in canids_jobs.__all__:
        assert getattr(canids_jobs, name) is not None, name
    with pytest.raises(AttributeError, match="NoSuchThing"):
        canids_jobs.NoSuchThing  # noqa: B018


def test_test_support_is_not_shipped() -> None:
    for name in ("LocalSlurm", "LocalSlurmError", "write_synthetic_outputs"):
        assert name not in canids_jobs.__all__
    for module in ("localslurm", "pytest_plugin", "synthetic_outputs"):
        with pytest.raises(ModuleNotFoundError):
            __import__(f"canids_jobs.{module}")


def test_every_error_is_a_jobs_error() -> None:
    from canids_core import CanidsError

    errors = [n for n in canids_jobs.__all__ if n.endswith("Error")]
    assert len(errors) == 7
    for name in errors:
        assert issubclass(getattr(canids_jobs, name), canids_jobs.JobsError), name
    assert issubclass(canids_jobs.JobsError, CanidsError)


def test_version_matches_the_package_metadata() -> None:
    from importlib.metadata import version

    assert canids_jobs.__version__ == version("canids-jobs")


def test_status_list_and_analyze_code_imports_no_torch() -> None:
    code = (
        "import sys\n"
        "from canids_jobs import History, Ledger, analyze, job_statuses, record_outcomes\n"
        "from canids_jobs import StageResultRecorder, parse_folder, suggest, summarize\n"
        "print(sorted(m for m in ('torch', 'torch_geometric', 'zarr', 'ray', 'numpy')"
        " if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_no_public_name_is_also_a_submodule() -> None:
    # Importing canids_jobs.X sets the package attribute X to the module: a function of
    # the same name would turn into a module for every later `from canids_jobs import X`.
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(canids_jobs.__path__)}
    assert modules & set(canids_jobs.__all__) == set()
