"""``canids-cache build|verify|status`` end to end on the small synthetic demo."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from canids_cli.cache_cmd import main
from canids_data.cache.manifest import write_manifest
from canids_data.synthetic import demo_plan
from click.testing import CliRunner, Result

CORRUPT_FILE = "train_01_attack_free/attack-free-2.parquet"
CORRUPT_ROW = 42  # 1-based row of the bad data_field


def cli(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


def manifest(cache: Path) -> dict:
    return json.loads((cache / "demo" / "manifest.json").read_text())


def split_rows(output: str, m: dict) -> None:
    """Every split's line of the counts table, with its graph/attack/node/edge counts."""
    lines = output.splitlines()
    for split, c in m["splits"].items():
        row = next((ln for ln in lines if ln.split() and ln.split()[0] == split), None)
        assert row is not None, f"no row for {split} in:\n{output}"
        fields = row.split()
        assert fields[1:5] == [
            f"{c['graphs']:,}",
            f"{c['attack_graphs']:,}",
            f"{c['nodes']:,}",
            f"{c['edges']:,}",
        ], row


@pytest.fixture(scope="module")
def built(tmp_path_factory, demo_captures) -> Path:
    """A cache folder holding the demo, built once through the CLI. Read-only."""
    cache = tmp_path_factory.mktemp("cli_cache") / "cache"
    r = cli(
        "--cache-dir",
        cache,
        "build",
        "--dataset",
        "demo",
        "--root",
        demo_captures,
        "--workers",
        "1",
    )
    assert r.exit_code == 0, r.output
    return cache


@pytest.fixture
def cache_copy(tmp_path, built, demo_copy) -> tuple[Path, Path]:
    """A private copy of the built cache, pointing at a private copy of the captures."""
    cache = tmp_path / "cache"
    shutil.copytree(built, cache)
    data = manifest(cache)
    data["root"] = str(demo_copy.resolve())
    write_manifest(cache / "demo", data)  # an edit on purpose: resealed
    return cache, demo_copy


def _corrupt_capture(root: Path) -> Path:
    path = root / CORRUPT_FILE
    t = pq.read_table(path)
    data = t.column("data_field").to_pylist()
    data[CORRUPT_ROW - 1] = "ZZ"
    col = t.schema.get_field_index("data_field")
    pq.write_table(t.set_column(col, "data_field", pa.array(data, pa.string())), path)
    return path


# --- build, verify, status -----------------------------------------------------------


def test_build_prints_location_progress_and_counts(tmp_path, demo_captures) -> None:
    cache = tmp_path / "cache"
    r = cli(
        "--cache-dir",
        cache,
        "build",
        "--dataset",
        "demo",
        "--root",
        demo_captures,
        "--workers",
        "2",
    )
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.splitlines()[0] == f"cache: {cache.resolve()}"
    assert f"building demo from {demo_captures.resolve()} with 2 worker(s)" in out
    assert "built demo from " in out
    assert "0 file(s) resumed" in out
    m = manifest(cache)
    split_rows(out, m)
    assert f"vocabulary: {len(m['vocabulary']['can_ids'])} CAN IDs + OOV" in out
    assert f"store: {cache.resolve() / 'demo'}" in out
    # No terminal: one progress line per file (no bar), with the rate and the ETA.
    progress = [ln for ln in r.stderr.splitlines() if ln.startswith("[")]
    assert [ln[:14] for ln in progress] == [f"[{n:>3}/10 files]" for n in range(1, 11)]
    assert all(" messages/s, ETA " in ln for ln in progress)
    assert progress[-1].split("ETA ")[1].startswith("0:00 ")
    assert "\r" not in r.stderr
    assert m["build"]["workers"] == 2


