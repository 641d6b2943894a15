"""canids-submit pipeline --executor local: real canids-train subprocesses on a tiny demo."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canids_cli.submit_cmd import main as submit_main
from canids_data import CacheManager
from click.testing import CliRunner

TINY = [
    "--set",
    "train.epochs=1",
    "--set",
    "gat.layers=1",
    "--set",
    "gat.heads=2",
    "--set",
    "gat.hidden=8",
    "--set",
    "vgae.layers=1",
    "--set",
    "vgae.heads=2",
    "--set",
    "vgae.hidden=8",
    "--set",
    "dqn.steps=20",
    "--set",
    "dqn.batch_size=32",
    "--set",
    "train.threads=1",
]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    root = tmp_path_factory.mktemp("submit")
    CacheManager(root / "cache").build("demo", demo_captures)
    return root


def _submit(workdir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        submit_main,
        [
            "pipeline",
            *args,
            "--dataset",
            "demo",
            "--executor",
            "local",
            "--runs-dir",
            str(workdir / "runs"),
            "--cache-dir",
            str(workdir / "cache"),
            *TINY,
        ],
    )
    return result.exit_code, result.output


def _record(workdir: Path) -> dict:
    path = workdir / "runs" / "default" / "demo" / "pipelines" / "teacher-teacher" / "pipeline.json"
    return json.loads(path.read_text())


@pytest.mark.slow
def test_teacher_pipeline_runs_in_order_restarts_and_stops_on_failure(workdir: Path) -> None:
    code, out = _submit(workdir, "teacher")
    assert code == 0, out
    assert "executor: local" in out
    record = _record(workdir)
    assert record["status"] == "completed"
    assert [(s["stage"], s["status"]) for s in record["stages"]] == [
        ("vgae", "completed"),
        ("gat_curriculum", "completed"),
        ("fusion", "completed"),
        ("evaluate", "completed"),
    ]
    starts = [s["started"] for s in record["stages"]]
    assert starts == sorted(starts)
    for stage in record["stages"]:
        assert stage["result"]["status"] == "completed"
        assert (
            Path(stage["log"])
            .read_text()
            .rstrip()
            .splitlines()[-1]
            .startswith("CANIDS-STAGE-RESULT ")
        )
    assert "Held-out results: demo (teacher)" in out
    assert "test_04_unknown_vehicle_unknown_attack" in out

    code, out = _submit(workdir, "teacher", "--from-stage", "fusion")
    assert code == 0, out
    assert "skipping vgae: artifact vgae is DONE" in out
    assert "skipping gat_curriculum: artifact gat is DONE" in out
    statuses = [s["status"] for s in _record(workdir)["stages"]]
    assert statuses == ["skipped", "skipped", "completed", "completed"]

    # A failing stage stops the chain: with the GAT's weights gone (DONE stays, so
    # preflight passes) fusion fails inside the stage, and evaluate never runs.
    (workdir / "runs" / "default" / "demo" / "teacher" / "gat" / "checkpoint.pt").unlink()
    code, out = _submit(workdir, "teacher", "--from-stage", "fusion")
    assert code == 1
    assert "stage fusion (teacher) of pipeline teacher on demo failed" in out
    assert "--from-stage fusion" in out
    assert "log: " in out
    record = _record(workdir)
    assert record["status"] == "failed"
    assert record["failed_stage"] == "fusion"
    assert [s["status"] for s in record["stages"]] == [
        "skipped",
        "skipped",
        "failed",
        "not run (an earlier stage failed)",
    ]
    assert record["stages"][2]["result"]["status"] == "failed"


def test_dry_run_prints_the_commands_and_runs_nothing(workdir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        submit_main,
        [
            "pipeline",
            "student",
            "--dataset",
            "demo",
            "--dry-run",
            "--runs-dir",
            str(tmp_path),
            "--cache-dir",
            str(workdir / "cache"),
        ],
    )
    assert result.exit_code == 1  # the student needs the teacher's artifacts: preflight says so
    assert "canids-train vgae --dataset demo --size teacher" in result.output
    custom = CliRunner().invoke(
        submit_main,
        [
            "pipeline",
            "custom",
            "--stages",
            "vgae",
            "--size",
            "student",
            "--dataset",
            "demo",
            "--dry-run",
            "--runs-dir",
            str(tmp_path),
            "--cache-dir",
            str(workdir / "cache"),
        ],
    )
    assert custom.exit_code == 0, custom.output
    assert "canids-train vgae --dataset demo --size student" in custom.output
    assert not (tmp_path / "default").exists()
