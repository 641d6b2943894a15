"""One failure record for every executor, across packages: the local executor
(canids-orchestrate) runs the real canids-train, canids-jobs' recorder classifies what it
saw by the SLURM jobs' rules, and the failure lands in the history with its fix.
(Ray: tests/test_cli_submit.py; SLURM: tests/test_slurm_pipeline.py.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from canids_jobs import FailureType, StageResultRecorder, failed_job, suggest
from canids_models import ArtifactStore, get_pipeline, plan_pipeline
from canids_orchestrate import LocalExecutor, PipelineError

TRAIN = [sys.executable, "-m", "canids_cli.train_cmd"]


def test_a_missing_cache_on_the_local_executor_is_classified_with_its_fix(
    tmp_path: Path,
) -> None:
    store = ArtifactStore(tmp_path / "runs", "r1")
    # Planned without the cache check (as a plan made before the cache was removed): the
    # stage itself finds the cache missing.
    plan = plan_pipeline(store, get_pipeline("custom", ["vgae"]), "demo", size="student")
    recorder = StageResultRecorder.for_runs(store.runs_dir)
    runner = LocalExecutor(
        store,
        cache_dir=tmp_path / "empty_cache",
        train_command=TRAIN,
        check_sources=False,
        on_stage_result=recorder,
    )
    try:
        try:
            runner.run(plan, restart_hint="canids-submit pipeline custom")
            raise AssertionError("the stage ran without a cache")
        except PipelineError as err:
            message, record = str(err), err.record
        event = recorder.history.failure_for_job(record["stages"][0]["stage_result"]["job_id"])
    finally:
        recorder.close()
    result = record["stages"][0]["stage_result"]
    assert (result["executor"], result["exit_code"], result["done"]) == ("local", 1, False)
    assert result["report"]["error_type"] == "PreflightError"
    assert result["failure"]["type"] == "missing_or_stale_cache"
    assert "graph cache of demo is missing" in message
    assert event is not None
    assert (event["executor"], event["stage"], event["failure_type"]) == (
        "local",
        "vgae",
        "missing_or_stale_cache",
    )
    job = failed_job(event, runs_dir=str(store.runs_dir))
    assert job.cause.type == FailureType.MISSING_OR_STALE_CACHE
    (fix,) = suggest(job)
    assert fix.fix_id == "build-cache"
    assert fix.command.startswith(f"canids-cache build --dataset demo --cache-dir {tmp_path}")
    on_disk = json.loads(store.pipeline_record("demo", "custom", "student").read_text())
    assert on_disk["stages"][0]["stage_result"]["failure"]["rule"] == "cache_log"
