"""``canids-train STAGE`` end to end on the small synthetic demo: the teacher pipeline, the
student distilled from it, and refusals (missing or stale cache, missing teacher, bad
config) that end with a failed ``CANIDS-STAGE-RESULT`` line and touch no artifact."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from canids_cli.train_cmd import main
from canids_data import BuildConfig, CacheManager
from canids_data.cache.manifest import write_manifest
from canids_models import ArtifactStore, find_result, parse_result
from canids_testkit import set_args, tiny_overrides
from click.testing import CliRunner, Result

RECORD_KEYS = {"status", "stage", "dataset", "size", "run", "metrics", "artifacts"}


def train(
    stage: str, size: str, cache: Path, runs: Path, *extra: str, tiny: bool = True
) -> tuple[Result, dict]:
    args = [stage, "--dataset", "demo", "--size", size, "--cache-dir", str(cache)]
    # The tiny config first: a test's own --set items (in extra) come later and win.
    args += set_args(tiny_overrides(size)) if tiny else []
    args += ["--runs-dir", str(runs), *extra]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    last = result.stdout.rstrip("\n").splitlines()[-1]
    return result, parse_result(last)


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    cache = tmp_path_factory.mktemp("train_cache") / "cache"
    CacheManager(cache).build("demo", demo_captures, BuildConfig(), workers=1)
    return cache


@pytest.fixture(scope="module")
def runs(demo_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The teacher pipeline, then the student distilled from it, through canids-train."""
    runs_dir = tmp_path_factory.mktemp("train_runs") / "runs"
    records = {}
    for size, stages in (
        ("teacher", [("vgae", ()), ("gat_curriculum", ()), ("fusion", ()), ("evaluate", ())]),
        (
            "student",
            [
                ("vgae", ("--distill-from", "teacher")),
                ("gat", ("--distill-from", "teacher")),
                ("fusion", ()),
                ("evaluate", ()),
            ],
        ),
    ):
        for stage, extra in stages:
            result, record = train(stage, size, demo_cache, runs_dir, *extra)
            assert result.exit_code == 0, result.output
            records[(size, stage)] = (result, record)
    return {"dir": runs_dir, "records": records}


def test_every_stage_ends_with_a_complete_result_line(runs):
    for (size, stage), (result, record) in runs["records"].items():
        assert find_result(result.stdout) == record
        assert set(record) >= RECORD_KEYS
        assert (record["status"], record["stage"], record["size"]) == ("completed", stage, size)
        assert (record["dataset"], record["run"]) == ("demo", "default")
        assert record["wall_seconds"] > 0
        assert record["peak_memory"]["host_max_rss_bytes"] > 0
        assert record["artifacts"], stage
        for path in record["artifacts"].values():
            assert Path(path).is_file()
            assert Path(path).is_relative_to(runs["dir"].resolve() / "default" / "demo" / size)
        assert Path(record["artifacts"]["done"]).name == "DONE.json"
        assert isinstance(record["metrics"], dict)
    _, vgae = runs["records"][("teacher", "vgae")]
    assert vgae["metrics"]["epochs_run"] == 2
    assert "checkpoint" in vgae["artifacts"]


def test_results_md_names_every_test_split(runs, demo_cache):
    splits = json.loads((demo_cache / "demo" / "manifest.json").read_text())["splits"]
    tests = sorted(s for s in splits if s.startswith("test_"))
    assert len(tests) == 5
    for size in ("teacher", "student"):
        _, record = runs["records"][(size, "evaluate")]
        table = Path(record["artifacts"]["results.md"]).read_text()
        lines = [ln for ln in table.splitlines() if ln.startswith("| ")][1:]  # minus the header
        rows = [ln.split("|")[1].strip() for ln in lines if not ln.startswith("| ---")]
        assert set(rows) == {*tests, "val (validation, not held out)"}
        # vgae, gat and the default fusion per split, under both protocols
        assert len(rows) == 2 * 3 * (len(tests) + 1)
        metrics = json.loads(Path(record["artifacts"]["metrics"]).read_text())
        held = {(r["split"], r["held_out"]) for r in metrics["rows"]}
        assert held == {("val", False), *((t, True) for t in tests)}
        fusion = f"fusion:{metrics['fusion_method']}"
        assert record["metrics"]["fusion_method"] == metrics["fusion_method"]
        assert set(record["metrics"]["f1"]) == {
            f"{s}/{p}/{m}"
            for s in ["val", *tests]
            for p in ("frozen", "calibrated")
            for m in ("vgae", "gat", fusion)
        }


def test_the_student_distils_from_the_teacher(runs):
    for stage in ("vgae", "gat"):
        _, record = runs["records"][("student", stage)]
        metrics = json.loads(Path(record["artifacts"]["metrics"]).read_text())
        assert metrics["distilled_from"] == "teacher"
    _, t = runs["records"][("teacher", "gat_curriculum")]
    _, s = runs["records"][("student", "gat")]
    assert s["metrics"]["parameters"] < t["metrics"]["parameters"]


