"""The root of every canids error, and canids-core's own."""

from __future__ import annotations

__all__ = ["CanidsError", "CoreError"]


class CanidsError(Exception):
    """Base of every canids package's error (canids-batching, installable alone, excepted).

    Messages say what failed, where, and the command that fixes it; a command-line tool
    catches this one class and prints the message without a traceback.
    """


class CoreError(CanidsError, ValueError):
    """A value refused by a canids-core rule: a name, a SLURM time or memory, resources,
    a stage result record."""
