"""Vehicle-invariant features: causal within the capture, blind to which ID is which,
and right on traffic whose answer is known."""

from __future__ import annotations

import numpy as np
import pytest
from canids_data import MessageTable, build_graphs
from canids_data.feature_sets import INVARIANT_NODE_FEATURES
from canids_data.message_stats import PERIOD_WARMUP, message_stats
from canids_data.synthetic import Vehicle, generate_capture
from canids_data.synthetic.attacks import Fuzzing, Spoofing

COL = {name: i for i, name in enumerate(INVARIANT_NODE_FEATURES)}


def _periodic(periods: dict[int, float], seconds: float, payload_bits: dict[int, int]):
    """IDs sent at fixed periods; each frame's payload flips ``payload_bits[id]`` low bits
    of byte 0 against the previous one (a counter-like signal)."""
    ts, ids = [], []
    for can_id, p in periods.items():
        t = np.arange(0.0, seconds, p) + 1e-4 * (can_id % 7)
        ts.append(t)
        ids.append(np.full(len(t), can_id, np.uint32))
    t, i = np.concatenate(ts), np.concatenate(ids)
    order = np.argsort(t, kind="stable")
    t, i = t[order], i[order]
    payload = np.zeros((len(t), 8), np.uint8)
    for can_id, bits in payload_bits.items():
        rows = np.flatnonzero(i == can_id)
        payload[rows, 0] = np.where(np.arange(len(rows)) % 2, (1 << bits) - 1, 0)
    return MessageTable(
        timestamp=t,
        can_id=i,
        dlc=np.full(len(t), 8, np.uint8),
        payload=payload,
        label=np.zeros(len(t), np.uint8),
    )


def test_timing_relative_to_each_ids_own_period():
    table = _periodic({0x100: 0.010, 0x200: 0.020}, 5.0, {0x100: 1, 0x200: 4})
    s = message_stats(table)
    a = table.can_id == 0x100
    b = table.can_id == 0x200
    # An ID's first two frames have no period yet; after that the ratio is log2(1) = 0.
    assert np.isnan(s.log2_ratio[np.flatnonzero(a)[:2]]).all()
    np.testing.assert_allclose(s.log2_ratio[np.flatnonzero(a)[2:]], 0.0, atol=1e-6)
    np.testing.assert_allclose(s.log2_ratio[np.flatnonzero(b)[2:]], 0.0, atol=1e-6)
    np.testing.assert_allclose(np.expm1(s.log_period_ms[np.flatnonzero(b)[5]]), 20.0, rtol=1e-6)
    # Bits flipped against the ID's previous frame: 1 of 64 for A, 4 of 64 for B.
    np.testing.assert_allclose(s.hamming[np.flatnonzero(a)[1:]], 1 / 64)
    np.testing.assert_allclose(s.hamming[np.flatnonzero(b)[1:]], 4 / 64)
    assert np.isnan(s.hamming[np.flatnonzero(a)[0]])
    np.testing.assert_array_equal(s.occurrence[a], np.arange(a.sum()))


def test_an_injected_frame_reads_faster_than_its_period():
    table = _periodic({0x100: 0.010, 0x200: 0.020}, 5.0, {0x100: 1})
    # Inject 0x100 halfway between its own frames from 4 s on: it now comes every 5 ms.
    late = table.timestamp[(table.can_id == 0x100) & (table.timestamp > 4.0)] + 0.005
    t = np.concatenate((table.timestamp, late))
    order = np.argsort(t, kind="stable")
    inj = MessageTable(
        timestamp=t[order],
        can_id=np.concatenate((table.can_id, np.full(len(late), 0x100, np.uint32)))[order],
        dlc=np.full(len(t), 8, np.uint8),
        payload=np.concatenate((table.payload, np.full((len(late), 8), 0xFF, np.uint8)))[order],
        label=np.concatenate((table.label, np.ones(len(late), np.uint8)))[order],
    )
    s = message_stats(inj)
    attacked = (inj.can_id == 0x100) & (inj.timestamp > 4.01)
    # The period was fixed by the first frames, so the attack cannot pull it towards itself.
    np.testing.assert_allclose(s.log2_ratio[attacked], -1.0, atol=0.01)
    assert (s.hamming[attacked] > 0.5).all()  # 0xFF.. against a near-zero payload
    assert (inj.can_id == 0x100).sum() / 2 > PERIOD_WARMUP


def test_features_are_causal():
    """A window's features depend only on messages up to its end: the capture cut after
    window k gives the same first k graphs as the whole capture."""
    cap = generate_capture(
        Vehicle.known(0), 8.0, attacks=(Spoofing(4.0, 2.0), Fuzzing(6.5, 1.0)), seed=3
    )
    full = build_graphs(cap, 100, 100, "invariant")
    k = full.num_graphs // 2
    part = build_graphs(cap.take(slice(0, k * 100)), 100, 100, "invariant")
    assert part.num_graphs == k
    n = int(part.node_ptr[-1])
    np.testing.assert_array_equal(part.x, full.x[:n])
    e = int(part.edge_ptr[-1])
    np.testing.assert_array_equal(part.edge_attr, full.edge_attr[:e])


