"""canids-submit as a user runs it (the installed console script) on a tiny real cache:
what SLURM cannot take is refused before anything is written (--cpus 0.5 once became
--cpus-per-task=0), every --time form reaches the script, and a local run records each
stage in the failure history canids-jobs reads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from canids_jobs import History

BIN = Path(sys.executable).parent


def _submit(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANIDS_")}
    return subprocess.run(
        [str(BIN / "canids-submit"), "pipeline", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
    )


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from canids_data import CacheManager
    from canids_data.synthetic import write_demo_dataset

    base = tmp_path_factory.mktemp("submit_cli")
    write_demo_dataset(base / "root", seed=0, scale=0.1)
    CacheManager(base / "cache").build("demo", base / "root", workers=1)
    return base / "cache"


def _dry(cache: Path, runs: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return _submit(
        "custom", "--stages", "vgae,gat", "--size", "student", "--dataset", "demo",
        "--executor", "slurm", "--dry-run", "--cache-dir", cache, "--runs-dir", runs, *args,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--cpus", "0.5"),
            "SLURM allocates whole CPUs; 0.5 CPUs cannot be submitted: pass --cpus 1",
        ),
        (("--gpus", "0.5"), "SLURM allocates whole GPUs"),
        (("--walltime", "2h"), "not a SLURM time"),
        (("--profile", "/no/such.toml"), "cluster profile /no/such.toml"),
        (("--stage-resources", "gat:nodes=2"), "unknown resource 'nodes'"),
    ],
)
def test_what_slurm_cannot_take_is_refused(
    cache: Path, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = _dry(cache, tmp_path / "runs", *args)
    assert done.returncode == 1
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "#SBATCH" not in done.stdout  # refused before any script


def test_whole_cpus_and_every_time_form_reach_the_scripts(cache: Path, tmp_path: Path) -> None:
    done = _dry(cache, tmp_path / "runs", "--cpus", "2", "--walltime", "1-12", "--profile", "osc")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("#SBATCH --cpus-per-task=2") == 2
    assert done.stdout.count("#SBATCH --time=1-12:00:00") == 2


def test_workers_size_each_data_parallel_job_and_reach_canids_train(
    cache: Path, tmp_path: Path
) -> None:
    done = _submit(
        "custom", "--stages", "vgae,gat,fusion", "--size", "student", "--dataset", "demo",
        "--executor", "slurm", "--dry-run", "--profile", "osc", "--workers", "2",
        "--cache-dir", cache, "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scripts = done.stdout.split("# ---- ")[1:]  # in submission order
    jobs = dict(zip(["vgae", "gat", "fusion"], scripts, strict=True))
    for stage in ("vgae", "gat"):  # 2 workers of 4 CPU, 1 GPU, 16G each
        assert "#SBATCH --cpus-per-task=8" in jobs[stage]
        assert "#SBATCH --mem=32G" in jobs[stage]
        assert "--gres=gpu:a100:2" in jobs[stage]
        assert "--workers 2" in jobs[stage]
    assert "#SBATCH --cpus-per-task=4" in jobs["fusion"]  # the DQN runs on one worker
    assert "note: 2 data-parallel workers of 4 CPU, 1 GPU, 16G: asks 8 CPU, 2 GPU, 32G" in (
        done.stdout
    )
    assert "note: runs on 1 worker, not 2: not data-parallel: the DQN" in done.stdout


def test_every_stage_logs_to_its_pipeline_s_wandb_group(cache: Path, tmp_path: Path) -> None:
    done = _dry(cache, tmp_path / "runs", "--run", "r7")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("--wandb-mode auto --wandb-project canids") == 2
    assert done.stdout.count("--wandb-group r7-demo-custom-student") == 2
    off = _dry(cache, tmp_path / "runs", "--no-wandb", "--wandb-project", "ignored")
    assert off.returncode == 0, off.stderr
    assert off.stdout.count(" --no-wandb") == 2
    assert "--wandb-group" not in off.stdout
    assert "--wandb-project" not in off.stdout


def test_fractional_cpus_are_fine_for_ray(cache: Path, tmp_path: Path) -> None:
    done = _submit(
        "custom", "--stages", "vgae", "--size", "student", "--dataset", "demo",
        "--executor", "ray", "--dry-run", "--cpus", "0.5", "--cache-dir", cache,
        "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "canids-train vgae --dataset demo --size student" in done.stdout


def test_a_local_failure_lands_in_the_history(cache: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # canids-train refuses this value inside the stage: a failure of the stage itself.
    done = _submit(
        "custom", "--stages", "vgae", "--size", "student", "--dataset", "demo",
        "--executor", "local", "--cache-dir", cache, "--runs-dir", runs,
        "--set", "train.device=bogus", "--set", "train.threads=1",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert "stage vgae (student) of pipeline custom on demo failed (exit 1)" in done.stderr
    assert "fixes: canids-jobs remediate local-" in done.stderr
    with History(runs / "jobs" / "history.sqlite") as history:
        (job,) = history.jobs()
        assert (job["executor"], job["outcome"], job["stage"]) == ("local", "failed", "vgae")
        assert job["failure_type"] == "python_exception"
    record = json.loads((runs / "default/demo/pipelines/custom-student/pipeline.json").read_text())
    (stage,) = record["stages"]
    assert stage["stage_result"]["failure"]["type"] == "python_exception"
    assert stage["stage_result"]["job_id"] == job["job_id"]


@pytest.mark.parametrize("executor", ["slurm", "local", "ray"])
def test_a_bad_set_is_refused_at_submission_before_anything_is_queued(
    cache: Path, tmp_path: Path, executor: str
) -> None:
    """``--set`` is checked against the config model of every planned size when the
    pipeline is submitted: before a SLURM job is queued, a Ray task or a local stage runs
    (a stage would refuse it only when it starts, after SLURM queued the whole chain)."""
    runs = tmp_path / "runs"
    done = _submit(
        "teacher", "--dataset", "demo", "--executor", executor, "--cache-dir", cache,
        "--runs-dir", runs, "--set", "train.threads=1", "--set", "vgae.heads=0",
    )  # fmt: skip
    assert done.returncode == 1
    assert "error: --set vgae.heads=0: vgae.heads: must be >= 1 (got 0)" in done.stderr
    assert "Traceback" not in done.stderr
    assert "#SBATCH" not in done.stdout
    assert "submitted" not in done.stdout
    # Nothing was queued, run or recorded: no ledger, no history, no artifact.
    assert not (runs / "jobs").exists()
    assert not (runs / "default" / "demo").exists()


def test_an_unsafe_name_is_a_usage_error_at_the_edge(cache: Path, tmp_path: Path) -> None:
    for args in (
        ("--dataset", "x; rm -rf ~"),
        ("--dataset", "x" * 5000),
        ("--dataset", "demo", "--run", "$(id)"),
    ):
        done = _submit(
            "teacher", "--executor", "local", "--cache-dir", cache, "--runs-dir",
            tmp_path / "runs", *args,
        )  # fmt: skip
        assert done.returncode == 2, done.stderr
        assert "is not allowed: use 1 to 64 characters" in done.stderr
        assert "Traceback" not in done.stderr
        assert "x" * 200 not in done.stderr  # a long name is cut in the message


def test_a_families_fusion_stage_asks_for_the_trainings_it_holds(
    cache: Path, tmp_path: Path
) -> None:
    """The families rule trains both detectors again per attack family inside the fusion
    stage (the demo has three: dos, fuzzing, spoofing): its walltime holds them, the note
    says how, and a walltime the user gives stands. The default (auto) takes the rule on
    the demo; validation's rule or a fixed method trains nothing more."""
    base = (
        "custom", "--stages", "vgae,gat_curriculum,fusion", "--size", "teacher",
        "--dataset", "demo", "--executor", "slurm", "--dry-run", "--cache-dir", cache,
        "--runs-dir", tmp_path / "runs", "--set", "fusion.select=families",
    )  # fmt: skip
    done = _submit(*base)
    assert done.returncode == 0, done.stderr
    scripts = done.stdout.split("# ---- ")[1:]  # in submission order
    jobs = dict(zip(["vgae", "gat_curriculum", "fusion"], scripts, strict=True))
    assert "#SBATCH --time=19:00:00" in jobs["fusion"]  # 1 h + 3 x (2 h + 4 h)
    assert "#SBATCH --time=02:00:00" in jobs["vgae"]
    assert (
        "the families rule (fusion.select): the fusion stage trains vgae and gat_curriculum "
        "again for each of 3 attack families, so it asks 19:00:00 (01:00:00 + 3 x (02:00:00 "
        "+ 04:00:00))"
    ) in done.stdout
    given = _submit(*base, "--stage-resources", "fusion:walltime=10:00:00")
    assert given.returncode == 0, given.stderr
    assert "#SBATCH --time=10:00:00" in given.stdout.split("# ---- ")[3]
    assert "the families rule (fusion.select)" not in given.stdout
    default = _submit(*base[:-2])
    assert default.returncode == 0, default.stderr
    assert "#SBATCH --time=19:00:00" in default.stdout.split("# ---- ")[3]
    for other in ("fusion.select=validation", "fusion.method=mean"):
        plain = _submit(*base[:-2], "--set", other)
        assert plain.returncode == 0, plain.stderr
        assert "#SBATCH --time=01:00:00" in plain.stdout.split("# ---- ")[3]
        assert "the families rule (fusion.select)" not in plain.stdout


