"""build_graphs against a plain per-window reference; windows, labels, vocabulary."""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np
import pytest
from canids_data import EDGE_FEATURES, NODE_FEATURES, OOV_INDEX, Vocabulary, build_graphs
from canids_data.graphs import window_starts
from canids_data.table import MessageTable

# --- a straightforward reference, one window at a time -------------------------------


def _log_ms(seconds: float) -> float:
    return float(np.log1p(max(seconds, 0.0) * 1e3))


def reference_window(table: MessageTable, start: int, w: int) -> dict[str, np.ndarray]:
    """The graph of messages ``start .. start+w-1``, computed the obvious way."""
    ids = [int(v) for v in table.can_id[start : start + w]]
    ts = table.timestamp[start : start + w]
    pay = table.payload[start : start + w].astype(np.float64)
    dlc = table.dlc[start : start + w].astype(np.float64)
    lab = table.labels_or_zeros()[start : start + w]
    nodes = sorted(set(ids))
    local = {c: i for i, c in enumerate(nodes)}
    x = np.zeros((len(nodes), len(NODE_FEATURES)))
    node_y = np.zeros(len(nodes), np.uint8)
    count = np.zeros(len(nodes))
    for i, c in enumerate(nodes):
        pos = [p for p in range(w) if ids[p] == c]
        count[i] = len(pos)
        x[i, 0] = len(pos) / w
        x[i, 1:9] = pay[pos].mean(axis=0) / 255.0
        x[i, 9:17] = pay[pos].std(axis=0) / 255.0
        x[i, 17] = dlc[pos].mean() / 8.0
        if len(pos) > 1:
            gaps = [_log_ms(ts[b] - ts[a]) for a, b in itertools.pairwise(pos)]
            changed = [float((pay[b] != pay[a]).any()) for a, b in itertools.pairwise(pos)]
            x[i, 18] = np.mean(gaps)
            x[i, 19] = np.std(gaps)
            x[i, 22] = np.mean(changed)
        x[i, 20] = pos[0] / w
        x[i, 21] = pos[-1] / w
        node_y[i] = int(any(lab[p] for p in pos))
    steps: dict[tuple[int, int], list[float]] = defaultdict(list)
    for t in range(w - 1):
        steps[(local[ids[t]], local[ids[t + 1]])].append(_log_ms(ts[t + 1] - ts[t]))
    keys = sorted(steps)
    edge_attr = np.zeros((len(keys), len(EDGE_FEATURES)))
    for e, (a, b) in enumerate(keys):
        dts = steps[(a, b)]
        edge_attr[e] = [len(dts) / (w - 1), len(dts) / count[a], np.mean(dts), np.std(dts), a == b]
    return {
        "node_can": np.array(nodes, np.uint32),
        "x": x,
        "node_y": node_y,
        "edge_index": np.array(keys, np.int64).reshape(-1, 2).T,
        "edge_attr": edge_attr,
        "y": np.uint8(lab.any()),
        "window_start": ts[0],
    }


