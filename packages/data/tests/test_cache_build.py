"""Building a cache: layout, manifest, per-file windows, validation blocks, dedup, workers,
lock, and resuming after a crash (also after SIGKILL)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import pickle
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zarr
from canids_data import (
    SCHEMA_VERSION,
    BuildConfig,
    CacheError,
    CacheManager,
    ReaderError,
    VerifyStatus,
    Vocabulary,
    build_graphs,
    read_capture,
)
from canids_data.cache.lock import BuildLock
from canids_data.cache.store import SPLIT_ARRAYS
from canids_data.cache.val_split import assign_validation
from canids_data.synthetic import demo_plan

DEMO_SPLITS = [
    "train",
    "val",
    "test_01_known_vehicle_known_attack",
    "test_02_unknown_vehicle_known_attack",
    "test_03_known_vehicle_unknown_attack",
    "test_04_unknown_vehicle_unknown_attack",
    "test_05_shifted_vehicle_known_attack",
]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _staged_parts(cache_dir: Path, dataset: str = "demo") -> list[Path]:
    parts = cache_dir / ".staging" / dataset / "parts"
    if not parts.is_dir():
        return []
    return [p for p in parts.iterdir() if not p.name.startswith(".") and p.suffix == ".part"]


# --- layout and manifest ---------------------------------------------------------------


def test_split_counts_equal_array_lengths(demo_cache, read_split) -> None:
    m = demo_cache.manifest()
    assert sorted(m["splits"]) == sorted(DEMO_SPLITS)
    for split, counts in m["splits"].items():
        a = read_split(demo_cache.store, split)
        g = counts["graphs"]
        assert g > 0
        assert len(a["y"]) == len(a["graph_source"]) == len(a["window_start"]) == g
        assert len(a["window_end"]) == g
        assert (a["window_end"] >= a["window_start"]).all()
        assert len(a["node_ptr"]) == len(a["edge_ptr"]) == g + 1
        assert a["node_ptr"][0] == 0
        assert a["edge_ptr"][0] == 0
        assert (np.diff(a["node_ptr"]) > 0).all()
        assert (np.diff(a["edge_ptr"]) > 0).all()
        assert counts["nodes"] == a["node_ptr"][-1] == len(a["x"]) == len(a["node_id"])
        assert counts["nodes"] == len(a["node_y"])
        assert counts["edges"] == a["edge_ptr"][-1] == a["edge_index"].shape[1]
        assert counts["edges"] == len(a["edge_attr"])
        assert counts["attack_graphs"] == int(a["y"].sum())
        assert counts["oov_nodes"] == int((a["node_id"] == 0).sum())
        assert counts["sources"] == len(
            {
                s["path"]
                for s in m["sources"]
                if s["used"] and (s["split"] == split or (split == "val" and s["split"] == "train"))
            }
        )
        assert a["x"].shape[1] == len(BuildConfig().node_features)
        assert a["edge_attr"].shape[1] == len(BuildConfig().edge_features)
        # Edge endpoints are local node indices of their own graph.
        n_nodes = np.repeat(np.diff(a["node_ptr"]), np.diff(a["edge_ptr"]))
        assert (a["edge_index"] >= 0).all()
        assert (a["edge_index"] < n_nodes).all()
    assert m["splits"]["train"]["attack_graphs"] > 0
    assert m["splits"]["val"]["attack_graphs"] > 0


def test_plain_zarr_reads_every_listed_array(demo_cache) -> None:
    m = demo_cache.manifest()
    group = zarr.open(demo_cache.store, mode="r", zarr_format=3)
    assert isinstance(group, zarr.Group)
    expected = {f"{s}/{name}" for s in DEMO_SPLITS for name in SPLIT_ARRAYS}
    assert set(m["arrays"]) == expected
    for key, rec in m["arrays"].items():
        arr = group[key]
        assert isinstance(arr, zarr.Array)
        assert arr.metadata.zarr_format == 3
        assert list(arr.shape) == rec["shape"], key
        assert str(arr.dtype) == rec["dtype"] == SPLIT_ARRAYS[key.split("/")[1]][0], key
        assert list(arr.chunks) == rec["chunks"], key
        meta = json.loads((demo_cache.store / key / "zarr.json").read_text())
        assert [c["name"] for c in meta["codecs"]] == ["bytes", "zstd"], key
        assert meta["codecs"][1]["configuration"] == {"level": 1, "checksum": True}, key
        # The checksum is what the manifest says it is: sha256 of the little-endian values
        # row by row along the row axis (edge_index as [E, 2]), then the shape (computed
        # here independently of canids-data).
        values = np.asarray(arr[...])
        rows = np.ascontiguousarray(values.T if key.endswith("edge_index") else values)
        h = hashlib.sha256(rows.astype(rows.dtype.newbyteorder("<")).tobytes())
        h.update(repr(tuple(values.shape)).encode())
        assert h.hexdigest() == rec["sha256"], key
        # Every chunk is a file (zarr itself skips all-zero chunks), and the manifest
        # counts them: c.<i>.<j> in the array's folder.
        axis = 1 if key.endswith("edge_index") else 0
        files = [p for p in (demo_cache.store / key).iterdir() if p.name != "zarr.json"]
        expected = -(-values.shape[axis] // rec["chunks"][axis])
        assert len(files) == rec["n_chunks"] == expected, key


def test_manifest_fields(demo_cache) -> None:
    m = demo_cache.manifest()
    cfg = BuildConfig()
    assert m["schema_version"] == SCHEMA_VERSION
    assert m["dataset"] == "demo"
    assert m["root"] == str(demo_cache.root.resolve())
    assert m["config"] == json.loads(json.dumps(cfg.to_json()))
    assert m["config_digest"] == cfg.digest
    assert m["config"]["embargo_windows"] == 1
    assert m["node_features"] == list(cfg.node_features)
    assert m["edge_features"] == list(cfg.edge_features)
    vocab = m["vocabulary"]
    assert vocab["can_ids"] == sorted(set(vocab["can_ids"]))
    assert vocab["oov_index"] == 0
    assert vocab["digest"] == Vocabulary.from_json(vocab).digest
    assert m["ignored_files"] == []
    assert m["dedup"] == []
    assert m["skipped_rows"] == {}
    assert isinstance(m["canids_data_version"], str)
    started = dt.datetime.fromisoformat(m["build"]["started"])
    finished = dt.datetime.fromisoformat(m["build"]["finished"])
    assert started <= finished
    assert m["build"]["seconds"] == pytest.approx((finished - started).total_seconds(), abs=0.01)
    assert m["build"]["workers"] == 1

    files = sorted(
        p.relative_to(demo_cache.root).as_posix() for p in demo_cache.root.rglob("*.parquet")
    )
    assert [s["path"] for s in m["sources"]] == files
    for s in m["sources"]:
        path = demo_cache.root / s["path"]
        st = path.stat()
        assert s["size"] == st.st_size
        assert s["mtime_ns"] == st.st_mtime_ns
        assert s["sha256"] == _sha256(path)
        assert len(s["content_sha256"]) == 64
        assert s["content_sha256"] != s["sha256"]
        assert s["used"] is True
        assert s["duplicate_of"] is None
        assert s["split"] == (
            "train" if s["path"].startswith("train_") else s["path"].split("/")[0]
        )
        assert s["format"] == "parquet"
        assert s["labelled"] is True
        assert s["read_report"]["skipped_rows"] == 0
        assert s["graphs"] == s["messages"] // 100
        assert s["messages_not_in_any_window"] == s["messages"] % 100
        assert sum(s["assigned"].values()) == s["graphs"]


def test_graphs_are_per_file_and_validation_is_embargoed_blocks(demo_cache, read_split) -> None:
    """Each cached graph equals the graph of its own capture, built alone; training
    captures give their validation blocks (the clean start and seeded blocks, one with
    attacks where the capture has any) to val, the rest but the embargo to train."""
    m = demo_cache.manifest()
    cfg = BuildConfig()
    vocab = Vocabulary.from_json(m["vocabulary"])
    arrays = {split: read_split(demo_cache.store, split) for split in DEMO_SPLITS}

    def graphs_of(split: str, source: int) -> dict[str, np.ndarray]:
        a = arrays[split]
        pos = np.flatnonzero(a["graph_source"] == source)
        if len(pos):  # one contiguous block per source
            np.testing.assert_array_equal(pos, np.arange(pos[0], pos[-1] + 1))
        return {"pos": pos, **a}

    def assert_same(split: str, source: int, expected, which: np.ndarray) -> None:
        got = graphs_of(split, source)
        pos = got["pos"]
        assert len(pos) == len(which), (split, source)
        sel = expected.select(which)
        n0, n1 = got["node_ptr"][pos[0]], got["node_ptr"][pos[-1] + 1]
        e0, e1 = got["edge_ptr"][pos[0]], got["edge_ptr"][pos[-1] + 1]
        np.testing.assert_array_equal(got["node_ptr"][pos[0] : pos[-1] + 2] - n0, sel.node_ptr)
        np.testing.assert_array_equal(got["edge_ptr"][pos[0] : pos[-1] + 2] - e0, sel.edge_ptr)
        np.testing.assert_array_equal(got["x"][n0:n1], sel.x)
        np.testing.assert_array_equal(got["node_id"][n0:n1], vocab.index(sel.node_can))
        np.testing.assert_array_equal(got["node_y"][n0:n1], sel.node_y)
        np.testing.assert_array_equal(got["edge_index"][:, e0:e1], sel.edge_index)
        np.testing.assert_array_equal(got["edge_attr"][e0:e1], sel.edge_attr)
        np.testing.assert_array_equal(got["y"][pos], sel.y)
        np.testing.assert_array_equal(got["window_start"][pos], sel.window_start)
        np.testing.assert_array_equal(got["window_end"][pos], sel.window_end)

    for i, s in enumerate(m["sources"]):
        table, _ = read_capture(demo_cache.root / s["path"])
        g = build_graphs(table, 100, 100, cfg.features)
        k = g.num_graphs
        assert k == s["graphs"] == len(table) // 100
        assert s["first_timestamp"] == table.timestamp[0]
        if s["split"] != "train":
            assert_same(s["split"], i, g, np.arange(k))
            continue
        assign = assign_validation(
            mode="blocks",
            y=g.y,
            window_end=g.window_end,
            capture_start=float(table.timestamp[0]),
            val_fraction=cfg.val_fraction,
            embargo=cfg.embargo_windows,
            val_blocks=cfg.val_blocks,
            val_start_seconds=cfg.val_start_seconds,
            val_start_max_fraction=cfg.val_start_max_fraction,
            seed=cfg.val_seed,
            key=s["path"],
        )
        main, val = np.flatnonzero(assign == 0), np.flatnonzero(assign == 1)
        assert s["assigned"] == {
            "main": len(main),
            "val": len(val),
            "embargo": int((assign == 2).sum()),
        }
        assert s["assigned_attack"] == {"main": int(g.y[main].sum()), "val": int(g.y[val].sum())}
        assert_same("train", i, g, main)
        assert_same("val", i, g, val)
        # The clean start is validation, and no training window touches a validation one:
        # at least one embargoed window (100 messages) lies between them.
        assert val[0] == 0
        assert np.abs(main[:, None] - val[None, :]).min() >= 2
        if g.y.any():
            assert g.y[val].any()
            assert g.y[main].any()


def test_vocabulary_from_training_files_only(
    tmp_path, make_table, write_dataset, read_split
) -> None:
    train = make_table(400, 1, (0x100, 0x200, 0x7FF))
    test = make_table(300, 2, (0x100, 0x300, 0x555))  # 0x300 and 0x555 never in training
    write_dataset(
        tmp_path / "root",
        {
            "train_01_free/a.parquet": train,
            "test_01_known_vehicle_known_attack/b.parquet": test,
        },
    )
    mgr = CacheManager(tmp_path / "cache")
    result = mgr.build("demo", tmp_path / "root", BuildConfig(window=20, stride=20))
    m = result.manifest
    assert m["vocabulary"]["can_ids"] == [0x100, 0x200, 0x7FF]
    split = "test_01_known_vehicle_known_attack"
    a = read_split(result.store, split)
    g = build_graphs(test, 20, 20)
    expected = np.where(g.node_can == 0x100, 1, 0)
    np.testing.assert_array_equal(a["node_id"], expected)
    assert m["splits"][split]["oov_nodes"] == int((g.node_can != 0x100).sum()) > 0
    tr = read_split(result.store, "train")
    assert set(np.unique(tr["node_id"]).tolist()) == {1, 2, 3}
    assert m["splits"]["train"]["oov_nodes"] == m["splits"]["val"]["oov_nodes"] == 0


def test_overlapping_windows_embargo_and_short_captures(
    tmp_path, make_table, write_dataset, read_split
) -> None:
    """stride < window: the embargo is ceil(W/S) windows, so no message is in train and
    val; a capture shorter than one window gives no graph and does not break the build."""
    train = make_table(400, 3)
    write_dataset(
        tmp_path / "root",
        {
            "train_01_free/a.parquet": train,
            "train_01_free/tiny.parquet": make_table(6, 4),
            "test_01_known_vehicle_known_attack/b.parquet": make_table(9, 5),
        },
    )
    cfg = BuildConfig(window=10, stride=3, validation="tail")
    assert cfg.embargo_windows == 4
    result = CacheManager(tmp_path / "cache").build("demo", tmp_path / "root", cfg)
    m = result.manifest
    by_path = {s["path"]: s for s in m["sources"]}
    k = (400 - 10) // 3 + 1
    n_val = math.floor(k * 0.15)
    a = by_path["train_01_free/a.parquet"]
    assert a["graphs"] == k
    assert a["assigned"] == {"main": k - n_val - 4, "val": n_val, "embargo": 4}
    assert a["messages_not_in_any_window"] == 400 - ((k - 1) * 3 + 10)
    for rel, n in (
        ("train_01_free/tiny.parquet", 6),
        ("test_01_known_vehicle_known_attack/b.parquet", 9),
    ):
        assert by_path[rel]["graphs"] == 0
        assert by_path[rel]["messages_not_in_any_window"] == n
    assert m["splits"]["test_01_known_vehicle_known_attack"]["graphs"] == 0
    tr, va = read_split(result.store, "train"), read_split(result.store, "val")
    assert len(tr["y"]) == k - n_val - 4
    assert len(va["y"]) == n_val
    last_train_start = int(np.searchsorted(train.timestamp, tr["window_start"].max()))
    first_val_start = int(np.searchsorted(train.timestamp, va["window_start"].min()))
    assert last_train_start + 10 <= first_val_start  # disjoint messages
    assert first_val_start - last_train_start == 3 * (4 + 1)
    te = read_split(result.store, "test_01_known_vehicle_known_attack")
    assert te["x"].shape == (0, len(cfg.node_features))
    assert te["edge_index"].shape == (2, 0)
    assert mgr_verify_ok(tmp_path / "cache", full=True)


def mgr_verify_ok(cache_dir: Path, **kw) -> bool:
    report = CacheManager(cache_dir).verify("demo", **kw)
    assert report.problems == [], report.problems
    return report.ok


def test_progress_callback_and_rebuild_replaces(demo_clone) -> None:
    seen = []
    mgr = CacheManager(demo_clone.cache_dir)
    before = demo_clone.manifest()
    result = mgr.build("demo", demo_clone.root, progress=seen.append)  # over the old cache
    assert [p.files_done for p in seen] == list(range(1, 11))
    assert all(p.files_total == 10 and p.resumed == 0 for p in seen)
    m = result.manifest
    assert seen[-1].messages == result.messages == sum(s["messages"] for s in m["sources"])
    assert seen[-1].graphs == sum(s["graphs"] for s in m["sources"])
    assert result.resumed_files == 0
    assert dt.datetime.fromisoformat(m["build"]["started"]) >= dt.datetime.fromisoformat(
        before["build"]["finished"]
    )
    assert m["arrays"] == before["arrays"]
    # Published by rename: no staging, no renamed-aside old copy left behind.
    assert sorted(p.name for p in demo_clone.cache_dir.iterdir()) == [".locks", ".staging", "demo"]
    assert list((demo_clone.cache_dir / ".staging").iterdir()) == []
    assert mgr.datasets() == ["demo"]
    assert mgr_verify_ok(demo_clone.cache_dir, full=True)


# --- duplicates ----------------------------------------------------------------------


def _rewrite_with_source_file(src: Path, dst: Path, source_file: str) -> None:
    t = pq.read_table(src)
    col = t.schema.get_field_index("source_file")
    t = t.set_column(col, "source_file", pa.array([source_file] * t.num_rows, pa.string()))
    dst.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(t, dst)


def test_duplicate_training_capture_used_once(tmp_path, demo_cache, read_split) -> None:
    root = tmp_path / "root"
    shutil.copytree(demo_cache.root, root)
    kept = "train_01_attack_free/attack-free-1.parquet"
    dup = "train_02_with_attacks/copy-of-attack-free-1.parquet"
    _rewrite_with_source_file(root / kept, root / dup, "somewhere/else.csv")
    assert _sha256(root / kept) != _sha256(root / dup)
    result = CacheManager(tmp_path / "cache").build("demo", root)
    m = result.manifest
    by_path = {s["path"]: (i, s) for i, s in enumerate(m["sources"])}
    _i_kept, s_kept = by_path[kept]
    i_dup, s_dup = by_path[dup]
    assert s_dup["content_sha256"] == s_kept["content_sha256"]
    assert s_dup["sha256"] != s_kept["sha256"]
    assert s_dup["used"] is False
    assert s_dup["duplicate_of"] == kept
    assert s_kept["used"] is True
    assert s_kept["duplicate_of"] is None
    assert m["dedup"] == [
        {"content_sha256": s_kept["content_sha256"], "kept": kept, "dropped": [dup]}
    ]
    assert m["splits"]["train"]["sources"] == m["splits"]["val"]["sources"] == 5
    ref = demo_cache.manifest()
    for split in ("train", "val"):
        got = read_split(result.store, split)
        want = read_split(demo_cache.store, split)
        assert i_dup not in set(got["graph_source"].tolist())
        for name in SPLIT_ARRAYS:
            if name != "graph_source":
                np.testing.assert_array_equal(got[name], want[name], err_msg=f"{split}/{name}")
        paths = [m["sources"][j]["path"] for j in got["graph_source"]]
        assert paths == [ref["sources"][j]["path"] for j in want["graph_source"]]
        assert m["splits"][split] == ref["splits"][split]
    assert m["vocabulary"] == ref["vocabulary"]


def test_test_capture_identical_to_training_is_refused(tmp_path, demo_cache) -> None:
    root = tmp_path / "root"
    shutil.copytree(demo_cache.root, root)
    train = "train_02_with_attacks/dos-1.parquet"
    leak = "test_01_known_vehicle_known_attack/leaked.parquet"
    _rewrite_with_source_file(root / train, root / leak, "x/leaked.csv")
    mgr = CacheManager(tmp_path / "cache")
    with pytest.raises(CacheError) as err:
        mgr.build("demo", root)
    assert leak in str(err.value)
    assert train in str(err.value)
    assert "fix:" in str(err.value)
    assert not (tmp_path / "cache" / "demo").exists()
    assert mgr.verify("demo").status == VerifyStatus.MISSING


# --- malformed captures --------------------------------------------------------------


def test_reader_error_pickles_intact() -> None:
    err = ReaderError("/data/x.csv", "bad payload", line=7, text="1,2,ZZ", hint="do this")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is ReaderError
    assert str(back) == str(err)
    assert (back.path, back.line, back.text, back.reason, back.hint) == (
        "/data/x.csv",
        7,
        "1,2,ZZ",
        "bad payload",
        "do this",
    )


def _corrupt_row(path: Path, row: int) -> None:
    t = pq.read_table(path)
    data = t.column("data_field").to_pylist()
    data[row - 1] = "XYZ"
    col = t.schema.get_field_index("data_field")
    pq.write_table(t.set_column(col, "data_field", pa.array(data, pa.string())), path)


@pytest.mark.parametrize("workers", [1, 2])
def test_reader_error_reaches_the_caller_and_skip_bad_rows_counts(
    tmp_path, make_table, write_dataset, workers
) -> None:
    """A malformed row fails the build with file and line, also from a worker process;
    with skip_bad_rows the row is skipped and counted in the manifest."""
    root = tmp_path / "root"
    paths = write_dataset(
        root,
        {
            "train_01_free/a.parquet": make_table(300, 1),
            "train_01_free/b.parquet": make_table(300, 2),
            "test_01_known_vehicle_known_attack/c.parquet": make_table(300, 3),
        },
    )
    _corrupt_row(paths[1], 17)
    mgr = CacheManager(tmp_path / "cache")
    with pytest.raises(ReaderError) as err:
        mgr.build("demo", root, BuildConfig(window=20, stride=20), workers=workers)
    assert err.value.path == str(paths[1])
    assert err.value.line == 17
    assert f"{paths[1]}:17" in str(err.value)
    assert mgr.verify("demo").status == VerifyStatus.MISSING
    result = mgr.build(
        "demo", root, BuildConfig(window=20, stride=20, skip_bad_rows=True), workers=workers
    )
    m = result.manifest
    assert m["skipped_rows"] == {"train_01_free/b.parquet": 1}
    (b,) = [s for s in m["sources"] if s["path"] == "train_01_free/b.parquet"]
    assert b["messages"] == 299
    assert b["read_report"]["skipped_rows"] == 1
    assert b["read_report"]["skipped_examples"][0]["line"] == 17


# --- parallel, lock ------------------------------------------------------------------


def test_two_workers_give_identical_arrays(tmp_path, demo_cache, read_split) -> None:
    result = CacheManager(tmp_path / "cache").build("demo", demo_cache.root, workers=2)
    m, ref = result.manifest, demo_cache.manifest()
    assert m["build"]["workers"] == 2
    assert m["arrays"] == ref["arrays"]  # shapes, chunks and checksums
    assert m["splits"] == ref["splits"]
    assert m["vocabulary"] == ref["vocabulary"]
    strip = ("build", "manifest_digest")
    assert {k: v for k, v in m.items() if k not in strip} == {
        k: v for k, v in ref.items() if k not in strip
    }
    for split in DEMO_SPLITS:
        got, want = read_split(result.store, split), read_split(demo_cache.store, split)
        for name in SPLIT_ARRAYS:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"{split}/{name}")


def test_concurrent_build_is_refused_by_the_lock(tmp_path, demo_root) -> None:
    cache = tmp_path / "cache"
    with BuildLock(cache / ".locks" / "demo.lock"):
        with pytest.raises(CacheError) as err:
            CacheManager(cache).build("demo", demo_root)
        assert err.value.status == "locked"
        assert f"pid {os.getpid()}" in str(err.value)
        assert "fix:" in str(err.value)
    assert not (cache / "demo").exists()
    assert _staged_parts(cache) == []
    # The lock is released on exit: another builder may take it.
    with BuildLock(cache / ".locks" / "demo.lock"):
        pass


# --- resuming ------------------------------------------------------------------------


def test_failed_build_resumes_from_staged_files(
    tmp_path, demo_cache, monkeypatch, read_split
) -> None:
    import canids_data.cache.build as build_mod

    real = build_mod.process_source
    calls = []

    def fail_on_fourth(job):
        calls.append(job.rel)
        if len(calls) == 4:
            raise RuntimeError("simulated crash")
        return real(job)

    monkeypatch.setattr(build_mod, "process_source", fail_on_fourth)
    cache = tmp_path / "cache"
    mgr = CacheManager(cache)
    with pytest.raises(RuntimeError, match="simulated crash"):
        mgr.build("demo", demo_cache.root)
    assert len(_staged_parts(cache)) == 3
    assert not (cache / "demo").exists()
    assert mgr.verify("demo").status == VerifyStatus.MISSING
    assert "interrupted build" in mgr.verify("demo").problems[0].detail
    (entry,) = mgr.status()["builds_in_progress"]
    assert (entry["dataset"], entry["state"], entry["staged_files"]) == ("demo", "interrupted", 3)
    assert entry["bytes"] > 0
    monkeypatch.setattr(build_mod, "process_source", real)
    result = mgr.build("demo", demo_cache.root)
    assert result.resumed_files == 3
    assert result.manifest["arrays"] == demo_cache.manifest()["arrays"]
    assert mgr.status()["builds_in_progress"] == []


def test_changed_config_does_not_reuse_staged_parts(tmp_path, demo_cache, monkeypatch) -> None:
    import canids_data.cache.build as build_mod

    real = build_mod.process_source

    def crash_after_one(job):
        real(job)
        raise RuntimeError("stop")

    monkeypatch.setattr(build_mod, "process_source", crash_after_one)
    mgr = CacheManager(tmp_path / "cache")
    with pytest.raises(RuntimeError):
        mgr.build("demo", demo_cache.root, BuildConfig(window=50, stride=50))
    monkeypatch.setattr(build_mod, "process_source", real)
    result = mgr.build("demo", demo_cache.root)  # default window: the staged part is not valid
    assert result.resumed_files == 0
    assert result.manifest["arrays"] == demo_cache.manifest()["arrays"]


_KILLABLE_BUILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import canids_data.cache.build as b
    import canids_data.cache.build_store as store_build
    from canids_data import CacheManager

    cache, root, where = sys.argv[1], sys.argv[2], sys.argv[3]
    if where == "files":  # stall after the first staged capture
        real = b.process_source
        def slow(job):
            meta = real(job)
            time.sleep(120)
            return meta
        b.process_source = slow
    else:  # stall in assembly, after the first split is written to the staged store
        real = store_build.assemble_split
        def slow(*args):
            out = real(*args)
            Path(cache, "assembling").touch()
            time.sleep(120)
            return out
        store_build.assemble_split = slow
    CacheManager(cache).build("demo", root, workers=1)
    """
)


