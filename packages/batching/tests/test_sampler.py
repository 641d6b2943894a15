"""BudgetBatchSampler: exact length, determinism, budgets, DDP, loaders, validation."""

from __future__ import annotations

import warnings
from types import SimpleNamespace

import canids_batching as cb
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset


def batches_of(sampler: cb.BudgetBatchSampler) -> list[list[int]]:
    return [b.tolist() for b in sampler]


def sums(batches, sizes) -> np.ndarray:
    return np.array([int(sizes[b].sum()) for b in batches])


@pytest.mark.parametrize("packing", ["sequential", "sorted"])
@pytest.mark.parametrize("seed", [0, 1, 42])
def test_len_is_exact_for_every_epoch(packing, seed, hcrl_sizes) -> None:
    s = cb.BudgetBatchSampler(hcrl_sizes, 1000, seed=seed, packing=packing, bucket_size=512)
    for epoch in range(4):
        s.set_epoch(epoch)
        announced = len(s)
        got = batches_of(s)
        assert len(got) == announced
        assert sorted(i for b in got for i in b) == list(range(hcrl_sizes[0].size))


@pytest.mark.parametrize("packing", ["sequential", "sorted"])
def test_deterministic_for_seed_and_epoch(packing, hcrl_sizes) -> None:
    def run(seed: int, epoch: int) -> list[list[int]]:
        s = cb.BudgetBatchSampler(hcrl_sizes, 700, seed=seed, packing=packing)
        s.set_epoch(epoch)
        return batches_of(s)

    assert run(3, 5) == run(3, 5)
    assert run(3, 5) != run(3, 6)
    assert run(3, 5) != run(4, 5)


def test_set_epoch_changes_order_and_iteration_repeats_without_it(hcrl_sizes) -> None:
    s = cb.BudgetBatchSampler(hcrl_sizes, 700)
    first, again = batches_of(s), batches_of(s)
    assert first == again
    s.set_epoch(1)
    assert batches_of(s) != first
    assert s.epoch == 1


def test_no_shuffle_keeps_dataset_order(hcrl_sizes) -> None:
    s = cb.BudgetBatchSampler(hcrl_sizes, 700, shuffle=False)
    flat = [i for b in s for i in b]
    assert flat == list(range(hcrl_sizes[0].size))


@pytest.mark.parametrize("key", ["nodes", "edges"])
@pytest.mark.parametrize("packing", ["sequential", "sorted"])
def test_budget_never_exceeded(key, packing, hcrl_sizes) -> None:
    nodes, edges = hcrl_sizes
    s = cb.BudgetBatchSampler(hcrl_sizes, 900, key=key, packing=packing)
    got = sums(batches_of(s), nodes if key == "nodes" else edges)
    assert got.max() <= 900
    st = s.stats()
    assert st.oversized == 0
    assert 0 < st.min_fill <= st.mean_fill <= 1


@pytest.mark.parametrize("packing", ["sequential", "sorted"])
def test_dual_budget_enforces_both(packing) -> None:
    rng = np.random.default_rng(0)
    nodes = rng.integers(20, 60, 4000)
    # Sparse graphs first, dense ones after: nodes bind in the first half, edges later.
    ratio = np.where(np.arange(4000) < 2000, 0.5, 3.0)
    edges = np.round(nodes * ratio).astype(np.int64)
    s = cb.BudgetBatchSampler(
        (nodes, edges), (800, 1000), key="both", packing=packing, shuffle=False, bucket_size=500
    )
    got = batches_of(s)
    n, e = sums(got, nodes), sums(got, edges)
    assert n.max() <= 800
    assert e.max() <= 1000
    assert (n > 760).sum() > 10
    assert (e > 950).sum() > 10
    assert sorted(i for b in got for i in b) == list(range(4000))
    only_nodes = cb.BudgetBatchSampler((nodes, edges), 800, key="nodes", packing=packing)
    assert len(s) > len(only_nodes)


