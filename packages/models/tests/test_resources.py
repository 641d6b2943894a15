"""SLURM resource strings: parsed, formatted back, and typos refused with the right form.

The grammar is canids-core's; these compatibility names keep raising ConfigError."""

from __future__ import annotations

import pytest
from canids_models import (
    STAGES,
    ConfigError,
    format_memory,
    format_walltime,
    parse_memory,
    parse_walltime,
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("512M", 512 << 20),
        ("16G", 16 << 30),
        ("16g", 16 << 30),
        ("1T", 1 << 40),
        ("1.5G", 3 << 29),
        ("16", 16 << 20),  # no unit: megabytes, as sbatch --mem reads it
    ],
)
def test_memory_parses(text: str, value: int) -> None:
    assert parse_memory(text) == value


@pytest.mark.parametrize("text", ["G", "16 GB extra", "-1G", "16X", "", "0"])
def test_bad_memory_names_the_form(text: str) -> None:
    with pytest.raises(ConfigError, match=r"e\.g\. 512M, 16G"):
        parse_memory(text)


def test_memory_formats_back() -> None:
    assert format_memory(32 << 30) == "32G"
    assert format_memory(2 << 40) == "2T"
    assert format_memory(3 << 29) == "1536M"
    assert format_memory(1000) == "1M"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("02:00:00", 7200),
        ("1-00:00:00", 86400),
        ("16:00:00", 57600),
        ("10:30", 630),
        # Forms the old parser refused although sbatch --time accepts them.
        ("60", 3600),
        ("1-12", 36 * 3600),
        ("1-10:00", 34 * 3600),
    ],
)
def test_walltime_parses(text: str, seconds: int) -> None:
    assert parse_walltime(text) == seconds


@pytest.mark.parametrize("text", ["2h", "1:2:3:4", "abc", "UNLIMITED", ""])
def test_bad_walltime_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=r"SLURM time|no limit"):
        parse_walltime(text)


def test_walltime_formats_back() -> None:
    assert format_walltime(7200 * 1.5) == "03:00:00"
    assert format_walltime(86400 + 3661) == "1-01:01:01"
    assert format_walltime(0.2) == "00:00:01"


def test_catalogue_resources_are_valid() -> None:
    for spec in STAGES.values():
        assert parse_memory(spec.resources.slurm_memory) == spec.resources.memory
        assert parse_walltime(spec.resources.slurm_time) == spec.resources.walltime


def test_stage_command_is_a_list_with_every_value_as_one_word(tmp_path) -> None:
    from canids_models import ArtifactStore, get_pipeline, plan_pipeline, stage_command

    store = ArtifactStore(tmp_path / "runs", "my-run")
    plan = plan_pipeline(store, get_pipeline("custom", ["vgae"]), "demo", size="student")
    cmd = stage_command(plan, "vgae", store, tmp_path / "cache", extra_args=["--set", "a=$(id)"])
    assert cmd[:6] == ["canids-train", "vgae", "--dataset", "demo", "--size", "student"]
    assert cmd[cmd.index("--run") + 1] == "my-run"
    assert cmd[-2:] == ["--set", "a=$(id)"]
