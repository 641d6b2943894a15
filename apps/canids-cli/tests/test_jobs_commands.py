"""canids-jobs as a user runs it (the installed console script, in a subprocess): status,
list and analyze never import torch, torch_geometric, zarr or ray; analyze and remediate
cover a local and a Ray failure recorded by canids-submit's recorder; resubmit refuses
them with the command to run instead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from canids_core import StageReport, StageResult, format_report
from canids_jobs import StageResultRecorder

BIN = Path(sys.executable).parent


def _cli(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANIDS_")}
    return subprocess.run(
        [str(BIN / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """A runs folder whose history holds a local and a Ray failure, and a success, as
    canids-submit's recorder writes them."""
    runs = tmp_path / "runs"
    log = tmp_path / "fusion.log"
    error = (
        "preflight failed:\n  - graph cache of demo is missing (no manifest.json); "
        "fix: canids-cache build --dataset demo --cache-dir /c"
    )
    report = StageReport(
        stage="fusion", dataset="demo", size="teacher", status="failed",
        error_type="PreflightError", error=error,
    )  # fmt: skip
    log.write_text(f"error: {error}\n{format_report(report)}\n")
    common = {"dataset": "demo", "size": "teacher", "pipeline": "teacher", "node": "laptop"}
    recorder = StageResultRecorder.for_runs(runs)
    try:
        recorder(
            StageResult(
                executor="local", stage="fusion", job_id="local-1", exit_code=1, report=report,
                done=False, log=str(log), ended_at=1e9, **common,
            )
        )  # fmt: skip
        recorder(
            StageResult(
                executor="ray", stage="gat", job_id="ray-2", exit_code=-9, signal=9,
                done=False, log=str(tmp_path / "none.log"), ended_at=1e9 + 1, **common,
            )
        )  # fmt: skip
    finally:
        recorder.close()
    return runs


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        (("list",), 0),
        (("status",), 1),  # an empty ledger: says so, after importing all status needs
        (("analyze", "--days", "100000"), 0),
    ],
)
def test_status_list_and_analyze_never_import_torch(
    runs: Path, args: tuple[str, ...], expect: int, heavy_imports
) -> None:
    heavy, code, out = heavy_imports("jobs_cmd", "canids-jobs", *args, "--runs-dir", runs)
    assert heavy == [], out
    assert code == expect, out
    if args[0] == "status":
        assert "is empty: nothing was submitted" in out


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("submit_cmd", "canids-submit"),
        ("tune_cmd", "canids-tune"),
        ("train_cmd", "canids-train"),
        ("jobs_cmd", "canids-jobs"),
    ],
)
def test_help_imports_no_torch(module: str, name: str, heavy_imports) -> None:
    heavy, code, out = heavy_imports(module, name, "--help")
    assert heavy == [], out
    assert code == 0, out
    assert "Usage:" in out


def test_analyze_counts_local_and_ray_failures(runs: Path) -> None:
    done = _cli("canids-jobs", "analyze", "--runs-dir", runs, "--days", "100000", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["by_executor"] == {"local": 1, "ray": 1}
    assert report["by_type"] == {"host_oom": 1, "missing_or_stale_cache": 1}
    text = _cli("canids-jobs", "analyze", "--runs-dir", runs, "--days", "100000").stdout
    assert "executor" in text
    assert "laptop" in text


def test_remediate_a_local_failure(runs: Path) -> None:
    done = _cli("canids-jobs", "remediate", "local-1", "--runs-dir", runs)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("job local-1 (fusion, local executor): missing_or_stale_cache")
    assert "1. [build-cache]" in done.stdout
    assert "canids-cache build --dataset demo --cache-dir /c" in done.stdout
    # Its pipeline wrote no run record here: the rerun cannot repeat its settings, and says so.
    assert lines[-2] == (
        f"note: there is no run record {runs.resolve()}/default/demo/pipelines/"
        "teacher-teacher/pipeline.json: these commands repeat none of the settings the job "
        "ran with; add its --config, --set, --workers and --cache-dir, or they run the preset's "
        "config"
    )
    assert "resubmit --apply resubmits SLURM jobs only" in lines[-1]


def test_remediate_a_ray_failure_reruns_on_ray(runs: Path) -> None:
    done = _cli("canids-jobs", "remediate", "ray-2", "--runs-dir", runs, "--json")
    assert done.returncode == 0, done.stderr
    (fix,) = json.loads(done.stdout)
    assert "note: there is no run record" in done.stderr
    assert fix["fix_id"] == "double-memory"
    assert "--executor ray --from-stage gat" in fix["command"]
    assert f"--runs-dir {runs.resolve()}" in fix["command"]
    assert fix["command"].endswith("--memory 32G")


def test_resubmit_refuses_a_local_failure_with_its_command(runs: Path) -> None:
    done = _cli("canids-jobs", "resubmit", "local-1", "--apply", "1", "--runs-dir", runs)
    assert done.returncode == 1
    assert "ran on the local executor: resubmit --apply resubmits SLURM jobs only" in done.stderr
    assert "canids-cache build --dataset demo" in done.stderr


def test_an_unknown_job_says_where_it_looked(runs: Path) -> None:
    done = _cli("canids-jobs", "remediate", "local-nope", "--runs-dir", runs)
    assert done.returncode == 1
    assert "neither in the ledger" in done.stderr
    assert "history.sqlite" in done.stderr


def test_report_of_the_seed_folder_tells_started_and_completed(
    tmp_path: Path, heavy_imports
) -> None:
    """The seed's 38 outputs as one page: 97.4 % started, 73.7 % completed, the failures
    per class, the rerun the folder shows; matplotlib, and never torch."""
    from canids_testkit import write_synthetic_outputs

    folder = tmp_path / "outputs"
    write_synthetic_outputs(folder, seed=0)
    heavy, code, out = heavy_imports("jobs_cmd", "canids-jobs", "report", folder)
    assert heavy == [], out
    assert code == 0, out
    lines = out.strip().splitlines()
    assert "38 jobs: 37 started, 28 completed (73.7 %)" in lines
    assert f"report: {folder / 'report.html'}" in lines
    page = (folder / "report.html").read_text()
    assert "38 jobs submitted, 37 started (97.4 %), 28 completed (73.7 %)" in page
    assert page.count('<img src="data:image/png;base64,') == 3
    for kind in ("completion", "gantt", "failures", "remediations"):
        assert f'class="{kind}"' in page
    assert "rerun (seen in the folder)" in page
    # --output elsewhere; an empty folder is refused with the reason.
    other = tmp_path / "pages" / "seed.html"
    assert _cli("canids-jobs", "report", folder, "--output", other).returncode == 0
    assert other.read_text().count("<section") == 4
    (tmp_path / "empty").mkdir()
    refused = _cli("canids-jobs", "report", tmp_path / "empty")
    assert refused.returncode == 1
    assert "holds no .out/.err file of a job" in refused.stderr


def test_report_without_a_ledger_names_the_ledger(tmp_path: Path) -> None:
    done = _cli("canids-jobs", "report", "--runs-dir", tmp_path / "runs")
    assert done.returncode == 1
    assert "no job in the ledger" in done.stderr
    assert "canids-jobs list" in done.stderr