def test_verify_and_status_on_a_built_cache(built) -> None:
    loc = f"cache: {built.resolve()}"
    for full in ([], ["--full"]):
        r = cli("--cache-dir", built, "verify", "--dataset", "demo", *full)
        assert r.exit_code == 0, r.output
        assert r.stdout.splitlines()[0] == loc
        mode = "full" if full else "quick"
        assert f"demo: ok ({mode} verify) at {built.resolve() / 'demo'}" in r.stdout
        split_rows(r.stdout, manifest(built))
    r = cli("--cache-dir", built, "verify")  # every dataset in the cache
    assert r.exit_code == 0
    assert "demo: ok (quick verify)" in r.stdout

    r = cli("--cache-dir", built, "status")
    assert r.exit_code == 0, r.output
    out = r.stdout
    assert out.splitlines()[0] == loc
    assert "size on disk:" in out
    assert "demo: built " in out
    assert "config: window=100 stride=100 val_fraction=0.15 skip_bad_rows=False" in out
    assert "10/10 captures used; 0 skipped rows" in out
    assert "interrupted" not in out
    split_rows(out, manifest(built))


def test_json_output_parses_and_location_goes_to_stderr(built) -> None:
    r = cli("--cache-dir", built, "status", "--json")
    assert r.exit_code == 0
    info = json.loads(r.stdout)
    assert info["location"] == str(built.resolve())
    assert info["exists"] is True
    assert info["builds_in_progress"] == []
    demo = info["datasets"]["demo"]
    m = manifest(built)
    assert demo["state"] == "built"
    assert demo["splits"] == m["splits"]
    assert demo["config"]["window"] == 100
    assert demo["sources"] == demo["sources_used"] == 10
    assert demo["config_digest"] == m["config_digest"][:16]
    assert demo["bytes"] > 0
    assert info["bytes"] == demo["bytes"]
    assert f"cache: {built.resolve()}" in r.stderr

    r = cli("--cache-dir", built, "verify", "--json", "--full")
    assert r.exit_code == 0
    (report,) = json.loads(r.stdout)
    assert report["status"] == "ok"
    assert report["exit_code"] == 0
    assert report["mode"] == "full"
    assert report["problems"] == []
    assert report["store"] == str(built.resolve() / "demo")
    assert f"cache: {built.resolve()}" in r.stderr


def test_status_of_an_empty_cache_folder(tmp_path) -> None:
    r = cli("--cache-dir", tmp_path / "none", "status")
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == f"cache: {(tmp_path / 'none').resolve()}"
    assert "no cache yet" in r.stdout
    info = json.loads(cli("--cache-dir", tmp_path / "none", "status", "--json").stdout)
    assert info["exists"] is False
    assert info["datasets"] == {}


def test_cache_dir_after_the_subcommand(built) -> None:
    """The fix lines say ``canids-cache build --dataset D --cache-dir X``: that works."""
    for cmd in (["status"], ["verify", "--dataset", "demo"]):
        r = cli(*cmd, "--cache-dir", built)
        assert r.exit_code == 0, r.output
        assert r.stdout.splitlines()[0] == f"cache: {built.resolve()}"
    r = cli("--cache-dir", "/nonexistent/elsewhere", "status", "--cache-dir", built)
    assert r.stdout.splitlines()[0] == f"cache: {built.resolve()}"  # the subcommand's wins


def test_cache_location_from_environment(tmp_path, built) -> None:
    r = cli("status", env={"CANIDS_CACHE_DIR": str(built)})
    assert r.stdout.splitlines()[0] == f"cache: {built.resolve()}"
    assert "demo: built" in r.stdout
    r = cli("verify", "--dataset", "demo", env={"CANIDS_CACHE_DIR": str(built)})
    assert r.exit_code == 0
    assert r.stdout.splitlines()[0] == f"cache: {built.resolve()}"


