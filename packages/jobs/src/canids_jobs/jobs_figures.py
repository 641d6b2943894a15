"""The figures of ``canids-jobs report``: started and completed jobs per stage, the jobs
over time (queue wait, run, outcome) and the failure classes per stage, each a PNG drawn
from a :class:`ResultsSummary`. matplotlib is imported only when a figure is drawn."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence
from typing import Any

from .summary import Counts, JobOutcome, ResultsSummary

__all__ = ["completion_png", "failures_png", "gantt_png", "job_window", "outcome_label"]

_OUTCOME_COLORS = {"completed": "tab:green", "never ran": "tab:gray"}
_CAUSE_COLORS = ("tab:red", "tab:orange", "tab:purple", "tab:brown", "tab:pink", "tab:olive")
_CAUSE_COLORS += ("tab:cyan", "gold", "darkred", "navy")


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


def outcome_label(job: JobOutcome) -> str:
    """completed, failed (it started) or never ran."""
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
        verdict = outcome_label(job)
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
