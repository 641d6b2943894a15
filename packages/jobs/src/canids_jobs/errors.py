"""The errors of canids-jobs: one base, each subclassing the builtin a caller would expect."""

from __future__ import annotations

__all__ = ["HistoryError", "JobsError", "OutputsError"]


class JobsError(Exception):
    """Base of every canids-jobs error; messages say what failed, where, and the fix."""


class OutputsError(JobsError, ValueError):
    """A folder of SLURM output files cannot be read (missing, not a folder, unreadable)."""


class HistoryError(JobsError, RuntimeError):
    """The failure history (SQLite) cannot be opened, migrated or written."""
