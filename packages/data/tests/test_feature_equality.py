"""The restructured feature code gives the same values as the code it replaced, to the bit.

``message_stats`` (a [IDs, warmup] cumulative sum instead of 32 masked passes, popcounts
of 64-bit words instead of a byte table), the invariant node features (each mask's
counts taken once) and graph building a piece of windows at a time were rewritten for
speed. The previous implementations are kept here, verbatim, as the reference; every
array is compared with its NaNs and the sign of its zeros.
"""

from __future__ import annotations

import numpy as np
import pytest
from canids_data import MessageTable, build_graphs, read_capture
from canids_data import graphs as graphs_mod
from canids_data.feature_sets import INVARIANT_NODE_FEATURES
from canids_data.graphs import WindowLayout, window_layout
from canids_data.invariant import (
    _AGE_SCALE,
    _RATIO_CLIP,
    AGE_SATURATION,
    _node_extreme,
    invariant_node_features,
)
from canids_data.message_stats import _MIN_IAT, PERIOD_WARMUP, MessageStats, message_stats

_POPCOUNT = np.array([bin(b).count("1") for b in range(256)], np.uint8)


def reference_message_stats(table: MessageTable, warmup: int = PERIOD_WARMUP) -> MessageStats:
    n = len(table)
    order = np.argsort(table.can_id, kind="stable")
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
    xor = np.bitwise_xor(pay, np.roll(pay, 1, axis=0))
    hamming = _POPCOUNT[xor].sum(axis=1, dtype=np.int64) / 64.0
    changed = (xor != 0).sum(axis=1) / 8.0
    hamming = np.where(first, np.nan, hamming)
    changed = np.where(first, np.nan, changed)
    with np.errstate(invalid="ignore"):
        period_ms = np.log1p(np.exp(est) * 1e3)
    inverse = np.empty(n, np.int64)
    inverse[order] = np.arange(n)
    return MessageStats(
        log2_ratio=ratio[inverse],
        hamming=hamming[inverse],
        bytes_changed=changed[inverse],
        occurrence=occ_sorted[inverse],
        log_period_ms=period_ms[inverse],
    )


def reference_invariant(lay: WindowLayout, table: MessageTable) -> np.ndarray:
    stats = reference_message_stats(table)
    msg, g, n_total = lay.msg, lay.g, lay.num_nodes
    ratio = np.clip(stats.log2_ratio[msg], -_RATIO_CLIP, _RATIO_CLIP)
    defined = ~np.isnan(ratio)
    ham = stats.hamming[msg]
    has_prev = ~np.isnan(ham)
    x = np.zeros((n_total, len(INVARIANT_NODE_FEATURES)), np.float32)
    col = {name: i for i, name in enumerate(INVARIANT_NODE_FEATURES)}
    x[:, col["count_frac"]] = lay.count / lay.window
    x[:, col["first_pos"]] = lay.pos[lay.new] / lay.window
    x[:, col["last_pos"]] = lay.pos[lay.last] / lay.window
    x[:, col["ratio_mean"]] = lay.node_mean(ratio, defined)
    x[:, col["ratio_abs_mean"]] = lay.node_mean(np.abs(ratio), defined)
    x[:, col["ratio_min"]] = _node_extreme(lay, ratio, defined, np.minimum)
    x[:, col["ratio_max"]] = _node_extreme(lay, ratio, defined, np.maximum)
    x[:, col["ratio_defined_frac"]] = lay.node_mean(defined.astype(np.float64))
    x[:, col["hamming_mean"]] = lay.node_mean(ham, has_prev)
    x[:, col["hamming_max"]] = _node_extreme(lay, ham, has_prev, np.maximum)
    x[:, col["bytes_changed_mean"]] = lay.node_mean(stats.bytes_changed[msg], has_prev)
    x[:, col["repeat_frac"]] = lay.node_mean((ham == 0).astype(np.float64), has_prev)
    occurrence = stats.occurrence[msg]
    x[:, col["new_frac"]] = lay.node_mean((occurrence == 0).astype(np.float64))
    x[:, col["id_age"]] = np.log1p(np.minimum(occurrence[lay.new], AGE_SATURATION)) / _AGE_SCALE
    period = stats.log_period_ms[msg]
    x[:, col["log_period_ms"]] = lay.node_mean(period, ~np.isnan(period)) / 10.0
    x[:, col["dlc_mean"]] = np.bincount(g, weights=table.dlc[msg], minlength=n_total)
    x[:, col["dlc_mean"]] /= lay.count * 8.0
    return x