def test_oversized_graphs_travel_alone_counted_and_warned_once() -> None:
    nodes = np.array([10, 500, 20, 30, 600, 40] * 50)
    with pytest.warns(cb.BatchingWarning, match="100 of 300 graphs exceed") as rec:
        s = cb.BudgetBatchSampler((nodes, nodes), 100)
    assert len(rec) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no second warning across epochs
        for epoch in range(3):
            s.set_epoch(epoch)
            got = batches_of(s)
            assert sorted(i for b in got for i in b) == list(range(300))
            for b in got:
                assert nodes[b].sum() <= 100 or len(b) == 1
            st = s.stats()
            assert st.oversized == 100
            assert st.dropped_graphs == 0
            assert st.nodes_max == 600
            assert st.mean_fill <= 1


def test_sorted_fills_better_than_sequential_on_skewed_sizes(make_skewed) -> None:
    sizes = make_skewed(20000, 3)
    fills = {}
    for packing in ("sequential", "sorted"):
        s = cb.BudgetBatchSampler(sizes, 1024, packing=packing, seed=1)
        fills[packing] = s.stats().mean_fill
        assert s.stats().batches == len(s)
    assert fills["sorted"] > fills["sequential"] + 0.05
    assert fills["sorted"] > 0.95


@pytest.mark.parametrize("packing", ["sequential", "sorted"])
@pytest.mark.parametrize("replicas", [2, 3, 4])
def test_ddp_ranks_are_disjoint_equal_and_complete(packing, replicas, hcrl_sizes) -> None:
    n = hcrl_sizes[0].size
    for epoch in (0, 1):
        per_rank = []
        for rank in range(replicas):
            s = cb.BudgetBatchSampler(
                hcrl_sizes, 900, packing=packing, num_replicas=replicas, rank=rank, seed=5
            )
            s.set_epoch(epoch)
            got = batches_of(s)
            assert len(got) == len(s)
            per_rank.append(got)
        assert len({len(b) for b in per_rank}) == 1  # same number of batches
        seen = [i for batches in per_rank for b in batches for i in b]
        assert len(seen) == len(set(seen)) == n  # disjoint, nothing dropped (split mode)
        for batches in per_rank:
            assert sums(batches, hcrl_sizes[0]).max() <= 900


def test_ddp_split_is_counted(hcrl_sizes) -> None:
    sizes = (hcrl_sizes[0][:1001], hcrl_sizes[1][:1001])
    base = len(cb.BudgetBatchSampler(sizes, 900))
    s = cb.BudgetBatchSampler(sizes, 900, num_replicas=4, rank=2)
    st = s.stats()
    assert st.split_batches == (-base) % 4
    assert len(s) == (base + st.split_batches) // 4


