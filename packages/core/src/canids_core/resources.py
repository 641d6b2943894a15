"""What one stage run asks of a machine: the one resources type of every executor.

The catalogue gives each stage its defaults; the command line, a cluster profile and
per-stage overrides change them; the Ray executor reads CPUs and bytes, SLURM the text
forms. Fractional CPUs and GPUs exist for Ray only: SLURM refuses them loudly, never
rounds (``--cpus 0.5`` once became ``--cpus-per-task=0``).
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .errors import CoreError
from .slurm_time import format_memory, format_slurm_time, parse_memory, parse_slurm_time

__all__ = ["Resources"]


class Resources(BaseModel):
    """CPUs, GPUs, memory (bytes) and walltime (seconds) of one stage run.

    ``memory`` and ``walltime`` also accept SLURM text (``16G``, ``02:00:00``, ``1-12``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpus: float = Field(gt=0)
    gpus: float = Field(ge=0)
    memory: int = Field(gt=0, description="bytes")
    walltime: int = Field(gt=0, description="seconds")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> Any:
        return parse_memory(value) if isinstance(value, str) else value

    @field_validator("walltime", mode="before")
    @classmethod
    def _walltime(cls, value: Any) -> Any:
        return parse_slurm_time(value) if isinstance(value, str) else value

    @property
    def slurm_memory(self) -> str:
        return format_memory(self.memory)

    @property
    def slurm_time(self) -> str:
        return format_slurm_time(self.walltime)

    @property
    def slurm_cpus(self) -> int:
        """Whole CPUs for ``--cpus-per-task``; a fraction is an error, never rounded."""
        if not float(self.cpus).is_integer():
            raise CoreError(
                f"SLURM allocates whole CPUs; {self.cpus:g} CPUs cannot be submitted: pass "
                f"--cpus {math.ceil(self.cpus)} (fractional CPUs work with --executor ray)"
            )
        return int(self.cpus)

    @property
    def slurm_gpus(self) -> int:
        """Whole GPUs for ``--gres=gpu:N``; a fraction is an error, never rounded."""
        if not float(self.gpus).is_integer():
            raise CoreError(
                f"SLURM allocates whole GPUs; {self.gpus:g} GPUs cannot be submitted: pass "
                f"--gpus {math.ceil(self.gpus)} (fractional GPUs work with --executor ray)"
            )
        return int(self.gpus)

    def slurm_fields(self) -> dict[str, int | str]:
        """The SLURM text forms (``cpus``, ``gpus``, ``memory``, ``walltime``) as a ledger or
        a job script holds them; raises on fractional CPUs or GPUs."""
        return {
            "cpus": self.slurm_cpus,
            "gpus": self.slurm_gpus,
            "memory": self.slurm_memory,
            "walltime": self.slurm_time,
        }

    def replaced(self, **changes: Any) -> Resources:
        """A copy with ``changes`` (``None`` values ignored), validated like the original."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return Resources.model_validate(data)

    def describe(self) -> str:
        return (
            f"{self.cpus:g} CPU, {self.gpus:g} GPU, {self.slurm_memory} memory, "
            f"{self.slurm_time} walltime"
        )
