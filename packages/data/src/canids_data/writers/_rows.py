"""Text rows as fixed-width character matrices plus keep-masks: no loop per message."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
from canids_core import atomic_file

from ..errors import WriterError
from ..table import MessageTable

__all__ = ["Rows", "require_labels", "write_text"]

# Rows rendered per block: bounds the character matrix to ~100 MB on huge captures.
_CHUNK_ROWS = 1 << 20
_LOWER = np.frombuffer(b"0123456789abcdef", np.uint8)
_UPPER = np.frombuffer(b"0123456789ABCDEF", np.uint8)


class Rows:
    """Rows under construction: blocks of ``[n, w]`` characters and keep-masks."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.chars: list[np.ndarray] = []
        self.keep: list[np.ndarray] = []

    def text(self, s: str, where: np.ndarray | None = None) -> None:
        b = np.frombuffer(s.encode("ascii"), np.uint8)
        self.chars.append(np.broadcast_to(b, (self.n, len(b))))
        mask = np.ones(self.n, bool) if where is None else where
        self.keep.append(np.broadcast_to(mask[:, None], (self.n, len(b))))

    def block(self, chars: np.ndarray, keep: np.ndarray) -> None:
        self.chars.append(chars)
        self.keep.append(keep)

    def number(
        self,
        values: np.ndarray,
        *,
        base: int = 10,
        width: int,
        min_digits: int | np.ndarray = 1,
        upper: bool = False,
    ) -> None:
        """Non-negative integers, without leading zeros beyond ``min_digits``
        (scalar or per row), in ``width`` columns at most."""
        alphabet = _UPPER if upper else _LOWER
        rest = values.astype(np.uint64)
        digits = np.empty((self.n, width), np.uint8)
        for col in range(width - 1, -1, -1):
            digits[:, col] = rest % np.uint64(base)
            rest //= np.uint64(base)
        if rest.any():
            raise WriterError(f"a value does not fit in {width} base-{base} digits")
        first = np.where(digits.any(axis=1), np.argmax(digits != 0, axis=1), width - 1)
        ndigits = np.maximum(width - first, min_digits)
        self.block(alphabet[digits], np.arange(width) >= (width - ndigits)[:, None])

    def timestamp(self, ts: np.ndarray) -> None:
        if not np.isfinite(ts).all() or (ts < 0).any():
            raise WriterError("timestamps must be finite and non-negative to be written")
        sec = np.floor(ts)
        # ts - floor(ts) is exact, so rounding the fraction matches Python's "%.6f".
        frac = np.rint((ts - sec) * 1e6)
        carry = frac >= 1e6
        self.number(sec + carry, width=12)
        self.text(".")
        self.number(np.where(carry, 0.0, frac), width=6, min_digits=6)

    def payload(
        self,
        payload: np.ndarray,
        dlc: np.ndarray,
        *,
        sep: str = "",
        sep_mode: str = "between",
        upper: bool = False,
    ) -> None:
        """Data bytes as hex pairs. ``sep_mode``: ``"before"`` puts ``sep`` before each
        data byte, ``"all"`` before all eight slots (padded rows), ``"between"`` only
        between data bytes."""
        alphabet = _UPPER if upper else _LOWER
        cols = [alphabet[payload >> 4], alphabet[payload & 15]]
        data = np.arange(8) < dlc[:, None]
        keeps = [data, data]
        if sep:
            cols.insert(0, np.full((self.n, 8), ord(sep), np.uint8))
            sep_keep = {
                "before": data,
                "all": np.ones_like(data),
                "between": data & (np.arange(8) >= 1),
            }[sep_mode]
            keeps.insert(0, sep_keep)
        width = len(cols)
        self.block(
            np.stack(cols, axis=2).reshape(self.n, 8 * width),
            np.stack(keeps, axis=2).reshape(self.n, 8 * width),
        )

    def build(self) -> bytes:
        if self.n == 0:
            return b""
        chars = np.concatenate(self.chars, axis=1)
        keep = np.concatenate(self.keep, axis=1)
        return chars[keep].tobytes()


def write_text(
    table: MessageTable,
    path: str | os.PathLike[str],
    header: str,
    render: Callable[[MessageTable], Rows],
) -> Path:
    # Render before opening, so a table that cannot be written never touches the file.
    chunks = [
        render(table.take(slice(i, i + _CHUNK_ROWS))).build()
        for i in range(0, len(table), _CHUNK_ROWS)
    ]
    with atomic_file(path) as f:
        f.write(header.encode("ascii"))
        for chunk in chunks:
            f.write(chunk)
    return Path(path)


def require_labels(table: MessageTable, fmt: str, path: str | os.PathLike[str]) -> np.ndarray:
    if table.label is None:
        raise WriterError(
            f"{path}: format {fmt!r} stores a label per message but the table is unlabelled; "
            "write it as 'hcrl_normal' or 'candump' (unlabelled formats) or attach labels"
        )
    return table.label
