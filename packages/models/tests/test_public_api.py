"""The public API is complete: every exported name imports and the README lists exactly those."""

from __future__ import annotations

import re
from pathlib import Path

import canids_models
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_names() -> set[str]:
    text = README.read_text()
    section = text.split("## API", 1)[1]
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            first_cell = row.split("|")[1]
            names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", first_cell))
    return names


def test_every_exported_name_imports():
    for name in canids_models.__all__:
        assert getattr(canids_models, name) is not None, name


def test_all_has_no_duplicates():
    assert len(canids_models.__all__) == len(set(canids_models.__all__))


def test_readme_lists_exactly_the_public_api():
    assert _readme_names() == set(canids_models.__all__)


def test_version_matches_the_package_metadata():
    from importlib.metadata import version

    assert canids_models.__version__ == version("canids-models")


def test_unknown_names_fail():
    with pytest.raises(AttributeError, match="NoSuchThing"):
        canids_models.NoSuchThing  # noqa: B018


def test_readme_example_runs_on_the_demo(demo, tmp_path, monkeypatch, tiny_overrides):
    """The README's example, on the demo cache instead of hcrl_sa, with a tiny model (the
    only changes: the dataset, the cache folder and the ``--set`` items)."""
    import re

    block = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)[0]
    changes = (
        ('"hcrl_sa"', '"demo"'),
        ('cache_dir="cache"', "cache_dir=CACHE_DIR"),
        ('["train.epochs=5"]', "TINY"),
    )
    for real, demo_value in changes:
        assert real in block, f"the README example changed: update this test ({real})"
        block = block.replace(real, demo_value)
    monkeypatch.chdir(tmp_path)  # the example's runs folder is ./runs
    names = {"CACHE_DIR": demo.cache_dir, "TINY": tiny_overrides("teacher")}
    exec(compile(block, str(README), "exec"), names)
    outcome = names["outcome"]
    assert outcome.stage == "vgae"
    assert canids_models.ArtifactStore(tmp_path / "runs").is_done("demo", "teacher", "vgae")
    assert set(outcome.paths) >= {"checkpoint", "metrics", "config", "done"}


def test_no_public_name_is_also_a_submodule():
    # Importing canids_models.X sets the package attribute X to the module: a lazily
    # loaded function X would then be the module for every later import of it.
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(canids_models.__path__)}
    assert modules & set(canids_models.__all__) == set()


def test_preflight_stays_a_function_after_its_module_is_imported():
    import subprocess
    import sys

    code = (
        "import canids_models.preflight_checks, canids_models\n"
        "from canids_models import preflight\n"
        "print(callable(preflight))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"
