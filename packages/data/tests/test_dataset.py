"""CachedGraphDataset: refuses bad caches (never builds), lazy views, vectorised collate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import zarr
from canids_data import NODE_FEATURES, BuildConfig, CacheError, CacheManager
from canids_data.cache.chunks import ArraySpec, ChunkWriter
from canids_data.cache.manifest import Manifest
from canids_data.cache.store import write_split
from canids_data.dataset import CachedGraphDataset, SplitStore
from canids_data.lazy import LazyArray
from torch_geometric.data import Batch, Data

SPLIT = "train"
TRAIN_FILE = "train_01_attack_free/attack-free-1.parquet"
LAZY = ("x", "node_id", "node_y", "edge_index", "edge_attr")


@pytest.fixture(scope="module")
def ds(demo_cache) -> CachedGraphDataset:
    return CachedGraphDataset(demo_cache.cache_dir, "demo", SPLIT)


def fresh(demo_cache, split: str = SPLIT) -> CachedGraphDataset:
    return CachedGraphDataset(demo_cache.cache_dir, "demo", split)


def loaded(dataset: CachedGraphDataset) -> dict[str, float]:
    return {name: getattr(dataset._store, name).fraction_loaded for name in LAZY}


def assert_batches_equal(got: Batch, want: Batch) -> None:
    assert sorted(got.keys()) == sorted(want.keys())
    assert got.num_graphs == want.num_graphs
    for key in want.keys():  # noqa: SIM118 (Batch.keys is a method, not a dict view)
        a, b = got[key], want[key]
        assert a.dtype == b.dtype, key
        assert a.shape == b.shape, key
        assert torch.equal(a, b), key


def assert_data_equal(got: Data, want: Data) -> None:
    assert sorted(got.keys()) == sorted(want.keys())
    for key in want.keys():  # noqa: SIM118
        assert got[key].dtype == want[key].dtype, key
        assert torch.equal(got[key], want[key]), key


# --- refusals ------------------------------------------------------------------------


def _refused(cache_dir: Path, split: str = SPLIT, **kw) -> CacheError:
    with pytest.raises(CacheError) as err:
        CachedGraphDataset(cache_dir, "demo", split, **kw)
    return err.value


def test_missing_cache_is_refused_and_not_built(tmp_path, demo_root) -> None:
    cache = tmp_path / "cache"
    err = _refused(cache, root=demo_root)
    assert err.status == "missing"
    assert err.fix is not None
    assert err.fix.startswith("canids-cache build --dataset demo")
    assert f"fix: {err.fix}" in str(err)
    assert not cache.exists()  # never builds, never creates the folder


def test_incomplete_cache_is_refused(demo_clone) -> None:
    (demo_clone.store / "manifest.json").unlink()
    err = _refused(demo_clone.cache_dir)
    assert err.status == "incomplete"
    assert "fix: canids-cache build --dataset demo" in str(err)
    assert "--force" in str(err)


def test_deleted_array_is_refused(demo_clone) -> None:
    shutil.rmtree(demo_clone.store / SPLIT / "edge_attr")
    err = _refused(demo_clone.cache_dir)
    assert err.status == "incomplete"
    assert "train/edge_attr" in str(err)
    assert "fix: canids-cache build --dataset demo" in str(err)


def test_stale_cache_is_refused(demo_clone) -> None:
    path = demo_clone.root / TRAIN_FILE
    path.write_bytes(path.read_bytes() + b"\0")
    before = sorted(p.relative_to(demo_clone.cache_dir) for p in demo_clone.cache_dir.rglob("*"))
    err = _refused(demo_clone.cache_dir)
    assert err.status == "stale"
    assert TRAIN_FILE in str(err)
    assert f"fix: canids-cache build --dataset demo --cache-dir {demo_clone.cache_dir}" in str(err)
    assert "--force" in str(err)
    # Nothing was rebuilt or staged.
    after = sorted(p.relative_to(demo_clone.cache_dir) for p in demo_clone.cache_dir.rglob("*"))
    assert after == before
    # A node that only has the cache opens it without the comparison.
    assert len(CachedGraphDataset(demo_clone.cache_dir, "demo", SPLIT, check_sources=False)) > 0


def test_config_mismatch_is_refused(demo_cache) -> None:
    err = _refused(demo_cache.cache_dir, config=BuildConfig(window=50, stride=50))
    assert err.status == "config_mismatch"
    assert "--window 50" in str(err)
    assert "--stride 50" in str(err)
    assert "fix: canids-cache build --dataset demo" in str(err)
    same = CachedGraphDataset(demo_cache.cache_dir, "demo", SPLIT, config=BuildConfig())
    assert len(same) == demo_cache.manifest()["splits"][SPLIT]["graphs"]


def test_corrupt_shape_is_refused(demo_clone) -> None:
    meta_path = demo_clone.store / SPLIT / "x" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["shape"][0] += 5
    meta_path.write_text(json.dumps(meta))
    err = _refused(demo_clone.cache_dir)
    assert err.status == "corrupt"
    assert "train/x" in str(err)
    assert "fix: canids-cache build --dataset demo" in str(err)


def test_damaged_chunk_fails_loudly_on_first_read(demo_clone) -> None:
    """Quick verify (run on open) does not read chunks; the first read of a damaged one
    is a CacheError naming the array and the full-verify command, not wrong values."""
    chunk = demo_clone.store / SPLIT / "edge_attr" / "c.0.0"
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    ds = CachedGraphDataset(demo_clone.cache_dir, "demo", SPLIT)
    assert ds.sizes()[0].sum() > 0  # pointers are fine
    with pytest.raises(CacheError) as err:
        ds.collate([0, 1])
    assert err.value.status == "corrupt"
    assert "train/edge_attr: chunk c.0.0" in str(err.value)
    assert "cannot be decoded" in str(err.value)
    # The fix rebuilds the cache as it was built (verify's fix line).
    assert err.value.fix == CacheManager(demo_clone.cache_dir).verify("demo").fix
    assert err.value.fix.startswith("canids-cache build --dataset demo --cache-dir ")
    assert err.value.fix.endswith(" --force")


def test_unknown_split_is_refused(demo_cache) -> None:
    err = _refused(demo_cache.cache_dir, split="test_09_nowhere")
    assert err.status == "incomplete"
    assert "test_09_nowhere" in str(err)
    assert "test_01_known_vehicle_known_attack" in str(err)
    assert f"fix: canids-cache status --cache-dir {demo_cache.cache_dir}" in str(err)


def test_opens_without_the_dataset_root(demo_clone) -> None:
    shutil.rmtree(demo_clone.root)
    err = _refused(demo_clone.cache_dir)
    assert err.status == "stale"
    assert "not found" in str(err)
    ds = CachedGraphDataset(demo_clone.cache_dir, "demo", "val", check_sources=False)
    assert len(ds) == demo_clone.manifest()["splits"]["val"]["graphs"]
    assert ds[0].x.shape[1] == len(BuildConfig().node_features)


def test_cache_dir_from_environment(demo_cache, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CANIDS_CACHE_DIR", str(demo_cache.cache_dir))
    monkeypatch.chdir(tmp_path)
    ds = CachedGraphDataset(None, "demo", "val")
    assert ds.cache_dir == demo_cache.cache_dir.resolve()
    monkeypatch.delenv("CANIDS_CACHE_DIR")
    err = _refused(None, split="val")  # ./cache: nothing there
    assert err.status == "missing"
    assert str(tmp_path / "cache") in str(err)
    assert not (tmp_path / "cache").exists()


# --- metadata, sizes, views ----------------------------------------------------------


def test_metadata_matches_the_cache(ds, demo_cache, read_split) -> None:
    m = demo_cache.manifest()
    a = read_split(demo_cache.store, SPLIT)
    assert len(ds) == m["splits"][SPLIT]["graphs"] == len(a["y"])
    assert ds.num_node_features == len(m["node_features"]) == 16  # the invariant set
    assert ds.num_edge_features == len(m["edge_features"]) == 5
    np.testing.assert_array_equal(ds.vocabulary.can_ids, m["vocabulary"]["can_ids"])
    np.testing.assert_array_equal(ds.labels(), a["y"])
    np.testing.assert_array_equal(ds.sources(), a["graph_source"])
    start, end = ds.window_times()
    np.testing.assert_array_equal(start, a["window_start"])
    np.testing.assert_array_equal(end, a["window_end"])
    first = {i: s["first_timestamp"] for i, s in enumerate(m["sources"])}
    np.testing.assert_array_equal(ds.capture_starts(), [first[i] for i in a["graph_source"]])
    np.testing.assert_array_equal(ds.indices, np.arange(len(ds)))
    assert repr(ds) == f"CachedGraphDataset('demo', 'train', graphs={len(ds)})"


def test_sizes_come_from_pointers_without_loading(demo_cache, read_split) -> None:
    ds = fresh(demo_cache)
    a = read_split(demo_cache.store, SPLIT)
    nodes, edges = ds.sizes()
    np.testing.assert_array_equal(nodes, np.diff(a["node_ptr"]))
    np.testing.assert_array_equal(edges, np.diff(a["edge_ptr"]))
    idx = np.array([7, 3, 3, 0])
    sub = ds.subset(idx)
    n_sub, e_sub = sub.sizes()
    np.testing.assert_array_equal(n_sub, nodes[idx])
    np.testing.assert_array_equal(e_sub, edges[idx])
    np.testing.assert_array_equal(sub.labels(), a["y"][idx])
    assert loaded(ds) == dict.fromkeys(LAZY, 0.0)


def test_subset_is_a_view(demo_cache) -> None:
    ds = fresh(demo_cache)
    a = np.array([10, 2, 5, 7, 0, 9])
    sub = ds.subset(a)
    assert sub._store is ds._store
    assert sub._store.x is ds._store.x
    assert sub._store.x.buffer is ds._store.x.buffer
    assert sub.manifest is ds.manifest
    np.testing.assert_array_equal(sub.indices, a)
    assert len(sub) == 6
    nested = sub.subset([1, 3, -1])  # negative positions count from the end of the view
    assert nested._store is ds._store
    np.testing.assert_array_equal(nested.indices, a[[1, 3, -1]])
    assert loaded(ds) == dict.fromkeys(LAZY, 0.0)  # no graph data touched
    assert_data_equal(nested[0], ds[2])
    assert_data_equal(nested[2], ds[9])
    assert_data_equal(sub[-1], ds[9])
    with pytest.raises(IndexError):
        sub.subset([6])
    with pytest.raises(IndexError):
        sub[-7]
    assert len(ds.subset([])) == 0


def test_subset_by_mask_and_refused_indices(ds) -> None:
    mask = ds.labels() == 1
    assert 0 < mask.sum() < len(ds)
    attacks = ds.subset(mask)
    np.testing.assert_array_equal(attacks.indices, np.flatnonzero(mask))
    assert (attacks.labels() == 1).all()
    inner = np.zeros(len(attacks), bool)
    inner[[0, 2]] = True
    np.testing.assert_array_equal(attacks.subset(inner).indices, np.flatnonzero(mask)[[0, 2]])
    with pytest.raises(IndexError, match="boolean mask"):
        ds.subset(mask[:-1])
    with pytest.raises(TypeError, match="integers or a boolean mask"):
        ds.subset(np.array([1.0, 2.5]))
    assert len(ds.subset(np.array([], np.int64))) == len(ds.subset([])) == 0
    np.testing.assert_array_equal(ds.subset(torch.tensor([3, 1])).indices, [3, 1])


def test_getitem_matches_the_arrays(ds, demo_cache, read_split) -> None:
    a = read_split(demo_cache.store, SPLIT)
    for i in (0, 1, len(ds) // 2, len(ds) - 1):
        d = ds[i]
        n0, n1 = a["node_ptr"][i], a["node_ptr"][i + 1]
        e0, e1 = a["edge_ptr"][i], a["edge_ptr"][i + 1]
        np.testing.assert_array_equal(d.x.numpy(), a["x"][n0:n1])
        np.testing.assert_array_equal(d.node_id.numpy(), a["node_id"][n0:n1])
        np.testing.assert_array_equal(d.node_y.numpy(), a["node_y"][n0:n1])
        np.testing.assert_array_equal(d.edge_index.numpy(), a["edge_index"][:, e0:e1])
        np.testing.assert_array_equal(d.edge_attr.numpy(), a["edge_attr"][e0:e1])
        assert d.y.tolist() == [a["y"][i]]
        assert d.source.tolist() == [a["graph_source"][i]]
        assert d.window_start.item() == a["window_start"][i]
        assert d.edge_index.dtype == d.node_id.dtype == d.y.dtype == torch.long
        assert d.num_nodes == n1 - n0


# --- collate -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_collate_equals_from_data_list(ds, seed) -> None:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(ds), size=rng.integers(1, 40))
    idx = np.concatenate([idx, idx[:3]])  # repeated graphs too
    got = ds.collate(idx)
    want = Batch.from_data_list([ds[int(i)] for i in idx])
    assert_batches_equal(got, want)
    for g, w in zip(got.to_data_list(), want.to_data_list(), strict=True):
        assert_data_equal(g, w)
    assert_data_equal(got.get_example(1), ds[int(idx[1])])


def test_collate_on_a_view_uses_view_positions(ds) -> None:
    sub = ds.subset(np.arange(len(ds))[::-3])
    got = sub.collate([0, 4, 4, -1])
    want = Batch.from_data_list([sub[0], sub[4], sub[4], sub[-1]])
    assert_batches_equal(got, want)
    assert_batches_equal(got, ds.collate(sub.indices[[0, 4, 4, -1]]))


def _tiny_dataset(tmp_path: Path) -> CachedGraphDataset:
    """Graphs with no edges and with no nodes, written with the cache's own writer."""
    rng = np.random.default_rng(0)
    nn = np.array([3, 0, 2, 1, 4, 2])
    ne = np.array([2, 0, 0, 1, 0, 3])
    n, e = int(nn.sum()), int(ne.sum())
    local = np.concatenate(
        [rng.integers(0, max(k, 1), (2, m)) for k, m in zip(nn, ne, strict=True)], axis=1
    )
    arrays = {
        "node_ptr": np.concatenate(([0], np.cumsum(nn))),
        "edge_ptr": np.concatenate(([0], np.cumsum(ne))),
        "node_id": rng.integers(0, 5, n),
        "x": rng.random((n, len(NODE_FEATURES))),
        "edge_index": local,
        "edge_attr": rng.random((e, 5)),
        "y": np.array([0, 1, 0, 1, 1, 0]),
        "node_y": rng.integers(0, 2, n),
        "graph_source": np.array([0, 0, 1, 1, 1, 2]),
        "window_start": np.linspace(10.0, 20.0, 6),
        "window_end": np.linspace(11.0, 21.0, 6),
    }
    store = tmp_path / "tiny"
    write_split(store, SPLIT, arrays)
    manifest = Manifest(
        {"node_features": list(NODE_FEATURES), "edge_features": ["e"] * 5}, store / "manifest.json"
    )
    return CachedGraphDataset(
        tmp_path, "tiny", SPLIT, _store=SplitStore(store, SPLIT), _manifest=manifest
    )