def _build_and_kill(cache: Path, root: Path, where: str, ready) -> None:
    log = cache.parent / f"build-{where}.log"
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [sys.executable, "-c", _KILLABLE_BUILD, str(cache), str(root), where],
            stdout=out,
            stderr=subprocess.STDOUT,
        ) as proc,
    ):
        deadline = time.monotonic() + 60
        try:
            while not ready():
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the build never got that far"
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("where", ["files", pytest.param("assembly", marks=pytest.mark.slow)])
def test_sigkill_mid_build_then_resume(tmp_path, demo_cache, read_split, where) -> None:
    cache = tmp_path / "cache"
    if where == "files":
        _build_and_kill(cache, demo_cache.root, where, lambda: len(_staged_parts(cache)) >= 1)
        staged = 1
    else:
        _build_and_kill(cache, demo_cache.root, where, (cache / "assembling").exists)
        staged = len(demo_plan())  # every capture is staged before assembly starts
        assert staged == 10
        assert (cache / ".staging" / "demo" / "store").is_dir()
    assert len(_staged_parts(cache)) == staged
    mgr = CacheManager(cache)
    assert not (cache / "demo").exists()
    report = mgr.verify("demo")
    assert report.status == VerifyStatus.MISSING
    assert report.exit_code == 10
    assert "interrupted build" in report.problems[0].detail
    (entry,) = mgr.status()["builds_in_progress"]
    assert (entry["state"], entry["staged_files"]) == ("interrupted", staged)
    # The killed builder's lock died with it.
    result = mgr.build("demo", demo_cache.root, workers=1)
    assert result.resumed_files == staged
    full = mgr.verify("demo", full=True)
    assert full.ok, full.problems
    assert mgr.status()["builds_in_progress"] == []
    assert result.manifest["arrays"] == demo_cache.manifest()["arrays"]
    for split in DEMO_SPLITS:
        got, want = read_split(result.store, split), read_split(demo_cache.store, split)
        for name in SPLIT_ARRAYS:
            np.testing.assert_array_equal(got[name], want[name], err_msg=f"{split}/{name}")


