"""Which windows of a training capture are validation: the rule and its guarantees.

``blocks`` (default): the capture's clean start (windows ending within
``val_start_seconds``), then ``val_blocks`` blocks of ``val_fraction`` of its windows in
all, placed by a seeded draw; in a capture with attack windows the first block holds some
of them (and at most half when it can), so validation holds both classes wherever training
does. Each block is embargoed on both sides by ``embargo`` windows, so no message is in
both training and validation. ``tail``: the capture's last ``val_fraction`` (the old rule).
"""

from __future__ import annotations

import hashlib
import math

import numpy as np

__all__ = ["ASSIGN_EMBARGO", "ASSIGN_MAIN", "ASSIGN_VAL", "assign_validation"]

ASSIGN_MAIN, ASSIGN_VAL, ASSIGN_EMBARGO = 0, 1, 2


def _rng(seed: int, key: str) -> np.random.Generator:
    # Each capture draws its own blocks, reproducibly, whatever order files are built in.
    digest = hashlib.sha256(key.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def assign_validation(
    *,
    mode: str,
    y: np.ndarray,
    window_end: np.ndarray,
    capture_start: float,
    val_fraction: float,
    embargo: int,
    val_blocks: int = 3,
    val_start_seconds: float = 0.0,
    val_start_max_fraction: float = 0.2,
    seed: int = 0,
    key: str = "",
) -> np.ndarray:
    """Per window of one training capture: main (0), validation (1) or embargo (2)."""
    n = len(y)
    assign = np.full(n, ASSIGN_MAIN, np.uint8)
    if n == 0 or val_fraction <= 0:
        return assign
    if mode == "tail":
        n_val = math.floor(n * val_fraction)
        if n_val == 0 or n - n_val - embargo < 1:
            return assign
        assign[n - n_val :] = ASSIGN_VAL
        assign[n - n_val - embargo : n - n_val] = ASSIGN_EMBARGO
        return assign
    taken = np.zeros(n, bool)  # validation or embargo: not free for another block
    if val_start_seconds > 0:
        # The windows a deployed detector would calibrate on: those that end (have all their
        # messages) within the first seconds of the capture.
        start = int(np.searchsorted(window_end, capture_start + val_start_seconds, "right"))
        # A short capture gives at most this share of its windows to its clean start.
        start = min(start, math.floor(n * val_start_max_fraction))
        if start > 0:
            _mark(assign, taken, 0, start, embargo)
    length = max(1, math.floor(n * val_fraction / val_blocks))
    rng = _rng(seed, key)
    attack = y.astype(bool)
    for b in range(val_blocks):
        lo = _draw(rng, taken, attack if b == 0 and attack.any() else None, length, embargo)
        if lo is None:
            break
        _mark(assign, taken, lo, lo + length, embargo)
    return assign


def _mark(assign: np.ndarray, taken: np.ndarray, lo: int, hi: int, embargo: int) -> None:
    n = len(assign)
    e_lo, e_hi = max(0, lo - embargo), min(n, hi + embargo)
    free = assign[e_lo:e_hi] == ASSIGN_MAIN
    assign[e_lo:e_hi][free] = ASSIGN_EMBARGO
    assign[lo:hi] = ASSIGN_VAL
    taken[e_lo:e_hi] = True


def _draw(
    rng: np.random.Generator,
    taken: np.ndarray,
    attack: np.ndarray | None,
    length: int,
    embargo: int,
) -> int | None:
    """A block start whose block and embargo avoid every taken window; with ``attack``,
    one whose block holds attack windows (at most half of them when possible)."""
    n = len(taken)
    if length + 2 * embargo > n:
        return None
    busy = np.concatenate(([0], np.cumsum(taken)))
    # Block [lo, lo+length) with its embargo [lo-embargo, lo+length+embargo) clipped to the
    # capture must not touch a taken window.
    lo = np.arange(n - length + 1)
    e_lo = np.maximum(lo - embargo, 0)
    e_hi = np.minimum(lo + length + embargo, n)
    ok = (busy[e_hi] - busy[e_lo]) == 0
    # Training must keep windows on at least one side of the block.
    ok &= (lo > 0) | (lo + length < n)
    if attack is not None:
        hits = np.concatenate(([0], np.cumsum(attack)))
        inside = hits[lo + length] - hits[lo]
        with_attack = ok & (inside > 0)
        at_most_half = with_attack & (inside <= max(1, attack.sum() // 2))
        ok = at_most_half if at_most_half.any() else with_attack
    choices = np.flatnonzero(ok)
    if len(choices) == 0:
        return None
    return int(choices[rng.integers(len(choices))])
