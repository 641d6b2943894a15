"""A full disk and the staging a build leaves behind, on a real tmpfs.

A build refuses to start where it cannot fit (the estimate, with the figure and the
path); a disk that fills up mid-build is one line naming the path and the space needed,
the staged parts are kept and the rerun resumes from them; ``clean`` frees them. Staging
left by a finished build (killed between publish and cleanup) is reclaimable, never an
"interrupted" build, and the next build removes it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from canids_data import CacheError, CacheManager, VerifyStatus
from canids_data.cache import build as build_mod
from canids_data.cache.parts import load_part

MiB = 1 << 20


def _parts(cache: Path) -> list[Path]:
    folder = cache / ".staging" / "demo" / "parts"
    return sorted(folder.glob("*.part")) if folder.is_dir() else []


def _leftovers(cache: Path) -> list[Path]:
    """Temp files of interrupted writes: there must be none after any failure."""
    return [p for p in cache.rglob("*") if p.name.endswith(".tmp")]


def _reference_usage(tmpfs, demo_root: Path, monkeypatch) -> tuple[int, int]:
    """Bytes the tmpfs holds once every part is staged, and just before publishing."""
    seen: dict[str, int] = {}
    real_assemble, real_publish = build_mod.write_store, build_mod._publish

    def assemble(*args, **kw):
        seen["parts"] = tmpfs.used
        return real_assemble(*args, **kw)

    def publish(*args, **kw):
        seen["store"] = tmpfs.used
        return real_publish(*args, **kw)

    monkeypatch.setattr(build_mod, "write_store", assemble)
    monkeypatch.setattr(build_mod, "_publish", publish)
    cache = tmpfs.path / "ref"
    CacheManager(cache).build("demo", demo_root, workers=1, check_space=False)
    monkeypatch.setattr(build_mod, "write_store", real_assemble)
    monkeypatch.setattr(build_mod, "_publish", real_publish)
    subprocess.run(["rm", "-rf", str(cache)], check=True)
    base = tmpfs.used
    return seen["parts"] - base, seen["store"] - base


def _no_space(cache: Path, demo_root: Path) -> CacheError:
    with pytest.raises(CacheError) as err:
        CacheManager(cache).build("demo", demo_root, workers=1, check_space=False)
    return err.value


def test_the_build_refuses_to_start_without_room(tmpfs, demo_root) -> None:
    tmpfs.resize(MiB)
    cache = tmpfs.path / "cache"
    with pytest.raises(CacheError) as err:
        CacheManager(cache).build("demo", demo_root, workers=1)
    e = err.value
    assert e.status == "no_space"
    assert e.message.startswith(f"not enough space for the demo cache in {cache}: the build ")
    assert "needs about" in e.message
    assert "MiB is free" in e.message or "KiB is free" in e.message
    assert "\n" not in e.message
    assert e.fix is not None
    assert "--cache-dir OTHER_FOLDER" in e.fix
    assert _parts(cache) == []  # nothing was written


@pytest.mark.parametrize("where", ["staging", "assembly"])
def test_a_disk_that_fills_mid_build(tmpfs, demo_root, monkeypatch, where) -> None:
    parts_bytes, store_bytes = _reference_usage(tmpfs, demo_root, monkeypatch)
    room = parts_bytes // 2 if where == "staging" else parts_bytes + store_bytes // 3
    tmpfs.resize(tmpfs.used + room)
    cache = tmpfs.path / "cache"
    e = _no_space(cache, demo_root)
    assert e.status == "no_space"
    assert e.message.startswith("no space left on the device while writing ")
    assert str(cache) in e.message
    assert "the build needs about" in e.message
    assert "\n" not in e.message  # one line, then the fix
    assert e.fix == (
        "free space and rerun the build, or free the staged parts with: "
        f"canids-cache clean --dataset demo --cache-dir {cache}"
    )
    # Nothing published, no half-written file, no half-built store; the parts staged so
    # far are whole (each loads) and kept for the rerun.
    assert not (cache / "demo").exists()
    assert not (cache / ".staging" / "demo" / "store").exists()
    assert _leftovers(cache) == []
    kept = _parts(cache)
    assert kept
    if where == "assembly":
        assert len(kept) == len(list(demo_root.rglob("*.parquet")))
    for part in kept:
        graphs, assign, meta = load_part(part.with_suffix(""))
        assert graphs.num_graphs == len(assign) == meta["graphs"]
    info = CacheManager(cache).staging("demo")
    assert (info.state, info.staged_files) == ("interrupted", len(kept))
    # Room again: the rerun resumes from the kept parts and the cache verifies in full.
    tmpfs.resize(64 * MiB)
    result = CacheManager(cache).build("demo", demo_root, workers=1)
    assert result.resumed_files == len(kept)
    assert CacheManager(cache).verify("demo", full=True).ok
    assert _parts(cache) == []


def test_clean_frees_the_staged_parts_of_a_failed_build(tmpfs, demo_root, monkeypatch) -> None:
    parts_bytes, _ = _reference_usage(tmpfs, demo_root, monkeypatch)
    empty = tmpfs.used
    tmpfs.resize(empty + parts_bytes // 2)
    cache = tmpfs.path / "cache"
    _no_space(cache, demo_root)
    assert tmpfs.used > empty + parts_bytes // 4  # the disk is (nearly) full
    removed = CacheManager(cache).clean("demo")
    assert [(r.dataset, r.state) for r in removed] == [("demo", "interrupted")]
    assert removed[0].bytes > 0
    assert not (cache / ".staging" / "demo").exists()
    assert tmpfs.used - empty < 64 << 10  # back to (almost) nothing: folders, the lock


# --- a kill between publish and cleanup ------------------------------------------------

_KILLED_AFTER_PUBLISH = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import canids_data.cache.build as b
    from canids_data import CacheManager

    cache, root = sys.argv[1], sys.argv[2]
    real = b._publish
    def publish_then_stall(store, target):
        real(store, target)
        Path(cache, "published").touch()
        time.sleep(120)  # SIGKILLed here: published, staging not yet removed
    b._publish = publish_then_stall
    CacheManager(cache).build("demo", root, workers=1)
    """
)


