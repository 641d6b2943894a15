"""Per-message statistics of one capture, each computed causally (from earlier messages of
the same capture only) and without reference to any vehicle's ID values.

They feed the ``invariant`` node features: a CAN ID's timing relative to its own period,
how its payload changed since its previous frame, and how new the ID is in the capture.
An ID's period is the geometric mean of its first ``warmup`` inter-arrival times, so an
attack that starts later cannot drag the estimate towards itself (an estimate that keeps
adapting would absorb a long injection; see docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .table import MessageTable

__all__ = ["PERIOD_WARMUP", "MessageStats", "message_stats"]

PERIOD_WARMUP = 32  # inter-arrival times per ID that set its period estimate
_POPCOUNT = np.array([bin(b).count("1") for b in range(256)], np.uint8)
_MIN_IAT = 1e-6  # seconds: equal timestamps (logger resolution) still give a finite ratio


@dataclass(frozen=True)
class MessageStats:
    """One row per message of the capture, in file order.

    ``log2_ratio``: log2 of the inter-arrival time over the ID's period estimate (NaN for
    an ID's first two frames, where no period exists yet). ``hamming``: bits flipped
    against the ID's previous frame / 64. ``bytes_changed``: changed bytes / 8.
    ``occurrence``: how many earlier frames of this ID the capture holds.
    ``log_period_ms``: log1p of the period estimate in ms (NaN as for the ratio).
    """

    log2_ratio: np.ndarray  # float64
    hamming: np.ndarray  # float64, NaN for an ID's first frame
    bytes_changed: np.ndarray  # float64, NaN for an ID's first frame
    occurrence: np.ndarray  # int64
    log_period_ms: np.ndarray  # float64


def message_stats(table: MessageTable, warmup: int = PERIOD_WARMUP) -> MessageStats:
    """Causal per-ID timing and payload statistics of every message, vectorised."""
    n = len(table)
    order = np.argsort(table.can_id, kind="stable")  # by ID, time order kept within an ID
    sid = table.can_id[order]
    first = np.ones(n, bool)
    first[1:] = sid[1:] != sid[:-1]
    group_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    occ_sorted = np.arange(n) - group_start

    ts = table.timestamp[order]
    iat = np.full(n, np.nan)
    iat[1:] = ts[1:] - ts[:-1]
    iat[first] = np.nan
    log_iat = np.log(np.maximum(np.nan_to_num(iat, nan=1.0), _MIN_IAT))
    log_iat[first] = 0.0
    # Occurrence k has k-1 earlier inter-arrival times (occurrences 1..k-1); the period uses
    # at most the first `warmup` of them, so it is fixed once the ID is warmed up. Summed
    # term by term (warmup passes), not from a running total over the whole capture: the
    # same frames give the same estimate to the last bit, however long the capture is.
    n_prev = np.clip(occ_sorted - 1, 0, warmup)
    total = np.zeros(n)
    for k in range(1, warmup + 1):
        use = n_prev >= k
        total[use] += log_iat[group_start[use] + k]
    est = np.full(n, np.nan)
    has = n_prev >= 1
    est[has] = total[has] / n_prev[has]
    ratio = np.full(n, np.nan)
    ok = has & ~first
    ratio[ok] = (log_iat[ok] - est[ok]) / np.log(2.0)

    pay = table.payload[order]
    prev_pay = np.roll(pay, 1, axis=0)
    xor = np.bitwise_xor(pay, prev_pay)
    hamming = _POPCOUNT[xor].sum(axis=1, dtype=np.int64) / 64.0
    changed = (xor != 0).sum(axis=1) / 8.0
    hamming = np.where(first, np.nan, hamming)
    changed = np.where(first, np.nan, changed)
    period_ms = np.log1p(np.exp(est) * 1e3)

    out = np.empty(n, np.int64)
    inverse = np.empty(n, np.int64)
    inverse[order] = np.arange(n)
    out[:] = occ_sorted[inverse]
    return MessageStats(
        log2_ratio=ratio[inverse],
        hamming=hamming[inverse],
        bytes_changed=changed[inverse],
        occurrence=out,
        log_period_ms=period_ms[inverse],
    )
