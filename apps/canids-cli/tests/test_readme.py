"""The README lists exactly the installed commands and subcommands (the interface of
canids-cli), and the package says what it is."""

from __future__ import annotations

import importlib
import re
import tomllib
from importlib.metadata import version
from pathlib import Path

import canids_cli
import click

ROOT = Path(__file__).resolve().parents[1]


def _scripts() -> dict[str, str]:
    return dict(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])


def _tree() -> set[str]:
    found: set[str] = set()

    def walk(name: str, command: click.Command) -> None:
        found.add(name)
        if isinstance(command, click.Group):
            for sub, child in command.commands.items():
                walk(f"{name} {sub}", child)

    for name, target in _scripts().items():
        module, func = target.split(":")
        walk(name, getattr(importlib.import_module(module), func))
    return found


def _readme_commands() -> set[str]:
    """The command each ``- `canids-…` `` bullet of the Commands section names (its words
    up to the first option or argument)."""
    section = (ROOT / "README.md").read_text().split("## Commands", 1)[1]
    listed = set()
    for first in re.findall(r"^- `(canids-[^`]*)`", section, flags=re.MULTILINE):
        words = []
        for word in first.split():
            if not re.fullmatch(r"[a-z][a-z_-]*", word):
                break
            words.append(word)
        listed.add(" ".join(words))
    return listed


def test_readme_lists_exactly_the_commands():
    assert _readme_commands() == _tree()


def test_every_console_script_is_a_click_command_of_this_package():
    for name, target in _scripts().items():
        assert name.startswith("canids-")
        assert target.startswith("canids_cli."), target
        assert target.endswith(":main"), target


def test_version_and_public_names():
    assert canids_cli.__version__ == version("canids-cli")
    assert canids_cli.__all__ == ["__version__"]
    assert (Path(canids_cli.__file__).parent / "py.typed").is_file()


def test_description_names_every_command():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for name in _scripts():
        assert name in project["description"], name
    assert "later" not in project["description"].lower()