def test_planning_a_families_fusion_stage_imports_no_torch(
    cache: Path, tmp_path: Path, heavy_imports
) -> None:
    """canids-submit counts the attack families a fusion stage holds out (the demo's three)
    from the cache's manifest alone: the submitting process imports none of torch, PyG,
    zarr and ray (torch and PyG took 9 s before the first stage started; 2 cores,
    2026-12-07)."""
    heavy, code, out = heavy_imports(
        "submit_cmd", "canids-submit", "pipeline", "teacher", "--dataset", "demo",
        "--executor", "slurm", "--dry-run", "--cache-dir", cache, "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert code == 0, out
    assert "again for each of 3 attack families" in out
    assert heavy == [], out


def test_a_student_deploying_its_teachers_pick_asks_only_its_own_walltime(
    cache: Path, tmp_path: Path
) -> None:
    """Submitted together, the teacher's fusion holds the demo's three attack families out
    and asks for their trainings; the student's (its preset deploys the teacher's pick,
    fusion.select=teacher) trains nothing more and asks its own hour."""
    done = _submit(
        "teacher", "student", "--dataset", "demo", "--executor", "slurm", "--dry-run",
        "--cache-dir", cache, "--runs-dir", tmp_path / "runs",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scripts = {
        head.split("\n", 1)[0]: body
        for head, body in (s.split("\n", 1) for s in done.stdout.split("# ---- ")[1:])
    }
    fusion = {p: b for p, b in scripts.items() if "/fusion" in p}
    assert len(fusion) == 2, list(scripts)
    (teacher,) = (b for p, b in fusion.items() if "/teacher-teacher/" in p)
    (student,) = (b for p, b in fusion.items() if "/student-student/" in p)
    assert "#SBATCH --time=19:00:00" in teacher  # 1 h + 3 x (vgae 2 h + gat_curriculum 4 h)
    assert "#SBATCH --time=01:00:00" in student
    assert done.stdout.count("the families rule (fusion.select)") == 1


def _scripts(stdout: str) -> dict[str, str]:
    """A dry run's sbatch scripts by their path."""
    return {
        head.split("\n", 1)[0]: body
        for head, body in (s.split("\n", 1) for s in stdout.split("# ---- ")[1:])
    }


def test_a_size_prefixed_set_reaches_that_size_s_stages_only(cache: Path, tmp_path: Path) -> None:
    """``--set student:fusion.select=auto`` (the teacher refuses ``fusion.select=teacher``,
    so one shared item cannot set the student's rule): every student stage gets it after
    the shared items, no teacher stage does, and the student's fusion then holds the demo's
    three families out and asks for their trainings, as the teacher's does (with 0.26.0's
    student default it asked its own hour: the test above)."""
    done = _submit(
        "teacher", "student", "--dataset", "demo", "--executor", "slurm", "--dry-run",
        "--cache-dir", cache, "--runs-dir", tmp_path / "runs", "--set", "train.threads=1",
        "--set", "student:fusion.select=auto", "--set", "student:train.seed=3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    scripts = _scripts(done.stdout)
    teacher = {p: b for p, b in scripts.items() if "/teacher-teacher/" in p}
    student = {p: b for p, b in scripts.items() if "/student-student/" in p}
    assert len(teacher) == 4, list(scripts)
    assert len(student) == 4, list(scripts)
    order = ("--set train.threads=1", "--set fusion.select=auto", "--set train.seed=3")
    for body in student.values():
        at = [body.find(item) for item in order]
        assert -1 not in at, body
        assert at == sorted(at), body  # the shared items first: the size's own win
    for body in teacher.values():
        assert "--set train.threads=1" in body
        assert "fusion.select" not in body
        assert "train.seed" not in body
    # Each fusion holds the families out of its own pipeline's detectors: the teacher's
    # vgae and gat_curriculum (1 h + 3 x (2 h + 4 h)), the student's vgae and gat (+ 2 h).
    for side, walltime in ((teacher, "19:00:00"), (student, "13:00:00")):
        (fusion,) = (b for p, b in side.items() if "/fusion" in p)
        assert f"#SBATCH --time={walltime}" in fusion
    assert done.stdout.count("the families rule (fusion.select)") == 2


@pytest.mark.parametrize(
    ("names", "item", "message"),
    [
        (
            ("teacher", "student"),
            "pupil:train.epochs=1",
            "--set pupil:train.epochs=1: 'pupil' is not a size; prefix an item with one of "
            "teacher, student",
        ),
        (
            ("teacher",),
            "student:train.epochs=1",
            "--set student:train.epochs=1: no student pipeline is planned (planned: teacher)",
        ),
        (("teacher", "student"), "student:", "--set student:: nothing after student:"),
        (
            ("teacher", "student"),
            "student:vgae.heads=0",
            "error: --set vgae.heads=0: vgae.heads: must be >= 1 (got 0)",
        ),
    ],
)
def test_a_bad_size_prefix_is_refused_before_anything_is_queued(
    cache: Path, tmp_path: Path, names: tuple[str, ...], item: str, message: str
) -> None:
    runs = tmp_path / "runs"
    done = _submit(
        *names, "--dataset", "demo", "--executor", "slurm", "--cache-dir", cache,
        "--runs-dir", runs, "--set", item,
    )  # fmt: skip
    assert done.returncode in (1, 2), done.stderr
    assert message in " ".join(done.stderr.split()), done.stderr
    assert "Traceback" not in done.stderr
    assert "#SBATCH" not in done.stdout
    assert "submitted" not in done.stdout
    assert not (runs / "jobs").exists()
    assert not (runs / "default" / "demo").exists()


def test_a_size_prefixed_set_reaches_the_local_executor_s_commands(
    cache: Path, tmp_path: Path
) -> None:
    done = _submit(
        "teacher", "student", "--dataset", "demo", "--executor", "local", "--dry-run",
        "--cache-dir", cache, "--runs-dir", tmp_path / "runs", "--no-wandb",
        "--set", "student:fusion.select=auto",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    commands = [line for line in done.stdout.splitlines() if "canids-train " in line]
    sizes = [line.split("--size ")[1].split()[0] for line in commands]
    assert sizes == ["teacher"] * 4 + ["student"] * 4
    for line, size in zip(commands, sizes, strict=True):
        assert ("--set fusion.select=auto" in line) == (size == "student"), line
