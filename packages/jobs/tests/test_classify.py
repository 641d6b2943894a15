"""Every rule of the classifier on a real log: captured canids-train runs, logs of the local
SLURM, verbatim public logs, SLURM's own message formats (tests/logs/CASES.toml), and
Python processes run here that really raise, run out of memory or are killed."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from canids_core import StageResult, find_report, stage_succeeded
from canids_core.stage_result import ATTEMPT_MARK
from canids_jobs.classification import Classification, classify, classify_result, latest_attempt
from canids_jobs.completion import normalize_state
from canids_jobs.rules import RULES, FailureType, Source
from canids_jobs.tracebacks import parse_traceback

LOGS = Path(__file__).parent / "logs"
CASES = tomllib.loads((LOGS / "CASES.toml").read_text())["case"]
# Rules whose real log is made by a process in this file rather than a file in logs/.
IN_TEST = {
    "python_exception",
    "memory_error_log",
    "no_stage_result",
    "artifacts_missing",
    "empty_output",
    "preempted_state",
    "sigkill_no_scheduler",
    "terminated_no_scheduler",
}


def log_text(stem: str) -> str:
    parts = [LOGS / f"{stem}.{ext}" for ext in ("out", "err")]
    found = [p.read_text() for p in parts if p.exists()]
    assert found, f"no {stem}.out or {stem}.err in {LOGS}"
    return "\n".join(found)


def run_python(code: str) -> str:
    """stdout + stderr of a real Python process running ``code``."""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    return proc.stdout + "\n" + proc.stderr


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['file']}-{c.get('rule', 'ok')}")
def test_case(case: dict[str, str]) -> None:
    text = log_text(case["file"])
    result = find_report(text)
    if case["expect"] == "completed":
        assert stage_succeeded(None, result, None, case.get("state"))
        return
    got = classify(case.get("state"), case.get("exit_code"), text, result, None)
    assert (str(got.type), got.rule) == (case["expect"], case["rule"]), got
    assert got.evidence_line
    assert got.detail


def test_every_rule_has_a_real_log() -> None:
    covered = {c["rule"] for c in CASES if "rule" in c} | IN_TEST
    assert {r.name for r in RULES} == covered
    assert len({r.name for r in RULES}) == len(RULES)


def test_table_order_is_verdict_then_log_then_artifacts() -> None:
    # The executor's verdict (SLURM's state, or a signal no scheduler saw) comes first.
    rank = {Source.SLURM_STATE: 0, Source.EXECUTOR: 0, Source.LOG: 1, Source.ARTIFACT: 2}
    sources = [r.source for r in RULES]
    assert sources == sorted(sources, key=rank.__getitem__)
    assert [r.priority for r in RULES] == sorted(r.priority for r in RULES)


def test_real_python_exception_names_type_and_last_frame() -> None:
    text = run_python(
        "def load(cfg):\n    return cfg['budget']\n\ndef main():\n    load({})\n\nmain()\n"
    )
    got = classify(None, None, text, None, None)
    assert got.type == FailureType.PYTHON_EXCEPTION
    assert got.facts["error_type"] == "KeyError"
    assert got.facts["last_frame"] == "<string>:2 in load"
    assert got.detail == "KeyError at <string>:2 in load: 'budget'"


def test_real_chained_exception_reports_the_last_one() -> None:
    text = run_python(
        "try:\n    {}['x']\nexcept KeyError:\n    raise RuntimeError('could not read x')\n"
    )
    tb = parse_traceback(text)
    assert tb is not None
    assert (tb.type, tb.message, tb.last_frame) == (
        "RuntimeError",
        "could not read x",
        "<string>:4 in <module>",
    )


def test_real_memory_error_is_host_oom() -> None:
    text = run_python(
        "import resource\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1 << 31, 1 << 31))\n"
        "blob = bytearray(8 << 30)\n"
    )
    got = classify(None, None, text, None, None)
    assert (got.type, got.rule) == (FailureType.HOST_OOM, "memory_error_log")


def test_real_sigterm_without_result_is_no_stage_result() -> None:
    # What a stage killed at its time limit leaves when SLURM's own line is not in the file,
    # and what a job that trapped SIGTERM and exited 0 leaves under state COMPLETED.
    text = run_python(
        "import os, signal, sys\n"
        "print('[gat/teacher] epoch 0: train_loss=0.1000', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
    )
    assert "epoch 0" in text
    for state in (None, "COMPLETED"):
        got = classify(state, "0:0", text, find_report(text), None)
        assert (got.type, got.rule) == (FailureType.NO_STAGE_RESULT, "no_stage_result")
        assert got.evidence_line == "[gat/teacher] epoch 0: train_loss=0.1000"
    assert classify("FAILED", "0:15", text, None, None).type == FailureType.UNKNOWN


def test_real_completed_stage_without_its_artifact() -> None:
    text = log_text("real_vgae_completed")
    result = find_report(text)
    assert result is not None
    assert not stage_succeeded(0, result, False, "COMPLETED")
    got = classify("COMPLETED", "0:0", text, result, False)
    assert (got.type, got.rule) == (FailureType.ARTIFACTS_MISSING, "artifacts_missing")
    assert got.evidence_line == "vgae of demo (student)"


def test_empty_output_never_started() -> None:
    got = classify(None, None, "", None, None)
    assert (got.type, got.rule) == (FailureType.DEPENDENCY_NEVER_SATISFIED, "empty_output")


def test_preempted_state() -> None:
    got = classify("PREEMPTED", "0:0", log_text("format_preemption"), None, None)
    assert (got.type, got.rule) == (FailureType.PREEMPTED, "preempted_state")


def test_state_wins_over_the_log() -> None:
    cuda = log_text("verbatim_cuda_oom")
    assert classify("TIMEOUT", "0:0", cuda, None, None).type == FailureType.TIMEOUT
    assert classify("FAILED", "1:0", cuda, None, None).type == FailureType.CUDA_OOM
    # sacct's 0:125 is the cgroup OOM kill whatever the state column says.
    assert classify("FAILED", "0:125", "", None, None).type == FailureType.HOST_OOM


def test_reason_given_apart_from_the_state() -> None:
    got = classify("PENDING", None, "", None, None, reason="DependencyNeverSatisfied")
    assert got.rule == "dependency_state"


def test_requeued_job_is_judged_by_its_latest_attempt() -> None:
    requeue = log_text("real_requeue_local_cluster")
    later = log_text("real_train_type_error")
    assert latest_attempt(requeue + "\n" + later).strip() == later.strip()
    got = classify(None, None, requeue + "\n" + later, find_report(later), None)
    assert got.type == FailureType.PYTHON_EXCEPTION
    assert classify(None, None, requeue, None, None).rule == "requeue_log"


def test_facts_carry_the_fix_commands() -> None:
    art = log_text("real_preflight_missing_artifact")
    got = classify(None, None, art, find_report(art), None)
    commands = got.facts["commands"].splitlines()
    assert [c.split()[1] for c in commands] == ["vgae", "gat_curriculum"]
    assert (got.facts["stage"], got.facts["artifact"], got.facts["size"]) == (
        "fusion",
        "vgae",
        "teacher",
    )
    stale = log_text("real_preflight_stale_cache")
    got = classify(None, None, stale, find_report(stale), None)
    assert got.facts["status"] == "stale"
    assert got.facts["command"].startswith("canids-cache build --dataset demo --cache-dir ")
    assert got.facts["command"].endswith(" --force")


def test_timeout_facts_name_the_node() -> None:
    got = classify(None, None, log_text("format_time_limit"), None, None)
    assert got.facts == {"job": "4412030", "node": "p0231", "at": "2026-03-02T14:11:05"}


@pytest.mark.parametrize(
    ("raw", "state", "reason"),
    [
        ("CANCELLED by 1000", "CANCELLED", "by 1000"),
        ("PENDING (DependencyNeverSatisfied)", "PENDING", "DependencyNeverSatisfied"),
        ("JobState=PENDING Reason=DependencyNeverSatisfied", "PENDING", "DependencyNeverSatisfied"),
        ("completed", "COMPLETED", ""),
        ("REQUEUED+", "REQUEUED", ""),
        (None, None, ""),
        ("  ", None, ""),
    ],
)
def test_normalize_state(raw: str | None, state: str | None, reason: str) -> None:
    assert normalize_state(raw) == (state, reason)


def test_classification_to_json() -> None:
    got = classify("TIMEOUT", "0:0", "", None, None)
    data = json.loads(json.dumps(got.to_json()))
    assert data == {
        "type": "timeout",
        "detail": "walltime limit reached",
        "evidence_line": "SLURM state TIMEOUT, exit code 0:0",
        "rule": "timeout_state",
        "source": "slurm_state",
        "facts": {},
    }


def _killed(sig: str) -> tuple[int, str]:
    """A real process that prints an epoch line and is then killed by ``sig``."""
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, signal\n"
            "print('[gat/teacher] epoch 0: train_loss=0.1000', flush=True)\n"
            f"os.kill(os.getpid(), signal.{sig})\n",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _local(rc: int, text: str, tmp_path: Path, executor: str = "local") -> StageResult:
    log = tmp_path / "gat.log"
    log.write_text(text)
    return StageResult(
        executor=executor,
        stage="gat",
        dataset="demo",
        size="teacher",
        exit_code=rc,
        signal=-rc if rc < 0 else None,
        report=find_report(text),
        done=False,
        log=str(log),
    )


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_sigkill_without_a_scheduler_is_host_oom(executor: str, tmp_path: Path) -> None:
    rc, text = _killed("SIGKILL")
    assert rc == -9
    got = classify_result(_local(rc, text, tmp_path, executor))
    assert (got.type, got.rule, got.source) == (
        FailureType.HOST_OOM,
        "sigkill_no_scheduler",
        Source.EXECUTOR,
    )
    assert got.evidence_line == f"{executor} stage process killed by signal 9"
    assert "dmesg" in got.detail


def test_sigterm_without_a_scheduler_is_cancelled(tmp_path: Path) -> None:
    rc, text = _killed("SIGTERM")
    assert rc == -15
    got = classify_result(_local(rc, text, tmp_path))
    assert (got.type, got.rule) == (FailureType.CANCELLED, "terminated_no_scheduler")


def test_a_sigkill_seen_by_slurm_is_judged_by_slurm(tmp_path: Path) -> None:
    # Under SLURM a killed batch step reads 0:9; its state (CANCELLED, TIMEOUT) decides.
    _, text = _killed("SIGKILL")
    got = classify("CANCELLED", "0:9", text, None, None, executor="slurm")
    assert got.rule == "cancelled_state"
    assert classify(None, "0:9", text, None, None).rule == "no_stage_result"


def test_local_python_exception_from_its_log(tmp_path: Path) -> None:
    text = log_text("real_train_type_error")
    got = classify_result(_local(1, text, tmp_path))
    assert got.type == FailureType.PYTHON_EXCEPTION
    assert got.facts["error_type"] == "TypeError"


def test_a_local_stage_with_an_empty_log_did_start(tmp_path: Path) -> None:
    got = classify_result(_local(1, "", tmp_path))
    assert got.type == FailureType.NO_STAGE_RESULT  # not "never ran": its executor saw it end


def test_a_retried_ray_stage_is_judged_by_its_last_attempt(tmp_path: Path) -> None:
    first = log_text("verbatim_cuda_oom")
    last = log_text("real_train_type_error")
    text = f"{ATTEMPT_MARK} of x, 1 ===\n{first}\n{ATTEMPT_MARK} of x, 2 ===\n{last}"
    assert latest_attempt(text).startswith(ATTEMPT_MARK + " of x, 2")
    got = classify_result(_local(1, text, tmp_path, "ray"))
    assert got.type == FailureType.PYTHON_EXCEPTION


def test_a_classification_travels_in_a_stage_result() -> None:
    got = classify("OUT_OF_MEMORY", "0:125", log_text("verbatim_oom_kill"), None, None)
    info = got.to_failure()
    assert (info.type, info.rule, info.source) == ("host_oom", "oom_state", "slurm_state")
    assert Classification.from_failure(info) == got
