"""Windows of one capture → graphs, vectorised over all windows at once.

Per window of ``W`` messages: nodes are the distinct CAN IDs, edges the distinct
directed transitions ``ID_t → ID_{t+1}`` with their counts. Everything is computed
with numpy over a ``[windows, W]`` index matrix; there is no loop per window or message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .feature_sets import EDGE_FEATURES, FEATURE_SETS, NODE_FEATURES
from .table import MessageTable

__all__ = [
    "GraphArrays",
    "WindowLayout",
    "build_graphs",
    "concat_graphs",
    "window_layout",
    "window_starts",
]


@dataclass
class GraphArrays:
    """Flat ragged arrays of the graphs of one capture (``node_can`` holds raw CAN IDs)."""

    node_ptr: np.ndarray  # int64 [G+1]
    edge_ptr: np.ndarray  # int64 [G+1]
    node_can: np.ndarray  # uint32 [N]
    x: np.ndarray  # float32 [N, len(NODE_FEATURES)]
    edge_index: np.ndarray  # int32 [2, E], local to each graph
    edge_attr: np.ndarray  # float32 [E, len(EDGE_FEATURES)]
    y: np.ndarray  # uint8 [G]
    node_y: np.ndarray  # uint8 [N]
    window_start: np.ndarray  # float64 [G]: timestamp of the window's first message
    msg_start: np.ndarray  # int64 [G]: index of the window's first message in the capture
    window_end: np.ndarray  # float64 [G]: timestamp of the window's last message

    @property
    def num_graphs(self) -> int:
        return len(self.y)

    def select(self, graphs: np.ndarray) -> GraphArrays:
        """The graphs at sorted positions ``graphs``, with pointers rebuilt."""
        nn = np.diff(self.node_ptr)[graphs]
        ne = np.diff(self.edge_ptr)[graphs]
        nodes = _ranges(self.node_ptr[graphs], nn)
        edges = _ranges(self.edge_ptr[graphs], ne)
        return GraphArrays(
            node_ptr=np.concatenate(([0], np.cumsum(nn))).astype(np.int64),
            edge_ptr=np.concatenate(([0], np.cumsum(ne))).astype(np.int64),
            node_can=self.node_can[nodes],
            x=self.x[nodes],
            edge_index=self.edge_index[:, edges],
            edge_attr=self.edge_attr[edges],
            y=self.y[graphs],
            node_y=self.node_y[nodes],
            window_start=self.window_start[graphs],
            msg_start=self.msg_start[graphs],
            window_end=self.window_end[graphs],
        )


def _ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each pair, without a Python loop."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.cumsum(counts) - counts
    return np.arange(total, dtype=np.int64) + np.repeat(starts - offsets, counts)


def window_starts(n_messages: int, window: int, stride: int) -> np.ndarray:
    """First message of every complete window; a trailing partial window is not a graph."""
    if n_messages < window:
        return np.zeros(0, np.int64)
    return np.arange((n_messages - window) // stride + 1, dtype=np.int64) * stride


def _log_ms(seconds: np.ndarray) -> np.ndarray:
    return np.log1p(np.maximum(seconds, 0.0) * 1e3)


@dataclass(frozen=True)
class WindowLayout:
    """Where every message of every window goes, shared by all feature sets.

    Messages are visited grouped by (window, ID) in time order: position ``j`` of the flat
    arrays is message ``msg[j]``, node ``g[j]``, at offset ``pos[j]`` in its window.
    """

    starts: np.ndarray  # int64 [K]
    window: int
    idx: np.ndarray  # int64 [K, W]: message index of each window slot
    order: np.ndarray  # int64 [K, W]: slot order that groups each window by ID
    local_sorted: np.ndarray  # int64 [K, W]: node index within the window, in that order
    node_ptr: np.ndarray  # int64 [K+1]
    node_can: np.ndarray  # uint32 [N]
    g: np.ndarray  # int64 [K*W]: global node of each visited message
    msg: np.ndarray  # int64 [K*W]
    pos: np.ndarray  # float64 [K*W]: slot of the message in its window
    new: np.ndarray  # bool [K*W]: first message of its node
    last: np.ndarray  # bool [K*W]: last message of its node
    count: np.ndarray  # float64 [N]: messages per node

    @property
    def num_nodes(self) -> int:
        return int(self.node_ptr[-1])

    @property
    def same(self) -> np.ndarray:
        """Messages that follow one of the same ID in the same window."""
        return ~self.new

    def node_mean(self, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
        """Per node, the mean of ``values`` (per visited message) over ``mask`` (0 if none)."""
        g = self.g if mask is None else self.g[mask]
        v = values if mask is None else values[mask]
        total = np.bincount(g, weights=v, minlength=self.num_nodes)
        n = np.bincount(g, minlength=self.num_nodes)
        return np.divide(total, n, out=np.zeros(self.num_nodes), where=n > 0)


def window_layout(
    table: MessageTable, window: int, stride: int, starts: np.ndarray | None = None
) -> WindowLayout:
    """The layout of the windows that begin at ``starts`` (default: every complete window)."""
    if starts is None:
        starts = window_starts(len(table), window, stride)
    k, w = len(starts), window
    idx = starts[:, None] + np.arange(w, dtype=np.int64)
    ids = table.can_id[idx]
    # A stable sort groups each window's messages by ID while keeping them in time order.
    order = np.argsort(ids, axis=1, kind="stable")
    sid = np.take_along_axis(ids, order, axis=1)
    new = np.ones((k, w), bool)
    new[:, 1:] = sid[:, 1:] != sid[:, :-1]
    local_sorted = np.cumsum(new, axis=1, dtype=np.int64) - 1
    node_ptr = np.concatenate(([0], np.cumsum(new.sum(axis=1)))).astype(np.int64)
    g = (local_sorted + node_ptr[:-1, None]).ravel()
    new_f = new.ravel()
    # The last message of each (window, ID) group; also right for no windows at all.
    last = np.ones_like(new_f)
    last[:-1] = new_f[1:]
    return WindowLayout(
        starts=starts,
        window=w,
        idx=idx,
        order=order,
        local_sorted=local_sorted,
        node_ptr=node_ptr,
        node_can=sid[new].astype(np.uint32),
        g=g,
        msg=np.take_along_axis(idx, order, axis=1).ravel(),
        pos=order.ravel().astype(np.float64),
        new=new_f,
        last=last,
        count=np.bincount(g, minlength=int(node_ptr[-1])).astype(np.float64),
    )


def _v1_node_features(lay: WindowLayout, table: MessageTable) -> np.ndarray:
    """The original 23 node features: payload byte statistics, DLC, in-window timing."""
    g, msg, count, n_total, w = lay.g, lay.msg, lay.count, lay.num_nodes, lay.window
    same = lay.same
    pay = table.payload[msg].astype(np.float64)
    x = np.empty((n_total, len(NODE_FEATURES)), np.float32)
    x[:, 0] = count / w
    for j in range(8):
        s1 = np.bincount(g, weights=pay[:, j], minlength=n_total)
        s2 = np.bincount(g, weights=pay[:, j] ** 2, minlength=n_total)
        mean = s1 / count
        x[:, 1 + j] = mean / 255.0
        x[:, 9 + j] = np.sqrt(np.maximum(s2 / count - mean**2, 0.0)) / 255.0
    x[:, 17] = np.bincount(g, weights=table.dlc[msg], minlength=n_total) / count / 8.0
    ts = table.timestamp[msg]
    prev = np.roll(np.arange(len(g)), 1)
    dt = _log_ms(ts - ts[prev])[same]
    changed = (pay != pay[prev]).any(axis=1)[same].astype(np.float64)
    gs = g[same]
    n_int = np.maximum(count - 1, 1)
    iat_mean = np.bincount(gs, weights=dt, minlength=n_total) / n_int
    iat_sq = np.bincount(gs, weights=dt**2, minlength=n_total) / n_int
    x[:, 18] = iat_mean
    x[:, 19] = np.sqrt(np.maximum(iat_sq - iat_mean**2, 0.0))
    x[:, 20] = lay.pos[lay.new] / w
    x[:, 21] = lay.pos[lay.last] / w
    x[:, 22] = np.bincount(gs, weights=changed, minlength=n_total) / n_int
    return x


def _edges(
    lay: WindowLayout, table: MessageTable, step_factor: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct transitions per window: (edge_ptr, edge_index, edge_attr).

    ``step_factor`` multiplies the time between consecutive messages before its log: 1e3
    (milliseconds) for ``v1``; one over the capture's own typical gap for ``invariant``, so
    a busier bus reads alike.
    """
    k, w = len(lay.starts), lay.window
    local = np.empty((k, w), np.int64)
    np.put_along_axis(local, lay.order, lay.local_sorted, axis=1)
    key = ((np.arange(k, dtype=np.int64)[:, None] * w + local[:, :-1]) * w + local[:, 1:]).ravel()
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    e_graph = uniq // (w * w)
    src = (uniq // w) % w
    dst = uniq % w
    edge_ptr = np.concatenate(([0], np.cumsum(np.bincount(e_graph, minlength=k)))).astype(np.int64)
    gaps = table.timestamp[lay.idx[:, 1:]] - table.timestamp[lay.idx[:, :-1]]
    step = np.log1p(np.maximum(gaps, 0.0) * step_factor).ravel()
    dt_mean = np.bincount(inverse, weights=step, minlength=len(uniq)) / counts
    dt_sq = np.bincount(inverse, weights=step**2, minlength=len(uniq)) / counts
    edge_attr = np.empty((len(uniq), len(EDGE_FEATURES)), np.float32)
    edge_attr[:, 0] = counts / max(w - 1, 1)
    edge_attr[:, 1] = counts / lay.count[lay.node_ptr[e_graph] + src]
    edge_attr[:, 2] = dt_mean
    edge_attr[:, 3] = np.sqrt(np.maximum(dt_sq - dt_mean**2, 0.0))
    edge_attr[:, 4] = src == dst
    return edge_ptr, np.stack((src, dst)).astype(np.int32), edge_attr


# Windows are laid out and featurised this many message slots at a time: the [windows, W]
# index matrices and their temporaries are ~100 bytes per slot, so a capture of any length
# builds in ~50 MB beyond its message table. Each window's graph depends on its own
# messages and the capture's per-message statistics only, so the pieces are the graphs
# of one pass over all windows, to the bit (tests/test_graphs.py compares them).
_SLOTS_PER_PASS = 1 << 19


def build_graphs(
    table: MessageTable, window: int = 100, stride: int = 100, features: str = "v1"
) -> GraphArrays:
    """Graphs of every complete window of ``table`` (file order; never re-sorted), with the
    node and edge features of the feature set ``features`` (see :data:`FEATURE_SETS`)."""
    if features not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {features!r}; known: {', '.join(FEATURE_SETS)}")
    starts = window_starts(len(table), window, stride)
    if features == "v1":
        step_factor, stats, load_base = 1e3, None, None
    else:
        from .invariant import load_baseline_gap, typical_gap
        from .message_stats import message_stats

        step_factor, stats = 1.0 / typical_gap(table), message_stats(table)
        load_base = load_baseline_gap(table) if features == "invariant_load" else None
    per_pass = max(1, _SLOTS_PER_PASS // window)
    pieces = [
        _graphs_of(table, window, starts[k : k + per_pass], features, step_factor, stats, load_base)
        for k in range(0, max(len(starts), 1), per_pass)
    ]
    return pieces[0] if len(pieces) == 1 else concat_graphs(pieces)


def _graphs_of(
    table: MessageTable,
    window: int,
    starts: np.ndarray,
    features: str,
    step_factor: float,
    stats: object,
    load_base: float | None,
) -> GraphArrays:
    lay = window_layout(table, window, window, starts)
    if features == "v1":
        x = _v1_node_features(lay, table)
    else:
        from .invariant import invariant_node_features

        x = invariant_node_features(lay, table, stats)  # type: ignore[arg-type]
        if load_base is not None:
            from .invariant import bus_load

            per_node = np.repeat(bus_load(lay, table, load_base), np.diff(lay.node_ptr))
            x = np.concatenate((x, per_node[:, None].astype(np.float32)), axis=1)
    edge_ptr, edge_index, edge_attr = _edges(lay, table, step_factor)
    labels = table.labels_or_zeros()
    k = len(lay.starts)
    node_y = np.bincount(lay.g, weights=labels[lay.msg], minlength=lay.num_nodes) > 0
    return GraphArrays(
        node_ptr=lay.node_ptr,
        edge_ptr=edge_ptr,
        node_can=lay.node_can,
        x=x,
        edge_index=edge_index,
        edge_attr=edge_attr,
        y=labels[lay.idx].any(axis=1).astype(np.uint8) if k else np.zeros(0, np.uint8),
        node_y=node_y.astype(np.uint8),
        window_start=table.timestamp[lay.starts],
        msg_start=lay.starts,
        window_end=table.timestamp[lay.starts + window - 1] if k else np.zeros(0),
    )


def concat_graphs(pieces: list[GraphArrays]) -> GraphArrays:
    """The graphs of several pieces, in order, with the pointers rebased."""

    def ptr(name: str) -> np.ndarray:
        offset, parts = 0, [np.zeros(1, np.int64)]
        for p in pieces:
            values = getattr(p, name)
            parts.append(values[1:] + offset)
            offset += int(values[-1])
        return np.concatenate(parts).astype(np.int64)

    def cat(name: str, axis: int = 0) -> np.ndarray:
        return np.concatenate([getattr(p, name) for p in pieces], axis=axis)

    return GraphArrays(
        node_ptr=ptr("node_ptr"),
        edge_ptr=ptr("edge_ptr"),
        node_can=cat("node_can"),
        x=cat("x"),
        edge_index=cat("edge_index", axis=1),
        edge_attr=cat("edge_attr"),
        y=cat("y"),
        node_y=cat("node_y"),
        window_start=cat("window_start"),
        msg_start=cat("msg_start"),
        window_end=cat("window_end"),
    )
