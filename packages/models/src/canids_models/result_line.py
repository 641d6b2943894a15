"""``CANIDS-STAGE-RESULT {json}``: the one machine-readable line every stage run ends with.

Executors (local subprocesses, Ray tasks, SLURM job outputs) find it by its prefix;
the job parser reads it from SLURM output files.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["RESULT_PREFIX", "format_result", "parse_result", "find_result"]

RESULT_PREFIX = "CANIDS-STAGE-RESULT "


def format_result(record: dict[str, Any]) -> str:
    return RESULT_PREFIX + json.dumps(record, sort_keys=True, default=str, separators=(",", ":"))


def parse_result(line: str) -> dict[str, Any]:
    if not line.startswith(RESULT_PREFIX):
        raise ValueError(f"not a stage result line: {line[:80]!r}")
    return json.loads(line[len(RESULT_PREFIX) :])


def find_result(text: str) -> dict[str, Any] | None:
    """The last result line in ``text`` (a stage's output), or ``None``."""
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                return parse_result(line)
            except json.JSONDecodeError:
                return None
    return None
