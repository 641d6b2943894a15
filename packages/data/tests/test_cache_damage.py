"""Damage the cache the way a disk, a copy or a person does, and check it is never served:
a deleted chunk, a flipped byte in an array read at open, an edited manifest. Each is
found by the quick verify or at open, named (array, chunk, file) with the fix, and no
dataset opens half-way."""

from __future__ import annotations

import json

import numpy as np
import pytest
from canids_data import BuildConfig, CachedGraphDataset, CacheError, CacheManager, VerifyStatus
from canids_data.cache.manifest import write_manifest
from canids_data.cache.sizes import read_split_sizes
from canids_data.cache.store import SPLIT_ARRAYS, write_split
from canids_data.dataset import SplitStore


def _flip(path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2 if offset is None else offset] ^= 0xFF
    path.write_bytes(bytes(data))


def _open(clone, split: str = "train") -> CacheError:
    with pytest.raises(CacheError) as err:
        CachedGraphDataset(clone.cache_dir, "demo", split)
    return err.value


# --- a deleted chunk -----------------------------------------------------------------


@pytest.mark.parametrize("array", ["y", "edge_attr", "x", "node_ptr", "edge_index"])
def test_a_deleted_chunk_is_found_by_the_quick_verify_and_at_open(demo_clone, array) -> None:
    """zarr would read the chunk as zeros (the train split's attack labels, 8,192 edge
    rows): quick verify lists every array's chunk files against the manifest's count."""
    folder = demo_clone.store / "train" / array
    chunk = sorted(p for p in folder.iterdir() if p.name.startswith("c."))[0]
    chunk.unlink()
    report = CacheManager(demo_clone.cache_dir).verify("demo")
    assert report.status == VerifyStatus.CORRUPT
    assert report.exit_code == 14
    assert [(p.where, p.status) for p in report.problems] == [
        (f"train/{array}", VerifyStatus.CORRUPT)
    ]
    assert f"chunk files missing ({chunk.name})" in report.problems[0].detail
    assert report.fix.endswith(" --force")
    err = _open(demo_clone)
    assert err.status == "corrupt"
    assert f"train/{array}" in str(err)
    assert f"fix: {report.fix}" in str(err)
    # Other splits are untouched and still open.
    assert len(CachedGraphDataset(demo_clone.cache_dir, "demo", "val")) > 0


def test_a_chunk_deleted_after_open_is_an_error_not_zeros(demo_clone) -> None:
    ds = CachedGraphDataset(demo_clone.cache_dir, "demo", "train")
    (demo_clone.store / "train" / "edge_attr" / "c.0.0").unlink()
    with pytest.raises(CacheError) as err:
        ds.collate(np.arange(8))
    assert err.value.status == "corrupt"
    assert "train/edge_attr: chunk c.0.0" in str(err.value)
    assert "is missing" in str(err.value)
    assert err.value.fix is not None
    assert err.value.fix.startswith("canids-cache build --dataset demo")


# --- damage in the arrays read at open -----------------------------------------------


@pytest.mark.parametrize(
    "array", ["node_ptr", "edge_ptr", "graph_source", "y", "window_start", "window_end"]
)
def test_a_flipped_byte_in_an_array_read_at_open(demo_clone, array) -> None:
    """The quick verify does not decode; opening does, and says which array, not a raw
    ``RuntimeError: Zstd decompression error``."""
    _flip(demo_clone.store / "train" / array / "c.0")
    assert CacheManager(demo_clone.cache_dir).verify("demo").ok  # a listing, no decode
    err = _open(demo_clone)
    assert type(err) is CacheError
    assert err.status == "corrupt"
    assert f"train/{array}: chunk c.0 in {demo_clone.store / 'train' / array}" in str(err)
    assert "cannot be decoded" in str(err)
    assert err.fix == CacheManager(demo_clone.cache_dir).verify("demo").fix
    # The sizes (canids-profile) read the pointers the same way.
    if array in ("node_ptr", "edge_ptr"):
        with pytest.raises(CacheError, match=f"train/{array}: chunk c.0"):
            read_split_sizes(demo_clone.cache_dir, "demo", "train")
    full = CacheManager(demo_clone.cache_dir).verify("demo", full=True)
    assert [(p.where, p.status) for p in full.problems] == [(f"train/{array}", "corrupt")]


