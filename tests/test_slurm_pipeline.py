"""canids-submit --executor slurm and canids-jobs on a real local SLURM: a chained demo
pipeline completes in order; a middle stage that runs out of memory leaves its dependant
never run, is classified host OOM from SLURM's own record, and a remediation, resubmitted,
completes and raises the fix's success count. Unsafe values never reach a shell."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from canids_data import CacheManager
from canids_jobs import History, Ledger, job_states, sbatch, scancel
from canids_models import ArtifactStore
from canids_models.catalog import STAGES
from canids_testkit import read_offline_run, set_args, tiny_overrides

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
PY = sys.executable
# Small models, one epoch: the point here is SLURM, not training.
# The one tiny config, a little shorter still: every stage is a SLURM job here.
TINY = set_args(tiny_overrides("teacher", "train.epochs=1", "dqn.steps=20", "dqn.batch_size=32"))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    root = tmp_path_factory.mktemp("slurm_pipeline")
    CacheManager(root / "cache").build("demo", demo_captures)
    return root


def _run(env: dict, module: str, *args: str, timeout: int = 120) -> tuple[int, str]:
    proc = subprocess.run(
        [PY, "-c", f"from canids_cli.{module} import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )
    return proc.returncode, proc.stdout + "\n" + proc.stderr


def _submit(env: dict, workdir: Path, runs: str, *args: str) -> tuple[int, str]:
    # The tiny config first: a test's own --set items come later and win.
    base = ["pipeline", *TINY, *args, "--dataset", "demo", "--executor", "slurm"]
    base += ["--profile", "local", "--runs-dir", str(workdir / runs)]
    base += ["--cache-dir", str(workdir / "cache")]
    return _run(env, "submit_cmd", *base)


def _wait(env: dict, ids: list[str], timeout: float = 400) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = job_states(ids, env=env)
        if all(i in states and states[i].finished for i in ids):
            return states
        time.sleep(1)
    raise AssertionError(f"jobs {ids} did not finish in {timeout} s: {job_states(ids, env=env)}")


def _wait_running(env: dict, job_id: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        record = job_states([job_id], env=env).get(job_id)
        if record is not None and record.state == "RUNNING":
            return
        time.sleep(0.5)
    raise AssertionError(f"job {job_id} did not start in {timeout} s")


def _json(out: str) -> dict:
    """The JSON document a command printed on stdout (stderr follows it)."""
    return json.JSONDecoder().raw_decode(out.lstrip())[0]


def _ids(out: str) -> tuple[str, list[str]]:
    data = json.loads([x for x in out.splitlines() if x.startswith('{"pipeline_id"')][-1])
    return data["pipeline_id"], data["jobs"]


def test_a_chained_pipeline_completes_in_order(local_slurm, workdir: Path) -> None:
    env = local_slurm.env
    code, out = _submit(
        env, workdir, "ok", "custom", "--stages", "vgae,gat,fusion", "--size", "student"
    )
    assert code == 0, out
    assert "asks 4 CPUs, profile local allows 2" in out
    pid, ids = _ids(out)
    states = _wait(env, ids)
    assert [states[i].state for i in ids] == ["COMPLETED"] * 3
    ledger = Ledger.for_runs(workdir / "ok")
    rows = {r.stage: r for r in ledger.jobs(pid)}
    assert set(rows["fusion"].parents) == {rows["gat"].job_id, rows["vgae"].job_id}
    # fusion started only after both of its parents ended (SLURM's own clock).
    assert states[rows["fusion"].job_id].start >= max(
        states[rows["vgae"].job_id].end, states[rows["gat"].job_id].end
    )
    # status on a real SLURM, with its imports watched: no torch, torch_geometric, zarr, ray.
    probe = (
        "import atexit, sys; atexit.register(lambda: print('HEAVY', sorted(m for m in "
        "('torch', 'torch_geometric', 'zarr', 'ray') if m in sys.modules), file=sys.stderr)); "
        "from canids_cli.jobs_cmd import main; main()"
    )
    proc = subprocess.run(
        [PY, "-c", probe, "status", pid, "--runs-dir", str(workdir / "ok")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "HEAVY []" in proc.stderr
    assert out.count("completed") >= 3
    assert "100.0 %" in out
    ledger_results = [r.result for r in Ledger.for_runs(workdir / "ok").jobs(pid)]
    assert all(r is not None and r.succeeded for r in ledger_results)
    assert {r.executor for r in ledger_results if r is not None} == {"slurm"}
    code, out = _run(env, "jobs_cmd", "parse", "--runs-dir", str(workdir / "ok"), "--json")
    assert _json(out)["total"]["completed"] == 3, out
    # Each SLURM job logged its stage as one offline W&B run of the pipeline's group.
    store = ArtifactStore(workdir / "ok")
    for stage in ("vgae", "gat", "fusion"):
        folder = store.tracking_dir("demo", "student", STAGES[stage].produces) / "wandb"
        (found,) = folder.glob("offline-run-*")
        run = read_offline_run(found)
        assert (run.group, run.job_type) == ("default-demo-custom-student", stage)
        if stage == "fusion":  # no epochs: the DQN's steps
            assert run.history
            assert all("dqn/loss" in row for row in run.history)
        else:
            assert [row["epoch"] for row in run.history] == [0]
    # The submission as a page: SLURM's start and end, the ledger's submit times.
    code, out = _run(env, "jobs_cmd", "report", "--runs-dir", str(workdir / "ok"))
    assert code == 0, out
    assert "3 jobs: 3 started, 3 completed (100.0 %)" in out
    page = (workdir / "ok" / "jobs" / "report.html").read_text()
    assert "3 jobs submitted, 3 started (100.0 %), 3 completed (100.0 %)" in page
    assert "No ledger" not in page
    assert page.count('<img src="data:image/png;base64,') == 2  # every job completed
    assert "Every job completed." in page


def test_a_failed_middle_stage_then_a_fix_that_works(local_slurm, workdir: Path) -> None:
    env = local_slurm.env
    code, out = _submit(
        env,
        workdir,
        "oom",
        "custom",
        "--stages",
        "vgae,gat,fusion",
        "--size",
        "student",
        "--stage-resources",
        "gat:mem=350M",
    )
    assert code == 0, out
    pid, ids = _ids(out)
    ledger = Ledger.for_runs(workdir / "oom")
    rows = {r.stage: r for r in ledger.jobs(pid)}
    states = _wait(env, ids)
    assert states[rows["vgae"].job_id].state == "COMPLETED"
    assert states[rows["gat"].job_id].state == "OUT_OF_MEMORY"
    assert states[rows["fusion"].job_id].state == "CANCELLED"  # its dependency can never hold
    runs = ["--runs-dir", str(workdir / "oom")]
    code, out = _run(env, "jobs_cmd", "status", pid, *runs, "--json")
    assert code == 0, out
    report = _json(out)
    verdict = {j["stage"]: j["outcome"] for j in report["jobs"]}
    assert verdict["vgae"]["completed"] is True
    assert verdict["gat"]["cause"]["type"] == "host_oom"
    assert verdict["fusion"]["started"] is False
    assert verdict["fusion"]["cause"]["type"] == "dependency_never_satisfied"
    assert report["summary"]["total"]["completed"] == 1

    gat = rows["gat"].job_id
    code, out = _run(env, "jobs_cmd", "remediate", gat, *runs)
    assert code == 0, out
    assert "1. [double-memory]" in out
    assert "350M → 700M" in out
    # The fix's command repeats the settings the job's script ran with (the tiny config).
    assert "--set train.epochs=1" in out
    assert "note:" not in out
    code, out = _run(env, "jobs_cmd", "resubmit", gat, "--apply", "1", *runs)
    assert code == 0, out
    new = {r.resubmit_of: r for r in ledger.jobs(pid) if r.resubmit_of}
    assert set(new) == {gat, rows["fusion"].job_id}
    assert "#SBATCH --mem=700M" in Path(new[gat].script).read_text()
    assert new[rows["fusion"].job_id].parents == (new[gat].job_id,)
    _wait(env, [new[gat].job_id, new[rows["fusion"].job_id].job_id])
    code, out = _run(env, "jobs_cmd", "status", pid, *runs, "--json")
    assert code == 0, out
    assert _json(out)["summary"]["total"]["completed"] == 3  # latest attempts count
    history = History(workdir / "oom" / "jobs" / "history.sqlite")
    stats = {s.fix_id: s for s in history.fix_stats("host_oom")}
    assert (stats["double-memory"].succeeded, stats["double-memory"].failed) == (1, 0)
    code, out = _run(env, "jobs_cmd", "analyze", *runs, "--json")
    assert code == 0, out
    assert _json(out)["by_type"]["host_oom"] == 1, out
    assert _json(out)["by_executor"] == {"slurm": 2}, out  # gat's OOM and fusion never ran
    event = history.failure_for_job(gat)
    assert event is not None
    assert (event["executor"], event["failure_type"]) == ("slurm", "host_oom")
    # The ledger keeps each ended job's StageResult: SLURM's state and exit, DONE, the node.
    row = Ledger.for_runs(workdir / "oom").job(gat)
    assert row is not None
    assert row.result is not None
    assert (row.result.scheduler_state, row.result.exit_code, row.result.signal) == (
        "OUT_OF_MEMORY",
        0,
        125,
    )
    assert row.result.failure is not None
    assert row.result.failure.type == "host_oom"
    assert not row.result.succeeded


def test_unsafe_values_are_refused_or_inert(local_slurm, workdir: Path, tmp_path: Path) -> None:
    env = local_slurm.env
    before = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True)
    for bad in ("x; rm -rf ~", "$(id)"):
        code, out = _run(
            env,
            "submit_cmd",
            "pipeline",
            "custom",
            "--stages",
            "vgae",
            "--size",
            "student",
            "--dataset",
            bad,
            "--executor",
            "slurm",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--cache-dir",
            str(workdir / "cache"),
            "--no-source-check",
        )
        assert code == 2  # a bad name is a usage error at the edge
        assert "is not allowed" in out
    after = subprocess.run(["squeue", "-h", "-o", "%i"], env=env, capture_output=True, text=True)
    assert after.stdout == before.stdout  # nothing was submitted
    assert not (tmp_path / "runs" / "jobs" / "ledger.sqlite").exists()
    # A value that does reach the job stays one inert word: $(id) is never run.
    marker = tmp_path / "pwned"
    code, out = _submit(
        env,
        workdir,
        "inert",
        "custom",
        "--stages",
        "vgae",
        "--size",
        "student",
        "--set",
        f"train.device=$(touch {marker})",
    )
    assert code == 0, out
    _, ids = _ids(out)
    states = _wait(env, ids, 200)
    assert states[ids[0]].state == "FAILED"  # canids-train refused the device name
    assert not marker.exists()
    log = next((workdir / "inert").rglob(f"vgae-{ids[0]}.out")).read_text()
    assert f"$(touch {marker})" in log


def test_cancel_takes_every_job_of_a_pipeline(local_slurm, workdir: Path, tmp_path: Path) -> None:
    env = local_slurm.env
    # A job holding the whole node keeps the pipeline pending while we cancel it: without
    # it the first stage may finish before `cancel` starts, and the test would race.
    # --exclusive takes every CPU the node has, however many this machine gives it.
    blocker = tmp_path / "blocker.sbatch"
    blocker.write_text("#!/usr/bin/env bash\nsleep 300\n")
    hold = sbatch(
        blocker,
        extra_args=["--exclusive", "--mem=100M", f"--output={tmp_path / 'b.out'}"],
        env=env,
    )
    try:
        _wait_running(env, hold)
        stages = ["custom", "--stages", "vgae,gat,fusion", "--size", "student"]
        code, out = _submit(env, workdir, "cancel", *stages)
        assert code == 0, out
        pid, ids = _ids(out)
        # The point of the blocker: every stage is still pending when cancel runs.
        pending = job_states(ids, env=env)
        assert [pending[i].state for i in ids] == ["PENDING"] * 3
        code, out = _run(env, "jobs_cmd", "cancel", pid, "--runs-dir", str(workdir / "cancel"))
        assert code == 0, out
        assert f"cancelled 3 job(s) of {pid}" in out
        states = _wait(env, ids, 120)
        assert [states[i].state for i in ids] == ["CANCELLED"] * 3
    finally:
        scancel([hold], env=env)