def test_build_when_up_to_date_and_force(cache_copy) -> None:
    cache, root = cache_copy
    before = manifest(cache)
    mtime = (cache / "demo" / "manifest.json").stat().st_mtime_ns
    r = cli("--cache-dir", cache, "build", "--dataset", "demo", "--root", root)
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines()[0] == f"cache: {cache.resolve()}"
    assert (
        f"demo: up to date at {cache.resolve() / 'demo'} (quick verify ok); --force rebuilds"
        in r.stdout
    )
    assert "building" not in r.stdout
    split_rows(r.stdout, before)
    assert (cache / "demo" / "manifest.json").stat().st_mtime_ns == mtime

    r = cli(
        "--cache-dir",
        cache,
        "build",
        "--dataset",
        "demo",
        "--root",
        root,
        "--force",
        "--workers",
        "1",
    )
    assert r.exit_code == 0, r.output
    assert "built demo from " in r.stdout
    after = manifest(cache)
    started = [datetime.fromisoformat(x["build"]["started"]) for x in (before, after)]
    assert started[1] > started[0]
    assert after["arrays"] == before["arrays"]
    # Published by rename: no staging and no renamed-aside old copy are left behind.
    assert sorted(p.name for p in cache.iterdir()) == [".locks", ".staging", "demo"]
    assert list((cache / ".staging").iterdir()) == []


# --- verify exit codes ---------------------------------------------------------------


