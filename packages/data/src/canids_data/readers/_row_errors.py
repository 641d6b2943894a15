"""A chunk's bad rows: each marked with its first problem, then the first raised as a
:class:`~canids_data.errors.ReaderError` naming the line, or all skipped and counted
(``--skip-bad-rows``)."""

from __future__ import annotations

import numpy as np

from ..errors import ReaderError
from ..table import ReadReport
from ._text import FieldMatrix

__all__ = ["RowErrors"]


class RowErrors:
    """Collects per-row problems, then raises for the first or skips and counts them all."""

    def __init__(self, fm: FieldMatrix) -> None:
        self.fm = fm
        self.code = np.zeros(len(fm), np.int16)
        self.reasons: list[str] = [""]

    def flag_all(self, problems: dict[str, np.ndarray], only: np.ndarray | None = None) -> None:
        """:meth:`flag` each reason → mask of ``problems`` in order (within ``only``)."""
        for reason, mask in problems.items():
            self.flag(mask if only is None else mask & only, reason)

    def flag(self, mask: np.ndarray, reason: str) -> None:
        """Mark rows in ``mask`` (that have no earlier problem) with ``reason``."""
        hit = mask & (self.code == 0)
        if hit.any():
            self.reasons.append(reason)
            self.code[hit] = len(self.reasons) - 1

    def resolve(self, path: str, report: ReadReport, skip: bool) -> np.ndarray:
        """The keep mask; raises :class:`ReaderError` for the first bad row unless skipping."""
        bad = np.flatnonzero(self.code)
        if not len(bad):
            return np.ones(len(self.fm), bool)
        if not skip:
            row = int(bad[0])
            raise ReaderError(
                path, self._reason(row), line=int(self.fm.line_no[row]), text=self.fm.line_text(row)
            )
        for row in bad[:5]:
            report.skip(
                int(self.fm.line_no[row]), self.fm.line_text(int(row)), self._reason(int(row))
            )
        report.skipped_rows += len(bad) - min(len(bad), 5)
        return self.code == 0

    def _reason(self, row: int) -> str:
        reason = self.reasons[int(self.code[row])]
        if row == len(self.fm) - 1 and not self.fm.ends_with_newline:
            reason += " (truncated last line: the file does not end with a newline)"
        return reason
