"""What really completed: the ledger joined with SLURM's records and each job's output.

A job counts as completed only when SLURM says COMPLETED, its ``CANIDS-STAGE-RESULT``
line says completed and its artifact is DONE (:func:`is_completed`). SLURM's view comes
from the controller while it still knows the job, then ``sacct`` (or ``sacct -c``), and
when neither knows the job any more (no slurmdbd, past MinJobAge) from the output file
alone, and the report says which source each job's state came from.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canids_models import find_result

from .classify import classify
from .completion import artifacts_exist, is_completed
from .history import History
from .ledger import LedgerJob
from .slurm import JobRecord, job_states
from .summary import JobOutcome

__all__ = ["JobStatus", "job_statuses", "record_outcomes"]


@dataclass(frozen=True)
class JobStatus:
    job: LedgerJob
    record: JobRecord | None
    outcome: JobOutcome | None  # None while the job is pending or running

    @property
    def state(self) -> str:
        if self.record is not None:
            return self.record.state
        return "UNKNOWN (forgotten by SLURM; judged from its output)"

    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job.job_id,
            "pipeline_id": self.job.pipeline_id,
            "stage": self.job.stage,
            "dataset": self.job.dataset,
            "size": self.job.size,
            "parents": list(self.job.parents),
            "slurm": None if self.record is None else self.record.to_dict(),
            "outcome": None if self.outcome is None else self.outcome.to_json(),
        }


def _text(job: LedgerJob) -> tuple[str, tuple[str, ...]]:
    parts, names = [], []
    for path in job.output_files():
        if path.is_file():
            parts.append(path.read_text(errors="replace"))
            names.append(str(path))
    return "\n".join(parts), tuple(names)


def _ended_at(record: JobRecord | None, files: tuple[str, ...]) -> float:
    """When the job ended: SLURM's End, else its output's last write, else now (the
    history's hour-of-day counts must be the job's, not the time status ran)."""
    if record is not None and record.end:
        try:
            return dt.datetime.fromisoformat(record.end).timestamp()
        except ValueError:
            pass  # "Unknown" and the like: fall through to the files
    mtimes = [Path(f).stat().st_mtime for f in files if Path(f).exists()]
    return max(mtimes) if mtimes else time.time()


def job_statuses(
    jobs: Sequence[LedgerJob], *, env: Mapping[str, str] | None = None
) -> list[JobStatus]:
    records = job_states([j.job_id for j in jobs], env=env) if jobs else {}
    out = []
    for job in jobs:
        record = records.get(job.job_id)
        text, files = _text(job)
        if record is not None and not record.finished:
            out.append(JobStatus(job, record, None))
            continue
        result = find_result(text)
        done = None
        if result is not None and result.get("status") == "completed":
            done = artifacts_exist(result, job.runs_dir)
        state = record.state if record is not None else None
        completed = is_completed(state, result, done) and (record is not None or bool(text))
        started = bool(text.strip()) or bool(record is not None and record.start)
        if record is not None and record.state == "CANCELLED" and not record.nodelist:
            started = False  # cancelled while pending: it never ran
        cause = None
        if not completed:
            exit_code = None
            if record is not None and record.exit_code is not None:
                exit_code = f"{record.exit_code}:{record.signal or 0}"
            reason = record.reason if record is not None else None
            if not started and job.parents and reason in (None, "None"):
                reason = "DependencyNeverSatisfied"  # killed with --kill-on-invalid-dep
            cause = classify(state, exit_code, text, result, done, reason=reason)
        outcome = JobOutcome(
            job_id=job.job_id,
            name=f"canids-{job.dataset}-{job.size}-{job.stage}",
            stage=job.stage,
            dataset=job.dataset,
            size=job.size,
            started=started,
            completed=completed,
            cause=cause,
            node=record.nodelist if record is not None else None,
            state=state,
            result=result,
            files=files,
            ended_at=_ended_at(record, files),
        )
        out.append(JobStatus(job, record, outcome))
    return out


def record_outcomes(history: History, statuses: Sequence[JobStatus]) -> int:
    """Put finished jobs into the failure history (a later record of a job replaces the
    earlier one) and close the remediation loop for resubmitted jobs; returns how many
    remediations were resolved."""
    resolved = 0
    for status in statuses:
        if status.outcome is None:
            continue
        history.record_job(status.outcome.to_event(pipeline_id=status.job.pipeline_id))
        resolved += history.resolve_by_job(status.job.job_id, status.outcome.completed)
    return resolved