def _damage(kind: str, cache: Path, root: Path) -> list[str]:
    """Damage the copy; return extra verify arguments."""
    if kind == "missing":
        shutil.rmtree(cache / "demo")
    elif kind == "incomplete":
        (cache / "demo" / "manifest.json").unlink()
    elif kind == "incomplete-array":
        shutil.rmtree(cache / "demo" / "val" / "x")
    elif kind == "stale":
        p = root / "train_01_attack_free" / "attack-free-1.parquet"
        p.write_bytes(p.read_bytes() + b"\0")
    elif kind == "stale-added":
        shutil.copy(
            root / "train_01_attack_free" / "attack-free-1.parquet",
            root / "train_01_attack_free" / "attack-free-3.parquet",
        )
    elif kind == "stale-removed":
        (root / "test_03_known_vehicle_unknown_attack" / "replay-suspension-1.parquet").unlink()
    elif kind == "config":
        return ["--window", "50"]
    elif kind == "corrupt":
        chunk = cache / "demo" / "train" / "x" / "c.0.0"
        data = bytearray(chunk.read_bytes())
        data[len(data) // 2] ^= 0xFF
        chunk.write_bytes(bytes(data))
        return ["--full"]
    return []


_CASES = {
    "missing": (10, "missing", "demo"),
    "incomplete": (11, "incomplete", "manifest.json"),
    "incomplete-array": (11, "incomplete", "val/x"),
    "stale": (12, "stale", "train_01_attack_free/attack-free-1.parquet"),
    "stale-added": (12, "stale", "train_01_attack_free/attack-free-3.parquet"),
    "stale-removed": (12, "stale", "test_03_known_vehicle_unknown_attack/replay-suspension-1"),
    "config": (13, "config_mismatch", "config"),
    "corrupt": (14, "corrupt", "train/x"),
}


def _verify_and_fix_line(cache: Path, kind: str, extra: list[str]) -> str:
    code, status, where = _CASES[kind]
    r = cli("--cache-dir", cache, "verify", "--dataset", "demo", *extra)
    assert r.exit_code == code, r.output
    out = r.stdout
    assert out.splitlines()[0] == f"cache: {cache.resolve()}"
    assert f"demo: {status} (" in out
    assert f"[{status}]" in out
    assert where in out
    fix = next(ln for ln in out.splitlines() if ln.strip().startswith("fix:"))
    fix = fix.strip().removeprefix("fix: ")
    assert fix.startswith(
        f"canids-cache build --dataset demo --cache-dir {cache.resolve()} --root "
    )
    r = cli("--cache-dir", cache, "verify", "--dataset", "demo", "--json", *extra)
    assert r.exit_code == code
    (report,) = json.loads(r.stdout)
    assert report["status"] == status
    assert report["exit_code"] == code
    assert report["fix"] == fix
    return fix


@pytest.mark.parametrize("kind", list(_CASES))
def test_verify_exit_codes(cache_copy, kind) -> None:
    cache, root = cache_copy
    extra = _damage(kind, cache, root)
    fix = _verify_and_fix_line(cache, kind, extra)
    if kind == "config":
        assert "--window 50" in fix
        assert fix.endswith(" --force")


@pytest.mark.parametrize("kind", ["incomplete", "config", "corrupt"])
def test_the_printed_fix_repairs_the_cache(cache_copy, kind) -> None:
    """Run the fix line verify printed (``PATH`` filled in): the cache then verifies."""
    cache, root = cache_copy
    extra = _damage(kind, cache, root)
    fix = _verify_and_fix_line(cache, kind, extra)
    args = shlex.split(fix.replace("--root PATH", f"--root {shlex.quote(str(root))}"))
    assert args[0] == "canids-cache"
    r = cli(*args[1:], "--workers", "1")
    assert r.exit_code == 0, r.output
    assert "built demo from " in r.stdout
    r = cli("--cache-dir", cache, "verify", "--dataset", "demo", "--full", *extra[:2])
    assert r.exit_code == 0, r.output


def test_verify_with_nothing_in_the_cache(tmp_path) -> None:
    r = cli("--cache-dir", tmp_path / "empty", "verify")
    assert r.exit_code == 10
    assert "no cache here" in r.stderr
    r = cli("--cache-dir", tmp_path / "empty", "verify", "--dataset", "demo")
    assert r.exit_code == 10
    assert "demo: missing" in r.stdout
    assert "--root PATH" in r.stdout


# --- malformed captures --------------------------------------------------------------


def test_reader_error_fails_the_build_and_publishes_nothing(tmp_path, demo_copy) -> None:
    """With the default two workers: the error crosses a process boundary intact."""
    bad = _corrupt_capture(demo_copy)
    cache = tmp_path / "cache"
    r = cli("--cache-dir", cache, "build", "--dataset", "demo", "--root", demo_copy)
    assert r.exit_code == 1, r.output
    assert r.stderr.startswith("error: ") or "\nerror: " in r.stderr
    assert f"{bad.resolve()}:{CORRUPT_ROW}: row {CORRUPT_ROW}" in r.stderr
    assert "payload is not hexadecimal" in r.stderr
    assert "--skip-bad-rows" in r.stderr
    assert "Traceback" not in r.output
    assert not (cache / "demo").exists()
    r = cli("--cache-dir", cache, "verify", "--dataset", "demo")
    assert r.exit_code == 10

    r = cli(
        "--cache-dir", cache, "build", "--dataset", "demo", "--root", demo_copy, "--skip-bad-rows"
    )
    assert r.exit_code == 0, r.output
    assert "skipped 1 malformed row(s) in 1 file(s)" in r.stdout
    m = manifest(cache)
    assert m["skipped_rows"] == {CORRUPT_FILE: 1}
    assert m["config"]["skip_bad_rows"] is True
    src = next(s for s in m["sources"] if s["path"] == CORRUPT_FILE)
    assert src["read_report"]["skipped_examples"][0]["line"] == CORRUPT_ROW
    assert src["messages"] == src["read_report"]["rows"] - 1
    r = cli("--cache-dir", cache, "status")
    assert "skip_bad_rows=True" in r.stdout
    assert "1 skipped rows" in r.stdout
    assert cli("--cache-dir", cache, "verify", "--full").exit_code == 0
    # --window checks the window only, not the other options the cache was built with.
    assert cli("--cache-dir", cache, "verify", "--window", "100").exit_code == 0
    r = cli("--cache-dir", cache, "verify", "--window", "50")
    assert r.exit_code == 13
    assert "--window 50 --skip-bad-rows --force" in r.stdout
    # A stale cache's fix rebuilds with --skip-bad-rows, as it was built.
    bad.write_bytes(bad.read_bytes() + b"\0")
    r = cli("--cache-dir", cache, "verify")
    assert r.exit_code == 12
    assert f"--root {demo_copy.resolve()} --skip-bad-rows --force" in r.stdout


def test_unknown_dataset_is_an_error(tmp_path) -> None:
    r = cli("--cache-dir", tmp_path / "c", "build", "--dataset", "nope", "--root", tmp_path)
    assert r.exit_code == 1
    assert "unknown dataset 'nope'" in r.stderr
    assert "--datasets-file" in r.stderr


def test_duplicate_capture_is_reported(tmp_path, demo_copy) -> None:
    t = pq.read_table(demo_copy / "train_01_attack_free" / "attack-free-1.parquet")
    t = t.set_column(
        t.schema.get_field_index("source_file"),
        "source_file",
        pa.array(["elsewhere.csv"] * t.num_rows, pa.string()),
    )
    pq.write_table(t, demo_copy / "train_02_with_attacks" / "copy.parquet")
    r = cli(
        "--cache-dir",
        tmp_path / "cache",
        "build",
        "--dataset",
        "demo",
        "--root",
        demo_copy,
        "--workers",
        "1",
    )
    assert r.exit_code == 0, r.output
    assert (
        "duplicate training capture(s) train_02_with_attacks/copy.parquet: same messages "
        "as train_01_attack_free/attack-free-1.parquet, used once"
    ) in r.stdout
    r = cli("--cache-dir", tmp_path / "cache", "status")
    captures = len(list(demo_copy.rglob("*.parquet")))  # the copy among them
    assert f"{captures - 1}/{captures} captures used" in r.stdout


# --- a killed build ------------------------------------------------------------------

_STALLING_CLI = textwrap.dedent(
    """
    import sys, time
    import canids_data.cache.build as b
    from canids_cli.cache_cmd import main

    real = b.process_source
    def stall_after_first(job):
        meta = real(job)
        time.sleep(120)  # SIGKILLed here, with one capture staged
        return meta
    b.process_source = stall_after_first
    main(sys.argv[1:])
    """
)


def _canids_cache() -> str:
    exe = shutil.which("canids-cache", path=str(Path(sys.executable).parent))
    assert exe is not None, "canids-cache is not installed in this environment"
    return exe


@pytest.mark.slow
def test_sigkill_mid_build_then_resume(tmp_path, demo_captures) -> None:
    cache = tmp_path / "cache"
    parts = cache / ".staging" / "demo" / "parts"
    args = [
        "--cache-dir",
        str(cache),
        "build",
        "--dataset",
        "demo",
        "--root",
        str(demo_captures),
        "--workers",
        "1",
    ]
    log = tmp_path / "build.log"
    with (
        log.open("wb") as out,
        subprocess.Popen(
            [sys.executable, "-c", _STALLING_CLI, *args], stdout=out, stderr=subprocess.STDOUT
        ) as proc,
    ):
        deadline = time.monotonic() + 60
        try:
            while not (parts.is_dir() and any(parts.glob("*.part"))):
                assert proc.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "no capture was ever staged"
                time.sleep(0.02)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    exe = _canids_cache()
    v = subprocess.run(
        [exe, "--cache-dir", str(cache), "verify", "--dataset", "demo"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert v.returncode == 10, v.stdout + v.stderr
    assert v.stdout.splitlines()[0] == f"cache: {cache.resolve()}"
    assert "demo: missing" in v.stdout
    assert "interrupted build left staged parts" in v.stdout
    s = subprocess.run(
        [exe, "--cache-dir", str(cache), "status"], capture_output=True, text=True, check=True
    )
    assert "interrupted build of demo: 1 file(s) staged" in s.stdout
    assert "rerun canids-cache build to resume, or free them: canids-cache clean" in s.stdout

    r = cli(*[a for a in args])
    assert r.exit_code == 0, r.output
    assert "1 file(s) resumed from an interrupted build" in r.stdout
    r = cli("--cache-dir", cache, "verify", "--full")
    assert r.exit_code == 0, r.output
    assert "interrupted" not in cli("--cache-dir", cache, "status").stdout


@pytest.mark.slow
def test_demo_is_generated_when_the_root_is_empty(tmp_path) -> None:
    root = tmp_path / "demo"
    r = cli(
        "--cache-dir",
        tmp_path / "cache",
        "build",
        "--dataset",
        "demo",
        "--root",
        root,
        "--seed",
        "3",
    )
    assert r.exit_code == 0, r.output
    n = len(demo_plan())
    assert f"generated {n} demo captures (seed 3) in {root.resolve()}" in r.stdout
    assert len(list(root.glob("*/*.parquet"))) == 10
    assert cli("--cache-dir", tmp_path / "cache", "verify", "--full").exit_code == 0