def random_table(n: int, seed: int, *, labelled: bool = True, n_ids: int = 6) -> MessageTable:
    rng = np.random.default_rng(seed)
    ts = 1_000.0 + np.cumsum(rng.exponential(0.002, n))
    # A few inversions: negative gaps must be clipped to 0, not produce NaN.
    flip = rng.choice(n - 1, size=max(1, n // 50), replace=False)
    ts[flip], ts[flip + 1] = ts[flip + 1].copy(), ts[flip].copy()
    ids = rng.choice(np.array([0x18F, 0x2A0, 0x316, 0x43F, 0x7FF, 0x1FFFFFFF][:n_ids]), n)
    dlc = rng.integers(0, 9, n).astype(np.uint8)
    payload = rng.integers(0, 256, (n, 8)).astype(np.uint8)
    payload[np.arange(8)[None, :] >= dlc[:, None]] = 0
    # Repeat some payloads so payload_change_rate is not always 1.
    same = rng.random(n) < 0.3
    payload[same] = np.where(np.arange(8)[None, :] < dlc[same][:, None], 7, 0)
    label = (rng.random(n) < 0.05).astype(np.uint8) if labelled else None
    return MessageTable(ts, ids.astype(np.uint32), dlc, payload, label)


def assert_matches_reference(table: MessageTable, window: int, stride: int) -> None:
    g = build_graphs(table, window, stride)
    starts = window_starts(len(table), window, stride)
    assert g.num_graphs == len(starts)
    np.testing.assert_array_equal(g.msg_start, starts)
    assert g.node_ptr[0] == 0
    assert g.edge_ptr[0] == 0
    assert g.node_ptr[-1] == len(g.x) == len(g.node_can) == len(g.node_y)
    assert g.edge_ptr[-1] == g.edge_index.shape[1] == len(g.edge_attr)
    assert g.x.dtype == np.float32
    assert g.edge_attr.dtype == np.float32
    assert g.edge_index.dtype == np.int32
    assert g.node_can.dtype == np.uint32
    for k, s in enumerate(starts):
        ref = reference_window(table, int(s), window)
        n0, n1 = g.node_ptr[k], g.node_ptr[k + 1]
        e0, e1 = g.edge_ptr[k], g.edge_ptr[k + 1]
        np.testing.assert_array_equal(g.node_can[n0:n1], ref["node_can"], err_msg=f"graph {k}")
        np.testing.assert_allclose(g.x[n0:n1], ref["x"], rtol=1e-5, atol=1e-5, err_msg=f"{k}")
        np.testing.assert_array_equal(g.node_y[n0:n1], ref["node_y"], err_msg=f"graph {k}")
        np.testing.assert_array_equal(g.edge_index[:, e0:e1], ref["edge_index"], err_msg=f"{k}")
        np.testing.assert_allclose(
            g.edge_attr[e0:e1], ref["edge_attr"], rtol=1e-5, atol=1e-5, err_msg=f"graph {k}"
        )
        assert g.y[k] == ref["y"]
        assert g.window_start[k] == ref["window_start"]
    assert np.isfinite(g.x).all()
    assert np.isfinite(g.edge_attr).all()


# --- graphs vs the reference ---------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "stride"),
    [(10, 10), (10, 3), (10, 25), (7, 1), (2, 1), (2, 5), (30, 30), (16, 15)],
    ids=lambda v: str(v),
)
def test_build_graphs_matches_reference(window: int, stride: int) -> None:
    assert_matches_reference(random_table(203, seed=window * 100 + stride), window, stride)


def test_build_graphs_single_id_window() -> None:
    """One ID only: one node, one self-loop edge holding every transition."""
    t = random_table(40, seed=3)
    t = MessageTable(t.timestamp, np.full(40, 0x100, np.uint32), t.dlc, t.payload, t.label)
    g = build_graphs(t, 20, 20)
    np.testing.assert_array_equal(np.diff(g.node_ptr), [1, 1])
    np.testing.assert_array_equal(np.diff(g.edge_ptr), [1, 1])
    np.testing.assert_array_equal(g.edge_index, [[0, 0], [0, 0]])
    np.testing.assert_allclose(g.edge_attr[:, [0, 1, 4]], [[1.0, 19 / 20, 1.0]] * 2, rtol=1e-6)
    np.testing.assert_allclose(g.x[:, 0], 1.0)
    np.testing.assert_allclose(g.x[:, [20, 21]], [[0.0, 19 / 20]] * 2, rtol=1e-6)
    assert_matches_reference(t, 20, 20)


def test_window_starts_overlap_gaps_and_partial_tail() -> None:
    np.testing.assert_array_equal(window_starts(25, 10, 10), [0, 10])  # 20..24 dropped
    np.testing.assert_array_equal(window_starts(30, 10, 10), [0, 10, 20])
    np.testing.assert_array_equal(window_starts(25, 10, 4), [0, 4, 8, 12])  # 16..25 too short
    np.testing.assert_array_equal(window_starts(45, 10, 20), [0, 20])  # gaps 10..19, 30..44
    np.testing.assert_array_equal(window_starts(9, 10, 10), [])
    np.testing.assert_array_equal(window_starts(10, 10, 10), [0])


def test_partial_trailing_window_dropped() -> None:
    t = random_table(105, seed=1)
    g = build_graphs(t, 50, 50)
    assert g.num_graphs == 2
    np.testing.assert_array_equal(g.msg_start, [0, 50])
    # The last 5 messages are in no graph: their IDs' counts do not appear anywhere.
    assert g.x[:, 0].sum() == pytest.approx(2.0, rel=1e-6)  # count fractions sum to 1 per graph
    g_full = build_graphs(t.take(slice(0, 100)), 50, 50)
    np.testing.assert_array_equal(g.x, g_full.x)
    np.testing.assert_array_equal(g.edge_attr, g_full.edge_attr)


def test_too_short_table_gives_no_graphs_with_right_shapes() -> None:
    g = build_graphs(random_table(5, seed=2), 10, 10)
    assert g.num_graphs == 0
    np.testing.assert_array_equal(g.node_ptr, [0])
    np.testing.assert_array_equal(g.edge_ptr, [0])
    assert g.x.shape == (0, len(NODE_FEATURES))
    assert g.edge_attr.shape == (0, len(EDGE_FEATURES))
    assert g.edge_index.shape == (2, 0)
    assert g.y.shape == g.window_start.shape == g.msg_start.shape == (0,)
    assert g.node_can.shape == g.node_y.shape == (0,)


def test_unlabelled_table_gives_zero_labels() -> None:
    t = random_table(120, seed=4, labelled=False)
    assert t.label is None
    g = build_graphs(t, 20, 20)
    assert g.num_graphs == 6
    assert g.y.dtype == np.uint8
    assert not g.y.any()
    assert g.node_y.dtype == np.uint8
    assert not g.node_y.any()
    assert_matches_reference(t, 20, 20)


def test_graph_and_node_labels() -> None:
    t = random_table(60, seed=5)
    label = np.zeros(60, np.uint8)
    label[25] = 1  # in window 1 (20..39) only
    t = MessageTable(t.timestamp, t.can_id, t.dlc, t.payload, label)
    g = build_graphs(t, 20, 20)
    np.testing.assert_array_equal(g.y, [0, 1, 0])
    n0, n1 = g.node_ptr[1], g.node_ptr[2]
    attacked = g.node_can[n0:n1][g.node_y[n0:n1] == 1]
    np.testing.assert_array_equal(attacked, [t.can_id[25]])
    assert g.node_y[: g.node_ptr[1]].sum() == 0
    assert g.node_y[g.node_ptr[2] :].sum() == 0
    # Overlapping windows: message 25 is in every window that covers it.
    g2 = build_graphs(t, 20, 5)
    covers = [(s <= 25 < s + 20) for s in g2.msg_start]
    np.testing.assert_array_equal(g2.y, np.array(covers, np.uint8))


def test_select_equals_graphs_built_alone() -> None:
    t = random_table(200, seed=6)
    g = build_graphs(t, 20, 20)
    sel = g.select(np.array([1, 4, 9]))
    assert sel.num_graphs == 3
    for j, k in enumerate([1, 4, 9]):
        alone = build_graphs(t.take(slice(20 * k, 20 * k + 20)), 20, 20)
        n0, n1 = sel.node_ptr[j], sel.node_ptr[j + 1]
        e0, e1 = sel.edge_ptr[j], sel.edge_ptr[j + 1]
        np.testing.assert_array_equal(sel.x[n0:n1], alone.x)
        np.testing.assert_array_equal(sel.node_can[n0:n1], alone.node_can)
        np.testing.assert_array_equal(sel.edge_index[:, e0:e1], alone.edge_index)
        np.testing.assert_array_equal(sel.edge_attr[e0:e1], alone.edge_attr)
        assert sel.window_start[j] == alone.window_start[0]
        assert sel.msg_start[j] == 20 * k
    empty = g.select(np.zeros(0, np.int64))
    assert empty.num_graphs == 0
    assert empty.x.shape == (0, len(NODE_FEATURES))


# --- vocabulary ----------------------------------------------------------------------


def test_vocabulary_index_and_oov() -> None:
    v = Vocabulary.from_ids(np.array([0x316, 0x18F, 0x316, 0x7FF, 0x18F], np.uint32))
    np.testing.assert_array_equal(v.can_ids, [0x18F, 0x316, 0x7FF])
    assert len(v) == 4  # three IDs + OOV
    np.testing.assert_array_equal(
        v.index(np.array([0x18F, 0x316, 0x7FF, 0x000, 0x200, 0x800, 0xFFFFFFFF], np.uint32)),
        [1, 2, 3, OOV_INDEX, OOV_INDEX, OOV_INDEX, OOV_INDEX],
    )
    assert v.index(np.zeros(0, np.uint32)).shape == (0,)
    assert OOV_INDEX == 0


def test_empty_vocabulary_maps_everything_to_oov() -> None:
    v = Vocabulary.from_ids(np.zeros(0, np.uint32))
    assert len(v) == 1
    np.testing.assert_array_equal(v.index(np.array([1, 2, 3], np.uint32)), [0, 0, 0])


def test_vocabulary_json_round_trip_and_digest() -> None:
    v = Vocabulary.from_ids(np.array([5, 3, 9], np.uint32))
    data = v.to_json()
    assert data["can_ids"] == [3, 5, 9]
    assert data["oov_index"] == 0
    w = Vocabulary.from_json(data)
    np.testing.assert_array_equal(w.can_ids, v.can_ids)
    assert w.digest == v.digest == data["digest"]
    assert Vocabulary.from_ids(np.array([3, 5], np.uint32)).digest != v.digest
