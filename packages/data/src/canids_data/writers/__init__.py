"""Write a :class:`MessageTable` in each supported real-world CAN log format.

The layouts are byte-exact copies of the public datasets' files, so every reader can
be round-trip tested against them. Text is built without a Python loop per message:
each row is laid out as a fixed-width character matrix plus a keep-mask (ragged
fields, variable-width numbers), and the kept characters, read row-major, are the
file. Timestamps are written at microsecond resolution (``%.6f``), correctly rounded.

Every file is written atomically: a temporary file in the same folder, fsync, then
``os.replace``, so a reader never sees a partial capture.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType
from typing import Any

from canids_core import atomic_file

from ..errors import WriterError
from ..table import MessageTable
from .parquet import write_parquet
from .text import write_candump, write_cantt, write_hcrl_ch, write_hcrl_normal, write_hcrl_sa

__all__ = [
    "FORMATS",
    "FORMAT_EXTENSIONS",
    "WriterError",
    "atomic_file",
    "write_candump",
    "write_cantt",
    "write_capture",
    "write_hcrl_ch",
    "write_hcrl_normal",
    "write_hcrl_sa",
    "write_parquet",
]

FORMATS: tuple[str, ...] = ("hcrl_ch", "hcrl_normal", "hcrl_sa", "cantt", "parquet", "candump")
FORMAT_EXTENSIONS = MappingProxyType(
    {
        "hcrl_ch": ".csv",
        "hcrl_normal": ".txt",
        "hcrl_sa": ".txt",
        "cantt": ".csv",
        "parquet": ".parquet",
        "candump": ".log",
    }
)


_WRITERS: dict[str, Callable[..., Path]] = {
    "hcrl_ch": write_hcrl_ch,
    "hcrl_normal": write_hcrl_normal,
    "hcrl_sa": write_hcrl_sa,
    "cantt": write_cantt,
    "parquet": write_parquet,
    "candump": write_candump,
}


def write_capture(
    table: MessageTable, path: str | os.PathLike[str], fmt: str, **options: Any
) -> Path:
    """Write ``table`` to ``path`` in format ``fmt`` (one of :data:`FORMATS`),
    atomically; ``options`` are the format's keyword options. Returns the path."""
    if fmt not in _WRITERS:
        raise WriterError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    writer = _WRITERS[fmt]
    accepted = {
        p.name
        for p in inspect.signature(writer).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY
    }
    unknown = set(options) - accepted
    if unknown:
        allowed = ", ".join(sorted(accepted)) or "none"
        raise WriterError(
            f"format {fmt!r} has no option {', '.join(sorted(unknown))} (options: {allowed})"
        )
    return writer(table, path, **options)
