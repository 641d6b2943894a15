"""What completed, per stage and per dataset: one table for people, JSON for machines.

Both the folder parser and the ledger-based status build a :class:`canids_core.StageResult`
per job, wrap it in a :class:`JobOutcome` and hand those to :func:`summarize`, so the two
report the same figures the same way, decided by the one success rule.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from canids_core import StageResult, format_table
from canids_models.catalog import STAGES

from .classification import Classification
from .history import JobEvent

__all__ = ["Counts", "JobOutcome", "ResultsSummary", "summarize"]


@dataclass(frozen=True)
class JobOutcome:
    """One submitted job: its :class:`StageResult` (what the executor saw, and so whether
    it completed), its name and files, and why it did not complete."""

    result: StageResult
    name: str
    cause: Classification | None = None  # None when completed
    files: tuple[str, ...] = ()
    # Folder mode may not know these (a file named slurm-123.out with no result line).
    stage: str | None = None
    dataset: str | None = None
    size: str | None = None

    @property
    def job_id(self) -> str | None:
        return self.result.job_id

    @property
    def node(self) -> str | None:
        return self.result.node

    @property
    def state(self) -> str | None:
        """SLURM's state, when known."""
        return self.result.scheduler_state

    @property
    def started(self) -> bool:
        return self.result.started

    @property
    def completed(self) -> bool:
        return self.result.succeeded

    @property
    def ended_at(self) -> float | None:
        """Unix time (folder mode: the output files' last write)."""
        return self.result.ended_at

    def to_event(self, *, at: float | None = None, pipeline_id: str | None = None) -> JobEvent:
        """This outcome as a record of the failure history."""
        when = at if at is not None else self.ended_at
        if self.job_id is None or when is None:
            raise ValueError(f"job {self.name!r}: the history needs a job id and an end time")
        return JobEvent(
            self.job_id,
            self.result.outcome,
            when,
            stage=self.stage,
            dataset=self.dataset,
            size=self.size,
            node=self.node,
            pipeline_id=pipeline_id,
            failure_type=None if self.cause is None else str(self.cause.type),
            detail="" if self.cause is None else self.cause.evidence_line,
            executor=self.result.executor,
            result=self.result.to_json(),
        )

    def to_json(self) -> dict[str, Any]:
        report = self.result.report
        return {
            "job_id": self.job_id,
            "name": self.name,
            "stage": self.stage,
            "dataset": self.dataset,
            "size": self.size,
            "node": self.node,
            "state": self.state,
            "started": self.started,
            "completed": self.completed,
            "cause": None if self.cause is None else self.cause.to_json(),
            "result": None if report is None else report.model_dump(mode="json"),
            "stage_result": self.result.to_json(),
            "files": list(self.files),
            "ended_at": self.ended_at,
        }


@dataclass
class Counts:
    submitted: int = 0
    started: int = 0
    completed: int = 0
    failed_by_cause: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        """Started but not completed."""
        return self.started - self.completed

    @property
    def never_ran(self) -> int:
        return self.submitted - self.started

    @property
    def rate(self) -> float | None:
        """Completed / submitted (the seed counted started jobs: that hid the failures)."""
        return self.completed / self.submitted if self.submitted else None

    def add(self, job: JobOutcome) -> None:
        self.submitted += 1
        self.started += job.started
        self.completed += job.completed
        if job.started and not job.completed:
            self.failed_by_cause[str(job.cause.type) if job.cause else "unknown"] += 1

    def causes_text(self) -> str:
        return ", ".join(f"{k} {n}" for k, n in _ranked(self.failed_by_cause)) or "-"

    def to_json(self) -> dict[str, Any]:
        rate = self.rate
        return {
            "submitted": self.submitted,
            "started": self.started,
            "completed": self.completed,
            "failed": self.failed,
            "never_ran": self.never_ran,
            "failed_by_cause": dict(_ranked(self.failed_by_cause)),
            "completed_rate": rate,
            "completed_percent": None if rate is None else round(100 * rate, 1),
        }


def _ranked(counter: Counter[str]) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


def _stage_key(stage: str) -> tuple[int, str]:
    order = list(STAGES)
    return (order.index(stage), stage) if stage in STAGES else (len(order), stage)


@dataclass
class ResultsSummary:
    total: Counts
    by_stage: dict[str, Counts]
    by_dataset: dict[str, Counts]
    jobs: list[JobOutcome]

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total.to_json(),
            "by_stage": {k: v.to_json() for k, v in self.by_stage.items()},
            "by_dataset": {k: v.to_json() for k, v in self.by_dataset.items()},
            "jobs": [j.to_json() for j in self.jobs],
        }

    def table(self) -> str:
        """Per stage, per dataset, then every job that did not complete."""
        parts = [
            _counts_table("stage", self.by_stage, self.total),
            _counts_table("dataset", self.by_dataset, self.total),
        ]
        bad = [j for j in self.jobs if not j.completed]
        if bad:
            rows = [
                [
                    j.job_id or "-",
                    j.stage or "?",
                    j.dataset or "?",
                    j.size or "?",
                    j.node or "-",
                    "failed" if j.started else "never ran",
                    str(j.cause.type) if j.cause else "-",
                    _clip(j.cause.evidence_line if j.cause else "", 72),
                ]
                for j in bad
            ]
            head = ["job", "stage", "dataset", "size", "node", "outcome", "cause", "evidence"]
            parts.append(format_table(head, rows))
        t = self.total
        percent = "n/a" if t.rate is None else f"{100 * t.rate:.1f} %"
        parts.append(
            f"completed {t.completed} of {t.submitted} submitted jobs ({percent}); "
            f"{t.started} started, {t.failed} failed, {t.never_ran} never ran"
        )
        return "\n\n".join(parts)


def _clip(text: str, width: int) -> str:
    text = text.removeprefix("- ").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _counts_table(label: str, groups: dict[str, Counts], total: Counts) -> str:
    head = [label, "submitted", "started", "completed", "failed", "never ran", "completed %"]
    rows = []
    for name, c in [*groups.items(), ("all", total)]:
        percent = "n/a" if c.rate is None else f"{100 * c.rate:.1f} %"
        causes = c.causes_text()
        rows.append(
            [name, c.submitted, c.started, c.completed, c.failed, c.never_ran, percent, causes]
        )
    return format_table([*head, "failed by cause"], rows)


def summarize(jobs: Iterable[JobOutcome]) -> ResultsSummary:
    """Aggregate per stage (catalogue order) and per dataset (sorted); ``?`` when unknown."""
    ordered = list(jobs)
    total = Counts()
    stages: dict[str, Counts] = {}
    datasets: dict[str, Counts] = {}
    for job in ordered:
        total.add(job)
        stages.setdefault(job.stage or "?", Counts()).add(job)
        datasets.setdefault(job.dataset or "?", Counts()).add(job)
    return ResultsSummary(
        total,
        dict(sorted(stages.items(), key=lambda kv: _stage_key(kv[0]))),
        dict(sorted(datasets.items())),
        ordered,
    )
