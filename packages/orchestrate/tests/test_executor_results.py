"""What the local executor records: one StageResult per stage, from real processes (a
stand-in for canids-train that parses the same arguments), decided by the one success
rule (exit 0, a completed result line, DONE), handed to on_stage_result, kept in
pipeline.json."""

from __future__ import annotations

import json
import signal
import sys
import textwrap
from pathlib import Path

import pytest
from canids_core import FailureInfo, StageResult
from canids_models import ArtifactStore, get_pipeline, plan_pipeline
from canids_orchestrate import LocalExecutor, PipelineError, StageCall, run_stage_process

# A stage process: reads canids-train's arguments, then behaves as argv[1] (the mode) says.
STAGE = textwrap.dedent(
    """
    import argparse, json, os, signal, sys
    from canids_core import StageReport, format_report
    from canids_models import ArtifactStore
    from canids_models.catalog import STAGES

    mode = sys.argv.pop(1)
    p = argparse.ArgumentParser()
    p.add_argument("stage"); p.add_argument("--dataset"); p.add_argument("--size")
    p.add_argument("--run"); p.add_argument("--runs-dir"); p.add_argument("--cache-dir")
    a, _ = p.parse_known_args()
    print(f"[{a.stage}/{a.size}] epoch 0: train_loss=0.5", flush=True)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    store = ArtifactStore(a.runs_dir, a.run)
    key = STAGES[a.stage].produces
    if mode in ("ok", "exit3"):
        store.begin(a.dataset, a.size, key)
        store.finish(a.dataset, a.size, key, {"stage": a.stage})
    status = "failed" if mode == "raise" else "completed"
    extra = {"error_type": "KeyError", "error": "'budget'"} if mode == "raise" else {}
    print(format_report(StageReport(stage=a.stage, dataset=a.dataset, size=a.size,
                                    run=a.run, status=status, **extra)), flush=True)
    sys.exit({"ok": 0, "nodone": 0, "exit3": 3, "raise": 1}[mode])
    """
)


def _executor(tmp_path: Path, mode: str, **kw: object) -> tuple[LocalExecutor, ArtifactStore]:
    script = tmp_path / "stage.py"
    script.write_text(STAGE)
    store = ArtifactStore(tmp_path / "runs", "r1")
    runner = LocalExecutor(
        store,
        cache_dir=tmp_path / "cache",
        train_command=[sys.executable, str(script), mode],
        check_sources=False,
        **kw,  # type: ignore[arg-type]
    )
    return runner, store


def _plan(store: ArtifactStore, stages: str = "vgae,gat"):
    return plan_pipeline(store, get_pipeline("custom", stages.split(",")), "demo", size="student")


def test_a_stage_that_succeeds_has_every_piece_of_evidence(tmp_path: Path) -> None:
    seen: list[StageResult] = []
    runner, store = _executor(tmp_path, "ok", on_stage_result=seen.append)
    record = runner.run(_plan(store), restart_hint="again")
    assert record["status"] == "completed"
    assert [r.stage for r in seen] == ["vgae", "gat"]
    for result in seen:
        assert result.succeeded
        assert (result.executor, result.exit_code, result.signal, result.done) == (
            "local",
            0,
            None,
            True,
        )
        assert result.job_id is not None
        assert result.job_id.startswith("local-")
        assert result.node
        assert result.started_at is not None
        assert result.ended_at is not None
        assert result.started_at <= result.ended_at
        assert (result.pipeline, result.run, result.dataset, result.size) == (
            "custom",
            "r1",
            "demo",
            "student",
        )
        assert Path(str(result.log)).read_text().startswith(f"[{result.stage}/student] epoch 0")
    assert len({r.job_id for r in seen}) == 2
    on_disk = json.loads(store.pipeline_record("demo", "custom", "student").read_text())
    kept = [StageResult.from_json(s["stage_result"]) for s in on_disk["stages"]]
    assert kept == seen
    assert [s["status"] for s in on_disk["stages"]] == ["completed", "completed"]
    assert on_disk["stages"][0]["result"]["status"] == "completed"  # the report, as before


@pytest.mark.parametrize(
    ("mode", "exit_code", "sig", "why"),
    [
        ("nodone", 0, None, "DONE record does not exist"),
        ("exit3", 3, None, "exit code 3 although the stage reported completed"),
        ("raise", 1, None, "KeyError: 'budget'"),
        ("kill", -signal.SIGKILL, signal.SIGKILL, "killed by signal 9"),
    ],
)
def test_a_stage_fails_unless_every_piece_agrees(
    tmp_path: Path, mode: str, exit_code: int, sig: int | None, why: str
) -> None:
    seen: list[StageResult] = []
    runner, store = _executor(tmp_path, mode, on_stage_result=seen.append)
    with pytest.raises(PipelineError) as err:
        runner.run(_plan(store), restart_hint="canids-submit pipeline custom")
    (result,) = seen  # the chain stopped at the first stage
    assert not result.succeeded
    assert (result.exit_code, result.signal) == (exit_code, sig)
    assert why in result.why_not()
    message = str(err.value)
    assert f"stage vgae (student) of pipeline custom on demo failed (exit {exit_code})" in message
    assert why in message
    assert "restart from it: canids-submit pipeline custom --from-stage vgae" in message
    assert [s["status"] for s in err.value.record["stages"]] == ["failed", "not run"]


def test_what_the_callback_returns_is_recorded(tmp_path: Path) -> None:
    def classify(result: StageResult) -> StageResult:
        failure = FailureInfo(type="python_exception", detail="KeyError", evidence_line="x")
        return result.model_copy(update={"failure": failure})

    runner, store = _executor(tmp_path, "raise", on_stage_result=classify)
    with pytest.raises(PipelineError) as err:
        runner.run(_plan(store, "vgae"), restart_hint="again")
    stage = err.value.record["stages"][0]
    assert stage["stage_result"]["failure"]["type"] == "python_exception"
    job_id = stage["stage_result"]["job_id"]
    assert f"fixes: canids-jobs remediate {job_id}" in str(err.value)
    assert "failed (exit 1): KeyError: 'budget'" in str(err.value)  # the stage's own words
    assert "cause: python_exception (KeyError)" in str(err.value)


def test_a_missing_command_is_exit_127_with_its_reason_in_the_log(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    call = StageCall(
        executor="local",
        stage="vgae",
        dataset="demo",
        size="student",
        run="default",
        pipeline="custom",
        runs_dir=str(tmp_path / "runs"),
        command=(str(tmp_path / "no-such-canids-train"),),
        log=str(log),
    )
    result = run_stage_process(call, echo=lambda _line: None, job_id="local-x")
    assert (result.exit_code, result.report, result.done, result.job_id) == (
        127,
        None,
        False,
        "local-x",
    )
    assert "cannot start" in log.read_text()
    assert "no CANIDS-STAGE-RESULT line" in result.why_not()


def test_a_malformed_result_line_counts_as_none(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    code = "print('CANIDS-STAGE-RESULT {\"stage\": 1}')"
    call = StageCall(
        "local", "vgae", "demo", "student", "default", "custom", str(tmp_path),
        (sys.executable, "-c", code), str(log),
    )  # fmt: skip
    result = run_stage_process(call, echo=lambda _line: None)
    assert result.exit_code == 0
    assert result.report is None
    assert not result.succeeded
    assert "ignoring a malformed result line" in log.read_text()