def test_ddp_drop_last_drops_and_counts(hcrl_sizes) -> None:
    n = hcrl_sizes[0].size
    seen, dropped = [], set()
    for rank in range(3):
        s = cb.BudgetBatchSampler(hcrl_sizes, 900, num_replicas=3, rank=rank, drop_last=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", cb.BatchingWarning)
            seen += [i for b in s for i in b]
        dropped.add(s.stats().dropped_graphs)
    assert len(seen) == len(set(seen))
    assert dropped == {n - len(seen)}
    assert n - len(seen) > 0


def test_drop_last_drops_the_remainder_batch(hcrl_sizes) -> None:
    keep = cb.BudgetBatchSampler(hcrl_sizes, 900, shuffle=False)
    drop = cb.BudgetBatchSampler(hcrl_sizes, 900, shuffle=False, drop_last=True)
    assert batches_of(drop) == batches_of(keep)[:-1]
    assert drop.stats().dropped_graphs == len(batches_of(keep)[-1])
    assert drop.stats().dropped_batches == 1


def test_min_batch_size_drops_small_batches_with_count_and_warning() -> None:
    nodes = np.array([60, 60, 30, 30, 60, 10])  # greedy: [60] [60 30] [30 60 10]
    s = cb.BudgetBatchSampler((nodes, nodes), 100, shuffle=False, min_batch_size=2)
    with pytest.warns(cb.BatchingWarning, match="1 graphs dropped by min_batch_size"):
        assert len(s) == 2
    assert batches_of(s) == [[1, 2], [3, 4, 5]]
    assert s.stats().dropped_graphs == 1


def test_stats_report_spread_and_fill(hcrl_sizes) -> None:
    s = cb.BudgetBatchSampler(hcrl_sizes, 2000)
    st = s.stats()
    node_sums, edge_sums = s.batch_sizes()
    assert st.batches == len(s) == node_sums.size
    assert st.graphs == hcrl_sizes[0].size
    assert st.nodes_mean == pytest.approx(node_sums.mean())
    assert st.nodes_std == pytest.approx(node_sums.std())
    assert st.edges_max == edge_sums.max()
    assert st.mean_fill == pytest.approx((node_sums / 2000).mean())
    assert st.min_fill == pytest.approx((node_sums / 2000).min())
    assert st.to_dict()["budget"] == (2000,)


def test_accepts_sizes_method_and_graph_sequences(hcrl_sizes) -> None:
    nodes, edges = hcrl_sizes

    class Split:
        def sizes(self):
            return torch.from_numpy(nodes), torch.from_numpy(edges)

    graphs = [
        SimpleNamespace(num_nodes=int(a), num_edges=int(b))
        for a, b in zip(nodes, edges, strict=True)
    ]
    a = batches_of(cb.BudgetBatchSampler(Split(), 700))
    b = batches_of(cb.BudgetBatchSampler(graphs, 700))
    c = batches_of(cb.BudgetBatchSampler((list(nodes), list(edges)), 700))
    assert a == b == c


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget": 0}, "integer >= 1"),
        ({"budget": 1.5}, "integer >= 1"),
        ({"budget": (10, 20)}, "needs key='both'"),
        ({"budget": 10, "key": "both"}, r"budget=\(node_budget, edge_budget\)"),
        ({"budget": (10, 0), "key": "both"}, "edge budget"),
        ({"budget": 10, "key": "graphs"}, "key must be"),
        ({"budget": 10, "packing": "ffd"}, "packing must be"),
        ({"budget": 10, "rank": 2, "num_replicas": 2}, r"rank must be in \[0, num_replicas\)"),
        ({"budget": 10, "seed": -1}, "seed"),
        ({"budget": 10, "min_batch_size": 0}, "min_batch_size"),
        ({"budget": 10, "num_replicas": True}, "num_replicas"),
    ],
)
def test_invalid_arguments_are_refused(kwargs, match) -> None:
    sizes = (np.array([3, 4]), np.array([5, 6]))
    with pytest.raises(cb.BatchingError, match=match):
        cb.BudgetBatchSampler(sizes, **kwargs)


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ((np.array([], dtype=np.int64), np.array([], dtype=np.int64)), "no graphs"),
        ((np.array([1, 2]), np.array([1])), "num_edges has 1"),
        ([object()], "no usable num_nodes"),
        (42, "cannot read graph sizes"),
    ],
)
def test_unusable_sources_are_refused(source, match) -> None:
    with pytest.raises(cb.BatchingError, match=match):
        cb.BudgetBatchSampler(source, 10)


def test_set_epoch_refuses_negative(hcrl_sizes) -> None:
    with pytest.raises(cb.BatchingError, match="epoch"):
        cb.BudgetBatchSampler(hcrl_sizes, 700).set_epoch(-1)


class TensorGraphs(Dataset):
    def __init__(self, nodes: np.ndarray) -> None:
        self.nodes = nodes

    def __len__(self) -> int:
        return len(self.nodes)

    def __getitem__(self, i: int) -> torch.Tensor:
        return torch.full((int(self.nodes[i]),), i)

    def sizes(self):
        return self.nodes, self.nodes * 2


