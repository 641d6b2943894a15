"""CAN capture readers: one per real format, chosen by detection with an explicit override."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import numpy as np

from ..errors import ReaderError
from ..table import MessageTable, ReadReport
from . import cantt, hcrl_ch, hcrl_normal, hcrl_sa
from ._row_errors import RowErrors
from ._text import binary_start, iter_chunks, tokenize

# candump (python-can) and parquet (pyarrow) are imported when a file of theirs is read:
# the dataset catalogue imports this package, and opening a cache reads no capture.

__all__ = ["READER_FORMATS", "detect_format", "read_capture"]

_TEXT: dict[str, ModuleType] = {m.FORMAT: m for m in (hcrl_ch, hcrl_normal, hcrl_sa, cantt)}
READER_FORMATS: tuple[str, ...] = (
    "hcrl_ch",
    "hcrl_normal",
    "hcrl_sa",
    "cantt",
    "parquet",
    "candump",
)

_CANDUMP = re.compile(rb"^\(\d+(\.\d+)?\)\s+\S+\s+[0-9A-Fa-f]+#")
# The DLC is followed by a comma, or ends the row (a DLC 0 row without a flag column).
_CSV_ROW = re.compile(rb"^\d+(\.\d+)?,[0-9A-Fa-f]{1,8},\d{1,2}(,|$)")
_PARQUET_MAGIC = b"PAR1"
_BINARY = "binary data (NUL or control bytes, or not UTF-8, at the start), not a text CAN log"


def detect_format(path: str | Path, hint: str | None = None) -> str:
    """Name the format of ``path`` from its extension and first lines.

    ``hint`` settles the one ambiguous case: labelled comma rows with one byte per field
    are valid HCRL car-hacking and survival-analysis text alike.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(str(path), "no such file", hint="check the dataset root (--root)")
    if path.suffix.lower() == ".parquet":
        return "parquet"
    with path.open("rb") as fh:
        head = fh.read(8192)
    if head.startswith(_PARQUET_MAGIC):
        return "parquet"
    if not head.strip():
        raise ReaderError(
            str(path), "empty file: no CAN messages", hint="remove the file from the dataset folder"
        )
    if binary_start(head):
        raise ReaderError(
            str(path), _BINARY, hint="check the file; pass --format to force a reader"
        )
    first = next((ln.strip() for ln in head.splitlines() if ln.strip()), b"")
    if first.startswith(b"Timestamp:"):
        return "hcrl_normal"
    if _CANDUMP.match(first):
        return "candump"
    if cantt.is_header(first):
        return "cantt"
    if _CSV_ROW.match(first):
        fields = first.split(b",")
        if b" " in first or fields[-1] not in (b"R", b"T"):
            return "hcrl_sa"
        if b"" in fields:
            # Padded car-hacking rows have 12 fields (8 data slots); a shorter row with an
            # empty field is survival-analysis text with joined bytes and DLC 0 (",0,,R").
            return "hcrl_ch" if len(fields) == 3 + 8 + 1 else "hcrl_sa"
        return hint if hint in ("hcrl_ch", "hcrl_sa") else "hcrl_ch"
    raise ReaderError(
        str(path),
        "cannot detect the capture format from the first line",
        line=1,
        text=first.decode("utf-8", "backslashreplace"),
        hint=f"pass --format with one of {', '.join(READER_FORMATS)}",
    )


def read_capture(
    path: str | Path,
    fmt: str | None = None,
    *,
    skip_bad_rows: bool = False,
    hint: str | None = None,
) -> tuple[MessageTable, ReadReport]:
    """Read one capture into a :class:`MessageTable` plus a :class:`ReadReport`.

    A malformed row raises :class:`ReaderError` naming file, line, text and reason, unless
    ``skip_bad_rows``: then it is skipped and counted in the report. Timestamps that go
    backwards are kept in file order and counted.
    """
    path = Path(path)
    if not path.is_file():
        raise ReaderError(str(path), "no such file", hint="check the dataset root (--root)")
    fmt = fmt or detect_format(path, hint)
    if fmt not in READER_FORMATS:
        raise ReaderError(
            str(path), f"unknown format {fmt!r}", hint=f"use one of {', '.join(READER_FORMATS)}"
        )
    if fmt == "parquet":
        from . import parquet

        table, report = parquet.read(path, skip_bad_rows=skip_bad_rows)
    elif fmt == "candump":
        from . import candump

        table, report = candump.read(path, skip_bad_rows=skip_bad_rows)
    else:
        table, report = _read_text(path, _TEXT[fmt], skip_bad_rows)
    if len(table) > 1:
        report.timestamp_inversions = int(np.count_nonzero(np.diff(table.timestamp) < 0))
    return table, report


def _read_text(path: Path, mod: ModuleType, skip: bool) -> tuple[MessageTable, ReadReport]:
    raw = path.read_bytes()
    report = ReadReport(str(path), mod.FORMAT)
    if not raw.strip():
        raise ReaderError(
            str(path), "empty file: no CAN messages", hint="remove the file from the dataset folder"
        )
    if binary_start(raw[:65536]):
        raise ReaderError(
            str(path), _BINARY, hint="check the file; pass --format to force a reader"
        )
    state: dict[str, object] = {}
    tables: list[MessageTable] = []
    for piece, first_line in iter_chunks(raw):
        fm = tokenize(
            piece, first_line, delims=mod.DELIMS, collapse=mod.COLLAPSE, max_fields=mod.MAX_FIELDS
        )
        errors = RowErrors(fm)
        cols = mod.parse(fm, errors, state)
        keep = errors.resolve(str(path), report, skip)
        drop = state.pop("drop", None)
        report.rows += len(fm) - (int(np.count_nonzero(drop)) if drop is not None else 0)
        if drop is not None:
            keep &= ~drop
        tables.append(cols.table(keep))
    table = MessageTable.concat(tables)
    if len(table) == 0 and report.skipped_rows == 0:
        raise ReaderError(
            str(path),
            "no CAN messages (only a header or blank lines)",
            hint="remove the file from the dataset folder",
        )
    return table, report