# --- skipped rows have a limit --------------------------------------------------------


def _text_dataset(root: Path, make_table, bad_rows: int, good_rows: int = 0) -> Path:
    """A training capture in survival-analysis text, and a test capture of ``good_rows``
    good rows then ``bad_rows`` semicolon-delimited ones."""
    from canids_data.writers import write_capture

    write_capture(make_table(600, 1), root / "train_01_free" / "a.txt", "hcrl_sa")
    good = write_capture(make_table(max(good_rows, 1), 2), root / "x.txt", "hcrl_sa")
    lines = good.read_text().splitlines(keepends=True)[:good_rows]
    good.unlink()
    semi = [f"{1000 + i}.5;05f0;2;01;00;R\n" for i in range(bad_rows)]
    path = root / "test_01_known_vehicle_known_attack" / "semi.txt"
    path.parent.mkdir(parents=True)
    path.write_text("".join(lines + semi))
    return path


def test_a_file_whose_rows_are_all_skipped_fails_the_build(tmp_path, make_table) -> None:
    root = tmp_path / "root"
    semi = _text_dataset(root, make_table, bad_rows=600)
    cache = tmp_path / "cache"
    cfg = BuildConfig(skip_bad_rows=True, format="hcrl_sa")
    with pytest.raises(CacheError) as err:
        CacheManager(cache).build("demo", root, cfg)
    e = err.value
    assert e.message.startswith(f"{semi}: 600 of 600 rows were malformed and skipped (100.0%, ")
    assert "above the limit of 1.0%" in e.message
    assert "--max-skipped-fraction" in (e.fix or "")
    assert not (cache / "demo").exists()
    # A limit raised on purpose lets it through, counted.
    result = CacheManager(cache).build("demo", root, cfg, max_skipped_fraction=1.0)
    src = next(s for s in result.manifest["sources"] if s["path"].endswith("semi.txt"))
    assert (src["messages"], src["read_report"]["skipped_rows"]) == (0, 600)


def test_a_few_skipped_rows_stay_under_the_limit(tmp_path, make_table) -> None:
    root = tmp_path / "root"
    _text_dataset(root, make_table, bad_rows=2, good_rows=598)
    result = CacheManager(tmp_path / "cache").build(
        "demo", root, BuildConfig(skip_bad_rows=True, format="hcrl_sa")
    )
    assert result.manifest["skipped_rows"] == {"test_01_known_vehicle_known_attack/semi.txt": 2}
    # 2 of 600 is 0.33%: a limit of 0.2% refuses the same file.
    with pytest.raises(CacheError, match=r"2 of 600 rows were malformed and skipped \(0\.3%"):
        CacheManager(tmp_path / "cache2").build(
            "demo",
            root,
            BuildConfig(skip_bad_rows=True, format="hcrl_sa"),
            max_skipped_fraction=0.002,
        )
