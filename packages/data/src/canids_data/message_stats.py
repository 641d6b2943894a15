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

__all__ = ["PERIOD_WARMUP", "MessageStats", "message_stats", "stable_id_order"]

PERIOD_WARMUP = 32  # inter-arrival times per ID that set its period estimate
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


_BYTE_BITS = np.array([bin(b).count("1") for b in range(256)], np.int64)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits of each uint64, as int64 (numpy >= 2 counts them in one call)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(words).astype(np.int64)
    return _BYTE_BITS[words.view(np.uint8).reshape(-1, 8)].sum(axis=1)


def stable_id_order(can_id: np.ndarray) -> np.ndarray:
    """The stable argsort of ``can_id`` (by ID, file order within an ID).

    Standard 11-bit IDs (and any capture whose IDs fit 16 bits) are sorted as uint16,
    which numpy sorts stably with a radix sort, 5x faster than the merge sort it uses for
    32-bit keys; a stable sort has one answer, so both give the same order.
    """
    if len(can_id) and int(can_id.max()) < (1 << 16):
        return np.argsort(can_id.astype(np.uint16), kind="stable")
    return np.argsort(can_id, kind="stable")


def message_stats(table: MessageTable, warmup: int = PERIOD_WARMUP) -> MessageStats:
    """Causal per-ID timing and payload statistics of every message, vectorised."""
    n = len(table)
    order = stable_id_order(table.can_id)  # by ID, time order kept within an ID
    sid = table.can_id[order]
    first = np.ones(n, bool)
    first[1:] = sid[1:] != sid[:-1]
    starts = np.flatnonzero(first)
    counts = np.diff(np.append(starts, n))
    group = np.cumsum(first) - 1
    occ_sorted = np.arange(n) - starts[group]

    ts = table.timestamp[order]
    log_iat = np.zeros(n)
    later = ~first  # first[0] is True: every later frame has a predecessor of its ID
    iat = ts[1:] - ts[:-1]
    log_iat[1:][later[1:]] = np.log(np.maximum(iat[later[1:]], _MIN_IAT))
    # Occurrence k has k-1 earlier inter-arrival times (occurrences 1..k-1); the period uses
    # at most the first `warmup` of them, so it is fixed once the ID is warmed up. The
    # running sums of each ID's first `warmup` log gaps form one small [IDs, warmup]
    # matrix; a cumulative sum along its rows adds them in the same order, term by term,
    # as a running total would: the same frames give the same estimate to the last bit,
    # however long the capture is.
    n_prev = np.clip(occ_sorted - 1, 0, warmup)
    g_idx, k_idx = np.nonzero(np.arange(1, warmup + 1) < counts[:, None])
    head = np.zeros((len(starts), warmup))
    head[g_idx, k_idx] = log_iat[starts[g_idx] + k_idx + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        est_table = np.cumsum(head, axis=1) / np.arange(1, warmup + 1)
        period_table = np.log1p(np.exp(est_table) * 1e3)
    has = n_prev >= 1
    pick = group[has], n_prev[has] - 1
    est = np.full(n, np.nan)
    est[has] = est_table[pick]
    period_ms = np.full(n, np.nan)
    period_ms[has] = period_table[pick]
    ratio = np.full(n, np.nan)
    ok = has & ~first
    ratio[ok] = (log_iat[ok] - est[ok]) / np.log(2.0)

    # Payloads as one 64-bit word per frame: bits flipped and bytes changed against the
    # ID's previous frame by popcount, without an [n, 8] byte matrix.
    word = np.ascontiguousarray(table.payload).view(np.uint64).ravel()[order]
    xor = word ^ np.roll(word, 1)
    hamming = _popcount(xor) / 64.0
    nonzero = xor | (xor >> np.uint64(4))
    nonzero |= nonzero >> np.uint64(2)
    nonzero |= nonzero >> np.uint64(1)
    nonzero &= np.uint64(0x0101010101010101)
    changed = _popcount(nonzero) / 8.0
    hamming[first] = np.nan
    changed[first] = np.nan

    inverse = np.empty(n, np.int64)
    inverse[order] = np.arange(n)
    return MessageStats(
        log2_ratio=ratio[inverse],
        hamming=hamming[inverse],
        bytes_changed=changed[inverse],
        occurrence=occ_sorted[inverse],
        log_period_ms=period_ms[inverse],
    )