def test_works_as_batch_sampler_of_torch_dataloader(hcrl_sizes) -> None:
    ds = TensorGraphs(hcrl_sizes[0][:600])
    s = cb.BudgetBatchSampler(ds, 500, seed=2)
    loader = DataLoader(ds, batch_sampler=s, collate_fn=torch.cat)
    assert len(loader) == len(s)
    got = list(loader)
    assert len(got) == len(s)
    assert max(t.numel() for t in got) <= 500
    assert sorted(torch.cat(got).unique().tolist()) == list(range(600))


def test_works_as_batch_sampler_of_pyg_dataloader(hcrl_sizes, extra) -> None:
    extra("torch_geometric")
    from torch_geometric.data import Data
    from torch_geometric.loader import DataLoader as PygLoader

    nodes, edges = hcrl_sizes[0][:400], hcrl_sizes[1][:400]
    graphs = [
        Data(x=torch.zeros(int(n), 3), edge_index=torch.zeros(2, int(e), dtype=torch.long))
        for n, e in zip(nodes, edges, strict=True)
    ]
    s = cb.BudgetBatchSampler(graphs, (600, 1000), key="both", seed=1)
    loader = PygLoader(graphs, batch_sampler=s)
    assert len(loader) == len(s)
    count = 0
    for batch in loader:
        assert batch.num_nodes <= 600
        assert batch.num_edges <= 1000
        count += batch.num_graphs
    assert count == 400


def test_batches_are_read_only_int64_slices_of_one_order(hcrl_sizes):
    """No Python int per graph: each batch is a view of the epoch's order, which a
    DataLoader, CachedGraphDataset.collate and numpy indexing take as it is."""
    s = cb.BudgetBatchSampler(hcrl_sizes, 900, shuffle=True, seed=1)
    batches = list(s)
    assert all(isinstance(b, np.ndarray) and b.dtype == np.int64 for b in batches)
    assert all(not b.flags.writeable for b in batches)
    assert all(b.base is batches[0].base for b in batches)
    flat = np.concatenate(batches)
    np.testing.assert_array_equal(np.sort(flat), np.arange(hcrl_sizes[0].size))
    loader = torch.utils.data.DataLoader(torch.arange(hcrl_sizes[0].size), batch_sampler=s)
    for got, want in zip(loader, batches, strict=True):
        assert got.tolist() == want.tolist()


def test_an_unshuffled_plan_is_made_once_for_every_epoch(hcrl_sizes):
    s = cb.BudgetBatchSampler(hcrl_sizes, 900, shuffle=False)
    first = s.plan()
    s.set_epoch(5)
    assert s.plan() is first  # same batches every epoch: not planned again
    assert s.epoch == 5
    assert s.stats().epoch == 5
    shuffled = cb.BudgetBatchSampler(hcrl_sizes, 900, shuffle=True)
    before = shuffled.plan()
    shuffled.set_epoch(1)
    assert shuffled.plan() is not before


