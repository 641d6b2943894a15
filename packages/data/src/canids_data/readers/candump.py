"""candump ``-L`` logs (``(1579857014.345944) can2 486#82967A6B006B07F8``), via python-can.

python-can does the parsing; this module only counts lines so an error can name one,
and refuses what python-can would accept silently but canids cannot represent
(CAN FD payloads over 8 bytes, an odd number of hex digits).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import can
import numpy as np

from ..errors import ReaderError
from ..table import MessageTable, ReadReport
from ._checks import (
    ID_NOT_HEX,
    ID_TOO_LONG,
    ID_TOO_WIDE,
    MAX_CAN_ID,
    MAX_TIMESTAMP,
    TS_NEGATIVE,
    TS_NOT_FINITE,
    TS_NOT_NUMBER,
    TS_TOO_LARGE,
)
from ._text import binary_start

__all__ = ["FORMAT", "read"]

FORMAT = "candump"


_TRUNCATED = " (truncated last line: the file does not end with a newline)"
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")  # ASCII only: float() also reads "１２" and "nan"
_ERROR_FRAMES = (
    "; candump writes SocketCAN error frames with bit 29 set (2xxxxxxx), and canids reads "
    "data frames only"
)


class _Lines:
    """A text stream that remembers the last line handed out, for error messages.

    Undecodable bytes become ``\\xNN`` escapes, so a garbage line reaches python-can
    (which refuses it) and is reported with its own line number.
    """

    def __init__(self, path: Path) -> None:
        self._fh = path.open("r", encoding="utf-8", errors="backslashreplace", newline=None)
        self.line_no = 0
        self.nonblank = 0
        self.text = ""
        self.unterminated = False

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._fh.readline()
        if not line:
            raise StopIteration
        self.line_no += 1
        self.unterminated = not line.endswith("\n")
        self.text = line.rstrip("\n")
        if self.text.strip():
            self.nonblank += 1
        return line

    def close(self) -> None:
        self._fh.close()


def _check_timestamp(token: str) -> str | None:
    if len(token) < 3 or token[0] != "(" or token[-1] != ")":
        return "not a candump -L line '(timestamp) interface ID#DATA'"
    inner = token[1:-1]
    if _DECIMAL.fullmatch(inner):
        value = float(inner)
        if value < 0:
            return TS_NEGATIVE
        return TS_TOO_LARGE if value > MAX_TIMESTAMP else None
    try:
        value = float(inner)
    except ValueError:
        return TS_NOT_NUMBER
    return TS_NOT_FINITE if not math.isfinite(value) else TS_NOT_NUMBER


def _check_frame(text: str) -> str | None:
    """What is wrong with a candump line, or None (python-can then parses it)."""
    parts = text.split()
    if parts and (problem := _check_timestamp(parts[0])):
        return problem
    frame = parts[2] if len(parts) >= 3 else ""
    if "#" not in frame:
        return "not a candump -L line '(timestamp) interface ID#DATA'"
    can_id, data = frame.split("#", 1)
    if not can_id or any(c not in _HEX_DIGITS for c in can_id):
        return ID_NOT_HEX
    if len(can_id) > 8:
        return ID_TOO_LONG
    if int(can_id, 16) > MAX_CAN_ID:
        # python-can would mask it to 29 bits (another ID) or read it as an error frame.
        return ID_TOO_WIDE + _ERROR_FRAMES
    if data.startswith("#"):
        return "CAN FD frame: canids reads classic CAN (at most 8 data bytes)"
    if data[:1].lower() == "r":
        return None
    if any(c not in _HEX_DIGITS for c in data):
        return "payload is not hexadecimal"
    if len(data) % 2:
        return "odd number of hex digits in the payload"
    if len(data) > 16:
        return "payload longer than 8 bytes"
    return None


def read(path: Path, *, skip_bad_rows: bool) -> tuple[MessageTable, ReadReport]:
    report = ReadReport(str(path), FORMAT)
    with path.open("rb") as fh:
        head = fh.read(65536)
    if head.strip() and binary_start(head):
        raise ReaderError(
            str(path),
            "binary data (NUL or control bytes, or not UTF-8, at the start), not a candump log",
            hint="check the file is a candump -L log",
        )
    lines = _Lines(path)
    ts: list[float] = []
    ids: list[int] = []
    dlcs: list[int] = []
    data: list[bytes] = []
    try:
        while True:
            reader = can.CanutilsLogReader(lines)
            try:
                for msg in reader:
                    problem = _check_frame(lines.text)
                    if problem is None and msg.is_error_frame:
                        problem = "error frame (not a data frame)"
                    if problem is not None:
                        _bad(path, lines, problem, report, skip_bad_rows)
                        continue
                    ts.append(msg.timestamp)
                    ids.append(msg.arbitration_id)
                    dlcs.append(0 if msg.is_remote_frame else len(msg.data))
                    data.append(b"" if msg.is_remote_frame else bytes(msg.data).ljust(8, b"\0"))
                break
            except ReaderError:
                raise
            except (ValueError, IndexError) as exc:
                # python-can stops at a line it cannot split or convert; resume after it.
                # Our own check names the problem more plainly when it finds one.
                problem = _check_frame(lines.text)
                if problem is None:
                    problem = f"python-can could not parse the line ({exc})"
                _bad(path, lines, problem, report, skip_bad_rows)
    finally:
        lines.close()
    report.rows = lines.nonblank
    if not ts and report.skipped_rows == 0:
        raise ReaderError(
            str(path), "empty file: no CAN messages", hint="remove the file from the dataset folder"
        )
    payload = np.frombuffer(b"".join(d.ljust(8, b"\0") for d in data), np.uint8).reshape(-1, 8)
    table = MessageTable(
        timestamp=np.asarray(ts, np.float64),
        can_id=np.asarray(ids, np.uint32),
        dlc=np.asarray(dlcs, np.uint8),
        payload=payload.copy(),
        label=None,
    )
    return table, report


def _bad(path: Path, lines: _Lines, reason: str, report: ReadReport, skip: bool) -> None:
    if lines.unterminated:
        reason += _TRUNCATED
    if not skip:
        raise ReaderError(str(path), reason, line=lines.line_no, text=lines.text)
    report.skip(lines.line_no, lines.text, reason)
