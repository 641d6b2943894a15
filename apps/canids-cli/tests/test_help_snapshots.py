"""``--help`` of every command and subcommand, compared exactly with the text files in
``snapshots/``, so the documented interface cannot change unseen.

The commands are found by walking each console script's click tree, so a new subcommand
without a snapshot fails too. After an intended change, regenerate and review the diff:

    CANIDS_UPDATE_SNAPSHOTS=1 uv run --package canids-cli --exact \
        pytest apps/canids-cli/tests/test_help_snapshots.py
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
UPDATE = os.environ.get("CANIDS_UPDATE_SNAPSHOTS", "").strip().lower() not in ("", "0", "false")
REGENERATE = (
    "CANIDS_UPDATE_SNAPSHOTS=1 uv run --package canids-cli --exact pytest "
    "apps/canids-cli/tests/test_help_snapshots.py"
)
# The help as a user sees it on any terminal of 80 columns or more: click caps its help at
# 80 columns and keeps 2 free. Given explicitly, so snapshots do not depend on where they
# are made (CliRunner alone would format at 80).
WIDTH = 78
# The commands this file must cover (the brief's list); the walk must find each of them.
EXPECTED = {
    "canids-cache",
    "canids-cache build",
    "canids-cache verify",
    "canids-cache status",
    "canids-profile",
    "canids-train",
    "canids-submit",
    "canids-submit pipeline",
    "canids-tune",
    "canids-jobs",
    "canids-jobs report",
    "canids-report",
}


def console_scripts() -> dict[str, str]:
    """``[project.scripts]`` of canids-cli: command name → ``module:function``."""
    pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
    return dict(tomllib.loads(pyproject.read_text())["project"]["scripts"])


def _entry(target: str) -> click.Command:
    module, func = target.split(":")
    command = getattr(importlib.import_module(module), func)
    assert isinstance(command, click.Command), target
    return command


def _walk(name: str, command: click.Command) -> list[tuple[str, click.Command]]:
    found = [(name, command)]
    if isinstance(command, click.Group):
        for sub in sorted(command.commands):
            found += _walk(f"{name} {sub}", command.commands[sub])
    return found


def _commands() -> list[tuple[str, click.Command]]:
    return [
        pair for name, target in console_scripts().items() for pair in _walk(name, _entry(target))
    ]


COMMANDS = _commands()
IDS = [name for name, _ in COMMANDS]


def _snapshot(name: str) -> Path:
    return SNAPSHOTS / (name.replace(" ", "__") + ".txt")


def test_every_expected_command_is_walked():
    assert set(IDS) >= EXPECTED
    jobs = [n for n in IDS if n.startswith("canids-jobs ")]
    assert len(jobs) >= 6, jobs  # list, status, parse, analyze, remediate, resubmit, …


@pytest.mark.parametrize(("name", "command"), COMMANDS, ids=IDS)
def test_help_matches_its_snapshot(name, command):
    script, *path = name.split(" ")
    top = _entry(console_scripts()[script])
    result = CliRunner().invoke(top, [*path, "--help"], prog_name=script, terminal_width=WIDTH)
    assert result.exit_code == 0, result.output
    text = result.output
    assert text.startswith(f"Usage: {name} "), text.splitlines()[0]
    snapshot = _snapshot(name)
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(text)
    if not snapshot.is_file():
        pytest.fail(f"no snapshot {snapshot.name} for `{name} --help`: run {REGENERATE}")
    expected = snapshot.read_text()
    assert text == expected, (
        f"`{name} --help` differs from {snapshot}; if the change is intended, run "
        f"{REGENERATE} and review the diff"
    )


def test_no_stale_snapshots():
    """A snapshot of a command that no longer exists is a doc that lies."""
    known = {_snapshot(name).name for name in IDS}
    stale = sorted(p.name for p in SNAPSHOTS.glob("*.txt") if p.name not in known)
    if UPDATE:
        for name in stale:
            (SNAPSHOTS / name).unlink()
        stale = []
    assert stale == [], f"snapshots of commands that no longer exist: {stale}; run {REGENERATE}"


@pytest.mark.parametrize("name", ["canids-cache", "canids-profile"])
def test_help_of_the_real_command_is_the_snapshot_and_costs_no_heavy_import(cli, name):
    """The installed console script prints exactly the snapshot, without importing torch,
    numpy, zarr or pydantic: ``--help`` answers at once."""
    done = cli(name, "--help", env={"COLUMNS": "200"})
    assert done.returncode == 0, done.stderr
    assert done.stdout == _snapshot(name).read_text()
    target = console_scripts()[name]
    module = target.split(":")[0]
    code = (
        f"import sys; from {module} import main; "
        "main(['--help'], standalone_mode=False); "
        "print('HEAVY', sorted(m for m in ('torch', 'numpy', 'zarr', 'pydantic', "
        "'torch_geometric', 'canids_batching', 'canids_models') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "HEAVY []"
