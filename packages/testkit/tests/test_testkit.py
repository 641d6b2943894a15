"""ci_is_set, the W&B record reader, the local cluster's script lookup and the synthetic
SLURM outputs (what the jobs tests build on)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from canids_testkit import (
    DATASETS,
    LocalSlurmError,
    ci_is_set,
    find_script,
    wandb_records,
    write_synthetic_outputs,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        ("", False),
        ("0", False),
        ("false", False),
        ("FALSE", False),
        (" False ", False),
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("github-actions", True),
    ],
)
def test_ci_is_set(value: str | None, expected: bool) -> None:
    env = {} if value is None else {"CI": value}
    assert ci_is_set(env) is expected


def test_ci_is_set_reads_the_environment() -> None:
    code = "from canids_testkit import ci_is_set; print(ci_is_set())"
    for value, shown in (("1", "True"), ("0", "False")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"CI": value, "PATH": "/usr/bin:/bin"},
        )
        assert out.stdout.strip() == shown


def _chunk(kind: int, body: bytes) -> bytes:
    return b"\0\0\0\0" + len(body).to_bytes(2, "little") + bytes([kind]) + body


def test_wandb_records_joins_split_chunks() -> None:
    data = b":W&B\0\0\0" + _chunk(1, b"one") + _chunk(2, b"tw") + _chunk(3, b"o-") + _chunk(4, b"x")
    assert wandb_records(data) == [b"one", b"two-x"]


def test_wandb_records_skips_block_padding() -> None:
    block = 32 * 1024
    first = _chunk(1, b"a" * (block - 7 - 7 - 3))  # leaves 3 bytes: block trailer padding
    data = b":W&B\0\0\0" + first + b"\0\0\0" + _chunk(1, b"next")
    assert wandb_records(data) == [b"a" * (block - 17), b"next"]


def test_wandb_records_refuses_other_files() -> None:
    with pytest.raises(ValueError, match="not a W&B run file"):
        wandb_records(b"PK\x03\x04 a zip file")


def test_find_script_from_the_checkout_and_elsewhere(tmp_path: Path) -> None:
    found = find_script()
    assert found.name == "local-cluster.sh"
    assert found.parent.parent.name == "slurm"
    with pytest.raises(LocalSlurmError, match=r"slurm/dev/local-cluster\.sh not found above"):
        find_script(tmp_path)


def test_synthetic_outputs_tell_the_seed_story(tmp_path: Path) -> None:
    jobs = write_synthetic_outputs(tmp_path, seed=3)
    assert len(jobs) == 38
    assert {j.dataset for j in jobs} == set(DATASETS)
    outcomes = [j.outcome for j in jobs]
    assert outcomes.count("completed") == 28
    assert outcomes.count("never_ran") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        name for j in jobs for name in (j.out.name, j.err.name)
    )
    never = next(j for j in jobs if j.outcome == "never_ran")
    assert never.out.read_text() == never.err.read_text() == ""
    # Same seed, same files, byte for byte.
    again = write_synthetic_outputs(tmp_path / "again", seed=3)
    assert [j.out.read_bytes() for j in again] == [j.out.read_bytes() for j in jobs]
