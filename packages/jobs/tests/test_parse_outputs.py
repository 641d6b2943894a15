"""The folder parser on the seed's case (38 synthetic outputs) and on real canids-train logs;
the completion rule it shares with the ledger-based status."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import pytest
from canids_core import StageReport, StageResult
from canids_jobs.completion import artifacts_exist
from canids_jobs.errors import JobsError, OutputsError
from canids_jobs.parse_outputs import discover_outputs, parse_folder, parse_job_name
from canids_jobs.rules import FailureType
from canids_models.artifacts import ArtifactStore
from canids_testkit import write_synthetic_outputs

LOGS = Path(__file__).parent / "logs"

STAGE_TABLE = """\
stage   submitted  started  completed  failed  never ran  completed %  failed by cause
------  ---------  -------  ---------  ------  ---------  -----------  --------------------------------------------------------------
vgae           12       12         11       1          0       91.7 %  host_oom 1
gat            13       13         12       1          0       92.3 %  cuda_oom 1
fusion         13       12          5       7          1       38.5 %  missing_upstream_artifact 3, timeout 2, cuda_oom 1, host_oom 1
all            38       37         28       9          1       73.7 %  missing_upstream_artifact 3, cuda_oom 2, host_oom 2, timeout 2"""  # noqa: E501

DATASET_TABLE = """\
dataset  submitted  started  completed  failed  never ran  completed %  failed by cause
-------  ---------  -------  ---------  ------  ---------  -----------  --------------------------------------------------------------
hcrl_ch          6        6          6       0          0      100.0 %  -
hcrl_sa          6        6          6       0          0      100.0 %  -
set_01           6        6          5       1          0       83.3 %  timeout 1
set_02           6        6          4       2          0       66.7 %  cuda_oom 1, timeout 1
set_03           6        6          3       3          0       50.0 %  host_oom 2, missing_upstream_artifact 1
set_04           8        7          4       3          1       50.0 %  missing_upstream_artifact 2, cuda_oom 1
all             38       37         28       9          1       73.7 %  missing_upstream_artifact 3, cuda_oom 2, host_oom 2, timeout 2"""  # noqa: E501


@pytest.fixture(scope="module")
def seed_case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list]:
    folder = tmp_path_factory.mktemp("outputs")
    return folder, write_synthetic_outputs(folder, seed=0)


def test_seed_case_is_28_of_38(seed_case: tuple[Path, list]) -> None:
    folder = seed_case[0]
    assert len(list(folder.iterdir())) == 76  # .out and .err of 38 jobs
    summary = parse_folder(folder)
    t = summary.total
    assert (t.submitted, t.started, t.completed, t.failed, t.never_ran) == (38, 37, 28, 9, 1)
    assert t.rate == pytest.approx(28 / 38)
    assert f"{100 * t.rate:.1f} %" == "73.7 %"
    assert {s: c.submitted for s, c in summary.by_stage.items()} == {
        "vgae": 12,
        "gat": 13,
        "fusion": 13,
    }
    assert (summary.by_stage["fusion"].completed, summary.by_stage["fusion"].submitted) == (5, 13)


def test_seed_case_tables(seed_case: tuple[Path, list]) -> None:
    text = parse_folder(seed_case[0]).table()
    sections = text.split("\n\n")
    assert sections[0] == STAGE_TABLE
    assert sections[1] == DATASET_TABLE
    assert sections[-1] == (
        "completed 28 of 38 submitted jobs (73.7 %); 37 started, 9 failed, 1 never ran"
    )
    assert len(sections[2].splitlines()) == 2 + 10  # header, rule, every job not completed


def test_same_figures_for_another_seed(tmp_path: Path) -> None:
    write_synthetic_outputs(tmp_path, seed=7)
    assert parse_folder(tmp_path).table().split("\n\n")[:2] == [STAGE_TABLE, DATASET_TABLE]


def test_every_job_gets_the_cause_it_was_written_with(seed_case: tuple[Path, list]) -> None:
    folder, written = seed_case
    parsed = {j.job_id: j for j in parse_folder(folder).jobs}
    assert len(parsed) == len(written) == 38
    for w in written:
        p = parsed[w.job_id]
        assert (p.stage, p.dataset, p.size) == (w.stage, w.dataset, w.size), w
        if w.outcome == "completed":
            assert p.completed
            assert p.cause is None
        elif w.outcome == "never_ran":
            assert not p.started
            assert p.cause is not None
            assert p.cause.type == FailureType.DEPENDENCY_NEVER_SATISFIED
        else:
            assert p.started
            assert not p.completed
            assert p.cause is not None
            assert str(p.cause.type) == w.outcome
        assert p.node == (None if w.outcome == "never_ran" else w.node)


def test_stage_from_the_result_line_when_the_name_has_none(seed_case: tuple[Path, list]) -> None:
    folder, written = seed_case
    rerun = next(w for w in written if w.name == "gat-rerun")
    assert rerun.out.name == f"gat-rerun_{rerun.job_id}.out"
    job = next(j for j in parse_folder(folder).jobs if j.job_id == rerun.job_id)
    assert (job.name, job.stage, job.dataset, job.size) == ("gat-rerun", "gat", "set_04", "teacher")


def test_json(seed_case: tuple[Path, list]) -> None:
    data = json.loads(json.dumps(parse_folder(seed_case[0]).to_json()))
    assert data["total"] == {
        "submitted": 38,
        "started": 37,
        "completed": 28,
        "failed": 9,
        "never_ran": 1,
        "failed_by_cause": {
            "missing_upstream_artifact": 3,
            "cuda_oom": 2,
            "host_oom": 2,
            "timeout": 2,
        },
        "completed_rate": pytest.approx(28 / 38),
        "completed_percent": 73.7,
    }
    assert data["by_stage"]["fusion"]["failed_by_cause"]["timeout"] == 2
    assert len(data["jobs"]) == 38
    never = [j for j in data["jobs"] if not j["started"]]
    assert [j["cause"]["type"] for j in never] == ["dependency_never_satisfied"]


def test_artifacts_root_turns_missing_artifacts_into_failures(
    seed_case: tuple[Path, list], tmp_path: Path
) -> None:
    folder = seed_case[0]
    store = ArtifactStore(tmp_path, "default")
    # Only one stage's artifact was copied to this machine.
    store.begin("hcrl_ch", "teacher", "vgae")
    store.finish("hcrl_ch", "teacher", "vgae", {})
    summary = parse_folder(folder, artifacts_root=tmp_path)
    assert summary.total.completed == 1
    assert summary.total.failed_by_cause["artifacts_missing"] == 27
    done = [j for j in summary.jobs if j.completed]
    assert [(j.stage, j.dataset, j.size) for j in done] == [("vgae", "hcrl_ch", "teacher")]


def test_real_canids_train_output(tmp_path: Path) -> None:
    for ext in ("out", "err"):
        shutil.copy(
            LOGS / f"real_vgae_completed.{ext}", tmp_path / f"canids-demo-student-vgae-7.{ext}"
        )
        shutil.copy(
            LOGS / f"real_preflight_missing_artifact.{ext}",
            tmp_path / f"canids-demo-teacher-fusion-8.{ext}",
        )
    summary = parse_folder(tmp_path)
    ok, bad = summary.jobs
    assert (ok.job_id, ok.stage, ok.completed) == ("7", "vgae", True)
    assert (bad.job_id, bad.stage, bad.completed) == ("8", "fusion", False)
    assert bad.cause is not None
    assert bad.cause.type == FailureType.MISSING_UPSTREAM_ARTIFACT
    assert summary.total.rate == 0.5


@pytest.mark.parametrize(
    ("state", "status", "artifacts", "completed"),
    [
        (None, "completed", None, True),  # folder mode: no state
        ("COMPLETED", "completed", True, True),
        ("COMPLETED", "completed", None, True),
        ("COMPLETED", None, None, False),  # trapped SIGTERM, exit 0, no record
        ("COMPLETED", "failed", True, False),
        ("COMPLETED", "completed", False, False),  # record says so, artifact is not there
        ("TIMEOUT", "completed", True, False),
        ("CANCELLED by 0", "completed", True, False),
        ("RUNNING", None, None, False),
    ],
)
def test_completion_rule(
    state: str | None, status: str | None, artifacts: bool | None, completed: bool
) -> None:
    # The one rule (canids_core.stage_succeeded) on what a SLURM observer can see.
    report = None
    if status is not None:
        report = StageReport(stage="gat", dataset="demo", size="teacher", status=status)
    result = StageResult(
        executor="slurm",
        stage="gat",
        dataset="demo",
        size="teacher",
        scheduler_state=state,
        report=report,
        done=artifacts,
    )
    assert result.succeeded is completed


def test_artifacts_exist_refuses_unsafe_names(tmp_path: Path) -> None:
    record = {"stage": "vgae", "dataset": "../../etc", "size": "teacher", "run": "default"}
    assert artifacts_exist(record, tmp_path) is False
    assert artifacts_exist({"stage": "nope"}, tmp_path) is False


def test_file_names(tmp_path: Path) -> None:
    for name in (
        "canids-set_01-teacher-gat_curriculum-99.out",
        "canids-set_01-teacher-gat_curriculum-99.err",
        "slurm-123.out",
        "train_45_3.out",
        "17.err",
        "notes.out",
        "README.txt",
    ):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "sub.out").mkdir()
    found = [
        (j.job_id, j.name, j.out is not None, j.err is not None) for j in discover_outputs(tmp_path)
    ]
    assert found == [
        ("17", "", False, True),
        ("45_3", "train", True, False),
        ("99", "canids-set_01-teacher-gat_curriculum", True, True),
        ("123", "slurm", True, False),
        (None, "notes", True, False),
    ]
    assert parse_job_name("canids-set_01-teacher-gat_curriculum") == (
        "set_01",
        "teacher",
        "gat_curriculum",
    )
    assert parse_job_name("canids-my-data-student-fusion") == ("my-data", "student", "fusion")
    assert parse_job_name("slurm") == (None, None, None)


def test_missing_folder_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(OutputsError, match="not a folder of SLURM output files") as info:
        parse_folder(tmp_path / "nope")
    assert isinstance(info.value, JobsError)
    assert isinstance(info.value, ValueError)


def test_outcomes_become_history_events(seed_case: tuple[Path, list]) -> None:
    jobs = parse_folder(seed_case[0]).jobs
    events = {e.job_id: e for e in (j.to_event() for j in jobs)}
    assert sorted(e.outcome for e in events.values()).count("completed") == 28
    never = [e for e in events.values() if e.outcome == "never_ran"]
    assert [(e.stage, e.failure_type, e.node) for e in never] == [
        ("fusion", "dependency_never_satisfied", None)
    ]
    assert all(e.at > 0 for e in events.values())  # the files' last write
    nameless = jobs[0].result.model_copy(update={"job_id": None})
    with pytest.raises(ValueError, match="needs a job id"):
        dataclasses.replace(jobs[0], result=nameless).to_event()
