"""SLURM-style resource strings (``16G``, ``02:00:00``), parsed and validated in one place.

Every executor sizes stages from the catalogue's strings: the Ray executor needs bytes,
SLURM needs the text back, and a typo must fail before anything is submitted.
"""

from __future__ import annotations

import re

from .errors import ConfigError

__all__ = ["format_memory", "format_walltime", "parse_memory", "parse_walltime"]

_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)([KMGT])B?", re.IGNORECASE)
_WALLTIME = re.compile(r"(?:(\d+)-)?(\d{1,3}):(\d{2})(?::(\d{2}))?")


def parse_memory(text: str) -> int:
    """``16G`` → bytes. Units K, M, G, T (powers of 1024, as SLURM reads them)."""
    match = _MEMORY.fullmatch(text.strip())
    if match is None:
        raise ConfigError(
            f"memory {text!r} is not a SLURM memory size: write a number and a unit, "
            "e.g. 512M, 16G, 1T"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def format_memory(num_bytes: int) -> str:
    """Bytes → the largest unit that keeps an integer (SLURM refuses fractions), at least M."""
    for unit in ("T", "G"):
        if num_bytes >= _UNITS[unit] and num_bytes % _UNITS[unit] == 0:
            return f"{num_bytes // _UNITS[unit]}{unit}"
    return f"{-(-num_bytes // _UNITS['M'])}M"


def parse_walltime(text: str) -> int:
    """``HH:MM:SS``, ``MM:SS`` or ``D-HH:MM:SS`` → seconds."""
    match = _WALLTIME.fullmatch(text.strip())
    if match is None:
        raise ConfigError(
            f"walltime {text!r} is not a SLURM time: write HH:MM:SS or D-HH:MM:SS, e.g. 02:00:00"
        )
    days, first, second, third = match.groups()
    if third is None:  # MM:SS
        if days is not None:
            raise ConfigError(f"walltime {text!r}: with days, write D-HH:MM:SS")
        hours, minutes, seconds = 0, int(first), int(second)
    else:
        hours, minutes, seconds = int(first), int(second), int(third)
    if minutes >= 60 or seconds >= 60:
        raise ConfigError(f"walltime {text!r}: minutes and seconds must be below 60")
    return ((int(days or 0) * 24 + hours) * 60 + minutes) * 60 + seconds


def format_walltime(seconds: int) -> str:
    """Seconds → ``HH:MM:SS`` (``D-HH:MM:SS`` from one day on), rounded up to a second."""
    seconds = max(0, int(-(-seconds // 1)))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{text}" if days else text
