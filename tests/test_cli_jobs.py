"""canids-jobs parse on a folder of outputs, canids-submit --executor slurm --dry-run, and
the checks that stop a bad submission before sbatch (no SLURM needed for these)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canids_cli.jobs_cmd import main as jobs_main
from canids_cli.submit_cmd import main as submit_main
from canids_data import CacheManager
from canids_jobs import ProfileError, load_profile
from canids_jobs.cluster_profile import Limits
from canids_testkit import write_synthetic_outputs
from click.testing import CliRunner


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    root = tmp_path_factory.mktemp("jobs_cli") / "cache"
    CacheManager(root).build("demo", demo_captures)
    return root


def test_parse_a_folder_gives_the_seed_case_figures(tmp_path: Path) -> None:
    write_synthetic_outputs(tmp_path, seed=0)
    result = CliRunner().invoke(jobs_main, ["parse", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    total = json.loads(result.output)["total"]
    assert (total["submitted"], total["completed"], total["completed_percent"]) == (38, 28, 73.7)
    table = CliRunner().invoke(jobs_main, ["parse", str(tmp_path)])
    assert "73.7 %" in table.output
    assert "38.5 %" in table.output  # fusion: 5 of 13


def _dry(cache_dir: Path, tmp_path: Path, *extra: str) -> tuple[int, str]:
    args = ["pipeline", "teacher", "--dataset", "demo", "--executor", "slurm", "--dry-run"]
    args += ["--cache-dir", str(cache_dir), "--runs-dir", str(tmp_path / "runs"), *extra]
    result = CliRunner().invoke(submit_main, args)
    return result.exit_code, result.output


def test_dry_run_prints_every_script_and_the_graph(cache_dir: Path, tmp_path: Path) -> None:
    code, out = _dry(
        cache_dir,
        tmp_path,
        "--profile",
        "osc",
        "--gpu-type",
        "h100",
        "--walltime",
        "03:00:00",
        "--stage-resources",
        "gat_curriculum:walltime=16:00:00,mem=192G",
    )
    assert code == 0, out
    assert out.count("#!/usr/bin/env bash") == 4
    assert out.count("set -euo pipefail") == 4
    assert "#SBATCH --job-name=canids-demo-teacher-gat_curriculum" in out
    assert "#SBATCH --partition=gpu-h100" in out
    assert "#SBATCH --gres=gpu:h100:1" in out
    assert "#SBATCH --account=PAS0000" in out
    # Per-job walltime: the global one, and the stage's own override, never divided.
    assert out.count("#SBATCH --time=03:00:00") == 3
    assert "#SBATCH --time=16:00:00" in out
    assert "#SBATCH --mem=192G" in out
    assert (
        "teacher/teacher/fusion after teacher/teacher/gat_curriculum, teacher/teacher/vgae" in out
    )
    assert "nothing submitted" in out
    assert not (tmp_path / "runs" / "jobs").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--stage-resources", "gat_curriculum:mem=lots"], "not a SLURM memory size"),
        (["--stage-resources", "nosuch:mem=1G"], "with a stage of"),
        (["--stage-resources", "gat_curriculum:gpus=two"], "whole number"),
        (["--walltime", "2h"], "not a SLURM time"),
        (["--profile", "osc", "--gpu-type", "tpu"], "no GPU kind 'tpu'"),
        (["--profile", "/no/such/profile.toml"], "cluster profile /no/such/profile.toml"),
        # SLURM allocates whole CPUs: 0.5 was once submitted as --cpus-per-task=0.
        (["--cpus", "0.5"], "SLURM allocates whole CPUs; 0.5 CPUs cannot be submitted"),
        (["--gpus", "0.5"], "SLURM allocates whole GPUs"),
        (["--stage-resources", "gat_curriculum:cpus=1.5"], "pass --cpus 2"),
        (["--walltime", "UNLIMITED"], "means no limit"),
    ],
)
def test_bad_submissions_fail_before_sbatch(
    cache_dir: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    code, out = _dry(cache_dir, tmp_path, *extra)
    assert code == 1
    assert message in out


def test_a_bad_run_name_is_a_usage_error_before_sbatch(cache_dir: Path, tmp_path: Path) -> None:
    code, out = _dry(cache_dir, tmp_path, "--run", "a;b")
    assert code == 2
    assert "run name 'a;b' is not allowed" in out
    assert not (tmp_path / "runs" / "jobs").exists()


def test_list_pipelines() -> None:
    result = CliRunner().invoke(submit_main, ["pipeline", "--list-pipelines"])
    assert result.exit_code == 0
    assert "teacher" in result.output
    assert "vgae -> gat_curriculum -> fusion -> evaluate" in result.output


def test_every_slurm_time_form_reaches_the_script(cache_dir: Path, tmp_path: Path) -> None:
    # canids-core's one parser: sbatch's own forms (90 minutes, 1 day 12 hours).
    code, out = _dry(cache_dir, tmp_path, "--walltime", "90")
    assert code == 0, out
    assert out.count("#SBATCH --time=01:30:00") == 4
    code, out = _dry(cache_dir, tmp_path, "--walltime", "1-12", "--cpus", "2")
    assert code == 0, out
    assert out.count("#SBATCH --time=1-12:00:00") == 4
    assert out.count("#SBATCH --cpus-per-task=2") == 4


def test_profiles_are_validated(tmp_path: Path) -> None:
    assert load_profile("local").limits == Limits(cpus=2, memory=4 << 30, gpus=0)
    assert load_profile("osc").gpu_kind(None).partition == "gpu-a100"
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\npartition = "gpu; rm -rf ~"\n')
    with pytest.raises(ProfileError, match=r"bad\.toml: partition: .*letters, digits"):
        load_profile(bad)
    bad.write_text('name = "x"\nqueue = "gpu"\n')
    with pytest.raises(ProfileError, match=r"bad\.toml: queue: unknown key; known: account"):
        load_profile(bad)
