"""Windows of one capture → graphs, vectorised over all windows at once.

Per window of ``W`` messages: nodes are the distinct CAN IDs, edges the distinct
directed transitions ``ID_t → ID_{t+1}`` with their counts. Everything is computed
with numpy over a ``[windows, W]`` index matrix; there is no loop per window or message.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .table import MessageTable

__all__ = ["EDGE_FEATURES", "NODE_FEATURES", "GraphArrays", "build_graphs", "window_starts"]

NODE_FEATURES: tuple[str, ...] = (
    "count_frac",
    *(f"byte{j}_mean" for j in range(8)),
    *(f"byte{j}_std" for j in range(8)),
    "dlc_mean",
    "iat_mean_log_ms",
    "iat_std_log_ms",
    "first_pos",
    "last_pos",
    "payload_change_rate",
)
EDGE_FEATURES: tuple[str, ...] = (
    "count_frac",
    "transition_prob",
    "dt_mean_log_ms",
    "dt_std_log_ms",
    "self_loop",
)


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


def build_graphs(table: MessageTable, window: int = 100, stride: int = 100) -> GraphArrays:
    """Graphs of every complete window of ``table`` (file order; never re-sorted)."""
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
    n_nodes = new.sum(axis=1)
    node_ptr = np.concatenate(([0], np.cumsum(n_nodes))).astype(np.int64)
    n_total = int(node_ptr[-1])
    g = (local_sorted + node_ptr[:-1, None]).ravel()
    msg = np.take_along_axis(idx, order, axis=1).ravel()
    pos = order.ravel().astype(np.float64)
    new_f = new.ravel()
    same = ~new_f  # this message follows one of the same ID in the same window

    labels = table.labels_or_zeros()
    count = np.bincount(g, minlength=n_total).astype(np.float64)
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
    # The last message of each (window, ID) group; also right for no windows at all.
    last = np.ones_like(new_f)
    last[:-1] = new_f[1:]
    x[:, 20] = pos[new_f] / w
    x[:, 21] = pos[last] / w
    x[:, 22] = np.bincount(gs, weights=changed, minlength=n_total) / n_int
    node_y = (np.bincount(g, weights=labels[msg], minlength=n_total) > 0).astype(np.uint8)

    # Edges: consecutive messages in time order, as local node indices.
    local = np.empty((k, w), np.int64)
    np.put_along_axis(local, order, local_sorted, axis=1)
    key = ((np.arange(k, dtype=np.int64)[:, None] * w + local[:, :-1]) * w + local[:, 1:]).ravel()
    uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    e_graph = uniq // (w * w)
    src = (uniq // w) % w
    dst = uniq % w
    n_edges = np.bincount(e_graph, minlength=k)
    edge_ptr = np.concatenate(([0], np.cumsum(n_edges))).astype(np.int64)
    step = _log_ms(table.timestamp[idx[:, 1:]] - table.timestamp[idx[:, :-1]]).ravel()
    dt_mean = np.bincount(inverse, weights=step, minlength=len(uniq)) / counts
    dt_sq = np.bincount(inverse, weights=step**2, minlength=len(uniq)) / counts
    edge_attr = np.empty((len(uniq), len(EDGE_FEATURES)), np.float32)
    edge_attr[:, 0] = counts / max(w - 1, 1)
    edge_attr[:, 1] = counts / count[node_ptr[e_graph] + src]
    edge_attr[:, 2] = dt_mean
    edge_attr[:, 3] = np.sqrt(np.maximum(dt_sq - dt_mean**2, 0.0))
    edge_attr[:, 4] = src == dst

    return GraphArrays(
        node_ptr=node_ptr,
        edge_ptr=edge_ptr,
        node_can=sid[new].astype(np.uint32),
        x=x,
        edge_index=np.stack((src, dst)).astype(np.int32),
        edge_attr=edge_attr,
        y=labels[idx].any(axis=1).astype(np.uint8) if k else np.zeros(0, np.uint8),
        node_y=node_y,
        window_start=table.timestamp[starts],
        msg_start=starts,
    )
