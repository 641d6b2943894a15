"""``canids-jobs report``: a set of submissions as one self-contained HTML page.

The jobs over time per stage (a Gantt-like chart: queue wait, run, outcome), the share
of jobs that started and that completed per stage (what the seed's team counted, 37/38 =
97.4 %, beside what really completed, 28/38 = 73.7 %), the failure classes per stage, and
the remediations taken. Every figure comes from the same :class:`ResultsSummary` that
``canids-jobs status`` and ``parse`` print, so the page and the tables cannot disagree.

matplotlib is imported only when a page is drawn (``canids-jobs status`` stays fast).
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from canids_core import HtmlPage

from .ledger import LedgerJob
from .summary import Counts, JobOutcome, ResultsSummary

__all__ = [
    "Resubmission",
    "folder_resubmissions",
    "job_window",
    "ledger_resubmissions",
    "render_jobs_report",
]

_OUTCOME_COLORS = {"completed": "tab:green", "never ran": "tab:gray"}
_CAUSE_COLORS = ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
_CAUSE_COLORS += ("tab:cyan", "gold", "darkred", "navy")


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


def job_window(job: JobOutcome) -> tuple[float | None, float | None]:
    """(start, end) of a job as unix times: SLURM's Start, else its end less the wall time
    of its result line; SLURM's End, else its output's last write."""
    result = job.result
    end = result.ended_at
    start = result.started_at
    if start is None and end is not None and result.report is not None:
        wall = result.report.wall_seconds
        start = end - wall if wall is not None else None
    return start, end


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
                    _verdict(new),
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
                _verdict(new) if new is not None else "pending",
            )
        )
    return found


def _verdict(job: JobOutcome) -> str:
    return "completed" if job.completed else "failed" if job.started else "never ran"


def _figure(width: float, height: float, **margins: float) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=90)
    fig.subplots_adjust(**{"left": 0.08, "right": 0.98, "top": 0.9, "bottom": 0.12, **margins})
    return fig, FigureCanvasAgg(fig)


def _png(canvas: Any) -> bytes:
    out = io.BytesIO()
    canvas.print_png(out)
    return out.getvalue()


def _cause_colors(summary: ResultsSummary) -> dict[str, str]:
    causes = sorted({str(j.cause.type) for j in summary.jobs if j.cause is not None})
    return {c: _CAUSE_COLORS[i % len(_CAUSE_COLORS)] for i, c in enumerate(causes)}


def completion_png(summary: ResultsSummary) -> bytes:
    """Per stage and for all jobs: started and completed as shares of the submitted."""
    groups: list[tuple[str, Counts]] = [*summary.by_stage.items(), ("all", summary.total)]
    fig, canvas = _figure(9, 4.2, bottom=0.14)
    ax = fig.add_subplot(1, 1, 1)
    xs = range(len(groups))
    for offset, what, color in ((-0.2, "started", "tab:gray"), (0.2, "completed", "tab:green")):
        shares = [100 * getattr(c, what) / c.submitted if c.submitted else 0 for _, c in groups]
        bars = ax.bar([x + offset for x in xs], shares, width=0.38, color=color, label=what)
        for bar, (_, c), share in zip(bars, groups, shares, strict=True):
            count = getattr(c, what)
            ax.text(
                bar.get_x() + bar.get_width() / 2,
                share + 1,
                f"{share:.1f} %\n{count}/{c.submitted}",
                ha="center",
                va="bottom",
                fontsize=8,
            )
    ax.set_xticks(list(xs), [name for name, _ in groups])
    ax.set_ylim(0, 122)
    ax.set_ylabel("% of submitted jobs")
    total = summary.total
    if total.submitted:
        started, done = (
            100 * total.started / total.submitted,
            100 * total.completed / total.submitted,
        )
        ax.set_title(
            f"started {started:.1f} % vs completed {done:.1f} % of {total.submitted} jobs "
            "(completed: exit 0, result line completed, artifact DONE)",
            fontsize=10,
        )
    ax.legend(loc="upper left", fontsize=8, ncols=2)
    return _png(canvas)


def gantt_png(
    summary: ResultsSummary, submitted_at: Mapping[str, float], attempts: Sequence[JobOutcome]
) -> bytes:
    """One row per job attempt, grouped by stage: the queue wait (thin), the run (a bar
    coloured by outcome or failure class), and a marker where only the end is known."""
    from matplotlib.patches import Patch

    order = list(summary.by_stage)
    jobs = sorted(
        attempts,
        key=lambda j: (
            order.index(j.stage or "?") if (j.stage or "?") in order else len(order),
            job_window(j)[1] or float("inf"),
        ),
    )
    times = [t for j in jobs for t in (*job_window(j), submitted_at.get(j.job_id or ""))]
    known = [t for t in times if t is not None]
    origin = min(known) if known else 0.0
    colors = _cause_colors(summary)
    for job in jobs:  # an earlier attempt may have failed otherwise than any latest one
        if job.cause is not None and str(job.cause.type) not in colors:
            colors[str(job.cause.type)] = _CAUSE_COLORS[len(colors) % len(_CAUSE_COLORS)]
    fig, canvas = _figure(
        12, 1.4 + 0.24 * len(jobs), left=0.22, top=1 - 0.5 / (1.4 + 0.24 * len(jobs))
    )
    ax = fig.add_subplot(1, 1, 1)
    labels = []
    for row, job in enumerate(jobs):
        start, end = job_window(job)
        queued = submitted_at.get(job.job_id or "")
        verdict = _verdict(job)
        color = _OUTCOME_COLORS.get(verdict) or colors.get(
            str(job.cause.type) if job.cause else "", "tab:red"
        )
        hours = [None if t is None else (t - origin) / 3600 for t in (queued, start, end)]
        q, s, e = hours
        if q is not None and (s or e) is not None:
            ax.plot([q, s if s is not None else e], [row, row], color="lightgray", linewidth=2)
        if s is not None and e is not None:
            ax.barh(row, max(e - s, 0.002), left=s, height=0.7, color=color)
        elif e is not None or q is not None:
            ax.plot(
                e if e is not None else q,
                row,
                marker="x" if verdict != "never ran" else "o",
                color=color,
            )
        labels.append(
            f"{job.stage or '?'} {job.dataset or '?'}/{job.size or '?'} {job.job_id or ''}"
        )
    ax.set_yticks(range(len(jobs)), labels, fontsize=7)
    ax.invert_yaxis()
    when = dt.datetime.fromtimestamp(origin, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    ax.set_xlabel(f"hours since {when}")
    ax.grid(axis="x", color="#eeeeee")
    legend = [
        Patch(color="tab:green", label="completed"),
        Patch(color="tab:gray", label="never ran"),
    ]
    legend += [Patch(color=c, label=cause) for cause, c in colors.items()]
    ax.legend(handles=legend, loc="lower right", fontsize=7)
    ax.set_title("jobs over time (grey line: queued; x: only the end is known)", fontsize=10)
    return _png(canvas)


def failures_png(summary: ResultsSummary) -> bytes:
    """Per stage, how many jobs failed of each class (never-ran jobs by their cause)."""
    colors = _cause_colors(summary)
    stages = list(summary.by_stage)
    height = 2.2 + 0.45 * len(stages)
    fig, canvas = _figure(9, height, left=0.16, bottom=0.9 / height, top=1 - 0.45 / height)
    ax = fig.add_subplot(1, 1, 1)
    left = [0] * len(stages)
    for cause, color in colors.items():
        counts = [
            sum(1 for j in summary.jobs if j.stage == s and j.cause and str(j.cause.type) == cause)
            for s in stages
        ]
        ax.barh(stages, counts, left=left, color=color, label=cause)
        left = [a + b for a, b in zip(left, counts, strict=True)]
    ax.invert_yaxis()
    ax.set_xlabel("jobs that did not complete")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("failure classes per stage", fontsize=10)
    return _png(canvas)


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
                    _verdict(j),
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
