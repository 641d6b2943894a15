"""The restart command a failed ``canids-submit pipeline`` prints is the submission as
given: parsed again, it gives the same parameters (a restart without the ``--set`` items
once ran the later stages under another config than the artifacts they read)."""

from __future__ import annotations

import shlex
from pathlib import Path

import click
import pytest
from canids_cli._restart import restart_command
from canids_cli.submit_cmd import main, pipeline

RESOLVED = {"executor": "local", "run_name": "r1", "runs_dir": Path("/abs/runs")}


def _parse(args: list[str]) -> click.Context:
    # Under the group's context, as canids-submit parses it: click caches a command's help
    # option on its first parse, so a parse without the group's help names (-h) would
    # change `canids-submit pipeline --help` for every later test in the process.
    parent = click.Context(main, info_name="canids-submit", **main.context_settings)
    return pipeline.make_context("pipeline", list(args), parent=parent)


def _reparsed(args: list[str], **resolved: object) -> tuple[dict, dict, list[str]]:
    given = _parse(args)
    hint = restart_command(given, {**RESOLVED, "cache_dir": Path("/abs/cache"), **resolved})
    words = shlex.split(hint)
    assert words[:2] == ["canids-submit", "pipeline"]
    again = _parse(words[2:])
    return given.params, again.params, words


def test_every_option_given_comes_back_with_the_resolved_ones(tmp_path: Path) -> None:
    config = tmp_path / "best.json"
    config.write_text("{}")
    args = [
        "teacher", "student", "--dataset", "demo", "--set", "train.seed=3",
        "--set", "student:fusion.select=auto", "--set", "note.x=a b:c", "--config",
        str(config), "--workers", "2", "--no-source-check", "--cpus", "1.5", "--memory", "8G",
        "--stage-resources", "gat:walltime=02:00:00", "--no-wandb", "--quiet",
        "--from-stage", "fusion", "--dry-run",
    ]  # fmt: skip
    given, again, words = _reparsed(args)
    for name in ("names", "dataset", "overrides", "config_path", "workers", "no_source_check"):
        assert again[name] == given[name], name
    for name in ("cpus", "memory", "stage_resources", "no_wandb", "quiet"):
        assert again[name] == given[name], name
    # The executor chosen and the folders found, whatever the user's shell or defaults.
    assert again["executor"] == "local"
    assert again["run_name"] == "r1"
    assert again["runs_dir"] == Path("/abs/runs")
    assert again["cache_dir"] == Path("/abs/cache")
    # The restart adds its own --from-stage; a dry run restarts nothing.
    assert again["from_stage"] is None
    assert again["dry_run"] is False
    assert words[2:4] == ["teacher", "student"]


def test_defaults_stay_out_and_a_relative_path_becomes_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.json").write_text("{}")
    given, again, words = _reparsed(["teacher", "--dataset", "demo", "--config", "c.json"])
    # Nothing given comes back but the resolved executor, run and folders (always written:
    # the restart must not depend on the shell's CANIDS_* variables).
    resolved = {**RESOLVED, "cache_dir": Path("/abs/cache"), "config_path": tmp_path / "c.json"}
    assert again == {**given, **resolved}
    assert "--set" not in words
    assert "--wandb-mode" not in words  # a default is the restart's default too
    assert str(tmp_path / "c.json") in words
