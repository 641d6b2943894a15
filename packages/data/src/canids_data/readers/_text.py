"""Vectorised tokenising of text captures: lines → a field matrix, with exact line numbers.

Text CAN logs run to millions of lines; a Python loop per line costs seconds per file,
so lines and fields are located with numpy over the raw bytes and each column is
parsed as a fixed-width byte matrix. Only the error path looks at single rows.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from ._checks import trim_spans

__all__ = ["FieldMatrix", "binary_start", "cut_last_byte", "iter_chunks", "tokenize"]


_NL = 10
_CR = 13
_CHUNK_BYTES = 32 << 20

# Nibble lookup: value of an ASCII hex digit, 255 for anything else.
_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"abcdef"):
    _HEX[_c] = 10 + _i
    _HEX[_c - 32] = 10 + _i
_DEC = np.full(256, 255, np.uint8)
_DEC[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10, dtype=np.uint8)
# Bytes a text log may hold: printable ASCII, tab/LF/VT/FF/CR, and UTF-8 lead/continuation
# bytes (their sequences are checked by decoding). NUL and other control bytes are binary.
_TEXTUAL = np.zeros(256, bool)
_TEXTUAL[32:127] = True
_TEXTUAL[9:14] = True
_TEXTUAL[128:] = True


def binary_start(head: bytes) -> bool:
    """Whether the first non-blank line of ``head`` is binary data, not text.

    Only the start decides: a file that begins as a text log but holds a garbage line
    further down gets that line's error (with its number) from the parser instead.
    """
    line = head.lstrip().split(b"\n", 1)[0]
    if not _TEXTUAL[np.frombuffer(line, np.uint8)].all():
        return True
    try:
        # final=False: a multi-byte character cut by the end of ``head`` is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(line, final=False)
    except UnicodeDecodeError:
        return True
    return False


def iter_chunks(raw: bytes, chunk_bytes: int | None = None) -> Iterator[tuple[bytes, int]]:
    """Yield pieces of ``raw`` cut after a newline, with the 0-based line number they start at.

    ``chunk_bytes`` defaults to the module's ``_CHUNK_BYTES``, read at call time.
    """
    if chunk_bytes is None:
        chunk_bytes = _CHUNK_BYTES
    pos, line = 0, 0
    n = len(raw)
    while pos < n:
        end = min(pos + chunk_bytes, n)
        if end < n:
            cut = raw.rfind(b"\n", pos, end)
            end = cut + 1 if cut >= pos else (raw.find(b"\n", end) + 1 or n)
        piece = raw[pos:end]
        yield piece, line
        line += piece.count(b"\n")
        pos = end


@dataclass
class FieldMatrix:
    """Fields of each non-blank line: ``start``/``length`` are ``[lines, max_fields]``."""

    buf: np.ndarray
    line_no: np.ndarray  # 1-based line number in the file
    line_start: np.ndarray
    line_end: np.ndarray
    nfields: np.ndarray
    start: np.ndarray
    length: np.ndarray
    ends_with_newline: bool

    def __len__(self) -> int:
        return len(self.line_no)

    def line_text(self, row: int) -> str:
        raw = self.buf[self.line_start[row] : self.line_end[row]].tobytes()
        return raw.decode("utf-8", errors="backslashreplace")

    def chars(self, col: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """Column ``col`` as a ``[lines, width]`` uint8 matrix (zero padded) and its lengths."""
        n = len(self)
        if col >= self.start.shape[1]:
            return np.zeros((n, width), np.uint8), np.zeros(n, np.int64)
        lens = self.length[:, col]
        idx = self.start[:, col, None] + np.arange(width)
        valid = np.arange(width) < lens[:, None]
        np.minimum(idx, max(len(self.buf) - 1, 0), out=idx)
        out = np.where(valid, self.buf[idx] if len(self.buf) else 0, 0).astype(np.uint8)
        return out, lens

    def span(self, col: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end offsets in ``buf`` of column ``col`` (empty where it is absent)."""
        if col >= self.start.shape[1]:
            zero = np.zeros(len(self), np.int64)
            return zero, zero
        return self.start[:, col], self.start[:, col] + self.length[:, col]

    def digits(self, col: int) -> np.ndarray:
        """Characters in column ``col`` of each line (0 where it is absent)."""
        if col >= self.length.shape[1]:
            return np.zeros(len(self), np.int64)
        return self.length[:, col]

    def equals(self, col: int, token: bytes) -> np.ndarray:
        chars, lens = self.chars(col, len(token))
        want = np.frombuffer(token, np.uint8)
        return (lens == len(token)) & (chars == want).all(axis=1)

    def hex(self, col: int, max_digits: int) -> tuple[np.ndarray, np.ndarray]:
        """Parse column ``col`` as hex; returns values (int64) and an ok mask."""
        chars, lens = self.chars(col, max_digits)
        return _parse_digits(chars, lens, max_digits, _HEX, 4)

    def dec(self, col: int, max_digits: int) -> tuple[np.ndarray, np.ndarray]:
        chars, lens = self.chars(col, max_digits)
        return _parse_digits(chars, lens, max_digits, _DEC, None)

    def payload_bytes(self, first_col: int, dlc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Columns ``first_col..first_col+7`` as one hex byte each, used up to ``dlc``:
        ``payload[n, 8]`` (zero past ``dlc``) and the rows with a bad byte."""
        n = len(self)
        payload = np.zeros((n, 8), np.uint8)
        bad = np.zeros(n, bool)
        for j in range(8):
            val, ok = self.hex(first_col + j, 2)
            used = j < dlc
            bad |= used & ~ok
            payload[:, j] = np.where(used & ok, val, 0)
        return payload, bad

    def float(self, col: int, max_width: int = 24) -> tuple[np.ndarray, np.ndarray]:
        """Parse plain decimals (``123``, ``-123.456``); anything else (``nan``, ``1e9``)
        is not ok. A sign is read so that a negative value can be refused as such."""
        chars, lens = self.chars(col, max_width + 1)
        neg = (lens > 1) & (chars[:, 0] == ord("-"))
        if neg.any():
            chars[neg, :-1] = chars[neg, 1:]
            lens = lens - neg
        chars = chars[:, :max_width]
        pos = np.arange(max_width)
        inside = pos < lens[:, None]
        digit = (chars >= 48) & (chars <= 57)
        dot = chars == 46
        ok = (lens > 0) & (lens <= max_width) & (self.length[:, col] - neg <= max_width)
        ok &= ((digit | dot) | ~inside).all(axis=1) & (dot.sum(axis=1) <= 1)
        # A field longer than ``max_width`` is already not ok; clip so indexing stays inside.
        last = np.clip(lens - 1, 0, max_width - 1)
        ok &= digit[:, 0] & (digit | ~inside)[np.arange(len(lens)), last]
        safe = np.where(ok[:, None], chars, np.where(pos == 0, 48, 0).astype(np.uint8))
        values = safe.view(f"S{max_width}").ravel().astype(np.float64)
        return np.where(neg, -values, values), ok


def _parse_digits(
    chars: np.ndarray, lens: np.ndarray, width: int, table: np.ndarray, shift: int | None
) -> tuple[np.ndarray, np.ndarray]:
    nib = table[chars].astype(np.int64)
    inside = np.arange(width) < lens[:, None]
    ok = (lens > 0) & (lens <= width) & ((nib != 255) | ~inside).all(axis=1)
    nib = np.where(inside & ok[:, None], nib, 0)
    # Right-align: digit j of a field of length L has weight base**(L-1-j).
    power = np.clip(lens[:, None] - 1 - np.arange(width), 0, None)
    base = 16 if shift else 10
    values = (nib * (base ** np.where(inside, power, 0))).sum(axis=1)
    return values, ok


def tokenize(
    piece: bytes, first_line: int, *, delims: bytes, collapse: bool, max_fields: int
) -> FieldMatrix:
    """Split ``piece`` into lines and fields.

    ``collapse=True`` treats runs of delimiters as one and ignores leading ones
    (whitespace-separated logs); otherwise every delimiter separates a field, so empty
    fields are kept (CSV). Blank lines are not rows.
    """
    buf = np.frombuffer(piece, np.uint8)
    nl = np.flatnonzero(buf == _NL)
    ends_with_newline = bool(len(buf)) and buf[-1] == _NL
    starts = np.concatenate(([0], nl + 1))
    ends = np.concatenate((nl, [len(buf)]))
    if ends_with_newline or not len(buf):
        starts, ends = starts[:-1], ends[:-1]
    line_no = np.arange(len(starts), dtype=np.int64) + first_line + 1
    # Windows line endings: the CR is not part of the last field.
    if len(ends):
        has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR)
        ends = ends - has_cr
    is_delim = np.isin(buf, np.frombuffer(delims, np.uint8))
    blank = _blank_lines(buf, starts, ends, is_delim if collapse else None)
    starts, ends, line_no = starts[~blank], ends[~blank], line_no[~blank]
    n = len(starts)
    if collapse:
        f_line, f_start, f_end = _tokens(buf, starts, ends, is_delim)
    else:
        f_line, f_start, f_end = _csv_fields(buf, starts, ends, is_delim)
        # Whitespace around a comma-separated field is padding, not part of the value
        # (can-train-and-test payloads padded with a tab are real, not 9-byte payloads).
        f_start, f_end = trim_spans(buf, f_start, f_end)
    nfields = np.bincount(f_line, minlength=n)
    first = np.concatenate(([0], np.cumsum(nfields)[:-1]))
    k = np.arange(len(f_line)) - first[f_line]
    keep = k < max_fields
    start = np.zeros((n, max_fields), np.int64)
    length = np.zeros((n, max_fields), np.int64)
    start[f_line[keep], k[keep]] = f_start[keep]
    length[f_line[keep], k[keep]] = f_end[keep] - f_start[keep]
    return FieldMatrix(buf, line_no, starts, ends, nfields, start, length, ends_with_newline)


def _blank_lines(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, is_delim: np.ndarray | None
) -> np.ndarray:
    # Lines of nothing but blanks (and, in whitespace formats, delimiters) are blank.
    content = ~np.isin(buf, np.frombuffer(b" \t\r", np.uint8))
    if is_delim is not None:
        content &= ~is_delim
    csum = np.concatenate(([0], np.cumsum(content)))
    return (csum[ends] - csum[starts]) == 0


def _line_of(pos: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.searchsorted(starts, pos, side="right") - 1


def _csv_fields(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, is_delim: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = len(starts)
    inside = np.zeros(len(buf) + 1, np.int64)
    np.add.at(inside, starts, 1)
    np.add.at(inside, ends, -1)
    in_line = np.cumsum(inside[:-1]) > 0
    dpos = np.flatnonzero(is_delim & in_line)
    dline = _line_of(dpos, starts)
    # Each line's boundaries: a virtual delimiter before it, its delimiters, its end.
    pos = np.concatenate((starts - 1, dpos, ends))
    line = np.concatenate((np.arange(n), dline, np.arange(n)))
    order = np.lexsort((pos, line))
    pos, line = pos[order], line[order]
    is_last = np.concatenate((line[1:] != line[:-1], [True]))
    left = np.flatnonzero(~is_last)
    return line[left], pos[left] + 1, pos[left + 1]


def _tokens(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, is_delim: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tok = ~is_delim & (buf != _NL) & (buf != _CR)
    prev = np.concatenate(([False], tok[:-1]))
    nxt = np.concatenate((tok[1:], [False]))
    t_start = np.flatnonzero(tok & ~prev)
    t_end = np.flatnonzero(tok & ~nxt) + 1
    line = _line_of(t_start, starts)
    # A CR directly before LF is excluded by ``ends``; tokens never span lines.
    keep = t_start < ends[line]
    return line[keep], t_start[keep], np.minimum(t_end[keep], ends[line[keep]])


def cut_last_byte(fm: FieldMatrix, first_byte: int, dlc: np.ndarray) -> np.ndarray:
    """Mask of the last row when its final data byte may have been cut short.

    Data bytes of one hex digit are accepted, so a file cut inside the last data byte of
    its last line (``... 00 a`` from ``... 00 a2``) would still parse. When the file does
    not end with a newline, and its last line ends in a one-digit data byte (field
    ``first_byte + dlc - 1``, ``dlc > 0``), that row is marked so it can be refused.
    """
    cut = np.zeros(len(fm), bool)
    if len(fm) and not fm.ends_with_newline:
        last = len(fm) - 1
        n_bytes = int(dlc[last])
        col = first_byte + n_bytes - 1
        cut[last] = (
            n_bytes > 0
            and col < fm.length.shape[1]
            and int(fm.nfields[last]) == col + 1
            and int(fm.length[last, col]) == 1
        )
    return cut
