"""``canids-jobs report`` as a library: the seed's folder as one page whose numbers are the
parser's, job times from what a folder or SLURM shows, and the remediations taken."""

from __future__ import annotations

import datetime as dt
import html
import re
from pathlib import Path

import pytest
from canids_core import StageReport, StageResult
from canids_jobs import (
    JobOutcome,
    LedgerJob,
    folder_resubmissions,
    job_window,
    ledger_resubmissions,
    parse_folder,
    render_jobs_report,
    summarize,
)
from canids_testkit import write_synthetic_outputs


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("seed")
    jobs = write_synthetic_outputs(folder, seed=0)
    return folder, jobs, parse_folder(folder)


def test_the_page_tells_started_against_completed(seed) -> None:
    _, _, summary = seed
    text = render_jobs_report(summary, title="seed", source="38 outputs")
    plain = html.unescape(text)
    assert (
        "38 jobs submitted, 37 started (97.4 %), 28 completed (73.7 %), 9 failed, 1 never ran"
        in plain
    )
    sections = re.findall(r'<section id="[^"]+" class="([^"]+)"', text)
    assert sections == ["completion", "gantt", "failures", "remediations"]
    assert text.count('<img src="data:image/png;base64,iVBORw0KGgo') == 3
    # The per-stage table is the parser's, row for row.
    for stage, counts in summary.by_stage.items():
        rate = f"{100 * counts.rate:.1f} %"
        assert f'<td>{stage}</td><td class="num">{counts.submitted}</td>' in text
        assert rate in text
    assert "No ledger: queue times are unknown." in plain


def test_job_times_come_from_the_folder(seed) -> None:
    _, jobs, summary = seed
    by_id = {j.job_id: j for j in summary.jobs}
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC).timestamp()
    for job in jobs:
        outcome = by_id[job.job_id]
        begin, end = job_window(outcome)
        assert end == pytest.approx(job.out.stat().st_mtime)
        assert start < end < start + 3 * 86400
        report = outcome.result.report
        if report is not None and report.wall_seconds is not None:
            assert begin == pytest.approx(end - report.wall_seconds)
        else:  # killed (no result line) or never ran: only the end is known
            assert begin is None


def test_reruns_in_a_folder_are_the_remediations_taken(seed) -> None:
    _, _, summary = seed
    found = {(r.stage, r.dataset, r.size): r for r in folder_resubmissions(summary)}
    gat = found[("gat", "set_04", "teacher")]
    assert (gat.cause, gat.outcome) == ("cuda_oom", "completed")
    fusion = found[("fusion", "set_04", "teacher")]
    assert (fusion.cause, fusion.outcome) == ("missing_upstream_artifact", "never ran")
    assert len(found) == 2


def _outcome(job_id: str, status: str, started: float, ended: float) -> JobOutcome:
    report = StageReport(
        stage="gat", dataset="d", size="teacher", status=status, wall_seconds=ended - started
    )
    result = StageResult(
        executor="slurm", stage="gat", dataset="d", size="teacher", job_id=job_id,
        exit_code=0 if status == "completed" else 1, scheduler_state="COMPLETED"
        if status == "completed" else "FAILED", report=report, done=status == "completed",
        started_at=started, ended_at=ended,
    )  # fmt: skip
    from canids_jobs import classify_result

    cause = None if result.succeeded else classify_result(result, "CUDA out of memory.")
    return JobOutcome(result, "canids-d-teacher-gat", cause, (), "gat", "d", "teacher")


def test_a_ledger_resubmission_names_its_fix_and_outcome() -> None:
    first = _outcome("101", "failed", 1000.0, 1600.0)
    second = _outcome("102", "completed", 2000.0, 2900.0)
    common = dict(
        pipeline_id="p", pipeline="teacher", dataset="d", size="teacher", stage="gat",
        script="s", output="o", parents=(), resources={}, runs_dir="/r", run="default",
    )  # fmt: skip
    jobs = [
        LedgerJob(job_id="101", submitted_at=900.0, **common),
        LedgerJob(job_id="102", submitted_at=1900.0, resubmit_of="101", remediation_id=7, **common),
    ]
    (resub,) = ledger_resubmissions(
        jobs, {"101": first, "102": second}, [{"id": 7, "fix_id": "halve-budget"}]
    )
    assert (resub.failed_job, resub.new_job, resub.fix, resub.outcome) == (
        "101", "102", "halve-budget", "completed",
    )  # fmt: skip
    assert resub.cause == str(first.cause.type)
    summary = summarize([second])
    text = render_jobs_report(
        summary, title="t", source="ledger", submitted_at={"101": 900.0, "102": 1900.0},
        resubmissions=[resub], attempts=[first, second],
    )  # fmt: skip
    assert "halve-budget" in text
    assert "No ledger" not in text
    assert job_window(first) == (1000.0, 1600.0)


def test_every_completed_folder_is_said_plainly(tmp_path: Path) -> None:
    only = _outcome("5", "completed", 0.0, 60.0)
    text = render_jobs_report(summarize([only]), title="t", source="s")
    assert "Every job completed." in text
    assert "None taken: no failed job was resubmitted." in text
