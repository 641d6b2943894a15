"""``canids-jobs report``: a set of submissions as one self-contained HTML page.

The jobs over time per stage (a Gantt-like chart: queue wait, run, outcome), the share
of jobs that started and that completed per stage (what the seed's team counted, 37/38 =
97.4 %, beside what really completed, 28/38 = 73.7 %), the failure classes per stage, and
the remediations taken. Every figure comes from the same :class:`ResultsSummary` that
``canids-jobs status`` and ``parse`` print, so the page and the tables cannot disagree.

matplotlib is imported only when a page is drawn (``canids-jobs status`` stays fast).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canids_core import HtmlPage

from .jobs_figures import completion_png, failures_png, gantt_png, job_window, outcome_label
from .ledger import LedgerJob
from .summary import JobOutcome, ResultsSummary

__all__ = [
    "Resubmission",
    "folder_resubmissions",
    "job_window",
    "ledger_resubmissions",
    "render_jobs_report",
]


@dataclass(frozen=True)
class Resubmission:
    """A failed job and the job run again in its place (with the fix applied, if any)."""

    failed_job: str
    stage: str
    dataset: str
    size: str
    cause: str
    fix: str  # the remediation's fix id, or how the rerun was found
    new_job: str | None
    outcome: str  # the new job's: completed, failed, never ran, pending


def folder_resubmissions(summary: ResultsSummary) -> list[Resubmission]:
    """Reruns in a folder without a history: a later job of the same stage, dataset and
    size as a failed one (the folder cannot say which fix it had)."""
    found = []
    for i, job in enumerate(summary.jobs):
        if job.completed or not job.started:
            continue
        later = [
            j
            for j in summary.jobs[i + 1 :]
            if (j.stage, j.dataset, j.size) == (job.stage, job.dataset, job.size)
        ]
        if later:
            new = later[0]
            found.append(
                Resubmission(
                    job.job_id or "?",
                    job.stage or "?",
                    job.dataset or "?",
                    job.size or "?",
                    str(job.cause.type) if job.cause else "unknown",
                    "rerun (seen in the folder)",
                    new.job_id,
                    outcome_label(new),
                )
            )
    return found


def ledger_resubmissions(
    jobs: Sequence[LedgerJob],
    outcomes: Mapping[str, JobOutcome],
    remediations: Sequence[Mapping[str, Any]],
) -> list[Resubmission]:
    """Resubmissions the ledger holds (``canids-jobs resubmit``): the failed job, the fix
    of its remediation (the failure history's), and the new job's outcome so far."""
    fixes = {int(r["id"]): str(r["fix_id"]) for r in remediations}
    found = []
    for job in jobs:
        if job.resubmit_of is None:
            continue
        failed, new = outcomes.get(job.resubmit_of), outcomes.get(job.job_id)
        fix = fixes.get(job.remediation_id, "resubmitted") if job.remediation_id else "resubmitted"
        found.append(
            Resubmission(
                job.resubmit_of,
                job.stage,
                job.dataset,
                job.size,
                str(failed.cause.type) if failed is not None and failed.cause else "unknown",
                fix,
                job.job_id,
                outcome_label(new) if new is not None else "pending",
            )
        )
    return found


def render_jobs_report(
    summary: ResultsSummary,
    *,
    title: str,
    source: str,
    submitted_at: Mapping[str, float] | None = None,
    resubmissions: Sequence[Resubmission] = (),
    attempts: Sequence[JobOutcome] | None = None,
) -> str:
    """The page: completion per stage, jobs over time, failure classes, remediations.
    ``attempts``: every job to draw over time (default: the summary's; a ledger's
    summary counts a resubmitted job by its latest attempt, the chart shows both)."""
    page = HtmlPage(title, subtitle=source)
    t = summary.total
    percent = "n/a" if t.rate is None else f"{100 * t.rate:.1f} %"
    started = "n/a" if not t.submitted else f"{100 * t.started / t.submitted:.1f} %"
    sec = page.section("Completion", kind="completion")
    sec.paragraph(
        f"{t.submitted} jobs submitted, {t.started} started ({started}), {t.completed} "
        f"completed ({percent}), {t.failed} failed, {t.never_ran} never ran. A job completed "
        "only when it exited 0, its CANIDS-STAGE-RESULT line says completed and its artifact "
        "is DONE (and SLURM agrees where it still knows the job); counting started jobs "
        "hides every failure after the start."
    )
    sec.image(completion_png(summary), alt="started and completed jobs per stage")
    head = ["stage", "submitted", "started", "completed", "failed", "never ran", "completed %"]
    rows = [
        [
            name,
            c.submitted,
            c.started,
            c.completed,
            c.failed,
            c.never_ran,
            "n/a" if c.rate is None else f"{100 * c.rate:.1f} %",
            c.causes_text(),
        ]
        for name, c in [*summary.by_stage.items(), ("all", t)]
    ]
    sec.table([*head, "failed by cause"], rows)
    sec = page.section("Jobs over time", kind="gantt")
    if not submitted_at:
        sec.paragraph(
            "No ledger: queue times are unknown. A job's start is SLURM's, else its end less "
            "its result line's wall time; a job whose output has no result line (killed) "
            "shows its end only.",
            note=True,
        )
    timeline = summary.jobs if attempts is None else attempts
    sec.image(gantt_png(summary, submitted_at or {}, timeline), alt="jobs over time per stage")
    sec = page.section("Failure classes", kind="failures")
    bad = [j for j in summary.jobs if not j.completed]
    if bad:
        sec.image(failures_png(summary), alt="failure classes per stage")
        sec.table(
            ["job", "stage", "dataset", "size", "node", "outcome", "cause", "evidence"],
            [
                [
                    j.job_id or "-",
                    j.stage or "?",
                    j.dataset or "?",
                    j.size or "?",
                    j.node or "-",
                    outcome_label(j),
                    str(j.cause.type) if j.cause else "-",
                    j.cause.evidence_line if j.cause else "",
                ]
                for j in bad
            ],
        )
    else:
        sec.paragraph("Every job completed.")
    sec = page.section("Remediations taken", kind="remediations")
    if resubmissions:
        sec.table(
            [
                "failed job",
                "stage",
                "dataset",
                "size",
                "cause",
                "fix",
                "new job",
                "new job's outcome",
            ],
            [
                [
                    r.failed_job,
                    r.stage,
                    r.dataset,
                    r.size,
                    r.cause,
                    r.fix,
                    r.new_job or "-",
                    r.outcome,
                ]
                for r in resubmissions
            ],
        )
    else:
        sec.paragraph("None taken: no failed job was resubmitted.")
    return page.render()
