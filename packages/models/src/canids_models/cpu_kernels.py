"""Which CPU kernels a stage runs (``train.cpu_capability``), and the machine record every
stage writes beside its config.

Why pin them: the same code, ``uv.lock``, captures, config and seed trained different
detectors on an Intel Xeon and on an AMD EPYC (docs/results.md). torch's CPU dispatch
picks its vectorised kernels by the processor's instruction set, and they round
differently: with one seed, ``torch.randn`` (so every initial weight), softmax and ELU
give other bits under AVX2 than without vectorisation; MKL picks its GEMM code path by
processor as well. Both libraries read their choice from the environment once, when they
load, so a pinned stage must *start* with these variables set; ``canids-train`` restarts
itself with them (the process keeps its pid), and :func:`check_kernels` refuses a stage
whose process runs other kernels than its config names.

Across CPU vendors only ``default`` makes them agree: MKL's AVX2 and AVX-512
reproducible branches hold on Intel CPUs only (elsewhere MKL takes its AUTO branch, as
Intel documents), which an emulated Intel and an emulated AMD CPU show
(``benchmarks/kernel_fingerprint.py``, docs/results.md).

Asking for kernels the CPU lacks is refused here: torch would accept
``ATEN_CPU_CAPABILITY=avx512`` on a CPU without AVX-512 and die of an illegal instruction
at the first vectorised op.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .errors import ModelsError

__all__ = [
    "CPU_CAPABILITIES",
    "KERNEL_VARIABLES",
    "check_kernels",
    "cpu_flags",
    "cpu_model",
    "kernel_environment",
    "kernels_pinned",
    "machine_record",
]

CPU_CAPABILITIES = ("default", "avx2", "avx512")
# ATen's dispatch level, MKL's conditional numerical reproducibility branch and oneDNN's
# highest instruction set; "default" is ATen's scalar code and MKL's most compatible path.
_ENVIRONMENTS: dict[str, dict[str, str]] = {
    "default": {
        "ATEN_CPU_CAPABILITY": "default",
        "MKL_CBWR": "COMPATIBLE",
        "ONEDNN_MAX_CPU_ISA": "SSE41",
    },
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
    "avx512": {
        "ATEN_CPU_CAPABILITY": "avx512",
        "MKL_CBWR": "AVX512",
        "ONEDNN_MAX_CPU_ISA": "AVX512_CORE",
    },
}
KERNEL_VARIABLES = tuple(_ENVIRONMENTS["default"])
# The flags ATen's AVX2 and AVX-512 kernels are compiled for (x86-64 only).
_REQUIRED_FLAGS = {
    "default": (),
    "avx2": ("avx2", "fma"),
    "avx512": ("avx512f", "avx512bw", "avx512vl", "avx512dq"),
}
_CPUINFO = Path("/proc/cpuinfo")


def _cpuinfo_field(name: str, cpuinfo: Path = _CPUINFO) -> str | None:
    """The first ``name`` line of /proc/cpuinfo (Linux), else None."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return None


def cpu_flags(cpuinfo: Path = _CPUINFO) -> frozenset[str] | None:
    """The CPU's feature flags from /proc/cpuinfo; None where the file has none (not Linux
    on x86)."""
    flags = _cpuinfo_field("flags", cpuinfo)
    return None if flags is None else frozenset(flags.split())


def kernel_environment(capability: str, cpuinfo: Path = _CPUINFO) -> dict[str, str]:
    """The variables that pin ``capability``'s kernels, after checking that this CPU runs
    them (ModelsError naming the missing flags and the setting that does run here)."""
    if capability not in _ENVIRONMENTS:
        raise ModelsError(
            f"train.cpu_capability={capability!r} is not one of "
            f"{', '.join(CPU_CAPABILITIES)} (or empty: whatever the CPU offers)"
        )
    needed = _REQUIRED_FLAGS[capability]
    if needed:
        flags = cpu_flags(cpuinfo)
        if flags is None:
            raise ModelsError(
                f"train.cpu_capability={capability} needs an x86-64 CPU whose flags "
                f"{cpuinfo} lists ({platform.machine()} here); use "
                "--set train.cpu_capability=default (scalar kernels) or leave it empty"
            )
        missing = [flag for flag in needed if flag not in flags]
        if missing:
            usable = [c for c in CPU_CAPABILITIES if set(_REQUIRED_FLAGS[c]) <= flags]
            raise ModelsError(
                f"train.cpu_capability={capability}: this CPU ({cpu_model(cpuinfo)}) lacks "
                f"{', '.join(missing)}, so its kernels would die of an illegal instruction; "
                f"it runs {', '.join(usable)}: --set train.cpu_capability={usable[-1]}"
            )
    return dict(_ENVIRONMENTS[capability])


def kernels_pinned(capability: str, environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``environ`` (default: this process's) already holds ``capability``'s
    variables; an empty ``capability`` pins nothing and is always satisfied."""
    if not capability:
        return True
    env = os.environ if environ is None else environ
    return all(env.get(k) == v for k, v in _ENVIRONMENTS[capability].items())


def check_kernels(capability: str) -> None:
    """Refuse to run a stage whose process runs other kernels than ``capability``: the
    variables were set after torch loaded, or not at all (a library caller, a Ray worker
    of a cluster started without them)."""
    if not capability:
        return
    import torch

    running = torch.backends.cpu.get_cpu_capability()
    if kernels_pinned(capability) and running == capability.upper():
        return
    wanted = " ".join(f"{k}={v}" for k, v in _ENVIRONMENTS[capability].items())
    raise ModelsError(
        f"train.cpu_capability={capability}, but this process runs torch's {running} "
        f"kernels; they are chosen when torch loads: start the process with {wanted} "
        "(canids-train restarts itself with them)"
    )


def cpu_model(cpuinfo: Path = _CPUINFO) -> str:
    """The CPU's model name (/proc/cpuinfo, else what ``platform`` knows)."""
    return _cpuinfo_field("model name", cpuinfo) or platform.processor() or platform.machine()


def machine_record() -> dict[str, Any]:
    """What made a stage's numbers besides its code and config: the CPU, the kernels torch
    and MKL ran, the thread count and the library versions."""
    import torch

    return {
        "cpu": cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "kernel_environment": {k: os.environ[k] for k in KERNEL_VARIABLES if k in os.environ},
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "mkl": torch.backends.mkl.is_available(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