def test_collate_with_empty_graphs(tmp_path) -> None:
    tiny = _tiny_dataset(tmp_path)
    nodes, edges = tiny.sizes()
    np.testing.assert_array_equal(nodes, [3, 0, 2, 1, 4, 2])
    np.testing.assert_array_equal(edges, [2, 0, 0, 1, 0, 3])
    for idx in ([0, 1, 2, 3, 4, 5], [1], [2], [1, 1, 2], [4, 1, 0, 2, 5, 1], [5, 2, 2, 3]):
        got = tiny.collate(idx)
        want = Batch.from_data_list([tiny[i] for i in idx])
        assert_batches_equal(got, want)
        for g, w in zip(got.to_data_list(), want.to_data_list(), strict=True):
            assert_data_equal(g, w)
    assert tiny[1].x.shape == (0, len(NODE_FEATURES))
    assert tiny[2].edge_index.shape == (2, 0)


def test_loader_yields_the_sampler_batches(ds) -> None:
    batches = [[0, 1, 2], [5, 5], [len(ds) - 1], [9, 3, 7, 3]]
    out = list(ds.loader(batches))
    assert len(out) == len(batches)
    for got, idx in zip(out, batches, strict=True):
        assert isinstance(got, Batch)
        assert_batches_equal(got, Batch.from_data_list([ds[i] for i in idx]))


