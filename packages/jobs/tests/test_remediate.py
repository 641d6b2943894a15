"""Remediation rules on real classifications, and their ranking by the history's record."""

from __future__ import annotations

import dataclasses
import json
import shlex
from pathlib import Path

import pytest
from canids_core import find_report
from canids_jobs.classification import Classification, classify
from canids_jobs.errors import JobsError
from canids_jobs.failed_jobs import settings_unknown, submitted_settings
from canids_jobs.history import History, JobEvent
from canids_jobs.remediate import FailedJob, suggest
from canids_jobs.rules import FailureType

LOGS = Path(__file__).parent / "logs"


def cause_of(stem: str) -> Classification:
    files = [LOGS / f"{stem}.{ext}" for ext in ("out", "err")]
    text = "\n".join(f.read_text() for f in files if f.exists())
    return classify(None, None, text, find_report(text), None)


def failed(
    stage: str, cause: Classification | FailureType, dataset: str = "set_02", **kw: object
) -> FailedJob:
    if isinstance(cause, FailureType):
        cause = Classification(cause, "", "")
    return FailedJob("42", stage, dataset, "teacher", cause, **kw)  # type: ignore[arg-type]


def test_cuda_oom_halves_the_budget_or_profiles() -> None:
    cause = cause_of("verbatim_cuda_oom")
    halve, profile = suggest(failed("gat", cause))
    assert (halve.fix_id, halve.config, halve.resources, halve.stage) == (
        "halve-budget",
        {"batching.budget": "2000"},  # BatchingConfig's default budget is 4000
        {},
        "gat",
    )
    assert halve.command == (
        "canids-train gat --dataset set_02 --size teacher --set batching.budget=2000"
    )
    assert (profile.fix_id, profile.command) == (
        "profile-budget",
        "canids-profile --dataset set_02",
    )
    assert suggest(failed("gat", cause, budget=3001))[0].config == {"batching.budget": "1500"}


@pytest.mark.parametrize(
    ("stage", "had", "doubled"),
    [
        ("fusion", None, "32G"),  # the catalogue's 16G
        ("gat_curriculum", None, "64G"),  # 32G
        ("gat", "512M", "1G"),
        ("gat", "1T", "2T"),
        ("gat", "16000", "32000M"),  # SLURM reads a bare number as megabytes
        ("gat", "1.5G", "3G"),
    ],
)
def test_host_oom_doubles_memory(stage: str, had: str | None, doubled: str) -> None:
    (s,) = suggest(failed(stage, cause_of("verbatim_oom_kill"), memory=had))
    assert (s.fix_id, s.resources) == ("double-memory", {"memory": doubled})


@pytest.mark.parametrize(
    ("stage", "had", "longer"),
    [
        ("fusion", None, "01:30:00"),  # the catalogue's 01:00:00
        ("gat", "02:00:00", "03:00:00"),
        ("gat_curriculum", "16:00:00", "1-00:00:00"),
        ("gat", "1-00:00:00", "1-12:00:00"),
        ("gat", "00:45:01", "01:07:31"),
    ],
)
def test_timeout_extends_walltime(stage: str, had: str | None, longer: str) -> None:
    (s,) = suggest(failed(stage, cause_of("format_time_limit"), walltime=had))
    assert (s.fix_id, s.resources, s.stage) == ("extend-walltime", {"walltime": longer}, stage)


def test_timeout_restarts_the_pipeline_from_the_stage() -> None:
    (s,) = suggest(failed("fusion", FailureType.TIMEOUT, pipeline="teacher"))
    assert s.command == (
        "canids-submit pipeline teacher --dataset set_02 --size teacher --executor slurm "
        "--from-stage fusion --stage-resources fusion:walltime=01:30:00"
    )
    assert s.params == {"stage": "fusion", "resources": {"walltime": "01:30:00"}, "config": {}}


def test_missing_artifact_runs_each_producer() -> None:
    cause = cause_of("real_preflight_missing_artifact")
    vgae, gat = suggest(failed("fusion", cause, dataset="demo"))
    assert (vgae.fix_id, vgae.stage, gat.stage) == ("run-producer", "vgae", "gat_curriculum")
    assert vgae.command.startswith("canids-train vgae --dataset demo --size teacher --runs-dir /")
    # The student and supervised pipelines make the GAT with `gat`, not `gat_curriculum`.
    _, gat = suggest(failed("fusion", cause, dataset="demo", pipeline="supervised_only"))
    assert gat.stage == "gat"
    assert gat.command.startswith("canids-train gat --dataset demo --size teacher --runs-dir /")


@pytest.mark.parametrize("stem", ["real_preflight_stale_cache", "real_preflight_missing_cache"])
def test_cache_problems_build_the_cache(stem: str) -> None:
    (s,) = suggest(failed("gat", cause_of(stem), dataset="demo"))
    assert s.fix_id == "build-cache"
    assert s.command.startswith("canids-cache build --dataset demo --cache-dir /")


