"""The README lists exactly the public API, and every name imports."""

from __future__ import annotations

import re
from pathlib import Path

import canids_testkit
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _readme_names() -> set[str]:
    section = README.read_text().split("## API", 1)[1]
    names: set[str] = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            names.update(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", row.split("|")[1]))
    return names


def test_readme_lists_exactly_the_public_api() -> None:
    assert _readme_names() == set(canids_testkit.__all__)


def test_every_exported_name_imports() -> None:
    for name in canids_testkit.__all__:
        assert getattr(canids_testkit, name) is not None, name


def test_unknown_names_fail() -> None:
    with pytest.raises(AttributeError, match="NoSuchThing"):
        canids_testkit.NoSuchThing  # noqa: B018


def test_it_is_never_uploaded() -> None:
    from importlib.metadata import metadata

    assert "Private :: Do Not Upload" in metadata("canids-testkit").get_all("Classifier")


def test_no_public_name_is_also_a_submodule() -> None:
    import pkgutil

    modules = {m.name for m in pkgutil.iter_modules(canids_testkit.__path__)}
    assert modules & set(canids_testkit.__all__) == set()
