"""The one table printer: aligned plain text for terminals and logs, or Markdown for
results pages. Numbers align right, text left; ``None`` prints as ``undefined``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Literal

__all__ = ["format_table"]

_NUMBER = re.compile(r"^[-+]?[\d,]*\.?\d+(?:e[-+]?\d+)?(?: ?%)?$|^n/a$|^undefined$|^—$")


def _cell(value: object) -> str:
    return "undefined" if value is None else str(value)


def format_table(
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    style: Literal["plain", "markdown"] = "plain",
    indent: int = 0,
) -> str:
    """Rows under ``header``. A column whose every cell reads as a number (``1,234``,
    ``0.95``, ``73.7 %``, ``n/a``, ``undefined``) aligns right."""
    cells = [[_cell(c) for c in row] for row in rows]
    for row in cells:
        if len(row) != len(header):
            raise ValueError(f"a row has {len(row)} cells for {len(header)} columns: {row}")
    numeric = [
        bool(cells) and all(_NUMBER.match(row[i]) for row in cells) for i in range(len(header))
    ]
    if style == "markdown":
        rule = ["---:" if num else "---" for num in numeric]
        lines = [header, rule, *cells]
        return "\n".join("| " + " | ".join(line) + " |" for line in lines)
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(header)]
    pad = " " * indent

    def line(values: Sequence[str]) -> str:
        out = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return (pad + "  ".join(out)).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, cells)])
