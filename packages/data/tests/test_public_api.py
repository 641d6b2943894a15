"""The public API is complete: every exported name imports and the README lists exactly those."""

from __future__ import annotations

import re
from pathlib import Path

import canids_data
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
    for name in canids_data.__all__:
        assert getattr(canids_data, name) is not None, name


def test_readme_lists_exactly_the_public_api():
    assert _readme_names() == set(canids_data.__all__)


def test_dataset_is_loaded_lazily_and_unknown_names_fail():
    from canids_data.dataset import CachedGraphDataset

    assert canids_data.CachedGraphDataset is CachedGraphDataset
    with pytest.raises(AttributeError, match="NoSuchThing"):
        canids_data.NoSuchThing  # noqa: B018


def test_readme_example_runs_on_the_demo(demo_root, tmp_path, monkeypatch):
    """The README's example, on the demo captures instead of hcrl_sa (the only changes:
    the dataset, its folder and a batch that fits the demo's training split)."""
    block = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)[0]
    for real, demo in (('"hcrl_sa"', '"demo"'), ('"/data/hcrl_sa"', "DEMO_ROOT"), ("1024", "64")):
        assert real in block, f"the README example changed: update this test ({real})"
        block = block.replace(real, demo)
    monkeypatch.chdir(tmp_path)  # the example's cache is ./cache
    names = {"DEMO_ROOT": demo_root}
    exec(compile(block, str(README), "exec"), names)
    assert len(names["train"]) == len(names["nodes"]) == len(names["edges"]) > 64
    assert names["batch"].num_graphs == 64
    assert (tmp_path / "cache" / "demo" / "manifest.json").is_file()


def test_the_static_version_is_the_installed_one():
    from importlib.metadata import version

    assert canids_data.__version__ == version("canids-data")
