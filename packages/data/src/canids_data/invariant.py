"""Vehicle-invariant node features: what a CAN ID does relative to itself, not which ID it is.

Another vehicle uses other IDs, other periods and other payload layouts; what stays is the
shape of normal traffic: each ID repeats at its own period, its payload changes in a few
bits from frame to frame, and the set of IDs on the bus is fixed after the first second.
Injection breaks that shape (a known ID at 3-8x its rate, frames that flip half the
payload bits, IDs the capture never carried). Every statistic is causal within its capture
(:mod:`canids_data.message_stats`), so a deployed detector can compute it as frames arrive.
"""

from __future__ import annotations

import numpy as np

from .feature_sets import INVARIANT_NODE_FEATURES
from .graphs import WindowLayout
from .message_stats import PERIOD_WARMUP, MessageStats, message_stats
from .table import MessageTable

__all__ = [
    "AGE_SATURATION",
    "LOAD_CLIP",
    "TYPICAL_GAP_MESSAGES",
    "bus_load",
    "invariant_node_features",
    "load_baseline_gap",
    "typical_gap",
]

TYPICAL_GAP_MESSAGES = 2000  # the capture's first messages set its typical inter-message gap
_RATIO_CLIP = 8.0  # log2: 256x faster or slower than the period is as anomalous as it gets
# An ID's age (earlier frames of it in the capture) saturates once its period estimate is
# final. Age that kept growing with the capture (log1p(occurrence) up to 1e5 frames, the
# first version) made every node's features drift for minutes after the capture started:
# normal traffic scored high for tens of seconds, and a calibration on the first seconds
# set a threshold far above the capture's steady state (docs/results.md, set_01). Only an
# ID's first frames are news; after PERIOD_WARMUP inter-arrivals it is part of the bus.
AGE_SATURATION = PERIOD_WARMUP + 1
_AGE_SCALE = np.log1p(AGE_SATURATION)


def typical_gap(table: MessageTable) -> float:
    """Median time between consecutive messages over the capture's first messages (causal:
    a deployed detector knows it after a second or two); 1 ms when undefined."""
    ts = table.timestamp[: TYPICAL_GAP_MESSAGES + 1]
    gaps = np.diff(ts)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else 1e-3


# log2 of the load against the capture's start; 16x busier or quieter is as far as it goes.
LOAD_CLIP = 4.0


def load_baseline_gap(table: MessageTable) -> float:
    """Mean time between messages over the capture's first messages: its bus load when the
    car starts, known to a deployed detector after a second or two; 1 ms when undefined.

    The mean, not :func:`typical_gap`'s median: the median gap is the logger's spacing of
    back-to-back frames (0.24 ms on hcrl_sa, 0.013 ms on two set_01 captures of the same
    car as others at 0.25 ms), the mean is what a flood changes (0.48-0.69 ms on every
    training capture of both datasets).
    """
    k = min(len(table) - 1, TYPICAL_GAP_MESSAGES)
    if k < 1:
        return 1e-3
    span = float(table.timestamp[k] - table.timestamp[0])
    return span / k if span > 0 else 1e-3


def bus_load(lay: WindowLayout, table: MessageTable, baseline_gap: float) -> np.ndarray:
    """[windows] float64: log2(baseline gap / the window's mean gap between messages),
    clipped to ±:data:`LOAD_CLIP`.

    0 is the capture's starting load; +1 is twice as many messages per second. A flood
    (DoS with a new ID, fuzzing with random ones) shortens the window whatever IDs it
    uses: on the training captures of hcrl_sa and set_01 normal windows lie within
    -0.21..0.33, the median DoS window at +0.86..+0.93 and hcrl_sa's fuzzing at +0.60
    (docs/data.md).
    """
    if len(lay.starts) == 0:
        return np.zeros(0)
    ts = table.timestamp
    span = ts[lay.starts + lay.window - 1] - ts[lay.starts]
    mean_gap = np.maximum(span, 0.0) / (lay.window - 1)
    # A window whose messages share one timestamp is as busy as the clip allows.
    with np.errstate(divide="ignore"):
        load = np.log2(baseline_gap / mean_gap)
    return np.clip(load, -LOAD_CLIP, LOAD_CLIP)