def test_features_do_not_depend_on_which_id_is_which():
    """Relabel every CAN ID by a random bijection: every window has the same node feature
    rows (nodes are listed by ID, so their order may change) and the same edges."""
    cap = generate_capture(Vehicle.known(1), 6.0, attacks=(Spoofing(3.0, 1.5),), seed=4)
    ids = np.unique(cap.can_id)
    new_ids = np.random.default_rng(0).permutation(np.arange(0x100, 0x100 + 7 * len(ids), 7))
    relabel = dict(zip(ids.tolist(), new_ids[: len(ids)].tolist(), strict=True))
    other = MessageTable(
        timestamp=cap.timestamp,
        can_id=np.array([relabel[i] for i in cap.can_id.tolist()], np.uint32),
        dlc=cap.dlc,
        payload=cap.payload,
        label=cap.label,
    )
    a = build_graphs(cap, 100, 100, "invariant")
    b = build_graphs(other, 100, 100, "invariant")
    np.testing.assert_array_equal(a.node_ptr, b.node_ptr)
    np.testing.assert_array_equal(a.y, b.y)
    for g in range(a.num_graphs):
        lo, hi = a.node_ptr[g], a.node_ptr[g + 1]
        rows_a = sorted(map(tuple, a.x[lo:hi].tolist()))
        rows_b = sorted(map(tuple, b.x[lo:hi].tolist()))
        assert rows_a == rows_b, g
    assert sorted(map(tuple, a.edge_attr.tolist())) == sorted(map(tuple, b.edge_attr.tolist()))


def test_new_ids_and_their_age():
    table = _periodic({0x100: 0.010, 0x200: 0.010}, 2.0, {})
    fuzz = generate_capture(Vehicle.known(0), 2.0, seed=0)  # unrelated IDs, appended later
    later = MessageTable(
        timestamp=fuzz.timestamp + 2.0,
        can_id=fuzz.can_id,
        dlc=fuzz.dlc,
        payload=fuzz.payload,
        label=fuzz.label,
    )
    g = build_graphs(MessageTable.concat([table, later]), 50, 50, "invariant")
    first = g.node_ptr[0], g.node_ptr[1]
    assert (g.x[first[0] : first[1], COL["new_frac"]] > 0).all()  # first window: all new
    assert (g.x[first[0] : first[1], COL["id_age"]] == 0).all()
    mid = int(np.searchsorted(g.window_start, 1.0))
    lo, hi = g.node_ptr[mid], g.node_ptr[mid + 1]
    assert (g.x[lo:hi, COL["new_frac"]] == 0).all()  # known by now
    # 100 frames of each ID by 1 s: past its period warm-up, so its age is saturated.
    assert (g.x[lo:hi, COL["id_age"]] == 1.0).all()
    # The IDs that first appear at 2 s are young again there.
    late = int(np.searchsorted(g.window_start, 2.0))
    lo, hi = g.node_ptr[late], g.node_ptr[late + 1]
    assert (g.x[lo:hi, COL["id_age"]] < 1.0).any()
    assert np.isfinite(g.x).all()
    assert np.isfinite(g.edge_attr).all()


def test_normal_traffic_features_are_stationary_after_the_warm_up():
    """Once every ID is past its period warm-up, a window of steady periodic traffic has
    the same node features at 2 s as at 60 s: nothing keeps drifting with the capture's
    length (an age that grew without bound made the score settle over minutes)."""
    table = _periodic({0x100: 0.010, 0x200: 0.020, 0x300: 0.050}, 61.0, {0x100: 1})
    g = build_graphs(table, 50, 50, "invariant")

    def rows(t: float) -> list[tuple[float, ...]]:
        w = int(np.searchsorted(g.window_start, t))
        return sorted(map(tuple, g.x[g.node_ptr[w] : g.node_ptr[w + 1]].tolist()))

    early, late = rows(2.0), rows(60.0)
    assert len(early) == len(late) == 3
    for a, b in zip(early, late, strict=True):
        # first/last positions depend on the window's phase; everything else is equal
        # up to the float32 noise of the timestamps.
        np.testing.assert_allclose(
            np.delete(a, [COL["first_pos"], COL["last_pos"]]),
            np.delete(b, [COL["first_pos"], COL["last_pos"]]),
            atol=1e-3,
        )


@pytest.mark.parametrize("features", ["v1", "invariant", "invariant_load"])
def test_both_feature_sets_have_their_declared_widths(features):
    from canids_data.feature_sets import feature_names

    cap = generate_capture(Vehicle.known(0), 2.0, seed=1)
    g = build_graphs(cap, 100, 100, features)
    nodes, edges = feature_names(features)
    assert g.x.shape[1] == len(nodes)
    assert g.edge_attr.shape[1] == len(edges)


def test_unknown_feature_set():
    cap = generate_capture(Vehicle.known(0), 1.0, seed=1)
    with pytest.raises(ValueError, match="unknown feature set 'raw'; known: v1, invariant"):
        build_graphs(cap, 100, 100, "raw")
