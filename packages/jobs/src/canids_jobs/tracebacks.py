"""The last Python traceback in a log: exception type, message and innermost frame."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["TracebackInfo", "parse_traceback"]

_HEADER = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s+File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>\S+)')
# The exception line starts at column 0: ``pkg.mod.Error: message`` or a bare ``Error``.
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*)(?::[ ]?(?P<message>.*))?$")


@dataclass(frozen=True)
class TracebackInfo:
    type: str  # as printed: torch.OutOfMemoryError, TypeError, ...
    message: str
    last_frame: str  # "file:line in func", the innermost frame
    line: str  # the exception line itself


def parse_traceback(text: str) -> TracebackInfo | None:
    """The last traceback in ``text`` (a chained one prints the final exception last)."""
    at = text.rfind(_HEADER)
    if at < 0:
        return None
    frame = ""
    for raw in text[at + len(_HEADER) :].splitlines():
        found = _FRAME.match(raw)
        if found is not None:
            frame = f"{found['file']}:{found['line']} in {found['func']}"
            continue
        if not raw or raw[0].isspace():
            continue  # source lines, carets, blank lines
        exc = _EXC.match(raw)
        if exc is not None:
            return TracebackInfo(exc["type"], (exc["message"] or "").strip(), frame, raw.strip())
        return None
    return None