def test_pointers_that_do_not_index_their_rows_are_refused(tmp_path) -> None:
    """A store whose offsets decode but disagree with the rows (a writer bug, an edited
    store): refused at open, naming the array."""
    rng = np.random.default_rng(0)
    arrays = {
        "node_ptr": np.array([0, 2, 5]),
        "edge_ptr": np.array([0, 1, 2]),
        "node_id": np.arange(4),  # 4 node rows, the pointers say 5
        "x": rng.random((4, 3)),
        "edge_index": np.zeros((2, 2), int),
        "edge_attr": rng.random((2, 5)),
        "y": np.array([0, 1]),
        "node_y": np.zeros(4, int),
        "graph_source": np.zeros(2, int),
        "window_start": np.zeros(2),
        "window_end": np.ones(2),
    }
    write_split(tmp_path / "s", "train", arrays)
    with pytest.raises(CacheError, match="train/node_ptr: offsets are not a valid index of 4"):
        SplitStore(tmp_path / "s", "train", fix="rebuild it")


# --- an edited manifest ---------------------------------------------------------------


def _edit(clone, change) -> None:
    path = clone.store / "manifest.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data, indent=1, sort_keys=True))


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda m: m["sources"][0].update(messages=1), id="message-count"),
        pytest.param(lambda m: m["splits"]["train"].update(graphs=1), id="graph-count"),
        pytest.param(lambda m: m["config"].update(window=50), id="config-window"),
        pytest.param(lambda m: m["arrays"]["train/y"].update(sha256="0" * 64), id="checksum"),
        pytest.param(lambda m: m["arrays"]["train/y"].update(n_chunks=0), id="chunk-count"),
    ],
)
def test_an_edited_manifest_fails_the_quick_verify(demo_clone, edit) -> None:
    _edit(demo_clone, edit)
    mgr = CacheManager(demo_clone.cache_dir)
    for full in (False, True):
        report = mgr.verify("demo", full=full)
        assert report.status == VerifyStatus.CORRUPT
        assert report.exit_code == 14
        (problem,) = report.problems
        assert problem.where == str(demo_clone.store / "manifest.json")
        assert "changed after the build" in problem.detail
        assert "--force" in report.fix
    # An expected config does not turn this into an empty "built with ; expected" line.
    report = mgr.verify("demo", config=BuildConfig(window=50, stride=50))
    assert report.status == VerifyStatus.CORRUPT
    assert all("built with ;" not in p.detail for p in report.problems)
    assert _open(demo_clone).status == "corrupt"


def test_a_resealed_config_edit_is_caught_by_the_config_digest(demo_clone) -> None:
    """An edit that also recomputes the manifest's own digest: the config digest is
    recomputed from the config, so the two still cannot disagree."""
    data = demo_clone.manifest()
    data["config"]["window"] = 50
    write_manifest(demo_clone.store, data)
    report = CacheManager(demo_clone.cache_dir).verify("demo")
    assert report.status == VerifyStatus.CORRUPT
    assert "config_digest does not match the config it records" in report.problems[0].detail


def test_a_config_mismatch_names_what_differs(demo_cache) -> None:
    report = CacheManager(demo_cache.cache_dir).verify(
        "demo", config=BuildConfig(window=50, stride=50)
    )
    (problem,) = report.problems
    assert problem.detail.startswith("built with window=100, stride=100")
    assert "; expected window=50, stride=50" in problem.detail


def test_every_array_of_every_split_records_its_chunk_count(demo_cache) -> None:
    m = demo_cache.manifest()
    for split in m["splits"]:
        for name in SPLIT_ARRAYS:
            rec = m["arrays"][f"{split}/{name}"]
            axis = SPLIT_ARRAYS[name][1]
            assert rec["n_chunks"] == -(-rec["shape"][axis] // rec["chunks"][axis])
