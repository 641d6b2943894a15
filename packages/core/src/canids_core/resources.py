"""What one stage run asks of a machine: the one resources type of every executor.

The catalogue gives each stage its defaults; the command line, a cluster profile and
per-stage overrides change them; the Ray executor reads CPUs and bytes, SLURM the text
forms. Fractional CPUs exist for Ray only: SLURM refuses them loudly, never rounds.
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
    gpus: int = Field(ge=0)
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

    def replaced(self, **changes: Any) -> Resources:
        """A copy with ``changes`` (``None`` values ignored), validated like the original."""
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        return Resources.model_validate(data)

    def describe(self) -> str:
        return (
            f"{self.cpus:g} CPU, {self.gpus} GPU, {self.slurm_memory} memory, "
            f"{self.slurm_time} walltime"
        )
