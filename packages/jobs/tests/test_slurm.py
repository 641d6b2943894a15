"""canids_jobs.slurm against a real local SLURM (slurmctld + slurmd on localhost), plus the
parsers on their own. The SLURM behaviours checked here are the ones the result parser and
the failure analysis rely on: what `sacct -c` records for a completed, failed, OOM-killed
or timed-out job, and what happens to the children of a failed parent."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from canids_jobs.classification import classify
from canids_jobs.slurm import (
    AccountingDisabledError,
    JobRecord,
    SlurmError,
    job_states,
    parse_duration,
    parse_scontrol,
    sacct_accounting,
    sacct_completion,
    sbatch,
    scancel,
    scontrol_show_job,
    squeue_ids,
)
from canids_testkit import LocalSlurm, find_script

T = TypeVar("T")


def wait_for(probe: Callable[[], T | None], timeout_s: float, what: str) -> T:
    """Poll ``probe`` every 0.2 s until it returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(0.2)


def script(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / f"{name}.sh"
    path.write_text(f"#!/bin/bash\nset -euo pipefail\n{body}\n")
    return path


def outputs(tmp_path: Path, name: str) -> list[str]:
    return ["-J", name, "-o", str(tmp_path / f"{name}.out"), "-e", str(tmp_path / f"{name}.err")]


def finished(job_id: str, env: dict[str, str]) -> JobRecord | None:
    record = job_states([job_id], env=env).get(job_id)
    return record if record is not None and record.finished else None


def completion_row(job_id: str, env: dict[str, str]) -> dict[str, str] | None:
    rows = sacct_completion([job_id], env=env)
    return rows[-1] if rows else None


# --- parsers, no SLURM needed -----------------------------------------------------------


def test_parse_scontrol_keeps_values_with_spaces_and_odd_keys():
    line = (
        "JobId=7 JobName=canids-x UserId=root(0) JobState=PENDING "
        "Reason=DependencyNeverSatisfied Dependency=afterok:6(failed) "
        "AllocNode:Sid=vm:12 CPUs/Task=1 Command=/tmp/a b/run.sh WorkDir=/tmp"
    )
    (record,) = parse_scontrol(line + "\n\n")
    assert record["JobId"] == "7"
    assert record["Reason"] == "DependencyNeverSatisfied"
    assert record["AllocNode:Sid"] == "vm:12"
    assert record["CPUs/Task"] == "1"
    assert record["Command"] == "/tmp/a b/run.sh"
    job = JobRecord.from_scontrol(record)
    assert (job.state, job.reason, job.exit_code, job.elapsed) == (
        "PENDING",
        "DependencyNeverSatisfied",
        None,
        None,
    )
    assert parse_scontrol("No jobs in the system\n") == []


def test_parse_duration():
    assert parse_duration("00:01:14") == 74
    assert parse_duration("1-02:03:04") == 93784
    assert parse_duration("05:00") == 300
    assert parse_duration("UNLIMITED") is None
    assert parse_duration("") is None


def test_sacct_row_state_exit_code_and_signal():
    row = {"JobID": "9", "JobName": "j", "State": "CANCELLED by 0", "ExitCode": "0:125"}
    record = JobRecord.from_sacct({**row, "Elapsed": "00:00:03", "NodeList": "None assigned"}, "x")
    assert (record.state, record.exit_code, record.signal, record.elapsed) == (
        "CANCELLED",
        0,
        125,
        3,
    )
    assert record.nodelist is None
    assert record.finished


def test_find_script_walks_up_from_a_subfolder(tmp_path):
    found = find_script(Path(__file__).parent)
    assert found.name == "local-cluster.sh"
    assert found.is_file()
    with pytest.raises(Exception, match="not found"):
        find_script(tmp_path)


def test_bad_job_ids_are_rejected_before_any_command():
    with pytest.raises(ValueError, match="not SLURM job ids"):
        scancel(["12; rm -rf ~"])


# --- the real local SLURM ---------------------------------------------------------------


@pytest.mark.slurm
def test_local_cluster_refuses_a_second_start_and_reports_status(local_slurm: LocalSlurm):
    env = {**local_slurm.env, "CANIDS_SLURM_DIR": str(local_slurm.state_dir)}
    env["CANIDS_SLURM_PORT"] = str(local_slurm.port)
    second = subprocess.run(
        ["bash", str(local_slurm.script), "start"], env=env, capture_output=True, text=True
    )
    assert second.returncode == 1
    assert "already running" in second.stderr
    assert f"{local_slurm.script} stop" in second.stderr
    status = local_slurm.status()
    assert "slurmctld: running" in status
    assert "idle" in status
    assert f"export SLURM_CONF={local_slurm.conf}" in status


@pytest.mark.slurm
def test_local_cluster_munge_keeps_the_running_munged_and_records_none(
    local_slurm: LocalSlurm, tmp_path: Path
):
    """`munge` (what CI runs once for both test streams) leaves a munged that answers as it
    is, and records it in no state folder: no cluster's `stop` may end it."""
    pidfile = Path("/run/munge/munged.pid")  # the system's munged, not a cluster's own
    pid_before = pidfile.read_text()
    env = {**local_slurm.env, "CANIDS_SLURM_DIR": str(tmp_path / "unused")}
    out = subprocess.run(
        ["bash", str(local_slurm.script), "munge"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert "munge: the running munged answers" in out.stderr
    assert not (tmp_path / "unused").exists()
    assert pidfile.read_text() == pid_before
    assert Path(f"/proc/{pid_before.strip()}/comm").read_text().strip() == "munged"


@pytest.mark.slurm
def test_echo_job_completes_with_exit_0(local_slurm: LocalSlurm, tmp_path: Path):
    env = local_slurm.env
    job_id = sbatch(
        script(tmp_path, "hello", "echo hello from $SLURM_JOB_ID"),
        extra_args=outputs(tmp_path, "hello"),
        env=env,
    )
    assert job_id.isdigit()
    record = wait_for(lambda: finished(job_id, env), 30, f"job {job_id} to finish")
    assert (record.state, record.exit_code, record.signal) == ("COMPLETED", 0, 0)
    assert record.source == "scontrol"
    assert record.nodelist
    row = wait_for(lambda: completion_row(job_id, env), 10, "the completion record")
    assert (row["State"], row["ExitCode"], row["JobName"]) == ("COMPLETED", "0:0", "hello")
    assert parse_duration(row["Elapsed"]) is not None
    from_log = job_states([job_id], env=env, use_scontrol=False)[job_id]
    assert (from_log.state, from_log.exit_code, from_log.source) == ("COMPLETED", 0, "sacct-c")
    assert (tmp_path / "hello.out").read_text() == f"hello from {job_id}\n"
    shown = scontrol_show_job(job_id, env=env)
    assert shown is not None
    assert shown["JobState"] == "COMPLETED"


@pytest.mark.slurm
def test_failed_parent_never_satisfies_its_children(local_slurm: LocalSlurm, tmp_path: Path):
    env = local_slurm.env
    parent = sbatch(
        script(tmp_path, "parent", "sleep 1; echo failing >&2; exit 3"),
        extra_args=outputs(tmp_path, "parent"),
        env=env,
    )
    child_body = "echo must not run"
    waiting = sbatch(
        script(tmp_path, "child", child_body),
        dependency_ids=[parent],
        extra_args=outputs(tmp_path, "child"),
        env=env,
    )
    killed = sbatch(
        script(tmp_path, "child_killed", child_body),
        dependency_ids=[parent],
        kill_on_invalid_dep=True,
        extra_args=outputs(tmp_path, "child_killed"),
        env=env,
    )
    assert len({parent, waiting, killed}) == 3
    assert waiting in squeue_ids(env=env)

    def settled() -> dict[str, JobRecord] | None:
        states = job_states([parent, waiting, killed], env=env)
        done = (
            states[parent].finished
            and states[waiting].reason == "DependencyNeverSatisfied"
            and states[killed].finished
        )
        return states if done else None

    states = wait_for(settled, 60, "the failed parent's children to settle")
    assert (states[parent].state, states[parent].exit_code) == ("FAILED", 3)
    assert states[waiting].state == "PENDING"
    assert states[killed].state == "CANCELLED"
    assert not (tmp_path / "child.out").exists()
    assert not (tmp_path / "child_killed.out").exists()
    row = wait_for(lambda: completion_row(parent, env), 10, "the parent's completion record")
    assert (row["State"], row["ExitCode"]) == ("FAILED", "3:0")
    scancel([waiting], env=env)
    record = wait_for(lambda: finished(waiting, env), 10, "the cancel")
    assert record.state == "CANCELLED"


@pytest.mark.slurm
def test_job_over_its_memory_ends_out_of_memory(local_slurm: LocalSlurm, tmp_path: Path):
    env = local_slurm.env
    # b"x" * n writes every page (a zero-filled bytearray would stay virtual).
    hog = f"{sys.executable} -c 'import time; b = b\"x\" * (300 << 20); time.sleep(2)'"
    job_id = sbatch(
        script(tmp_path, "hog", hog),
        extra_args=["--mem=100M", *outputs(tmp_path, "hog")],
        env=env,
    )
    record = wait_for(lambda: finished(job_id, env), 60, f"job {job_id} to be OOM-killed")
    assert record.state == "OUT_OF_MEMORY"
    row = wait_for(lambda: completion_row(job_id, env), 10, "the completion record")
    assert row["State"] == "OUT_OF_MEMORY"
    log = (tmp_path / "hog.err").read_text()
    assert "oom-kill" in log
    cause = classify(record.state, f"{record.exit_code}:{record.signal}", log, None, None)
    assert cause.type == "host_oom"


@pytest.mark.slurm
@pytest.mark.slow
def test_job_over_its_time_limit_ends_timeout(local_slurm: LocalSlurm, tmp_path: Path):
    env = local_slurm.env
    job_id = sbatch(
        script(tmp_path, "sleeper", "sleep 600"),
        extra_args=["--time=0:01", *outputs(tmp_path, "sleeper")],
        env=env,
    )
    # A one-minute limit is enforced by the controller's periodic check: ~75 s in all.
    record = wait_for(lambda: finished(job_id, env), 150, f"job {job_id} to time out")
    assert record.state == "TIMEOUT"
    row = wait_for(lambda: completion_row(job_id, env), 10, "the completion record")
    assert row["State"] == "TIMEOUT"
    log = (tmp_path / "sleeper.err").read_text()
    assert "DUE TO TIME LIMIT" in log
    # Classified from SLURM's own record and log, as canids-jobs status does.
    cause = classify(record.state, f"{record.exit_code}:{record.signal}", log, None, None)
    assert cause.type == "timeout"


@pytest.mark.slurm
def test_requeued_job_counts_its_latest_attempt(local_slurm: LocalSlurm, tmp_path: Path):
    env = local_slurm.env
    job_id = sbatch(
        script(tmp_path, "requeued", "sleep 3; echo attempt $SLURM_RESTART_COUNT"),
        extra_args=["--requeue", *outputs(tmp_path, "requeued")],
        env=env,
    )
    wait_for(lambda: job_states([job_id], env=env)[job_id].state == "RUNNING", 30, "running")

    def requeue() -> bool:
        # Right after launch the controller answers "Job is pending execution": retry.
        done = subprocess.run(
            ["scontrol", "requeue", job_id], env=env, capture_output=True, text=True
        )
        return done.returncode == 0

    wait_for(requeue, 20, f"scontrol requeue {job_id}")
    # A requeued job waits for a begin time; make it eligible now.
    wait_for(lambda: job_states([job_id], env=env)[job_id].state == "PENDING", 20, "the requeue")
    subprocess.run(["scontrol", "update", f"jobid={job_id}", "starttime=now"], env=env, check=True)
    record = wait_for(lambda: finished(job_id, env), 60, f"job {job_id}'s second attempt")
    assert record.state == "COMPLETED"
    rows = wait_for(
        lambda: [r for r in sacct_completion([job_id], env=env) if r["State"] == "COMPLETED"],
        10,
        "the second completion record",
    )
    assert rows
    attempts = [r["State"] for r in sacct_completion([job_id], env=env)]
    assert len(attempts) == 2, attempts
    latest = job_states([job_id], env=env, use_scontrol=False)[job_id]
    assert (latest.state, latest.exit_code) == ("COMPLETED", 0)
    assert (tmp_path / "requeued.out").read_text().strip().endswith("attempt 1")


@pytest.mark.slurm
def test_sbatch_errors_name_the_command_and_the_fix(local_slurm: LocalSlurm, tmp_path: Path):
    env = local_slurm.env
    job = script(tmp_path, "ok", "true")
    with pytest.raises(SlurmError, match=r"sbatch --parsable --bogus .*unrecognized option") as e:
        sbatch(job, extra_args=["--bogus"], env=env)
    assert e.value.returncode != 0
    assert e.value.command[0] == "sbatch"
    with pytest.raises(SlurmError, match=r"dependency problem\. Fix: a dependency names"):
        sbatch(job, extra_args=["--dependency=afterok:abc"], env=env)
    with pytest.raises(SlurmError, match=r"Invalid partition.*Fix"):
        sbatch(job, extra_args=["--partition=nosuch"], env=env)
    with pytest.raises(FileNotFoundError, match="sbatch script not found"):
        sbatch(tmp_path / "missing.sh", env=env)
    with pytest.raises(SlurmError, match=r"not on PATH"):
        sbatch(job, env={"PATH": str(tmp_path)})
    with pytest.raises(AccountingDisabledError, match="no slurmdbd"):
        sacct_accounting(["1"], env=env)
    assert scontrol_show_job("999999999", env=env) is None


@pytest.mark.slurm
def test_a_dependency_on_an_unknown_job_is_silently_dropped(local_slurm: LocalSlurm, tmp_path):
    # SLURM's documented pitfall, and why a chain must use the ids sbatch printed and be
    # submitted at once: a job the controller does not know (never existed, or finished
    # longer than MinJobAge ago) counts as done, so the child runs without waiting.
    env = local_slurm.env
    job_id = sbatch(
        script(tmp_path, "orphan", "echo ran"),
        dependency_ids=["999999999"],
        extra_args=outputs(tmp_path, "orphan"),
        env=env,
    )
    record = wait_for(lambda: finished(job_id, env), 30, f"job {job_id} to run")
    assert record.state == "COMPLETED"
