"""SLURM times and memory sizes: one parser for every form ``sbatch --time`` and ``--mem``
accept, and for the durations ``sacct`` and ``squeue`` print.

``--time`` forms (sbatch(1)): ``minutes``, ``minutes:seconds``, ``hours:minutes:seconds``,
``days-hours``, ``days-hours:minutes`` and ``days-hours:minutes:seconds``; ``0``,
``UNLIMITED`` and ``INFINITE`` mean no limit. Accounting adds fractional seconds
(``Elapsed``: ``1-02:03:04.567`` is not printed, but ``00:00:01.234`` is for steps).
``--mem`` is a number with an optional unit K, M, G or T (powers of 1024); no unit is
megabytes.
"""

from __future__ import annotations

import math
import re

from .errors import CoreError

__all__ = [
    "SlurmFormatError",
    "format_memory",
    "format_slurm_time",
    "parse_memory",
    "parse_slurm_time",
]

_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
_MEMORY = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT])?B?", re.IGNORECASE)
_INT = r"(\d+)"
_SEC = r"(\d+(?:\.\d+)?)"
# Order matters only for readability: each form is matched in full.
_FORMS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(rf"{_INT}"), ("m",)),
    (re.compile(rf"{_INT}:{_SEC}"), ("m", "s")),
    (re.compile(rf"{_INT}:{_INT}:{_SEC}"), ("h", "m", "s")),
    (re.compile(rf"{_INT}-{_INT}"), ("d", "h")),
    (re.compile(rf"{_INT}-{_INT}:{_INT}"), ("d", "h", "m")),
    (re.compile(rf"{_INT}-{_INT}:{_INT}:{_SEC}"), ("d", "h", "m", "s")),
)
_UNLIMITED = {"UNLIMITED", "INFINITE", "-1"}
_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_TIME_FORMS = "minutes, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (e.g. 90, 02:00:00, 1-12)"


class SlurmFormatError(CoreError):
    """A time or memory size that SLURM would not read as meant."""


def parse_slurm_time(text: str | int, *, allow_unlimited: bool = False) -> int | None:
    """Seconds (fractions rounded up), or ``None`` for no limit when ``allow_unlimited``.

    Minutes and seconds past their unit (``90:00``) are accepted, as SLURM accepts them;
    a job time of zero or ``UNLIMITED`` is refused unless ``allow_unlimited``.
    """
    raw = str(text).strip()
    if raw.upper() in _UNLIMITED or raw == "0":
        if allow_unlimited:
            return None
        raise SlurmFormatError(
            f"time {raw!r} means no limit; canids stages need a finite time: {_TIME_FORMS}"
        )
    for pattern, units in _FORMS:
        match = pattern.fullmatch(raw)
        if match is None:
            continue
        total = sum(float(v) * _SECONDS[u] for v, u in zip(match.groups(), units, strict=True))
        return math.ceil(total)
    raise SlurmFormatError(f"time {raw!r} is not a SLURM time: write {_TIME_FORMS}")


def format_slurm_time(seconds: float) -> str:
    """Seconds → ``HH:MM:SS``, or ``D-HH:MM:SS`` from one day on (rounded up)."""
    secs = max(0, math.ceil(seconds))
    days, rest = divmod(secs, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{text}" if days else text


def parse_memory(text: str | int) -> int:
    """``16G`` → bytes; units K, M, G, T (powers of 1024); no unit is megabytes, as SLURM
    reads ``--mem=500``."""
    raw = str(text).strip()
    match = _MEMORY.fullmatch(raw)
    if match is None or float(match.group(1)) <= 0:
        raise SlurmFormatError(
            f"memory {raw!r} is not a SLURM memory size: write a positive number and a unit, "
            "e.g. 512M, 16G, 1T (no unit: megabytes)"
        )
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "M").upper()])


def format_memory(num_bytes: int) -> str:
    """Bytes → the largest unit that keeps an integer (SLURM refuses fractions), at least M."""
    for unit in ("T", "G"):
        if num_bytes >= _UNITS[unit] and num_bytes % _UNITS[unit] == 0:
            return f"{num_bytes // _UNITS[unit]}{unit}"
    return f"{-(-num_bytes // _UNITS['M'])}M"
