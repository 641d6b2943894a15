"""The ``invariant_load`` feature set: the window's bus load against the capture's start,
causal, blind to the vehicle's own rate, and right where the answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from canids_data import MessageTable, build_graphs
from canids_data.feature_sets import INVARIANT_NODE_FEATURES, LOAD_NODE_FEATURES
from canids_data.invariant import (
    LOAD_CLIP,
    TYPICAL_GAP_MESSAGES,
    load_baseline_gap,
)

LOAD = LOAD_NODE_FEATURES.index("bus_load")
PERIODS = {0x100: 0.002, 0x200: 0.004, 0x300: 0.005}  # 950 messages a second


def _traffic(seconds: float, flood_from: float | None = None, scale: float = 1.0):
    """Periodic IDs; from ``flood_from`` on, a new ID 0x000 at the bus's own rate (a DoS
    that doubles the load). ``scale`` stretches time: another vehicle's slower bus."""
    ts, ids, labels = [], [], []
    for can_id, p in PERIODS.items():
        t = np.arange(0.0, seconds, p) + 1e-4 * (can_id >> 8)
        ts.append(t)
        ids.append(np.full(len(t), can_id, np.uint32))
        labels.append(np.zeros(len(t), np.uint8))
    if flood_from is not None:
        t = np.arange(flood_from, seconds, 1.0 / 950.0)
        ts.append(t)
        ids.append(np.zeros(len(t), np.uint32))
        labels.append(np.ones(len(t), np.uint8))
    t, i, y = np.concatenate(ts), np.concatenate(ids), np.concatenate(labels)
    order = np.argsort(t, kind="stable")
    n = len(t)
    return MessageTable(
        timestamp=t[order] * scale,
        can_id=i[order],
        dlc=np.full(n, 8, np.uint8),
        payload=np.zeros((n, 8), np.uint8),
        label=y[order],
    )


def _window_load(g) -> np.ndarray:
    """Per window, the bus_load of its nodes (one value: every node carries it)."""
    per_node = g.x[:, LOAD]
    first = per_node[g.node_ptr[:-1]]
    np.testing.assert_array_equal(per_node, np.repeat(first, np.diff(g.node_ptr)))
    return first


def test_the_set_is_the_invariant_set_plus_the_load():
    table = _traffic(6.0)
    plain = build_graphs(table, 100, 100, "invariant")
    load = build_graphs(table, 100, 100, "invariant_load")
    assert LOAD_NODE_FEATURES[: len(INVARIANT_NODE_FEATURES)] == INVARIANT_NODE_FEATURES
    np.testing.assert_array_equal(load.x[:, : len(INVARIANT_NODE_FEATURES)], plain.x)
    np.testing.assert_array_equal(load.edge_attr, plain.edge_attr)


def test_the_load_is_log2_of_the_starts_gap_over_the_windows():
    table = _traffic(6.0)
    g = build_graphs(table, 100, 100, "invariant_load")
    ts = table.timestamp
    base = (ts[TYPICAL_GAP_MESSAGES] - ts[0]) / TYPICAL_GAP_MESSAGES
    assert load_baseline_gap(table) == pytest.approx(base, rel=1e-12)
    mean_gap = (g.window_end - g.window_start) / 99
    np.testing.assert_allclose(_window_load(g), np.log2(base / mean_gap), rtol=1e-6)
    # Steady traffic reads as the start's load.
    assert np.abs(_window_load(g)).max() < 0.1


def test_a_flood_doubles_the_load_whatever_id_it_uses():
    g = build_graphs(_traffic(8.0, flood_from=4.0), 100, 100, "invariant_load")
    load = _window_load(g)
    before = g.window_end < 4.0
    inside = g.window_start > 4.01
    assert np.abs(load[before]).max() < 0.1
    np.testing.assert_allclose(load[inside], 1.0, atol=0.1)
    assert g.y[inside].all()
    assert not g.y[before].any()


def test_the_load_is_causal_and_ignores_what_follows():
    clean = build_graphs(_traffic(4.0), 100, 100, "invariant_load")
    flooded = build_graphs(_traffic(8.0, flood_from=4.0), 100, 100, "invariant_load")
    k = clean.num_graphs - 1  # the last clean window may differ in its final messages
    np.testing.assert_array_equal(_window_load(flooded)[:k], _window_load(clean)[:k])


def test_a_slower_vehicle_reads_the_same():
    fast = build_graphs(_traffic(6.0), 100, 100, "invariant_load")
    slow = build_graphs(_traffic(6.0, scale=3.0), 100, 100, "invariant_load")
    np.testing.assert_allclose(_window_load(slow), _window_load(fast), atol=1e-9)


def test_degenerate_timestamps_clip_and_do_not_divide_by_zero():
    table = _traffic(1.0)
    frozen = MessageTable(
        timestamp=np.zeros(len(table)),
        can_id=table.can_id,
        dlc=table.dlc,
        payload=table.payload,
        label=table.label,
    )
    assert load_baseline_gap(frozen) == 1e-3  # no span: the documented 1 ms
    g = build_graphs(frozen, 100, 100, "invariant_load")
    np.testing.assert_array_equal(_window_load(g), LOAD_CLIP)
    assert np.isfinite(g.x).all()
    single = table.take(slice(0, 1))
    assert load_baseline_gap(single) == 1e-3