def test_fusion_names_its_default_and_calibration(runs):
    for size in ("teacher", "student"):
        _, record = runs["records"][(size, "fusion")]
        metrics = json.loads(Path(record["artifacts"]["metrics"]).read_text())
        assert record["metrics"]["method"] == metrics["method"]
        assert metrics["method"] in ("mean", "max", "logistic", "dqn", "cut_mean", "cut_max")
        assert record["metrics"]["calibration_seconds"] in (0.2, 0.4)
        assert set(metrics["selection"]["scores"]) == {
            "gat",
            "vgae",
            "mean",
            "max",
            "logistic",
            "dqn",
            "cut_mean",
            "cut_max",
            "either",
        }
        assert metrics["selection"]["select"] == "validation"
        assert metrics["selection"]["scores"]["either"]["calibrated"] is None


def _refused(result: Result, record: dict, error_type: str) -> str:
    assert result.exit_code == 1
    assert record["status"] == "failed"
    assert record["error_type"] == error_type
    return record["error"]


def test_a_missing_cache_is_refused_without_touching_the_runs_dir(tmp_path):
    runs_dir = tmp_path / "runs"
    result, record = train("vgae", "teacher", tmp_path / "no_cache", runs_dir)
    error = _refused(result, record, "PreflightError")
    assert "graph cache of demo is missing" in error
    assert f"canids-cache build --dataset demo --cache-dir {tmp_path / 'no_cache'}" in error
    assert "error: preflight failed" in result.stderr
    assert not runs_dir.exists()


def test_a_stale_cache_is_refused_without_touching_the_runs_dir(
    tmp_path, demo_cache, demo_captures
):
    root, cache = tmp_path / "root", tmp_path / "cache"
    shutil.copytree(demo_captures, root)
    shutil.copytree(demo_cache, cache)
    manifest = cache / "demo" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["root"] = str(root.resolve())
    write_manifest(cache / "demo", data)  # a deliberate edit reseals the manifest
    capture = next(root.rglob("*.parquet"))
    st = capture.stat()
    # Edited since the build: new content (a touch alone, same sha256, is not stale).
    blob = bytearray(capture.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    capture.write_bytes(bytes(blob))
    os.utime(capture, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))

    runs_dir = tmp_path / "runs"
    result, record = train("gat", "teacher", cache, runs_dir)
    error = _refused(result, record, "PreflightError")
    assert "graph cache of demo is stale" in error
    assert capture.name in error
    assert "canids-cache build --dataset demo" in error
    assert "--force" in error
    assert not runs_dir.exists()


def test_a_student_without_teacher_artifacts_is_refused(tmp_path, demo_cache):
    runs_dir = tmp_path / "runs"
    result, record = train(
        "gat", "student", demo_cache, runs_dir, "--distill-from", "teacher", "--run", "r2"
    )
    error = _refused(result, record, "PreflightError")
    store = ArtifactStore(runs_dir, "r2")
    assert "stage gat needs artifact gat (teacher)" in error
    assert str(store.dir("demo", "teacher", "gat")) in error
    assert "canids-train gat_curriculum --dataset demo --size teacher" in error
    assert "--run r2" in error
    # The fix names the cache this run read: without it, it would train on ./cache.
    assert f"--run r2 --cache-dir {Path(demo_cache).resolve()}" in error
    assert not runs_dir.exists()


@pytest.mark.parametrize(
    ("extra", "error_type", "text"),
    [
        (("--set", "gat.head=4"), "ConfigError", "--set gat.head=4: gat.head: unknown key; known:"),
        (
            ("--set", "train.epochs=many"),
            "ConfigError",
            "--set train.epochs=many: train.epochs: input should be a valid integer (got 'many')",
        ),
        (("--set", "train.backend=cugraph", "--set", "train.device=cpu"), "BackendError", "CUDA"),
    ],
)
def test_bad_options_fail_with_the_reason(tmp_path, demo_cache, extra, error_type, text):
    result, record = train("gat", "teacher", demo_cache, tmp_path / "runs", *extra)
    assert text in _refused(result, record, error_type)
    assert not (tmp_path / "runs").exists()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_a_stage_reads_only_current_artifacts_of_its_config(runs, demo_cache, tmp_path):
    runs_dir = tmp_path / "runs"
    shutil.copytree(runs["dir"], runs_dir)
    before = _tree(runs_dir)
    # Another seed's fusion over seed 0's detectors: refused, nothing written.
    result, record = train("fusion", "teacher", demo_cache, runs_dir, "--set", "train.seed=1")
    error = _refused(result, record, "PreflightError")
    assert error.count("train.seed: 0 there, 1 here") == 2
    assert _tree(runs_dir) == before
    # The GAT trained again: the fusion fitted on the old one is stale for evaluate.
    result, _ = train("gat_curriculum", "teacher", demo_cache, runs_dir)
    assert result.exit_code == 0, result.output
    result, record = train("evaluate", "teacher", demo_cache, runs_dir)
    error = _refused(result, record, "PreflightError")
    assert "artifact fusion (teacher) of demo" in error
    assert "was made from teacher/gat finished" in error
    assert "canids-train fusion --dataset demo --size teacher" in error
    # The fix it names: fit the fusion again; then evaluate runs.
    for stage in ("fusion", "evaluate"):
        result, _ = train(stage, "teacher", demo_cache, runs_dir)
        assert result.exit_code == 0, result.output