def test_torch_dataloader_single_process(ds) -> None:
    sub = ds.subset(np.arange(0, 40, 2))
    loader = torch.utils.data.DataLoader(
        sub, batch_size=6, shuffle=False, num_workers=0, collate_fn=lambda b: b
    )
    out = list(loader)
    assert [b.num_graphs for b in out] == [6, 6, 6, 2]
    assert_batches_equal(out[1], Batch.from_data_list([sub[i] for i in range(6, 12)]))
    gen = torch.Generator().manual_seed(3)
    sampler = torch.utils.data.BatchSampler(
        torch.utils.data.RandomSampler(sub, generator=gen), batch_size=5, drop_last=False
    )
    order = [
        list(b)
        for b in torch.utils.data.BatchSampler(
            torch.utils.data.RandomSampler(sub, generator=torch.Generator().manual_seed(3)),
            batch_size=5,
            drop_last=False,
        )
    ]
    for got, idx in zip(sub.loader(sampler, num_workers=0), order, strict=True):
        assert_batches_equal(got, sub.collate(idx))


# --- LazyArray -----------------------------------------------------------------------


@pytest.mark.parametrize("axis", [0, 1])
def test_lazy_array_loads_chunks_on_demand(tmp_path, axis) -> None:
    rng = np.random.default_rng(axis)
    data = rng.random((50, 3)) if axis == 0 else rng.random((2, 50))
    spec = ArraySpec("a", "float64", data.shape, axis, 7)
    writer = ChunkWriter(tmp_path / "a", spec)
    writer.append(data)
    writer.close()
    # Plain zarr reads what canids wrote.
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "a", mode="r")[...], data)
    lazy = LazyArray(tmp_path / "a", spec, where="t/a")
    assert lazy.rows == 50
    assert lazy.chunk == 7
    assert len(lazy.loaded) == 8
    assert lazy.fraction_loaded == 0.0
    idx = np.array([0, 8, 9, 3])
    np.testing.assert_array_equal(lazy.take(idx), np.take(data, idx, axis=axis))
    np.testing.assert_array_equal(np.flatnonzero(lazy.loaded), [0, 1])
    assert lazy.fraction_loaded == 2 / 8
    np.testing.assert_array_equal(
        lazy.take(np.array([], np.int64)).shape, (0, 3) if axis == 0 else (2, 0)
    )
    # A loaded chunk is served from memory: its file is no longer read.
    (tmp_path / "a" / spec.key(1)).unlink()
    np.testing.assert_array_equal(lazy.take(np.array([13, 1])), np.take(data, [13, 1], axis=axis))
    idx = np.array([49, 48, 20, 35])  # last, partial chunk included
    np.testing.assert_array_equal(lazy.take(idx), np.take(data, idx, axis=axis))
    # An unloaded chunk whose file is gone: an error naming it, never zeros.
    (tmp_path / "a" / spec.key(4)).unlink()
    with pytest.raises(CacheError, match=r"t/a: chunk c\.\S+ \(rows 28-34\) is missing") as err:
        lazy.take(np.array([30]))
    assert err.value.status == "corrupt"
    assert not lazy.loaded[4]


@pytest.mark.parametrize("axis", [0, 1])
def test_chunk_writer_keeps_no_view_of_what_it_was_given(tmp_path, axis) -> None:
    """Rows waiting for a chunk to fill are copies: a view would keep the caller's whole
    buffer (a staged part's memory map) alive and resident until then."""
    rng = np.random.default_rng(axis)
    big = rng.random((40, 3)) if axis == 0 else rng.random((2, 40))
    spec = ArraySpec("a", "float64", (25, 3) if axis == 0 else (2, 25), axis, 10)
    writer = ChunkWriter(tmp_path / "a", spec)
    first = big[:4] if axis == 0 else big[:, :4]  # less than a chunk: all of it waits
    writer.append(first)
    assert not any(np.shares_memory(p, big) for p in writer.pending)
    second = big[4:25] if axis == 0 else big[:, 4:25]  # fills two chunks, 5 rows wait
    writer.append(second)
    assert writer.pending_rows == 5
    assert not any(np.shares_memory(p, big) for p in writer.pending)
    writer.close()
    want = big[:25] if axis == 0 else big[:, :25]
    np.testing.assert_array_equal(zarr.open_array(tmp_path / "a", mode="r")[...], want)
