"""canids-submit pipeline with the local and the Ray executor: real canids-train processes,
a real local Ray cluster, on a tiny demo."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from canids_cli.submit_cmd import main as submit_main
from canids_data import CacheManager
from canids_jobs import History
from canids_models import ArtifactStore
from canids_models.catalog import STAGES
from canids_testkit import read_offline_run, set_args, tiny_overrides
from click.testing import CliRunner

# The one tiny config, a little shorter still: these tests run whole pipelines many times.
TINY_ITEMS = tiny_overrides("teacher", "train.epochs=1", "dqn.steps=20", "dqn.batch_size=32")
TINY = set_args(TINY_ITEMS)
SUBMIT = [sys.executable, "-c", "from canids_cli.submit_cmd import main; main()"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    root = tmp_path_factory.mktemp("submit")
    CacheManager(root / "cache").build("demo", demo_captures)
    return root


def _args(workdir: Path, runs: str, executor: str, *args: str) -> list[str]:
    # W&B offline whatever the environment holds: these tests read the offline runs back.
    # The tiny config first: a test's own --set items come later and win.
    return [
        "pipeline",
        *TINY,
        *args,
        "--dataset",
        "demo",
        "--executor",
        executor,
        "--runs-dir",
        str(workdir / runs),
        "--cache-dir",
        str(workdir / "cache"),
        "--wandb-mode",
        "offline",
    ]


def _submit(workdir: Path, *args: str, runs: str = "runs") -> tuple[int, str]:
    result = CliRunner().invoke(submit_main, _args(workdir, runs, "local", *args))
    return result.exit_code, result.output


def _copy_runs(workdir: Path, source: str, target: str) -> str:
    """A private copy of a finished runs folder, for a test that breaks an artifact: the
    module's shared runs stay intact whatever order the tests run in."""
    shutil.copytree(workdir / source, workdir / target)
    return target


