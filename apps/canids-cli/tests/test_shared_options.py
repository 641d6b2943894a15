"""The options every command shares (``_options``) hold the same rules everywhere: a bad
dataset or run name is a usage error (exit 2) naming the rule, before anything is read or
written, in every command that takes one."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from canids_cli import profile_cmd, report_cmd, submit_cmd, train_cmd, tune_cmd
from click.testing import CliRunner

# (command, the arguments before --dataset, does it take --run)
COMMANDS: dict[str, tuple[click.Command, list[str], bool]] = {
    "canids-train": (train_cmd.main, ["vgae", "--size", "teacher"], True),
    "canids-report": (report_cmd.main, ["--size", "teacher"], True),
    "canids-submit pipeline": (submit_cmd.main, ["pipeline", "teacher"], True),
    "canids-tune": (tune_cmd.main, [], False),
    "canids-profile": (profile_cmd.main, [], False),
}


def _invoke(name: str, tmp_path: Path, *extra: str) -> tuple[int, str]:
    command, before, _ = COMMANDS[name]
    args = [*before, *extra]
    args += ["--cache-dir", str(tmp_path / "cache")]
    if "--runs-dir" in {p.opts[0] for p in _params(command, before)}:
        args += ["--runs-dir", str(tmp_path / "runs")]
    result = CliRunner().invoke(command, args)
    return result.exit_code, result.output


def _params(command: click.Command, before: list[str]) -> list[click.Parameter]:
    if isinstance(command, click.Group):
        command = command.commands[before[0]]
    return [p for p in command.params if isinstance(p, click.Option)]


@pytest.mark.parametrize("name", sorted(COMMANDS))
@pytest.mark.parametrize("bad", ["../etc", "x; rm -rf ~", "a" * 65])
def test_a_bad_dataset_name_is_a_usage_error_that_writes_nothing(
    name: str, bad: str, tmp_path: Path
) -> None:
    code, out = _invoke(name, tmp_path, "--dataset", bad)
    assert code == 2, out
    assert "dataset name" in out
    assert "is not allowed" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", sorted(n for n, (_, _, has_run) in COMMANDS.items() if has_run))
def test_a_bad_run_name_is_a_usage_error_that_writes_nothing(name: str, tmp_path: Path) -> None:
    code, out = _invoke(name, tmp_path, "--dataset", "demo", "--run", "$(id)")
    assert code == 2, out
    assert "run name" in out
    assert "is not allowed" in out
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_shared_options_read_the_same_in_every_help(name: str) -> None:
    command, before, _ = COMMANDS[name]
    helps = {p.opts[0]: p.help for p in _params(command, before)}
    assert helps["--cache-dir"].endswith("(default: $CANIDS_CACHE_DIR, else ./cache).")
    if "--runs-dir" in helps:
        assert helps["--runs-dir"] == "Artifact root (default: $CANIDS_RUNS_DIR, else ./runs)."
    assert helps["--no-source-check"] == (
        "Trust the cache without comparing it to the raw captures (not on this node)."
    )


def test_the_feature_set_choices_are_the_data_packages():
    from canids_cli.cache_cmd import FEATURE_SET_NAMES
    from canids_data.feature_sets import FEATURE_SETS

    # Spelt out in the CLI so that --help stays free of numpy; held equal here.
    assert sorted(FEATURE_SET_NAMES) == sorted(FEATURE_SETS)
