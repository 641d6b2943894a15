"""``canids-train --set train.cpu_capability=…`` through the real program: the stage
restarts itself with torch's and MKL's kernels pinned, records them, trains the same
model twice and another one than the CPU's own kernels; a library call, or kernels the CPU
lacks, is refused before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from canids_cli.train_cmd import main
from canids_data import BuildConfig, CacheManager
from canids_models import parse_result
from canids_models.cpu_kernels import cpu_flags, kernel_environment
from canids_testkit import set_args, tiny_overrides
from click.testing import CliRunner

PROGRAM = Path(sys.executable).parent / "canids-train"
PIN = ("--set", "train.cpu_capability=default")


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    cache = tmp_path_factory.mktemp("kernels_cache") / "cache"
    CacheManager(cache).build("demo", demo_captures, BuildConfig(), workers=1)
    return cache


def vgae(cache: Path, runs: Path, *extra: str) -> tuple[subprocess.CompletedProcess, dict]:
    args = ["vgae", "--dataset", "demo", "--size", "teacher", "--cache-dir", str(cache)]
    args += [*set_args(tiny_overrides("teacher")), "--runs-dir", str(runs), "--no-wandb"]
    done = subprocess.run(
        [str(PROGRAM), *args, *extra], capture_output=True, text=True, timeout=600
    )
    return done, parse_result(done.stdout.rstrip("\n").splitlines()[-1])


def without_timings(value: object) -> object:
    """``value`` with every ``seconds`` entry removed (wall time is not a result)."""
    if isinstance(value, dict):
        return {k: without_timings(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [without_timings(v) for v in value]
    return value


def written(runs: Path, name: str) -> dict:
    return json.loads((runs / "default" / "demo" / "teacher" / "vgae" / name).read_text())


def test_pinned_kernels_restart_the_stage_train_alike_and_are_recorded(tmp_path, demo_cache):
    own = torch.backends.cpu.get_cpu_capability()
    if own == "DEFAULT":
        pytest.skip("this CPU runs scalar kernels anyway: pinning them changes nothing")
    runs = {name: tmp_path / name for name in ("pinned", "again", "own")}
    results = {
        "pinned": vgae(demo_cache, runs["pinned"], *PIN),
        "again": vgae(demo_cache, runs["again"], *PIN),
        "own": vgae(demo_cache, runs["own"]),
    }
    for name, (done, record) in results.items():
        assert done.returncode == 0, (name, done.stdout[-2000:], done.stderr[-2000:])
        assert record["status"] == "completed"
    restart = "cpu kernels: restarting with ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE"
    assert restart in results["pinned"][0].stdout
    assert "restarting" not in results["own"][0].stdout

    machine = written(runs["pinned"], "config.json")["machine"]
    assert machine["cpu_capability"] == "DEFAULT"
    assert machine["kernel_environment"] == kernel_environment("default")
    own_machine = written(runs["own"], "config.json")["machine"]
    assert (own_machine["cpu_capability"], own_machine["kernel_environment"]) == (own, {})

    pinned, again, unpinned = (without_timings(written(runs[n], "metrics.json")) for n in runs)
    assert pinned == again  # the same kernels, config and seed: the same model
    assert pinned["best_val_loss"] != unpinned["best_val_loss"]  # type: ignore[index]  # other kernels, other bits
    digests = {n: written(runs[n], "DONE.json")["config_digest"] for n in runs}
    assert digests["pinned"] == digests["again"] != digests["own"]


def test_a_library_call_cannot_pin_kernels_and_writes_nothing(tmp_path, demo_cache):
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this process already runs scalar kernels")
    runs = tmp_path / "runs"
    args = ["vgae", "--dataset", "demo", "--size", "teacher", "--cache-dir", str(demo_cache)]
    args += [*set_args(tiny_overrides("teacher")), "--runs-dir", str(runs), *PIN]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    record = parse_result(result.stdout.rstrip("\n").splitlines()[-1])
    assert result.exit_code == 1
    assert record["status"] == "failed"
    assert record["error_type"] == "ModelsError"
    assert "ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE" in record["error"]
    assert "through the canids-train program" in record["error"]
    assert not runs.exists()


def test_kernels_this_cpu_lacks_are_refused_before_anything_runs(tmp_path, demo_cache):
    flags = cpu_flags()
    if flags is None or "avx512f" in flags:
        pytest.skip("needs an x86-64 CPU without AVX-512")
    runs = tmp_path / "runs"
    done, record = vgae(demo_cache, runs, "--set", "train.cpu_capability=avx512")
    assert done.returncode == 1, done.stderr[-2000:]
    assert record["status"] == "failed"
    assert record["error_type"] == "ModelsError"
    assert "lacks avx512f" in record["error"]
    assert "illegal instruction" in record["error"]
    assert "restarting" not in done.stdout
    assert not runs.exists()