def _submit_ray(workdir: Path, runs: str, *args: str) -> tuple[int, str]:
    # A subprocess, as a user runs it: Ray starts and stops its local cluster there.
    proc = subprocess.run(
        [*SUBMIT, *_args(workdir, runs, "ray", *args)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc.returncode, proc.stdout + proc.stderr


def _record(workdir: Path, runs: str = "runs", name: str = "teacher-teacher") -> dict:
    path = workdir / runs / "default" / "demo" / "pipelines" / name / "pipeline.json"
    return json.loads(path.read_text())


def _wandb_runs(workdir: Path, runs: str, stages: list[str]) -> dict:
    """Each stage's offline W&B run (one per stage, in its artifact's folder)."""
    store = ArtifactStore(workdir / runs)
    found = {}
    for stage in stages:
        folder = store.tracking_dir("demo", "teacher", STAGES[stage].produces) / "wandb"
        (run,) = folder.glob("offline-run-*")
        found[stage] = read_offline_run(run)
    return found


def _assert_one_wandb_run_per_stage(workdir: Path, runs: str) -> None:
    stages = ["vgae", "gat_curriculum", "fusion", "evaluate"]
    found = _wandb_runs(workdir, runs, stages)
    for stage, run in found.items():
        assert (run.group, run.job_type) == ("default-demo-teacher-teacher", stage)
        assert run.config["stage"] == stage
        assert run.config["train"]["epochs"] == 1
    for stage in ("vgae", "gat_curriculum"):
        assert [row["epoch"] for row in found[stage].history] == [0]
        assert found[stage].summary["parameters"] > 0
    # evaluate: the held-out table, and every parameter count.
    evaluate = found["evaluate"]
    assert evaluate.summary["held_out"]["_type"] == "table-file"
    assert set(evaluate.summary) >= {"parameters/gat", "parameters/vgae", "parameters/fusion"}


def _results(workdir: Path, runs: str) -> str:
    return (workdir / runs / "default" / "demo" / "teacher" / "results" / "results.md").read_text()


@pytest.fixture(scope="module")
def local_teacher(workdir: Path) -> tuple[str, str]:
    """The teacher pipeline, local executor: its output and its results table."""
    code, out = _submit(workdir, "teacher")
    assert code == 0, out
    return out, _results(workdir, "runs")


@pytest.fixture(scope="module")
def ray_teacher(workdir: Path) -> str:
    """The teacher pipeline, Ray executor, into ``runs_ray``: its output."""
    code, out = _submit_ray(workdir, "runs_ray", "teacher")
    assert code == 0, out
    return out


@pytest.mark.slow
def test_local_teacher_runs_in_order(workdir: Path, local_teacher: tuple[str, str]) -> None:
    out, _ = local_teacher
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
        last = Path(stage["log"]).read_text().rstrip().splitlines()[-1]
        assert last.startswith("CANIDS-STAGE-RESULT ")
    assert "Held-out results: demo (teacher)" in out
    assert "test_04_unknown_vehicle_unknown_attack" in out
    # No terminal here: one progress line per stage, and the report's path.
    for n, stage in enumerate(["vgae", "gat_curriculum", "fusion", "evaluate"], 1):
        assert f"[pipeline] stage {n} of 4 completed: teacher/teacher/{stage} in " in out
    report = workdir / "runs" / "default" / "demo" / "teacher" / "results" / "report.html"
    assert f"report: {report}" in out
    assert report.is_file()
    _assert_one_wandb_run_per_stage(workdir, "runs")


@pytest.mark.slow
@pytest.mark.ray
def test_ray_teacher_gives_the_local_results(
    workdir: Path, local_teacher: tuple[str, str], ray_teacher: str
) -> None:
    out = ray_teacher
    assert "started a local cluster" in out
    assert "dashboard: " in out
    assert "logs: " in out
    record = _record(workdir, "runs_ray")
    assert record["executor"] == "ray"
    assert [s["status"] for s in record["stages"]] == ["completed"] * 4
    waits = {s["stage"]: s["waits_for"] for s in record["stages"]}
    assert waits["evaluate"] == [
        "teacher/teacher/fusion",
        "teacher/teacher/gat_curriculum",
        "teacher/teacher/vgae",
    ]
    # Same seeds, same stage commands: the same held-out table, digit for digit.
    assert _results(workdir, "runs_ray") == local_teacher[1]
    ray_models = workdir / "runs_ray" / "default" / "demo" / "teacher"
    local_models = workdir / "runs" / "default" / "demo" / "teacher"
    assert sorted(p.name for p in ray_models.iterdir()) == sorted(
        p.name for p in local_models.iterdir()
    )
    _assert_one_wandb_run_per_stage(workdir, "runs_ray")
    assert "[pipeline] stage 4 of 4 completed" in out


@pytest.mark.slow
@pytest.mark.ray
def test_ray_failing_stage_stops_its_dependants(
    workdir: Path, local_teacher: tuple[str, str]
) -> None:
    """Self-contained: a copy of the local teacher's artifacts, with the GAT's weights gone
    (DONE stays, so preflight passes), fails fusion inside the stage on Ray."""
    src = workdir / "runs" / "default" / "demo" / "teacher"
    runs = workdir / "runs_ray_fail"
    shutil.rmtree(runs, ignore_errors=True)
    shutil.copytree(src, runs / "default" / "demo" / "teacher")
    (runs / "default" / "demo" / "teacher" / "gat" / "checkpoint.pt").unlink(missing_ok=True)
    code, out = _submit_ray(workdir, "runs_ray_fail", "teacher", "--from-stage", "fusion")
    assert code == 1, out
    assert "stage fusion (teacher) of pipeline teacher on demo failed" in out
    assert "--from-stage fusion" in out
    record = _record(workdir, "runs_ray_fail")
    assert record["status"] == "failed"
    assert record["failed_stage"] == "fusion"
    assert [s["status"] for s in record["stages"]] == ["skipped", "skipped", "failed", "not run"]
    assert record["stages"][3]["reason"] == "upstream stage teacher/teacher/fusion failed"
    assert record["stages"][2]["attempts"] == 1  # a stage's own failure is never retried
    # The failure is in the history the SLURM jobs use, classified by the same rules.
    result = record["stages"][2]["stage_result"]
    assert result["executor"] == "ray"
    assert result["job_id"].startswith("ray-")
    assert result["failure"]["type"] == "python_exception"
    assert result["failure"]["facts"]["error_type"] == "ArtifactError"
    assert f"fixes: canids-jobs remediate {result['job_id']}" in out
    with History(runs / "jobs" / "history.sqlite") as history:
        event = history.failure_for_job(result["job_id"])
        assert event is not None
        assert (event["executor"], event["stage"], event["failure_type"]) == (
            "ray",
            "fusion",
            "python_exception",
        )


@pytest.mark.slow
def test_local_restart_and_failure(workdir: Path, local_teacher: tuple[str, str]) -> None:
    runs = _copy_runs(workdir, "runs", "runs_restart")
    code, out = _submit(workdir, "teacher", "--from-stage", "fusion", runs=runs)
    assert code == 0, out
    assert "skipping teacher/vgae: artifact vgae is DONE" in out
    assert "skipping teacher/gat_curriculum: artifact gat is DONE" in out
    statuses = [s["status"] for s in _record(workdir, runs)["stages"]]
    assert statuses == ["skipped", "skipped", "completed", "completed"]

    # A failing stage stops the chain: with the GAT's weights gone (DONE stays, so
    # preflight passes) fusion fails inside the stage, and evaluate never runs.
    (workdir / runs / "default" / "demo" / "teacher" / "gat" / "checkpoint.pt").unlink()
    code, out = _submit(workdir, "teacher", "--from-stage", "fusion", runs=runs)
    assert code == 1
    assert "stage fusion (teacher) of pipeline teacher on demo failed" in out
    assert "--from-stage fusion" in out
    assert "log: " in out
    record = _record(workdir, runs)
    assert record["status"] == "failed"
    assert record["failed_stage"] == "fusion"
    assert [s["status"] for s in record["stages"]] == ["skipped", "skipped", "failed", "not run"]
    assert record["stages"][2]["result"]["status"] == "failed"
    result = record["stages"][2]["stage_result"]
    # fusion's DONE from the run just before is still there (the stage failed before it
    # began rewriting its artifact): one piece of evidence, not a success.
    assert (result["executor"], result["exit_code"], result["done"]) == ("local", 1, True)
    assert (result["succeeded"], result["report"]["status"]) == (False, "failed")
    assert result["failure"]["type"] == "python_exception"
    with History(workdir / runs / "jobs" / "history.sqlite") as history:
        outcomes = {j["job_id"]: (j["executor"], j["stage"], j["outcome"]) for j in history.jobs()}
    assert outcomes[result["job_id"]] == ("local", "fusion", "failed")
    # The completed stages before it were recorded too (failure rates need them).
    assert ("local", "vgae", "completed") in outcomes.values()

    # The restart it prints is the submission as given: with the GAT's weights back, it
    # runs fusion and evaluate under the config the detectors were trained with (it once
    # dropped every --set item, and the stages ran under the preset's config).
    line = next(x for x in out.splitlines() if "restart from it: " in x)
    words = shlex.split(line.split("restart from it: ", 1)[1])
    assert [words[i + 1] for i, w in enumerate(words) if w == "--set"] == list(TINY_ITEMS)
    assert words[-2:] == ["--from-stage", "fusion"]
    teacher = workdir / runs / "default" / "demo" / "teacher"
    source = workdir / "runs" / "default" / "demo" / "teacher" / "gat" / "checkpoint.pt"
    shutil.copy2(source, teacher / "gat" / "checkpoint.pt")
    restarted = CliRunner().invoke(submit_main, words[1:])
    assert restarted.exit_code == 0, restarted.output
    statuses = [s["status"] for s in _record(workdir, runs)["stages"]]
    assert statuses == ["skipped", "skipped", "completed", "completed"]
    digests = {
        key: json.loads((teacher / key / "DONE.json").read_text())["config_digest"]
        for key in ("vgae", "gat", "fusion", "results")
    }
    assert len(set(digests.values())) == 1, digests


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.slow
def test_a_restart_under_another_seed_is_refused_before_anything_runs(
    workdir: Path, local_teacher: tuple[str, str]
) -> None:
    # --from-stage fusion with a new seed would fit seed 1's fusion on seed 0's detectors
    # and label the results seed 1: refused at submission, the runs folder as it was.
    runs = _copy_runs(workdir, "runs", "runs_seed")
    before = _tree(workdir / runs)
    code, out = _submit(
        workdir, "teacher", "--from-stage", "fusion", "--set", "train.seed=1", runs=runs
    )
    assert code == 1, out
    assert "error: preflight failed" in out
    for key in ("vgae", "gat"):
        assert f"artifact {key} (teacher) of demo was made under another config" in out
    assert out.count("train.seed: 0 there, 1 here") == 2
    assert "give the stages that read it its values: --set train.seed=0" in out
    assert _tree(workdir / runs) == before
    # With the detectors' seed the restart reads them.
    code, out = _submit(
        workdir, "teacher", "--from-stage", "fusion", "--set", "train.seed=0", runs=runs
    )
    assert code == 0, out


def _attempts(log: Path) -> list[str]:
    """The attempt header lines of a Ray stage log (empty while the task has not started)."""
    if not log.is_file():
        return []
    return [line for line in log.read_text().splitlines() if "canids ray attempt" in line]


@pytest.mark.slow
@pytest.mark.ray
def test_ray_runs_branches_together_and_retries_a_killed_worker(workdir: Path) -> None:
    """supervised_only: vgae and gat need nothing, so they run at once; fusion waits for
    both. The vgae task's worker is SIGKILLed mid-stage: Ray retries it and it completes.

    Concurrency is observed, not inferred from clocks: the kill happens at a moment when
    both branch logs show a running attempt and neither has its result line yet."""
    logs = workdir / "runs_kill" / "default" / "demo" / "pipelines" / "supervised_only-student"
    vgae_log, gat_log = logs / "vgae.log", logs / "gat.log"
    args = _args(workdir, "runs_kill", "ray", "supervised_only", "--size", "student")
    # Two CPUs for two 1-CPU branches, whatever this machine has: they can overlap here.
    extra = ["--num-cpus", "2", "--cpus", "1", "--memory", "1G", "--max-retries", "1"]
    proc = subprocess.Popen(
        [*SUBMIT, *args, *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 300
        both_running = False
        while not both_running and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.2)
            logs_now = [p.read_text() if p.is_file() else "" for p in (vgae_log, gat_log)]
            started = all(_attempts(p) for p in (vgae_log, gat_log))
            both_running = started and not any("CANIDS-STAGE-RESULT" in t for t in logs_now)
        assert both_running, "vgae and gat were never running at the same moment"
        (header,) = _attempts(vgae_log)
        os.kill(int(header.split("ray worker pid ")[1].split(",")[0]), signal.SIGKILL)
        out, _ = proc.communicate(timeout=600)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    record = _record(workdir, "runs_kill", "supervised_only-student")
    stages = {s["stage"]: s for s in record["stages"]}
    assert [s["status"] for s in record["stages"]] == ["completed"] * 4
    assert stages["vgae"]["attempts"] == 2
    assert stages["gat"]["attempts"] == 1
    assert "done supervised_only/student/vgae" in out
    assert "after 2 attempts" in out
    assert len(_attempts(vgae_log)) == 2
    # fusion started only after both of its inputs ended: the tasks' own recorded times
    # (one host's clock; Ray starts a task only once the refs it takes are ready).
    results = {k: v["stage_result"] for k, v in stages.items()}
    ends = max(results["vgae"]["ended_at"], results["gat"]["ended_at"])
    assert results["fusion"]["started_at"] >= ends
    assert results["vgae"]["job_id"].startswith("ray-")
    # A retried task keeps its id: the history holds its last attempt, completed.
    with History(workdir / "runs_kill" / "jobs" / "history.sqlite") as history:
        outcomes = {j["job_id"]: j["outcome"] for j in history.jobs()}
    assert outcomes[results["vgae"]["job_id"]] == "completed"
    assert len(outcomes) == 4


def test_dry_run_prints_the_commands_and_runs_nothing(workdir: Path, tmp_path: Path) -> None:
    # The executor is named: the default depends on whether sbatch is installed here.
    base = ["--dataset", "demo", "--dry-run", "--executor", "local", "--runs-dir", str(tmp_path)]
    base += ["--cache-dir", str(workdir / "cache")]
    result = CliRunner().invoke(submit_main, ["pipeline", "student", *base])
    assert result.exit_code == 1  # the student needs the teacher's artifacts: preflight says so
    assert "canids-train vgae --dataset demo --size teacher" in result.output
    custom = CliRunner().invoke(
        submit_main, ["pipeline", "custom", "--stages", "vgae", "--size", "student", *base]
    )
    assert custom.exit_code == 0, custom.output
    assert "canids-train vgae --dataset demo --size student" in custom.output
    # With the teacher in the same submission the student plans, and the Ray dry run shows
    # what each stage waits for.
    both = CliRunner().invoke(
        submit_main, ["pipeline", "teacher", "student", *base, "--executor", "ray"]
    )
    assert both.exit_code == 0, both.output
    assert "# after teacher/teacher/vgae" in both.output
    assert not (tmp_path / "default").exists()


def test_default_executor_is_printed(workdir: Path, tmp_path: Path) -> None:
    args = ["pipeline", "custom", "--stages", "vgae", "--size", "student", "--dataset", "demo"]
    args += ["--dry-run", "--runs-dir", str(tmp_path), "--cache-dir", str(workdir / "cache")]
    result = CliRunner().invoke(submit_main, args)
    assert result.exit_code == 0, result.output
    assert "(default: " in result.output.splitlines()[0]
    assert "choose with --executor" in result.output


@pytest.mark.slow
@pytest.mark.ray
def test_ray_student_deploys_its_teacher_s_fusion_after_it(workdir: Path) -> None:
    """The student preset's default (``fusion.select=teacher``, canids-models 0.26.0) run as
    a user runs it, without the tiny config's select pin: Ray starts independent stages at
    once, the student's fusion waits for its teacher's (whose default, auto, holds the
    demo's three attack families out) and deploys the fusion the teacher deployed, with no
    family run of its own; its evaluate names who chose it."""
    unpinned = set_args([i for i in TINY_ITEMS if i != "fusion.select=validation"])
    assert len(unpinned) == len(TINY) - 2  # the pin was there, and only it is gone
    runs = "runs_student_pick"
    args = _args(workdir, runs, "ray", "teacher", "student")
    assert args[1 : 1 + len(TINY)] == TINY
    args[1 : 1 + len(TINY)] = unpinned
    proc = subprocess.run([*SUBMIT, *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    record = _record(workdir, runs, "student-student")
    waits = {s["stage"]: s["waits_for"] for s in record["stages"]}
    assert "teacher/teacher/fusion" in waits["fusion"]
    store = ArtifactStore(workdir / runs)
    teacher = store.read_json("demo", "teacher", "fusion", "metrics.json")
    student = store.read_json("demo", "student", "fusion", "metrics.json")
    assert teacher["selection"]["rule"] == "families"
    assert student["selection"]["rule"] == "teacher"
    assert student["method"] == teacher["method"]
    # It read the teacher's finished fusion, not one being written.
    finished = store.done_record("demo", "teacher", "fusion")["finished"]
    assert student["selection"]["teacher"]["finished"] == finished
    assert student["selection"]["families"] is None
    families = workdir / runs / "default" / "demo" / "families"
    assert sorted(p.name for p in families.iterdir()) == ["dos", "fuzzing", "spoofing"]
    for family in families.iterdir():  # the teacher's held-out runs only
        assert not list(family.rglob("student"))
    results = store.read_json("demo", "student", "results", "metrics.json")
    assert results["fusion_chosen_by"].startswith("the teacher's deployed fusion")
