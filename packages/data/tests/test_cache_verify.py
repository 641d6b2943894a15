"""Verifying a cache: each kind of damage gets its status, the place, and the fix."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from canids_data import EXIT_CODES, BuildConfig, CacheManager, VerifyStatus
from canids_data.cache.verify import verify_cache

TRAIN_FILE = "train_01_attack_free/attack-free-1.parquet"


def _verify(clone, **kw):
    return CacheManager(clone.cache_dir).verify("demo", **kw)


def _where(report) -> dict[str, VerifyStatus]:
    return {p.where: p.status for p in report.problems}


def _flip_byte(path: Path, offset: int | None = None) -> None:
    data = bytearray(path.read_bytes())
    i = len(data) // 2 if offset is None else offset
    data[i] ^= 0xFF
    path.write_bytes(bytes(data))


def test_exit_codes_are_distinct() -> None:
    assert {str(s): c for s, c in EXIT_CODES.items()} == {
        "ok": 0,
        "missing": 10,
        "incomplete": 11,
        "stale": 12,
        "config_mismatch": 13,
        "corrupt": 14,
    }


def test_fresh_cache_verifies_quick_and_full(demo_cache) -> None:
    mgr = CacheManager(demo_cache.cache_dir)
    for full in (False, True):
        report = mgr.verify("demo", full=full)
        assert report.ok
        assert report.status == VerifyStatus.OK
        assert report.exit_code == 0
        assert report.problems == []
        assert report.manifest is not None
        assert report.manifest.dataset == "demo"
        data = report.to_json()
        assert data["status"] == "ok"
        assert data["mode"] == ("full" if full else "quick")
    # The expected config matches: still ok.
    assert mgr.verify("demo", config=BuildConfig()).ok


def test_copied_cache_verifies(demo_clone) -> None:
    assert _verify(demo_clone, full=True).ok


def test_missing_cache(tmp_path) -> None:
    report = CacheManager(tmp_path / "nowhere").verify("demo")
    assert report.status == VerifyStatus.MISSING
    assert report.exit_code == 10
    assert report.fix.startswith(
        f"canids-cache build --dataset demo --cache-dir {tmp_path / 'nowhere'}"
    )
    assert "--root" in report.fix
    assert not (tmp_path / "nowhere").exists()  # verifying never creates anything


def test_flipped_byte_in_chunk_is_corrupt_in_full_mode(demo_clone) -> None:
    chunk = demo_clone.store / "train" / "x" / "c.0.0"
    assert chunk.is_file()
    _flip_byte(chunk)
    # Quick mode checks shapes and dtypes against the manifest, not chunk bytes: it still
    # says ok (documented: run --full after copying a cache or on suspicion of damage).
    assert _verify(demo_clone).ok
    report = _verify(demo_clone, full=True)
    assert report.status == VerifyStatus.CORRUPT
    assert report.exit_code == 14
    assert _where(report) == {"train/x": VerifyStatus.CORRUPT}
    # The chunks carry a zstd checksum, so the damage fails decoding (no silent garbage).
    # zstd words it by where the flip lands: "doesn't match checksum", "corruption detected".
    detail = report.problems[0].detail
    assert "chunk c.0.0" in detail
    assert "cannot be decoded" in detail
    assert "Zstd decompression error" in detail
    assert "--force" in report.fix


def test_deleted_chunk_is_corrupt_in_quick_mode(demo_clone) -> None:
    # zarr reads a missing chunk as fill values; quick verify lists the chunk files, and
    # the manifest says how many each array has.
    (demo_clone.store / "val" / "edge_attr" / "c.0.0").unlink()
    for full in (False, True):
        report = _verify(demo_clone, full=full)
        assert report.exit_code == 14
        assert _where(report) == {"val/edge_attr": VerifyStatus.CORRUPT}
        assert "1 of 1 chunk files missing (c.0.0)" in report.problems[0].detail


def test_shape_edited_in_array_metadata_is_corrupt_in_quick_mode(demo_clone) -> None:
    meta_path = demo_clone.store / "train" / "y" / "zarr.json"
    meta = json.loads(meta_path.read_text())
    meta["shape"] = [meta["shape"][0] - 1]
    meta_path.write_text(json.dumps(meta))
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.CORRUPT
    assert _where(report) == {"train/y": VerifyStatus.CORRUPT}


def test_deleted_manifest_is_incomplete(demo_clone) -> None:
    (demo_clone.store / "manifest.json").unlink()
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.INCOMPLETE
    assert report.exit_code == 11
    assert "manifest.json" in report.problems[0].where
    assert "--force" in report.fix


def test_unreadable_manifest_is_corrupt(demo_clone) -> None:
    (demo_clone.store / "manifest.json").write_text('{"schema_version": 1, ')
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.CORRUPT
    assert report.exit_code == 14


def test_other_schema_version_is_a_config_mismatch(demo_clone) -> None:
    data = demo_clone.manifest()
    data["schema_version"] = 0
    (demo_clone.store / "manifest.json").write_text(json.dumps(data))
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.CONFIG_MISMATCH
    assert "schema version 0" in report.problems[0].detail


@pytest.mark.parametrize("what", ["array", "split"])
def test_deleted_array_or_split_is_incomplete(demo_clone, what) -> None:
    target = demo_clone.store / "train" / "edge_attr"
    shutil.rmtree(target if what == "array" else target.parent)
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.INCOMPLETE
    assert report.exit_code == 11
    where = _where(report)
    assert where["train/edge_attr"] == VerifyStatus.INCOMPLETE
    assert set(where) == (
        {"train/edge_attr"}
        if what == "array"
        else {
            f"train/{n}"
            for n in (
                "node_ptr",
                "edge_ptr",
                "node_id",
                "x",
                "edge_index",
                "edge_attr",
                "y",
                "node_y",
                "graph_source",
                "window_start",
                "window_end",
            )
        }
    )
    # Only the asked-for splits are checked.
    assert _verify(demo_clone, splits=["val"]).ok


def test_unknown_split_is_incomplete(demo_clone) -> None:
    report = _verify(demo_clone, splits=["test_09_nothing"])
    assert _where(report) == {"test_09_nothing": VerifyStatus.INCOMPLETE}


def test_touched_source_is_not_stale(demo_clone) -> None:
    """A new mtime with the same bytes (a touch, a copy): the content decides, in both
    modes, and the report notes what it found."""
    path = demo_clone.root / TRAIN_FILE
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    for full in (False, True):
        report = _verify(demo_clone, full=full)
        assert report.ok, report.problems
        assert report.notes == [
            f"{TRAIN_FILE}: modified time changed since the build, content unchanged (sha256 equal)"
        ]


def test_changed_source_is_stale(demo_clone) -> None:
    path = demo_clone.root / TRAIN_FILE
    st = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.STALE
    assert report.exit_code == 12
    assert _where(report) == {TRAIN_FILE: VerifyStatus.STALE}
    assert report.fix == (
        f"canids-cache build --dataset demo --cache-dir {demo_clone.cache_dir} "
        f"--root {demo_clone.root.resolve()} --force"
    )


def test_appended_row_is_stale(demo_clone, make_table) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = demo_clone.root / TRAIN_FILE
    t = pq.read_table(path)
    t = pa.concat_tables([t, t.slice(t.num_rows - 1, 1)])
    pq.write_table(t, path)
    report = _verify(demo_clone)
    assert _where(report) == {TRAIN_FILE: VerifyStatus.STALE}
    assert "size changed" in report.problems[0].detail


def test_same_size_same_mtime_new_content_is_stale_in_full_mode_only(demo_clone) -> None:
    path = demo_clone.root / TRAIN_FILE
    st = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    assert _verify(demo_clone).ok  # quick mode trusts size and mtime
    report = _verify(demo_clone, full=True)
    assert _where(report) == {TRAIN_FILE: VerifyStatus.STALE}
    assert "sha256" in report.problems[0].detail


def test_same_size_new_content_new_mtime_is_stale_in_quick_mode(demo_clone) -> None:
    path = demo_clone.root / TRAIN_FILE
    st = path.stat()
    _flip_byte(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5))
    assert _where(_verify(demo_clone)) == {TRAIN_FILE: VerifyStatus.STALE}


def test_added_capture_is_stale_but_an_ignored_file_is_not(demo_clone) -> None:
    (demo_clone.root / "README.md").write_text("notes\n")
    (demo_clone.root / "train_01_attack_free" / ".hidden.parquet").write_bytes(b"x")
    assert _verify(demo_clone).ok
    new = "test_01_known_vehicle_known_attack/another.parquet"
    shutil.copy(demo_clone.root / TRAIN_FILE, demo_clone.root / new)
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.STALE
    assert _where(report) == {new: VerifyStatus.STALE}
    assert "added since the build" in report.problems[0].detail


def test_removed_capture_is_stale(demo_clone) -> None:
    (demo_clone.root / TRAIN_FILE).unlink()
    report = _verify(demo_clone)
    assert _where(report) == {TRAIN_FILE: VerifyStatus.STALE}
    assert "removed" in report.problems[0].detail


def test_moved_root_is_stale_unless_sources_are_skipped_or_root_given(demo_clone, tmp_path) -> None:
    moved = tmp_path / "moved"
    os.replace(demo_clone.root, moved)
    report = _verify(demo_clone)
    assert report.status == VerifyStatus.STALE
    assert "--root" in report.problems[0].detail
    assert _verify(demo_clone, check_sources=False).ok
    assert _verify(demo_clone, root=moved, full=True).ok
    # The fix names the root verify was pointed at, not the one recorded at build time.
    (moved / TRAIN_FILE).unlink()
    report = _verify(demo_clone, root=moved)
    assert _where(report) == {TRAIN_FILE: VerifyStatus.STALE}
    assert f"--root {moved} --force" in report.fix


def test_other_config_is_a_mismatch_with_a_fix(demo_clone) -> None:
    report = _verify(demo_clone, config=BuildConfig(window=50, stride=50))
    assert report.status == VerifyStatus.CONFIG_MISMATCH
    assert report.exit_code == 13
    assert _where(report) == {"config": VerifyStatus.CONFIG_MISMATCH}
    assert "window=100" in report.problems[0].detail
    assert "window=50" in report.problems[0].detail
    assert "--window 50" in report.fix
    assert "--stride 50" in report.fix
    assert report.fix.startswith("canids-cache build --dataset demo")
    assert report.fix.endswith("--force")
    report = _verify(demo_clone, config=BuildConfig(val_fraction=0.2))
    assert "--val-fraction 0.2" in report.fix
    assert "--window" not in report.fix


def test_a_cache_of_the_invariant_set_is_not_reused_for_the_load_set(demo_clone) -> None:
    report = _verify(demo_clone, config=BuildConfig(features="invariant_load"))
    assert report.status == VerifyStatus.CONFIG_MISMATCH
    detail = report.problems[0].detail
    assert detail.startswith("built with features='invariant', node_features=")
    assert "expected features='invariant_load'" in detail
    assert "'bus_load'" in detail
    assert "--features invariant_load" in report.fix
    assert report.fix.endswith("--force")


def test_worst_problem_decides_the_status(demo_clone) -> None:
    _flip_byte(demo_clone.root / TRAIN_FILE)
    os.utime(demo_clone.root / TRAIN_FILE, ns=(0, 0))
    _flip_byte(demo_clone.store / "train" / "x" / "c.0.0")
    report = _verify(demo_clone, full=True, config=BuildConfig(window=50))
    assert {p.status for p in report.problems} == {
        VerifyStatus.STALE,
        VerifyStatus.CORRUPT,
        VerifyStatus.CONFIG_MISMATCH,
    }
    assert report.status == VerifyStatus.CORRUPT
    assert report.exit_code == 14
    shutil.rmtree(demo_clone.store / "val" / "y")
    assert _verify(demo_clone, full=True).status == VerifyStatus.INCOMPLETE


def test_verify_cache_function_matches_manager(demo_cache) -> None:
    report = verify_cache(demo_cache.cache_dir, "demo", full=True)
    assert report.ok
    assert report.store == demo_cache.store


def test_fix_rebuilds_with_the_config_the_cache_was_built_with(
    tmp_path, make_table, write_dataset
) -> None:
    """A stale cache built with non-default options: the fix keeps them (the build
    command's defaults would silently change the window on the rebuild)."""
    root = tmp_path / "my root"  # a space: the paths in the fix are shell-quoted
    paths = write_dataset(
        root,
        {
            "train_01_free/a.parquet": make_table(300, 1),
            "test_01_known_vehicle_known_attack/b.parquet": make_table(200, 2),
        },
    )
    cache = tmp_path / "cache"
    cfg = BuildConfig(window=20, stride=10, val_fraction=0.2, skip_bad_rows=True, format="parquet")
    CacheManager(cache).build("demo", root, cfg)
    paths[1].write_bytes(paths[1].read_bytes() + b"\0")
    report = CacheManager(cache).verify("demo")
    assert report.status == VerifyStatus.STALE
    assert report.fix == (
        f"canids-cache build --dataset demo --cache-dir {cache} --root '{root}' --window 20 "
        "--stride 10 --val-fraction 0.2 --skip-bad-rows --format parquet --force"
    )
    # Expecting the defaults: the fix builds with the defaults (no flags).
    report = CacheManager(cache).verify("demo", config=BuildConfig())
    assert report.status == VerifyStatus.CONFIG_MISMATCH
    assert (
        report.fix
        == f"canids-cache build --dataset demo --cache-dir {cache} --root '{root}' --force"
    )