# Batches recorded from the sampler of canids-batching 0.4 (which yielded lists of
# ints): the numpy slices must hold exactly the same graphs, in the same order.
GOLDEN_NODES = [6, 6, 24, 16, 18, 19, 22, 3, 16, 6, 13, 28, 17, 4, 17, 6, 23, 28, 29, 19]
GOLDEN_NODES += [26, 12, 6, 16, 14, 20, 29, 10, 26, 6, 12, 24, 9, 21, 15, 16, 28, 25, 25, 17]
GOLDEN_EDGES = [15, 15, 25, 18, 21, 24, 30, 7, 25, 9, 22, 33, 24, 6, 22, 14, 31, 36, 38, 20]
GOLDEN_EDGES += [33, 16, 12, 18, 14, 20, 38, 18, 29, 10, 14, 25, 17, 27, 15, 18, 33, 34, 34, 19]
GOLDEN = [
    (
        {"shuffle": True, "seed": 7, "packing": "sequential"},
        0,
        [[4, 0, 28], [20, 30, 10], [12, 32, 19, 9], [14, 22, 27, 38], [3, 24, 39], [26, 13]]
        + [[17, 18], [36, 35], [37, 8, 7, 1], [33, 15, 29, 6], [16, 23, 25], [5, 2]]
        + [[31, 34, 21], [11]],
    ),
    (
        {"shuffle": True, "seed": 7, "packing": "sorted", "bucket_size": 16},
        3,
        [[17, 38, 13, 7], [3, 35, 34, 32], [8, 24, 10, 21], [18, 36], [20, 5, 0, 1]]
        + [[11, 28, 15], [26, 37, 9], [31, 2, 22], [33, 23, 30], [25, 39, 12]]
        + [[19, 4, 14, 29], [16, 6, 27]],
    ),
    (
        {"shuffle": True, "seed": 7, "num_replicas": 2, "rank": 1},
        3,
        [[24, 39, 38], [2, 25, 32, 22], [18, 5], [36, 8, 27], [20, 0, 1], [37, 16, 30], [6]],
    ),
    (
        {"shuffle": False, "num_replicas": 3, "rank": 2},
        3,
        [[4, 5, 6], [14, 15, 16], [22, 23, 24, 25], [31, 32, 33], [39]],
    ),
]


@pytest.mark.parametrize(("kwargs", "epoch", "want"), GOLDEN)
def test_same_batches_as_the_list_sampler_for_the_same_seed(kwargs, epoch, want) -> None:
    sizes = (np.array(GOLDEN_NODES), np.array(GOLDEN_EDGES))
    s = cb.BudgetBatchSampler(sizes, 60, **kwargs)
    s.set_epoch(epoch)
    assert len(s) == len(want)
    assert batches_of(s) == want


@pytest.mark.parametrize("shuffle", [True, False])
def test_ranks_take_every_num_replicas_th_batch_of_the_global_plan(shuffle, hcrl_sizes) -> None:
    whole = cb.BudgetBatchSampler(hcrl_sizes, 800, shuffle=shuffle, seed=3)
    whole.set_epoch(2)
    glob = batches_of(whole)
    need = (3 - len(glob) % 3) % 3
    assert need  # the ranks must split batches to stay equal
    ranks = []
    for rank in range(3):
        s = cb.BudgetBatchSampler(
            hcrl_sizes, 800, shuffle=shuffle, seed=3, num_replicas=3, rank=rank
        )
        s.set_epoch(2)
        ranks.append(batches_of(s))
        assert s.stats().split_batches == need
    assert [len(r) for r in ranks] == [(len(glob) + need) // 3] * 3
    # Taken in turn (rank 0, 1, 2, 0, ...) the batches are the global order, cut at
    # the global bounds plus the `need` halving cuts: nothing dropped, nothing moved.
    interleaved = [b for trio in zip(*ranks, strict=True) for b in trio]
    assert [i for b in interleaved for i in b] == [i for b in glob for i in b]
    cuts = {tuple(b) for b in glob}
    assert sum(tuple(b) not in cuts for b in interleaved) == 2 * need


def test_collate_style_indexing_takes_a_batch_as_it_is(hcrl_sizes) -> None:
    nodes, _ = hcrl_sizes
    s = cb.BudgetBatchSampler(hcrl_sizes, 900, shuffle=False)
    b = next(iter(s))
    np.testing.assert_array_equal(nodes[b], nodes[: b.size])
    assert torch.as_tensor(b.copy()).dtype == torch.int64
    with pytest.raises(ValueError, match="read-only"):
        b[0] = 1  # a batch cannot change the plan the next epoch reuses
