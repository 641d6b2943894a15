"""Compatibility names for SLURM memory and time strings, now parsed once in canids-core.

New code uses :func:`canids_core.parse_memory`, :func:`canids_core.parse_slurm_time` and
:class:`canids_core.Resources`. These wrappers keep their old names and raise
:class:`ConfigError` (a :class:`ModelsError`) as before; the grammar is canids-core's, so
every ``--time`` form SLURM accepts (``60``, ``1-12``, ``1-12:30``) now parses.
"""

from __future__ import annotations

import canids_core
from canids_core import SlurmFormatError

from .errors import ConfigError

__all__ = ["format_memory", "format_walltime", "parse_memory", "parse_walltime"]


def parse_memory(text: str) -> int:
    """``16G`` → bytes (K, M, G, T are powers of 1024; no unit is megabytes, as in SLURM)."""
    try:
        return canids_core.parse_memory(text)
    except SlurmFormatError as exc:
        raise ConfigError(str(exc)) from exc


def format_memory(num_bytes: int) -> str:
    """Bytes → the largest unit that keeps an integer, at least M."""
    return canids_core.format_memory(num_bytes)


def parse_walltime(text: str) -> int:
    """Any ``sbatch --time`` form → seconds (a finite time: ``UNLIMITED`` is refused)."""
    try:
        seconds = canids_core.parse_slurm_time(text)
    except SlurmFormatError as exc:
        raise ConfigError(str(exc)) from exc
    assert seconds is not None  # only allow_unlimited=True returns None
    return seconds


def format_walltime(seconds: float) -> str:
    """Seconds → ``HH:MM:SS`` (``D-HH:MM:SS`` from one day on), rounded up to a second."""
    return canids_core.format_slurm_time(seconds)