def _kill_after_publish(cache: Path, root: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_AFTER_PUBLISH, str(cache), str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    ) as proc:
        deadline = time.monotonic() + 120
        try:
            while not (cache / "published").exists():
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the build never published"
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_staging_left_by_a_finished_build_is_reclaimable_not_interrupted(
    tmp_path, demo_cache
) -> None:
    cache = tmp_path / "cache"
    _kill_after_publish(cache, demo_cache.root)
    mgr = CacheManager(cache)
    assert mgr.verify("demo", full=True).ok  # the published cache is whole
    staged = _parts(cache)
    assert len(staged) == len(list(demo_cache.root.rglob("*.parquet")))
    status = mgr.status()
    assert status["builds_in_progress"] == []
    (left,) = status["reclaimable"]
    assert (left["dataset"], left["state"], left["staged_files"]) == (
        "demo",
        "finished",
        len(staged),
    )
    assert left["bytes"] > 0
    # Only the leftovers of a finished build go with only_finished (the up-to-date path).
    assert [r.state for r in mgr.clean("demo", only_finished=True)] == ["finished"]
    assert _parts(cache) == []
    assert mgr.status()["reclaimable"] == []


def test_a_forced_build_removes_a_finished_builds_staging(tmp_path, demo_cache) -> None:
    cache = tmp_path / "cache"
    _kill_after_publish(cache, demo_cache.root)
    result = CacheManager(cache).build("demo", demo_cache.root, workers=1)
    assert result.cleaned_bytes > 0
    assert result.resumed_files == 0  # a finished build's parts are not resumed from
    assert CacheManager(cache).verify("demo").status == VerifyStatus.OK
    assert not (cache / ".staging" / "demo").exists()
