"""candump ``-L`` logs (``(1579857014.345944) can2 486#82967A6B006B07F8``), via python-can.

python-can does the parsing; this module only counts lines so an error can name one,
and refuses what python-can would accept silently but canids cannot represent
(CAN FD payloads over 8 bytes, an odd number of hex digits).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import can
import numpy as np

from ..errors import ReaderError
from ..table import MessageTable, ReadReport

__all__ = ["FORMAT", "read"]

FORMAT = "candump"


class _Lines:
    """A text stream that remembers the last line handed out, for error messages."""

    def __init__(self, path: Path) -> None:
        self._fh = path.open("r", encoding="utf-8", errors="strict", newline=None)
        self.line_no = 0
        self.text = ""

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        line = self._fh.readline()
        if not line:
            raise StopIteration
        self.line_no += 1
        self.text = line.rstrip("\n")
        return line

    def close(self) -> None:
        self._fh.close()


def _check_frame(text: str) -> str | None:
    parts = text.split()
    frame = parts[2] if len(parts) >= 3 else ""
    if "#" not in frame:
        return "not a candump -L line '(timestamp) interface ID#DATA'"
    data = frame.split("#", 1)[1]
    if data.startswith("#"):
        return "CAN FD frame: canids reads classic CAN (at most 8 data bytes)"
    if data[:1].lower() == "r":
        return None
    if len(data) % 2:
        return "odd number of hex digits in the payload"
    if len(data) > 16:
        return "payload longer than 8 bytes"
    return None


def read(path: Path, *, skip_bad_rows: bool) -> tuple[MessageTable, ReadReport]:
    report = ReadReport(str(path), FORMAT)
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
            except (ValueError, IndexError) as exc:
                # python-can stops at a line it cannot split or convert; resume after it.
                _bad(
                    path,
                    lines,
                    f"python-can could not parse the line ({exc})",
                    report,
                    skip_bad_rows,
                )
    except UnicodeDecodeError as exc:
        raise ReaderError(
            str(path),
            f"binary data, not a text candump log ({exc.reason})",
            line=lines.line_no + 1,
            hint="check the file is a candump -L log",
        ) from exc
    finally:
        lines.close()
    report.rows = lines.line_no
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
    if not skip:
        raise ReaderError(str(path), reason, line=lines.line_no, text=lines.text)
    report.skip(lines.line_no, lines.text, reason)
