"""Errors of canids-models: each says what failed, where, and the command that fixes it."""

from __future__ import annotations

from canids_core import CanidsError

__all__ = [
    "ArtifactError",
    "BackendError",
    "ConfigError",
    "LineageError",
    "ModelsError",
    "PreflightError",
]


class ModelsError(CanidsError):
    """Base of every error raised by canids-models."""


class ConfigError(ModelsError, ValueError):
    """A configuration file or ``--set`` override is invalid (unknown key, bad value)."""


class ArtifactError(ModelsError, FileNotFoundError):
    """An artifact is missing, incomplete or unreadable."""


class PreflightError(ModelsError, RuntimeError):
    """A pipeline cannot start: inputs are missing and nothing earlier produces them."""


class BackendError(ModelsError, RuntimeError):
    """A conv backend was asked for where it cannot run."""


class LineageError(ModelsError, RuntimeError):
    """A stage would read an artifact made under another config, or one whose own inputs
    were made again since it was (:mod:`canids_models.lineage`)."""
