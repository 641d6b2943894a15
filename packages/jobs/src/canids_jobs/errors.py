"""The errors of canids-jobs: one base, a :class:`canids_core.CanidsError`, each subclassing
the builtin a caller would expect."""

from __future__ import annotations

from collections.abc import Sequence

from canids_core import CanidsError

__all__ = [
    "HistoryError",
    "JobsError",
    "OutputsError",
    "ProfileError",
    "ResourcesError",
    "SlurmError",
]


class JobsError(CanidsError):
    """Base of every canids-jobs error; messages say what failed, where, and the fix."""


class OutputsError(JobsError, ValueError):
    """A folder of SLURM output files cannot be read (missing, not a folder, unreadable)."""


class HistoryError(JobsError, RuntimeError):
    """The failure history (SQLite) cannot be opened, migrated or written."""


class ProfileError(JobsError, ValueError):
    """A cluster profile cannot be read or holds a value SLURM would not take."""


class ResourcesError(JobsError, ValueError):
    """A resource override (``--walltime``, ``--stage-resources``, ``--cpus``) is invalid."""


class SlurmError(JobsError, RuntimeError):
    """A SLURM command failed; ``command``, ``returncode`` and ``stderr`` say how."""

    def __init__(
        self, message: str, command: Sequence[str], returncode: int | None, stderr: str
    ) -> None:
        super().__init__(message)
        self.command = list(command)
        self.returncode = returncode
        self.stderr = stderr
