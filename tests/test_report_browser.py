"""The run report and the submissions report as a person sees them: rendered by a real
headless Chromium, every image loaded with a natural size, one section per held-out
split, and a screenshot of the whole page (in the test's tmp folder, to look at).
``canids-report`` rebuilds a run's page and says when it is up to date."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from canids_data import BuildConfig, CacheManager
from canids_models import ArtifactStore, StageContext, load_config
from canids_models.stages import run_stage
from canids_testkit import render_page, tiny_overrides, write_synthetic_outputs

BIN = Path(sys.executable).parent
# Tiny models: the page, not the detector, is under test here.
TINY = tiny_overrides("teacher")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> dict:
    """The teacher pipeline on the demo cache; its evaluate stage writes report.html."""
    base = tmp_path_factory.mktemp("report")
    CacheManager(base / "cache").build("demo", demo_captures, BuildConfig(), workers=1)
    store = ArtifactStore(base / "runs", "browser")
    config = load_config("teacher", None, TINY)
    for stage in ("vgae", "gat_curriculum", "fusion", "evaluate"):
        ctx = StageContext("demo", "teacher", config, store, base / "cache", log=lambda _l: None)
        outcome = run_stage(stage, ctx)
    return {"store": store, "cache": base / "cache", "outcome": outcome}


def test_the_run_report_renders_in_chromium(run, chromium, tmp_path):
    store = run["store"]
    report = store.path("demo", "teacher", "results", "report.html")
    metrics = json.loads(store.path("demo", "teacher", "results", "metrics.json").read_text())
    shot = tmp_path / "report.png"
    page = render_page(report, shot, chromium=chromium)
    print(f"screenshot: {shot}")
    assert page.title == "canids run browser: demo (teacher)"
    held_out = metrics["held_out_splits"]
    assert len(held_out) == 5
    assert [s["name"] for s in page.sections_of("split")] == held_out
    assert [s["title"] for s in page.sections_of("split")] == [
        f"Held-out split {name}" for name in held_out
    ]
    # Curves, histograms and confusions per split; the training curves and the profile.
    assert len(page.images) == 3 * len(held_out) + 2
    assert page.broken_images == []
    assert all(i["naturalWidth"] >= 600 and i["naturalHeight"] >= 300 for i in page.images)
    assert page.console_errors == []
    assert shot.read_bytes().startswith(b"\x89PNG")
    assert page.height > 5000  # the whole page, not the first screen


def test_canids_report_rebuilds_and_knows_when_it_is_up_to_date(run, tmp_path):
    store, cache = run["store"], run["cache"]
    report = store.path("demo", "teacher", "results", "report.html")
    base = [str(BIN / "canids-report"), "--dataset", "demo", "--size", "teacher", "--run"]
    base += ["browser", "--runs-dir", str(store.runs_dir), "--cache-dir", str(cache)]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, timeout=600)

    done = cli()
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "up to date (newer than the evaluate stage's results; --force rebuilds)",
        f"report: {report}",
    ]
    before = report.stat().st_mtime_ns
    done = cli("--force")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"report: {report}"]
    assert report.stat().st_mtime_ns > before
    assert 'class="split" data-name="test_01_known_vehicle_known_attack"' in report.read_text()
    missing = subprocess.run(
        [*base[:6], "nope", "--runs-dir", str(tmp_path)], capture_output=True, text=True
    )
    assert missing.returncode == 1
    assert "metrics.json" in missing.stderr
    assert "canids-train evaluate --dataset demo --size teacher --run nope" in missing.stderr


def test_the_submissions_report_renders_in_chromium(chromium, tmp_path):
    folder = tmp_path / "outputs"
    write_synthetic_outputs(folder, seed=0)
    done = subprocess.run(
        [str(BIN / "canids-jobs"), "report", str(folder)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    shot = tmp_path / "jobs.png"
    page = render_page(folder / "report.html", shot, chromium=chromium)
    print(f"screenshot: {shot}")
    assert [s["kind"] for s in page.sections] == ["completion", "gantt", "failures", "remediations"]
    assert len(page.images) == 3
    assert page.broken_images == []