def assert_bits_equal(got: np.ndarray, want: np.ndarray, what: str) -> None:
    assert got.dtype == want.dtype, what
    assert got.shape == want.shape, what
    if got.dtype.kind == "f":
        assert np.array_equal(got, want, equal_nan=True), what
        assert np.array_equal(np.signbit(got), np.signbit(want)), f"{what}: sign of zero"
    else:
        assert np.array_equal(got, want), what


def _table(n: int, seed: int, ids: np.ndarray, *, ties: bool = False) -> MessageTable:
    rng = np.random.default_rng(seed)
    gaps = rng.choice([0.0, 1e-4], n) if ties else rng.exponential(1e-3, n)
    return MessageTable(
        timestamp=1.5e9 + np.cumsum(gaps),
        can_id=rng.choice(ids, n).astype(np.uint32),
        dlc=rng.integers(0, 9, n).astype(np.uint8),
        payload=rng.integers(0, 256, (n, 8)).astype(np.uint8),
        label=(rng.random(n) < 0.1).astype(np.uint8),
    )


TABLES = {
    "empty": lambda: _table(0, 0, np.array([1])),
    "one message": lambda: _table(1, 1, np.array([0x100])),
    "one ID": lambda: _table(500, 2, np.array([0x100])),
    "11-bit IDs": lambda: _table(5000, 3, np.arange(0x700, 0x7FF)),
    "29-bit IDs": lambda: _table(5000, 4, np.array([0x18DAF110, 0x1FFFFFFF, 0x100, 0x10000])),
    "equal timestamps": lambda: _table(3000, 5, np.arange(5), ties=True),
    "rare IDs": lambda: _table(4000, 6, np.arange(3000)),
}


@pytest.mark.parametrize("name", list(TABLES))
def test_message_stats_equal_the_reference(name) -> None:
    table = TABLES[name]()
    got, want = message_stats(table), reference_message_stats(table)
    for field in ("log2_ratio", "hamming", "bytes_changed", "occurrence", "log_period_ms"):
        assert_bits_equal(getattr(got, field), getattr(want, field), f"{name}: {field}")


@pytest.mark.parametrize("name", list(TABLES))
@pytest.mark.parametrize(("window", "stride"), [(100, 100), (20, 7)])
def test_invariant_features_equal_the_reference(name, window, stride) -> None:
    table = TABLES[name]()
    lay = window_layout(table, window, stride)
    assert_bits_equal(invariant_node_features(lay, table), reference_invariant(lay, table), name)


@pytest.mark.parametrize("features", ["invariant", "invariant_load", "v1"])
@pytest.mark.parametrize(("window", "stride"), [(100, 100), (20, 7), (10, 30)])
def test_graphs_built_a_piece_at_a_time_equal_one_pass(monkeypatch, features, window, stride):
    table = TABLES["11-bit IDs"]()
    whole = build_graphs(table, window, stride, features)
    monkeypatch.setattr(graphs_mod, "_SLOTS_PER_PASS", 3 * window + 1)  # 3 windows a pass
    pieces = build_graphs(table, window, stride, features)
    for field in whole.__dataclass_fields__:
        assert_bits_equal(getattr(pieces, field), getattr(whole, field), field)


@pytest.mark.realdata
def test_the_real_captures_give_the_reference_values(real_data_root) -> None:
    for path in sorted(real_data_root.rglob("*.parquet"))[:4]:
        table, _ = read_capture(path)
        lay = window_layout(table, 100, 100)
        assert_bits_equal(
            invariant_node_features(lay, table), reference_invariant(lay, table), str(path)
        )
