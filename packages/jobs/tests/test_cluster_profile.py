"""Cluster profiles: frozen pydantic models, unknown keys refused, SLURM values checked by
canids-core's rules, every error in the one config error format (file: field: what)."""

from __future__ import annotations

from pathlib import Path

import pytest
from canids_core import CanidsError
from canids_jobs import ClusterProfile, ProfileError, load_profile
from canids_jobs.cluster_profile import GpuKind, Limits, Setup
from pydantic import ValidationError


def test_builtin_profiles() -> None:
    local = load_profile("local")
    assert (local.name, local.partition, local.source) == (
        "local",
        "debug",
        "built-in profile local",
    )
    assert local.limits == Limits(cpus=2, gpus=0, memory=4 << 30)
    assert local.setup == Setup(lines=("source {venv}/bin/activate",))
    osc = load_profile("osc")
    assert osc.qos is None  # "" in the file: none
    assert osc.gpu_kind(None) == GpuKind(partition="gpu-a100", gres="gpu:a100")
    assert osc.gpu_kind("h100").partition == "gpu-h100"
    with pytest.raises(ProfileError, match=r"has no GPU kind 'tpu'; known: v100, a100, h100"):
        osc.gpu_kind("tpu")


def test_a_file_profile_takes_its_name_from_the_file(tmp_path: Path) -> None:
    path = tmp_path / "my_site.toml"
    path.write_text('partition = "cpu"\n[limits]\nmemory = "192G"\n')
    profile = load_profile(path)
    assert (profile.name, profile.source, profile.limits.memory) == (
        "my_site",
        str(path),
        192 << 30,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('queue = "gpu"\n', "queue: unknown key; known: account, default_gpu, gpus, limits"),
        ("[limits]\nram = 1\n", "limits.ram: unknown key; known: cpus, gpus, memory"),
        ('partition = "gpu; rm -rf ~"\n', "partition: partition 'gpu; rm -rf ~' is not a SLURM"),
        ("[limits]\ncpus = -1\n", r"limits.cpus: must be >= 0 \(got -1\)"),
        ('[limits]\nmemory = "lots"\n', "limits.memory: memory 'lots' is not a SLURM memory size"),
        ('[gpus.a100]\ngres = "gpu:a100"\n', r"gpus.a100.partition: missing \(required\)"),
        ('[gpus.a100]\npartition = "g"\ngres = "tpu"\n', "gpus.a100.gres: gres must be gpu or"),
        ('default_gpu = "h100"\n', "default_gpu: not a GPU kind under \\[gpus\\]"),
        ('[setup]\nlines = ["a\\nb"]\n', r"setup.lines\[0\]: a setup line must be one line"),
        ('name = "a b"\n', "name: profile name 'a b' is not allowed"),
        ("partition = 3\n", r"partition: input should be a valid string \(got 3\)"),
        ("[limits\n", "not valid TOML"),
    ],
)
def test_bad_profiles_name_the_file_and_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(ProfileError, match=message) as err:
        load_profile(path)
    assert str(err.value).startswith(f"{path}: ")
    assert isinstance(err.value, CanidsError)


def test_a_missing_file_says_what_to_give() -> None:
    with pytest.raises(ProfileError, match="give a file or one of local, osc"):
        load_profile("/no/such/profile.toml")


def test_profiles_are_frozen() -> None:
    with pytest.raises(ValidationError, match="frozen"):
        load_profile("local").partition = "other"  # type: ignore[misc]
    assert ClusterProfile().name == "site"
