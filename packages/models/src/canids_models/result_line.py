"""Compatibility names for the ``CANIDS-STAGE-RESULT`` line, now defined once in canids-core.

New code uses :class:`canids_core.StageReport` with :func:`canids_core.format_report`,
:func:`canids_core.parse_report` and :func:`canids_core.find_report`. These functions keep
the old dict-in, dict-out behaviour for callers outside canids (deprecated).
"""

from __future__ import annotations

import json
from typing import Any

from canids_core import RESULT_PREFIX, format_report

__all__ = ["RESULT_PREFIX", "find_result", "format_result", "parse_result"]


def format_result(record: dict[str, Any]) -> str:
    """Deprecated: :func:`canids_core.format_report` (the same line)."""
    return format_report(record)


def parse_result(line: str) -> dict[str, Any]:
    """Deprecated: :func:`canids_core.parse_report`, which also validates the record."""
    if not line.startswith(RESULT_PREFIX):
        raise ValueError(f"not a stage result line: {line[:80]!r}")
    return json.loads(line[len(RESULT_PREFIX) :])


def find_result(text: str) -> dict[str, Any] | None:
    """Deprecated: :func:`canids_core.find_report`. The last result line's record, or
    ``None``."""
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                return parse_result(line)
            except json.JSONDecodeError:
                return None
    return None
