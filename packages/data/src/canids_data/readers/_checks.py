"""The checks every reader applies to the same columns, with the same reasons.

A hostile value gets the same class of error from every reader: a NaN timestamp in
parquet, ``(nan)`` in a candump log and ``nan`` in a CSV are each refused as a
timestamp problem, never read. The payload is decoded here for the hex formats
(cantt, parquet) from byte spans, with the whitespace around it trimmed.

CAN IDs: an identifier is its numeric value, 0 to ``0x1FFFFFFF``. A 29-bit extended ID
is read like an 11-bit one; the two frame formats are not told apart (only candump
writes the difference, as the number of digits, and a standard and an extended frame
with the same number on one bus is not something the public captures hold). An ID above
29 bits is refused, never masked to another ID.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ID_NOT_HEX",
    "ID_TOO_LONG",
    "ID_TOO_WIDE",
    "MAX_CAN_ID",
    "MAX_TIMESTAMP",
    "TS_NEGATIVE",
    "TS_NOT_FINITE",
    "TS_NOT_NUMBER",
    "TS_TOO_LARGE",
    "can_id_problems",
    "hex_payload",
    "timestamp_problems",
    "trim_spans",
]

MAX_CAN_ID = 0x1FFFFFFF
# Seconds. Epoch seconds are ~1.7e9; a capture in milliseconds or nanoseconds since the
# epoch (1.7e12, 1.7e18) would make every feature a thousand times wrong.
MAX_TIMESTAMP = 1e11

TS_NOT_NUMBER = "timestamp is not a decimal number"
TS_NOT_FINITE = "timestamp is not finite (NaN or infinity)"
TS_NEGATIVE = "timestamp is negative"
TS_TOO_LARGE = (
    "timestamp is beyond 1e11 s (timestamps are seconds, not milliseconds or "
    "nanoseconds since the epoch)"
)
ID_NOT_HEX = "CAN ID is not a hex number"
ID_TOO_LONG = "CAN ID has more than 8 hex digits"
ID_TOO_WIDE = "CAN ID is wider than 29 bits (the largest extended ID is 1FFFFFFF)"

# Whitespace a field may be padded with: space, tab, CR, LF, VT, FF.
_SPACE = np.zeros(256, bool)
_SPACE[[9, 10, 11, 12, 13, 32]] = True
# Two ASCII hex digits, read as one little-endian uint16, → their byte value; 256 = not hex.
_NIBBLE = np.full(256, 256, np.uint16)
for _i, _c in enumerate(b"0123456789abcdef"):
    _NIBBLE[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _NIBBLE[_c] = 10 + _i
_PAIR = np.full(1 << 16, 256, np.uint16)
_lo, _hi = np.meshgrid(np.arange(256), np.arange(256), indexing="xy")
_valid = (_NIBBLE[_lo] < 16) & (_NIBBLE[_hi] < 16)
_PAIR[(_hi.astype(np.uint32) << 8 | _lo).ravel()] = np.where(
    _valid, (_NIBBLE[_lo] << 4) | _NIBBLE[_hi], 256
).ravel()
del _lo, _hi, _valid, _i, _c


def timestamp_problems(ts: np.ndarray, parsed: np.ndarray) -> dict[str, np.ndarray]:
    """Reasons → rows, for timestamps ``ts`` where ``parsed`` says a number was read."""
    finite = np.isfinite(ts)
    return {
        TS_NOT_NUMBER: ~parsed,
        TS_NOT_FINITE: parsed & ~finite,
        TS_NEGATIVE: parsed & finite & (ts < 0),
        TS_TOO_LARGE: parsed & finite & (ts > MAX_TIMESTAMP),
    }


def can_id_problems(
    ids: np.ndarray, parsed: np.ndarray, digits: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Reasons → rows for CAN IDs (``digits``: the hex digits written, for text formats)."""
    too_long = np.zeros(len(ids), bool) if digits is None else digits > 8
    return {
        ID_TOO_LONG: too_long,
        ID_NOT_HEX: ~parsed & ~too_long,
        ID_TOO_WIDE: parsed & ~too_long & (ids > MAX_CAN_ID),
    }


def trim_spans(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``[start, end)`` spans of ``buf`` without the whitespace around them.

    A pass per padding character over the spans that still have one: padding is one or
    two characters where it occurs at all, so this is a few vectorised passes, and none
    when nothing is padded.
    """
    start, end = start.copy(), end.copy()
    if not len(buf):
        return start, end
    last = len(buf) - 1
    while True:
        lead = (start < end) & _SPACE[buf[np.minimum(start, last)]]
        if not lead.any():
            break
        start[lead] += 1
    while True:
        trail = (end > start) & _SPACE[buf[np.clip(end - 1, 0, last)]]
        if not trail.any():
            break
        end[trail] -= 1
    return start, end


def hex_payload(
    buf: np.ndarray, start: np.ndarray, end: np.ndarray
) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Hex payload strings at ``[start, end)`` of ``buf`` → ``payload[n, 8]``, ``dlc`` and
    the problems as masks keyed by reason (whitespace around a string is trimmed first)."""
    start, end = trim_spans(buf, start.astype(np.int64), end.astype(np.int64))
    lens = end - start
    n = len(lens)
    width = np.minimum(lens, 16)
    # Each string's first 16 characters: rows of a sliding 16-byte view of the buffer
    # (one contiguous copy per row), then '0' past the end of the shorter ones.
    padded = np.concatenate((buf, np.full(16, ord("0"), np.uint8)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, 16)
    chars = windows[np.minimum(start, len(buf))]
    short = np.flatnonzero(width < 16)
    inside_short = np.arange(16) < width[short, None]
    chars[short] = np.where(inside_short, chars[short], np.uint8(ord("0")))
    values = _PAIR[chars.view("<u2")]  # [n, 8]; a '00' pair past the end reads as 0
    # A pair that is not two hex digits reads as 256: test bit 8 of all eight at once.
    words = values.view(np.uint64)
    not_hex = ((words[:, 0] | words[:, 1]) & np.uint64(0x0100010001000100)) != 0
    spaces = np.zeros(n, bool)
    if not_hex.any():  # only then can a character be whitespace
        rows = np.flatnonzero(not_hex)
        inside = np.arange(16) < width[rows, None]
        spaces[rows] = (_SPACE[chars[rows]] & inside).any(axis=1)
    for row in np.flatnonzero(lens > 16).tolist():  # bad rows only: the error path
        spaces[row] = bool(_SPACE[buf[start[row] : end[row]]].any())
    odd = (lens % 2) == 1
    problems = {  # in this order: the first that applies is the row's reason
        "payload has whitespace between its hex digits": spaces,
        "payload longer than 8 bytes (more than 16 hex digits)": lens > 16,
        "odd number of hex digits in the payload": odd,
        "payload is not hexadecimal": not_hex,
    }
    payload = values.astype(np.uint8)  # zero past each string's end already
    payload[not_hex | odd | (lens > 16)] = 0
    dlc = np.minimum(lens // 2, 8).astype(np.uint8)
    return payload, dlc, problems
