"""One failure record for every executor: a local or Ray stage result goes through the
recorder (the executors' on_stage_result), is classified by the SLURM jobs' rule table,
lands in the same history, and is remediated with a command for its own executor."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from canids_core import StageResult, find_report
from canids_jobs import (
    FailureType,
    History,
    JobsError,
    Ledger,
    StageResultRecorder,
    analyze,
    failed_job,
    resubmit,
    suggest,
)

LOGS = Path(__file__).parent / "logs"


def _log(stem: str) -> str:
    return "\n".join(
        (LOGS / f"{stem}.{ext}").read_text()
        for ext in ("out", "err")
        if (LOGS / f"{stem}.{ext}").exists()
    )


def _result(tmp_path: Path, executor: str, job: str, text: str, rc: int, **kw: object):
    log = tmp_path / f"{job}.log"
    log.write_text(text)
    report = find_report(text)
    fields = {
        "executor": executor,
        "stage": report.stage if report else "gat",
        "dataset": "demo",
        "size": report.size if report else "teacher",
        "pipeline": "teacher",
        "job_id": job,
        "node": "laptop",
        "exit_code": rc,
        "signal": -rc if rc < 0 else None,
        "report": report,
        "done": False,
        "log": str(log),
        "started_at": 1000.0,
        "ended_at": 1060.0,
        **kw,
    }
    return StageResult.model_validate(fields)


@pytest.fixture
def recorder(tmp_path: Path):
    rec = StageResultRecorder.for_runs(tmp_path / "runs")
    yield rec
    rec.close()


def test_failures_of_every_executor_are_classified_into_one_history(
    tmp_path: Path, recorder: StageResultRecorder
) -> None:
    killed = subprocess.run(
        [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"],
        check=False,
    )
    cases = {
        "local-1": ("local", _log("real_train_type_error"), 1, "python_exception"),
        "local-2": ("local", _log("real_preflight_missing_cache"), 1, "missing_or_stale_cache"),
        "ray-3": ("ray", _log("real_preflight_missing_artifact"), 1, "missing_upstream_artifact"),
        "local-4": ("local", "[gat/teacher] epoch 0\n", killed.returncode, "host_oom"),
    }
    for job, (executor, text, rc, _) in cases.items():
        recorded = recorder(_result(tmp_path, executor, job, text, rc))
        assert recorded.failure is not None
        assert recorded.failure.type == cases[job][3], recorded.failure
    ok = StageResult(
        executor="local", stage="vgae", dataset="demo", size="teacher", job_id="local-5",
        exit_code=0, report=find_report(_log("real_vgae_completed")), done=True,
        ended_at=1100.0,
    )  # fmt: skip
    assert recorder(ok) == ok  # a success is recorded as it is: rates need it
    history = recorder.history
    jobs = {j["job_id"]: j for j in history.jobs()}
    assert {j: (r["executor"], r["outcome"]) for j, r in jobs.items()} == {
        "local-1": ("local", "failed"),
        "local-2": ("local", "failed"),
        "ray-3": ("ray", "failed"),
        "local-4": ("local", "failed"),
        "local-5": ("local", "completed"),
    }
    report = analyze(history, days=1e5, now=2000.0)
    assert report.by_executor == {"local": 3, "ray": 1}
    assert report.by_type["python_exception"] == 1
    event = history.failure_for_job("local-4")
    assert event is not None
    assert StageResult.from_json(event["result"]).failure.rule == "sigkill_no_scheduler"


def test_a_local_failure_is_remediated_with_a_local_command(
    tmp_path: Path, recorder: StageResultRecorder
) -> None:
    text = _log("real_preflight_missing_cache")
    recorder(_result(tmp_path, "local", "local-1", text, 1, run="r2"))
    job = failed_job(recorder.history.failure_for_job("local-1"), runs_dir="/data/runs")
    assert (job.executor, job.pipeline, job.run, job.stage) == ("local", "teacher", "r2", "fusion")
    (fix,) = suggest(job, recorder.history)
    assert fix.fix_id == "build-cache"
    assert fix.command.startswith("canids-cache build --dataset demo")
    # A fix that reruns the stage names the executor, the run and the runs folder.
    oom = _result(tmp_path, "local", "local-2", "epoch 0\n", -9, run="r2")
    recorder(oom)
    job = failed_job(recorder.history.failure_for_job("local-2"), runs_dir="/data/runs")
    assert job.cause.type == FailureType.HOST_OOM
    fix, profile = suggest(job)
    assert (fix.fix_id, profile.fix_id) == ("halve-budget", "profile-budget")
    assert "host memory of this machine" in fix.description  # no memory to ask for here
    assert fix.command == (
        "canids-submit pipeline teacher --dataset demo --size teacher --executor local "
        "--from-stage gat --run r2 --runs-dir /data/runs --set batching.budget=2000"
    )


def test_a_ray_host_oom_asks_ray_for_more_memory(
    tmp_path: Path, recorder: StageResultRecorder
) -> None:
    recorder(_result(tmp_path, "ray", "ray-1", _log("verbatim_oom_kill"), 1))
    job = failed_job(recorder.history.failure_for_job("ray-1"))
    (fix,) = suggest(job)
    assert (fix.fix_id, fix.resources) == ("double-memory", {"memory": "32G"})
    assert fix.command.endswith("--executor ray --from-stage gat --memory 32G")


def test_resubmit_is_for_slurm_jobs_and_says_so(
    tmp_path: Path, recorder: StageResultRecorder
) -> None:
    recorder(_result(tmp_path, "local", "local-1", _log("verbatim_oom_kill"), 1))
    fix = suggest(failed_job(recorder.history.failure_for_job("local-1")))[0]
    ledger = Ledger.for_runs(tmp_path / "runs")
    with pytest.raises(JobsError, match="ran on the local executor: resubmit --apply resubmits"):
        resubmit(ledger, recorder.history, "local-1", fix)


def test_a_failure_recorded_without_its_result_cannot_be_remediated(tmp_path: Path) -> None:
    from canids_jobs import JobEvent

    with History(tmp_path / "h.sqlite") as history:
        history.record_job(
            JobEvent("local-9", "failed", 1.0, failure_type="unknown", executor="local")
        )
        with pytest.raises(JobsError, match="has no stage result in the history"):
            failed_job(history.failure_for_job("local-9"))