def invariant_node_features(
    lay: WindowLayout, table: MessageTable, stats: MessageStats | None = None
) -> np.ndarray:
    """[nodes, len(INVARIANT_NODE_FEATURES)] float32, in the order of that tuple.

    ``stats`` are the capture's :func:`message_stats` (computed here when not given; a
    caller that lays out the windows a piece at a time computes them once)."""
    if stats is None:
        stats = message_stats(table)
    msg, g, n_total = lay.msg, lay.g, lay.num_nodes
    ratio = np.clip(stats.log2_ratio[msg], -_RATIO_CLIP, _RATIO_CLIP)
    defined = ~np.isnan(ratio)
    ham = stats.hamming[msg]
    has_prev = ~np.isnan(ham)
    period = stats.log_period_ms[msg]
    occurrence = stats.occurrence[msg]
    # Per-node means over a mask, each mask's node index and counts taken once. Means of
    # 0/1 flags are counts over counts: the same division as a weighted sum of the flags,
    # whose sum of ones is exact.
    g_def, g_prev = g[defined], g[has_prev]
    n_all = np.bincount(g, minlength=n_total)
    n_def = np.bincount(g_def, minlength=n_total)
    n_prev = np.bincount(g_prev, minlength=n_total)

    def mean(values: np.ndarray, gm: np.ndarray, n: np.ndarray) -> np.ndarray:
        total = np.bincount(gm, weights=values, minlength=n_total)
        return np.divide(total, n, out=np.zeros(n_total), where=n > 0)

    def frac(flags: np.ndarray, n: np.ndarray) -> np.ndarray:
        hits = np.bincount(g[flags], minlength=n_total).astype(np.float64)
        return np.divide(hits, n, out=np.zeros(n_total), where=n > 0)

    x = np.zeros((n_total, len(INVARIANT_NODE_FEATURES)), np.float32)
    col = {name: i for i, name in enumerate(INVARIANT_NODE_FEATURES)}
    x[:, col["count_frac"]] = lay.count / lay.window
    x[:, col["first_pos"]] = lay.pos[lay.new] / lay.window
    x[:, col["last_pos"]] = lay.pos[lay.last] / lay.window
    r = ratio[defined]
    x[:, col["ratio_mean"]] = mean(r, g_def, n_def)
    x[:, col["ratio_abs_mean"]] = mean(np.abs(r), g_def, n_def)
    x[:, col["ratio_min"]] = _node_extreme(lay, ratio, defined, np.minimum)
    x[:, col["ratio_max"]] = _node_extreme(lay, ratio, defined, np.maximum)
    x[:, col["ratio_defined_frac"]] = frac(defined, n_all)
    x[:, col["hamming_mean"]] = mean(ham[has_prev], g_prev, n_prev)
    x[:, col["hamming_max"]] = _node_extreme(lay, ham, has_prev, np.maximum)
    x[:, col["bytes_changed_mean"]] = mean(stats.bytes_changed[msg][has_prev], g_prev, n_prev)
    x[:, col["repeat_frac"]] = frac(has_prev & (ham == 0), n_prev)
    x[:, col["new_frac"]] = frac(occurrence == 0, n_all)
    age = np.minimum(occurrence[lay.new], AGE_SATURATION)
    x[:, col["id_age"]] = np.log1p(age) / _AGE_SCALE
    has_period = ~np.isnan(period)
    g_per = g_def if np.array_equal(has_period, defined) else g[has_period]
    n_per = n_def if g_per is g_def else np.bincount(g_per, minlength=n_total)
    x[:, col["log_period_ms"]] = mean(period[has_period], g_per, n_per) / 10.0
    x[:, col["dlc_mean"]] = np.bincount(g, weights=table.dlc[msg], minlength=n_total)
    x[:, col["dlc_mean"]] /= lay.count * 8.0
    return x


def _node_extreme(
    lay: WindowLayout, values: np.ndarray, mask: np.ndarray, op: np.ufunc
) -> np.ndarray:
    """Per node, the min or max of ``values`` over ``mask`` (0 where a node has none).

    Messages are visited grouped by node, so each node's messages are one contiguous run
    and ``op.reduceat`` over the run starts gives the extreme without a loop.
    """
    fill = np.inf if op is np.minimum else -np.inf
    v = np.where(mask, values, fill)
    if len(v) == 0:
        return np.zeros(lay.num_nodes)
    out = op.reduceat(v, np.flatnonzero(lay.new))
    return np.where(np.isfinite(out), out, 0.0)
