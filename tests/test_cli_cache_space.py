"""``canids-cache`` on a full disk (a real tmpfs) and after a build killed between
publish and cleanup: one line and the fix, never a traceback; staging reported as
reclaimable and freed by the next build or ``clean``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from canids_cli.cache_cmd import main
from click.testing import CliRunner, Result

MiB = 1 << 20


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs, unmounted afterwards; skipped where mounting is impossible, except
    under CI (``CI`` set to anything but 0/false)."""
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        why = f"cannot mount a tmpfs ({done.stderr.strip()})"
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
            pytest.fail(f"{why}; CI must allow it", pytrace=False)
        pytest.skip(why)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False, capture_output=True)


def test_a_full_disk_is_one_line_and_clean_frees_the_parts(small_disk, demo_captures) -> None:
    cache = small_disk / "cache"
    args = ["--cache-dir", cache, "build", "--dataset", "demo", "--root", demo_captures]
    # The estimate refuses first, naming the folder and the figures.
    r = cli(*args, "--workers", "1")
    assert r.exit_code == 1
    assert r.stderr.startswith(f"error: not enough space for the demo cache in {cache}: ")
    assert "Traceback" not in r.output
    # Past the estimate, the disk fills: one line, the fix, the parts kept.
    r = cli(*args, "--workers", "2", "--no-space-check")
    assert r.exit_code == 1
    assert "Traceback" not in r.output
    # Progress lines, then the error: one line and its fix.
    lines = r.stderr.strip().splitlines()
    lines = lines[next(i for i, ln in enumerate(lines) if ln.startswith("error: ")) :]
    assert len(lines) == 2, r.stderr
    assert lines[0].startswith("error: no space left on the device while writing ")
    assert "the build needs about" in lines[0]
    assert lines[1] == (
        "  fix: free space and rerun the build, or free the staged parts with: "
        f"canids-cache clean --dataset demo --cache-dir {cache}"
    )
    r = cli("--cache-dir", cache, "status")
    assert "interrupted build of demo:" in r.stdout
    r = cli("--cache-dir", cache, "clean", "--dataset", "demo")
    assert r.exit_code == 0, r.output
    assert "removed " in r.stdout
    assert r.stdout.splitlines()[-1].startswith("freed ")
    assert not (cache / ".staging" / "demo").exists()
    assert cli("--cache-dir", cache, "clean").stdout.splitlines()[-1] == "nothing to free"


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


def test_a_kill_between_publish_and_cleanup(tmp_path, demo_captures) -> None:
    cache = tmp_path / "cache"
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_AFTER_PUBLISH, str(cache), str(demo_captures)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as proc:
        deadline = time.monotonic() + 120
        try:
            while not (cache / "published").exists():
                assert proc.poll() is None, "the build died before publishing"
                assert time.monotonic() < deadline, "the build never published"
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert any((cache / ".staging" / "demo" / "parts").glob("*.part"))
    r = cli("--cache-dir", cache, "status")
    assert "interrupted" not in r.stdout
    assert "reclaimable: " in r.stdout
    assert f"canids-cache clean --dataset demo --cache-dir {cache}" in r.stdout
    # A plain build: up to date, and the leftovers are freed, not kept "to resume".
    r = cli("--cache-dir", cache, "build", "--dataset", "demo", "--root", demo_captures)
    assert r.exit_code == 0, r.output
    assert "up to date" in r.stdout
    assert "left by an earlier build" in r.stdout
    assert not (cache / ".staging" / "demo").exists()
    r = cli("--cache-dir", cache, "status")
    assert "reclaimable" not in r.stdout
    assert "interrupted" not in r.stdout
    assert shutil.disk_usage(cache).free > 0