def test_node_problems_exclude_the_node() -> None:
    exclude, resubmit = suggest(failed("gat", FailureType.NODE_FAIL, node="p0305"))
    assert (exclude.fix_id, exclude.resources) == ("exclude-node", {"exclude": "p0305"})
    assert resubmit.fix_id == "resubmit"
    (only,) = suggest(failed("gat", FailureType.PREEMPTED))
    assert only.fix_id == "resubmit"


def test_python_exception_needs_a_person() -> None:
    (s,) = suggest(failed("fusion", cause_of("real_train_type_error")))
    assert s.fix_id == "investigate"
    assert s.command == ""
    assert s.description.endswith("checkpoints.py:71 in load_model")


def test_history_ranks_fixes_by_smoothed_success(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as h:
        events = [
            h.record_job(JobEvent(str(n), "failed", float(n), failure_type="host_oom"))
            for n in range(6)
        ]
        # double-memory: 1 of 3; a fix no rule knows (a large-memory partition): 2 of 2.
        for n, ok in enumerate([True, False, False]):
            rid = h.record_remediation(events[n], "double-memory", {"resources": {"memory": "32G"}})
            h.resolve_remediation(rid, ok)
        for n in (3, 4):
            params = {"stage": "vgae", "resources": {"partition": "largemem"}}
            h.record_remediation(events[n], "largemem-partition", params, new_job_id=f"r{n}")
            h.resolve_by_job(f"r{n}", succeeded=True)
        ranked = suggest(failed("vgae", FailureType.HOST_OOM), h)
        assert [(s.fix_id, s.track_record, round(s.score, 3)) for s in ranked] == [
            ("largemem-partition", "succeeded 2 of 2", 0.75),
            ("double-memory", "succeeded 1 of 3", 0.4),
        ]
        assert (ranked[0].source, ranked[0].resources) == ("history", {"partition": "largemem"})
        # Closing the loop: double-memory works twice more, the partition fails twice.
        for n in (5, 0):
            h.record_remediation(events[n], "double-memory", {}, new_job_id=f"d{n}")
            h.resolve_by_job(f"d{n}", succeeded=True)
            h.record_remediation(events[n], "largemem-partition", {}, new_job_id=f"p{n}")
            h.resolve_by_job(f"p{n}", succeeded=False)
        first = suggest(failed("vgae", FailureType.HOST_OOM), h)[0]
        assert (first.fix_id, first.track_record) == ("double-memory", "succeeded 3 of 5")
        assert first.score == pytest.approx(4 / 7)
        assert first.to_json()["track_record"] == "succeeded 3 of 5"


def test_untried_fix_keeps_rule_order() -> None:
    ranked = suggest(failed("gat", FailureType.CUDA_OOM))
    assert [(s.fix_id, s.track_record, s.score) for s in ranked] == [
        ("halve-budget", "never tried", 0.5),
        ("profile-budget", "never tried", 0.5),
    ]


def _record(runs: Path, command: str, job_id: str = "local-7") -> None:
    folder = runs / "default" / "set_02" / "pipelines" / "teacher-teacher"
    folder.mkdir(parents=True)
    stages = [
        {"stage": "vgae", "job_id": "local-6", "command": "canids-train vgae --set train.seed=9"},
        {"stage": "gat_curriculum", "job_id": job_id, "command": command},
    ]
    (folder / "pipeline.json").write_text(json.dumps({"stages": stages}))


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_local_or_ray_rerun_keeps_the_settings_the_stage_ran_with(
    tmp_path: Path, executor: str
) -> None:
    """The rerun repeats the failed stage's --config, --set, --workers and --cache-dir
    (from its pipeline's run record), the fix's item after them: it once dropped them, and
    the rerun trained under the preset's config beside artifacts of another."""
    _record(
        tmp_path,
        "/venv/bin/canids-train gat_curriculum --dataset set_02 --size teacher --run default "
        "--runs-dir /r --cache-dir /c --set train.seed=3 --config '/cfg dir/best.json' "
        "--set student:x=1 --workers 2 --wandb-group g --set batching.budget=4000",
    )
    job = failed(
        "gat_curriculum", cause_of("verbatim_cuda_oom"), pipeline="teacher",
        executor=executor, runs_dir=str(tmp_path), budget=4000,
    )  # fmt: skip
    job = dataclasses.replace(job, job_id="local-7")
    halve = suggest(job)[0]
    words = shlex.split(halve.command)
    assert words[:3] == ["canids-submit", "pipeline", "teacher"]
    settings = words[words.index(str(tmp_path)) + 1 :]
    assert settings == [
        "--cache-dir", "/c", "--set", "train.seed=3", "--config", "/cfg dir/best.json",
        "--set", "student:x=1", "--workers", "2", "--set", "batching.budget=4000",
        "--set", "batching.budget=2000",
    ]  # fmt: skip
    assert settings_unknown(job) is None
    # Another job of the record, or no record: nothing to repeat, and the reason is named.
    again = dataclasses.replace(job, job_id="local-99")
    assert submitted_settings(again) == []
    assert settings_unknown(again) == (
        f"the run record {tmp_path}/default/set_02/pipelines/teacher-teacher/pipeline.json "
        "no longer holds job local-99 (the pipeline was submitted again since)"
    )
    gone = dataclasses.replace(job, runs_dir=str(tmp_path / "none"))
    assert submitted_settings(gone) == []
    assert str(settings_unknown(gone)).startswith(f"there is no run record {tmp_path}/none/")
    # A SLURM job's script is resubmitted as it was: nothing is unknown.
    assert submitted_settings(dataclasses.replace(job, executor="slurm")) == []
    assert settings_unknown(dataclasses.replace(job, executor="slurm")) is None


def test_an_unreadable_run_record_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "default" / "set_02" / "pipelines" / "teacher-teacher"
    folder.mkdir(parents=True)
    (folder / "pipeline.json").write_text("{not json")
    job = failed("gat", FailureType.PYTHON_EXCEPTION, pipeline="teacher", executor="local")
    job = dataclasses.replace(job, runs_dir=str(tmp_path))
    with pytest.raises(JobsError, match=r"pipeline\.json: the pipeline's run record"):
        submitted_settings(job)


def test_an_input_of_another_config_is_made_again_from_its_producer_on() -> None:
    """Each refused detector gets its own fix: the pipeline again from its producer under
    the failed stage's config (the refusal's --set items), the other way round named."""
    cause = cause_of("real_preflight_other_config")
    assert cause.type == FailureType.UPSTREAM_ARTIFACT_OF_ANOTHER_LINEAGE
    assert (cause.facts["artifact"], cause.facts["how"]) == ("vgae", "under another config")
    job = failed("fusion", cause, dataset="demo", pipeline="student")
    vgae, gat = suggest(dataclasses.replace(job, size="student"))
    assert [(s.fix_id, s.stage, s.config) for s in (vgae, gat)] == [
        ("remake-input", "vgae", {"train.seed": "1"}),
        ("remake-input", "gat", {"train.seed": "1"}),
    ]
    assert vgae.command == (
        "canids-submit pipeline student --dataset demo --size student --executor slurm "
        "--from-stage vgae --set train.seed=1"
    )
    assert vgae.description.endswith(
        "(or rerun fusion and what follows it with the values vgae was made under: "
        "--set train.seed=0)"
    )
    # Another size's artifact (a student's teacher), or no known pipeline: the refusal's
    # own canids-train command, as it names it.
    assert suggest(job)[0].config == {}
    vgae, _ = suggest(failed("fusion", cause, dataset="demo"))
    assert vgae.command.startswith("canids-train vgae --dataset demo --size student --runs-dir /")
    assert vgae.command.endswith(" --set train.seed=1")
    assert vgae.config == {}


def test_an_input_of_another_cache_build_is_made_again_on_this_one() -> None:
    cause = cause_of("real_preflight_other_cache_build")
    assert cause.facts["how"] == "on another build"
    job = dataclasses.replace(
        failed("fusion", cause, dataset="demo", pipeline="student"), size="student"
    )
    vgae, gat = suggest(job)
    assert [(s.fix_id, s.stage, s.config) for s in (vgae, gat)] == [
        ("remake-input", "vgae", {}),
        ("remake-input", "gat", {}),
    ]
    assert gat.command == (
        "canids-submit pipeline student --dataset demo --size student --executor slurm "
        "--from-stage gat"
    )
    assert "or rerun" not in gat.description
    # A refusal whose log names no command leaves a person to read it.
    (only,) = suggest(failed("fusion", FailureType.UPSTREAM_ARTIFACT_OF_ANOTHER_LINEAGE))
    assert (only.fix_id, only.command) == ("investigate", "")


def test_a_slurm_rerun_keeps_the_settings_its_script_ran_with(tmp_path: Path) -> None:
    script = tmp_path / "gat.sbatch"
    script.write_text(
        "#!/bin/bash\n#SBATCH --mem=16G\nset -euo pipefail\n"
        "exec /venv/bin/canids-train gat --dataset set_02 --size teacher --runs-dir /r "
        "--set train.seed=3 --workers 2\n"
    )
    job = failed("gat", cause_of("verbatim_oom_kill"), pipeline="teacher", script=str(script))
    (fix,) = suggest(job)
    assert fix.command.endswith("--stage-resources gat:mem=32G --set train.seed=3 --workers 2")
    assert settings_unknown(job) is None
    script.unlink()
    assert suggest(job)[0].command.endswith("--stage-resources gat:mem=32G")
    assert settings_unknown(job) == f"the job script {script} is gone"
    script.write_text("#!/bin/bash\n#SBATCH --mem=16G\n")
    assert settings_unknown(job) == f"the job script {script} has no exec canids-train line"
