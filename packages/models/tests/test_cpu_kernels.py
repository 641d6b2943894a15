"""``train.cpu_capability``: the variables that pin torch's and MKL's CPU kernels, the
refusal of kernels the CPU lacks, the check that a process runs what its config names,
the digest, and the machine record every stage writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from canids_models import ConfigError, ModelsError, load_config
from canids_models.cpu_kernels import (
    KERNEL_VARIABLES,
    check_kernels,
    cpu_flags,
    kernel_environment,
    kernels_pinned,
    machine_record,
)

AVX2_ONLY = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx fma avx2 bmi2"
AVX512 = AVX2_ONLY + " avx512f avx512dq avx512bw avx512vl"


def cpuinfo(tmp_path: Path, flags: str | None, model: str = "Test CPU 9000") -> Path:
    path = tmp_path / "cpuinfo"
    lines = ["processor\t: 0", f"model name\t: {model}"]
    if flags is not None:
        lines.append(f"flags\t\t: {flags}")
    path.write_text("\n".join(lines) + "\n\n")
    return path


def test_each_capability_pins_torch_mkl_and_onednn(tmp_path):
    info = cpuinfo(tmp_path, AVX512)
    assert kernel_environment("avx2", info) == {
        "ATEN_CPU_CAPABILITY": "avx2",
        "MKL_CBWR": "AVX2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
    }
    assert kernel_environment("avx512", info)["MKL_CBWR"] == "AVX512"
    assert kernel_environment("default", info) == {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_CBWR": "COMPATIBLE",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
    }
    assert set(KERNEL_VARIABLES) == set(kernel_environment("default", info))


def test_kernels_the_cpu_lacks_are_refused_with_what_it_runs(tmp_path):
    info = cpuinfo(tmp_path, AVX2_ONLY, model="AMD EPYC")
    with pytest.raises(ModelsError) as err:
        kernel_environment("avx512", info)
    text = str(err.value)
    assert "AMD EPYC" in text
    assert "avx512f, avx512bw, avx512vl, avx512dq" in text
    assert "illegal instruction" in text
    assert "--set train.cpu_capability=avx2" in text
    old = cpuinfo(tmp_path, "fpu sse sse2 avx", model="Old CPU")
    with pytest.raises(ModelsError, match=r"lacks avx2, fma.*cpu_capability=default"):
        kernel_environment("avx2", old)


def test_without_cpu_flags_only_scalar_kernels_can_be_pinned(tmp_path):
    info = cpuinfo(tmp_path, None)
    assert cpu_flags(info) is None
    assert kernel_environment("default", info)["ATEN_CPU_CAPABILITY"] == "default"
    with pytest.raises(ModelsError, match="needs an x86-64 CPU"):
        kernel_environment("avx2", info)
    with pytest.raises(ModelsError, match="not one of default, avx2, avx512"):
        kernel_environment("sse3", info)


def test_pinned_means_every_variable_as_the_capability_names_it(tmp_path):
    env = kernel_environment("default", cpuinfo(tmp_path, AVX2_ONLY))
    assert kernels_pinned("", {})
    assert kernels_pinned("default", env)
    assert not kernels_pinned("default", {**env, "MKL_CBWR": "AUTO"})
    assert not kernels_pinned("avx2", env)


def test_a_process_not_started_with_the_kernels_is_refused():
    check_kernels("")  # nothing pinned: whatever the CPU offers
    if torch.backends.cpu.get_cpu_capability() == "DEFAULT":
        pytest.skip("this process already runs scalar kernels")
    with pytest.raises(ModelsError) as err:
        check_kernels("default")
    assert "ATEN_CPU_CAPABILITY=default MKL_CBWR=COMPATIBLE" in str(err.value)
    assert torch.backends.cpu.get_cpu_capability() in str(err.value)


def test_a_process_started_with_them_runs_them_and_records_them():
    env = {**os.environ, **kernel_environment("default")}
    code = (
        "import json; from canids_models.cpu_kernels import check_kernels, machine_record; "
        "check_kernels('default'); print(json.dumps(machine_record()))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    record = json.loads(out.stdout.strip().splitlines()[-1])
    assert record["cpu_capability"] == "DEFAULT"
    assert record["kernel_environment"] == kernel_environment("default")


def test_the_machine_record_names_what_ran_here():
    record = machine_record()
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert record["torch"] == torch.__version__
    assert record["threads"] == torch.get_num_threads() >= 1
    assert record["cpu"]
    assert record["python"] == sys.version.split()[0]
    pinned = {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ}
    assert record["kernel_environment"] == pinned


def test_the_capability_counts_in_the_digest_only_when_set():
    default = load_config("teacher")
    assert load_config("teacher", overrides=["train.cpu_capability="]).digest == default.digest
    pinned = load_config("teacher", overrides=["train.cpu_capability=avx2"])
    assert pinned.train.cpu_capability == "avx2"
    assert pinned.digest != default.digest
    with pytest.raises(ConfigError, match="cpu_capability"):
        load_config("teacher", overrides=["train.cpu_capability=avx3"])
