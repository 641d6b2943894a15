"""The errors of canids-orchestrate: one base, a :class:`canids_core.CanidsError`, each
subclassing the builtin a caller would expect. Every message says what failed, where, and
the command that fixes it or restarts the run."""

from __future__ import annotations

from typing import Any

from canids_core import CanidsError

__all__ = [
    "OrchestrateError",
    "PipelineError",
    "RayJobSpecError",
    "ResourceOverrideError",
    "StageFailedError",
    "TrialOutOfMemoryError",
    "TuneConfigError",
]


class OrchestrateError(CanidsError):
    """Base of every canids-orchestrate error."""


class PipelineError(OrchestrateError, RuntimeError):
    """A stage failed; ``stage`` names it and ``record`` is the run record as written."""

    def __init__(self, message: str, stage: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.stage = stage
        self.record = record


class StageFailedError(OrchestrateError, RuntimeError):
    """The stage ran and failed (not a system failure): Ray never retries it. ``outcome``
    is its :class:`canids_core.StageResult` as JSON (an exception crosses processes)."""

    def __init__(self, stage_id: str, rc: int | None, why: str, outcome: dict[str, Any]) -> None:
        super().__init__(stage_id, rc, why, outcome)  # every argument: Ray pickles it
        self.stage_id, self.rc, self.why, self.outcome = stage_id, rc, why, outcome

    def __str__(self) -> str:
        return f"stage {self.stage_id} failed (exit {self.rc}): {self.why}"


class TrialOutOfMemoryError(OrchestrateError, RuntimeError):
    """A trial ran out of GPU or host memory: it fails at once and the search goes on."""


class TuneConfigError(OrchestrateError, ValueError):
    """A tune option or search space file is invalid (refused before any trial starts)."""


class ResourceOverrideError(OrchestrateError, ValueError):
    """A per-stage resource override (``--cpus``, ``--gpus``, ``--memory``) is invalid."""


class RayJobSpecError(OrchestrateError, ValueError):
    """A value of the Ray cluster's SLURM job (``ray-cluster.sbatch``) is refused."""
