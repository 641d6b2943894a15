"""What really completed: the ledger joined with SLURM's records and each job's output,
one :class:`canids_core.StageResult` per job.

A job counts as completed only by the one success rule (``StageResult.succeeded``): SLURM
says COMPLETED, its exit code is 0, its ``CANIDS-STAGE-RESULT`` line says completed and
its artifact is DONE. SLURM's view comes from the controller while it still knows the
job, then ``sacct`` (or ``sacct -c``), and when neither knows the job any more (no
slurmdbd, past MinJobAge) from the output file alone; the report says which source each
job's state came from.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canids_core import StageResult, find_report

from .classification import classify_result
from .completion import stage_done
from .history import History
from .ledger import Ledger, LedgerJob
from .slurm import JobRecord, job_states
from .summary import JobOutcome

__all__ = ["JobStatus", "job_statuses", "record_outcomes", "slurm_stage_result"]


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


def _timestamp(text: str | None) -> float | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None  # "Unknown" and the like


def _ended_at(record: JobRecord | None, files: tuple[str, ...]) -> float:
    """When the job ended: SLURM's End, else its output's last write, else now (the
    history's hour-of-day counts must be the job's, not the time status ran)."""
    end = _timestamp(record.end) if record is not None else None
    if end is not None:
        return end
    mtimes = [Path(f).stat().st_mtime for f in files if Path(f).exists()]
    return max(mtimes) if mtimes else time.time()


def slurm_stage_result(
    job: LedgerJob, record: JobRecord | None, text: str, files: tuple[str, ...]
) -> StageResult:
    """What SLURM, the job's output and the artifact store say of one ended job."""
    started = bool(text.strip()) or bool(record is not None and record.start)
    if record is not None and record.state == "CANCELLED" and not record.nodelist:
        started = False  # cancelled while pending: it never ran
    # A job that never ran has SLURM's "0:0" but no exit code of its own.
    exit_code = record.exit_code if record is not None and started else None
    return StageResult(
        executor="slurm",
        stage=job.stage,
        dataset=job.dataset,
        size=job.size,
        run=job.run,
        pipeline=job.pipeline,
        job_id=job.job_id,
        node=record.nodelist if record is not None else None,
        exit_code=exit_code,
        signal=record.signal if exit_code is not None and record is not None else None,
        scheduler_state=record.state if record is not None else None,
        report=find_report(text),
        done=stage_done(job.runs_dir, job.run, job.dataset, job.size, job.stage),
        log=files[0] if started and files else None,
        started_at=_timestamp(record.start) if record is not None else None,
        ended_at=_ended_at(record, files),
    )


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
        result = slurm_stage_result(job, record, text, files)
        cause = None
        if not result.succeeded:
            reason = record.reason if record is not None else None
            if not result.started and job.parents and reason in (None, "None"):
                reason = "DependencyNeverSatisfied"  # killed with --kill-on-invalid-dep
            cause = classify_result(result, text, reason=reason)
            result = result.model_copy(update={"failure": cause.to_failure()})
        outcome = JobOutcome(
            result,
            f"canids-{job.dataset}-{job.size}-{job.stage}",
            cause,
            files,
            job.stage,
            job.dataset,
            job.size,
        )
        out.append(JobStatus(job, record, outcome))
    return out


def record_outcomes(
    history: History, statuses: Sequence[JobStatus], ledger: Ledger | None = None
) -> int:
    """Put finished jobs into the failure history (a later record of a job replaces the
    earlier one) and, given the ``ledger``, their stage results there; close the
    remediation loop for resubmitted jobs. Returns how many remediations were resolved."""
    resolved = 0
    for status in statuses:
        if status.outcome is None:
            continue
        history.record_job(status.outcome.to_event(pipeline_id=status.job.pipeline_id))
        if ledger is not None:
            ledger.record_result(status.job.job_id, status.outcome.result)
        resolved += history.resolve_by_job(status.job.job_id, status.outcome.completed)
    return resolved
