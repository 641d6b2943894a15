"""pipeline.json as the RunRecorder writes it: atomic, each stage's StageResult kept, the
status following the one success rule, stages that never ran saying why."""

from __future__ import annotations

import json
import os
from pathlib import Path

from canids_core import StageReport, StageResult
from canids_models import ArtifactStore, get_pipeline, plan_pipeline
from canids_orchestrate import RunRecorder


def _result(stage: str, **observed: object) -> StageResult:
    return StageResult.model_validate(
        {
            "executor": "ray",
            "stage": stage,
            "dataset": "demo",
            "size": "student",
            "job_id": f"ray-{stage}",
            "node": "n1",
            "started_at": 1000.0,
            "ended_at": 1012.5,
            **observed,
        }
    )


def test_the_record_follows_the_stage_results(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    plan = plan_pipeline(
        store, get_pipeline("custom", ["vgae", "gat", "fusion"]), "demo", size="student"
    )
    rec = RunRecorder(store, plan, "ray")
    path = store.pipeline_record("demo", "custom", "student")
    assert rec.path == path
    assert json.loads(path.read_text())["status"] == "running"
    ok = StageReport(stage="vgae", dataset="demo", size="student", status="completed",
                     artifacts={"done": "/x/DONE.json"})  # fmt: skip
    rec.running("vgae", "canids-train vgae", Path("/l/vgae.log"), status="queued")
    rec.finished(_result("vgae", exit_code=0, report=ok, done=True), attempts=1)
    # Completed by its report, but its DONE record is missing: not completed.
    gat = ok.model_copy(update={"stage": "gat"})
    rec.finished(_result("gat", exit_code=0, report=gat, done=False))
    rec.failed("gat", "the stage reported completed but its DONE record does not exist")
    rec.not_run("fusion", "upstream stage custom/student/gat failed")
    record = rec.close()
    on_disk = json.loads(path.read_text())
    assert on_disk == json.loads(json.dumps(record))
    stages = {s["stage"]: s for s in on_disk["stages"]}
    assert (on_disk["status"], on_disk["failed_stage"]) == ("failed", "gat")
    assert stages["vgae"]["status"] == "completed"
    assert stages["vgae"]["artifacts"] == {"done": "/x/DONE.json"}
    assert stages["vgae"]["seconds"] == 12.5
    assert stages["vgae"]["started"] == "1970-01-01T00:16:40+00:00"  # the task's own clock
    assert (stages["vgae"]["node"], stages["vgae"]["job_id"]) == ("n1", "ray-vgae")
    assert StageResult.from_json(stages["vgae"]["stage_result"]).succeeded
    assert stages["gat"]["status"] == "failed"
    assert stages["gat"]["stage_result"]["outcome"] == "failed"
    assert stages["fusion"] == {
        "stage": "fusion",
        "status": "not run",
        "reason": "upstream stage custom/student/gat failed",
    }
    # Written whole each time: no temporary file left beside it.
    assert sorted(os.listdir(path.parent)) == ["pipeline.json"]


def test_stages_left_pending_say_why(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    plan = plan_pipeline(store, get_pipeline("custom", ["vgae", "gat"]), "demo", size="student")
    rec = RunRecorder(store, plan, "local")
    rec.running("vgae", "canids-train vgae", Path("/l/vgae.log"))
    record = rec.close()
    assert record["status"] == "failed"
    assert [(s["status"], s["reason"]) for s in record["stages"]] == [
        ("not run", "an earlier stage failed"),
        ("not run", "an earlier stage failed"),
    ]
