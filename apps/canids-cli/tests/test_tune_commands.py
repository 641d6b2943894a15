"""canids-tune's commands that need no Ray (the installed console script): the search
space copy, and the SLURM job it renders around itself, with every value checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def _tune(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANIDS_")}
    return subprocess.run(
        [str(BIN / "canids-tune"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_write_space_gives_an_editable_copy(tmp_path: Path) -> None:
    from canids_orchestrate.tune import DEFAULT_SPACE, load_space

    dest = tmp_path / "mine.toml"
    done = _tune("--dataset", "demo", "--write-space", dest)
    assert done.returncode == 0, done.stderr
    assert dest.read_text() == DEFAULT_SPACE.read_text()
    assert len(load_space(dest)) == 13
    again = _tune("--dataset", "demo", "--write-space", dest)
    assert again.returncode == 1
    assert "exists; choose another path or remove it" in again.stderr


def test_slurm_dry_run_normalises_every_time_form(tmp_path: Path) -> None:
    done = _tune(
        "--dataset", "demo", "--slurm", "--dry-run", "--walltime", "90", "--memory", "16000",
        "--num-cpus", "4", "--storage-path", tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "#SBATCH --time=01:30:00" in done.stdout
    assert "#SBATCH --mem=16000M" in done.stdout
    assert "#SBATCH --cpus-per-task=4" in done.stdout
    assert f"--storage-path {tmp_path.resolve()}" in done.stdout
    assert not list(tmp_path.iterdir())  # a dry run writes nothing


def test_slurm_values_are_refused_with_the_rule(tmp_path: Path) -> None:
    for args, message in (
        (("--memory", "lots"), "not a SLURM memory size"),
        (("--walltime", "UNLIMITED"), "means no limit"),
        (("--partition", "gpu;id"), "partition 'gpu;id' is not a SLURM value"),
        (("--nodes", "0"), "--nodes must be >= 1"),
    ):
        done = _tune("--dataset", "demo", "--slurm", "--dry-run", "--storage-path", tmp_path, *args)
        assert done.returncode == 1, args
        assert done.stderr.startswith("error: ")
        assert message in done.stderr, done.stderr
        assert "Traceback" not in done.stderr


def test_a_missing_cache_stops_the_search_before_ray(tmp_path: Path) -> None:
    done = _tune("--dataset", "demo", "--cache-dir", tmp_path / "cache")
    assert done.returncode == 1
    assert "graph cache of demo is missing; fix: canids-cache build" in done.stderr
    assert "Traceback" not in done.stderr
    assert "ray" not in done.stdout.lower()
