"""What SLURM says about jobs: one :class:`JobRecord` per job, from the controller while
it still knows the job, then accounting, then the job completion log (the commands are in
:mod:`canids_jobs.slurm_commands` and :mod:`canids_jobs.slurm_scontrol`, re-exported here).

Why the care about sources: without slurmdbd, the controller forgets a finished job after
``MinJobAge`` (300 s by default), so ``squeue``/``scontrol`` alone cannot say what
completed. Plain ``sacct`` needs accounting storage (slurmdbd); ``sacct -c`` reads the job
completion log (``JobCompType=jobcomp/filetxt``), which has State, ExitCode, Elapsed,
NodeList, Start and End but no Reason and no memory figures. :func:`job_states` asks the
controller first (its record is the job's current attempt), then accounting, then the
completion log, and keeps the latest attempt of a requeued job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from canids_core import SlurmFormatError, parse_slurm_time

from .errors import SlurmError
from .slurm_commands import (
    ACCOUNTING_FIELDS,
    COMPLETION_FIELDS,
    DEPENDENCY_TYPES,
    AccountingDisabledError,
    check_ids,
    sacct_accounting,
    sacct_completion,
    sbatch,
    scancel,
    squeue_ids,
)
from .slurm_scontrol import parse_scontrol, scontrol_all, scontrol_show_job

__all__ = [
    "ACCOUNTING_FIELDS",
    "COMPLETION_FIELDS",
    "DEPENDENCY_TYPES",
    "AccountingDisabledError",
    "JobRecord",
    "SlurmError",
    "TERMINAL_STATES",
    "job_states",
    "parse_duration",
    "parse_scontrol",
    "sacct_accounting",
    "sacct_completion",
    "sbatch",
    "scancel",
    "scontrol_show_job",
    "squeue_ids",
]

# States after which a job never changes again (REQUEUED is not one: it runs again).
TERMINAL_STATES: frozenset[str] = frozenset(
    {
        "BOOT_FAIL",
        "CANCELLED",
        "COMPLETED",
        "DEADLINE",
        "FAILED",
        "NODE_FAIL",
        "OUT_OF_MEMORY",
        "PREEMPTED",
        "REVOKED",
        "TIMEOUT",
    }
)


_UNSET = {"", "unknown", "none", "(null)", "n/a", "none assigned"}


def parse_duration(text: str) -> int | None:
    """A duration SLURM printed (Elapsed, RunTime, Timelimit) in seconds, by canids-core's
    one SLURM time parser; ``None`` for ``UNLIMITED``, ``INVALID`` or empty. (A zero
    duration reads 0, not "unlimited": only a bare ``0`` *limit* means that.)"""
    raw = text.strip()
    if not raw or raw.upper() in ("INVALID", "UNLIMITED", "INFINITE"):
        return None
    try:
        return parse_slurm_time(raw, allow_unlimited=True)
    except SlurmFormatError:
        return None


def _value(text: str | None) -> str | None:
    return None if text is None or text.strip().lower() in _UNSET else text.strip()


def _exit(text: str | None) -> tuple[int | None, int | None]:
    # "3:0" is exit status 3, signal 0; an OOM-killed job reads "0:125".
    match = re.match(r"^(\d+):(\d+)$", (text or "").strip())
    return (int(match[1]), int(match[2])) if match else (None, None)


@dataclass(frozen=True)
class JobRecord:
    """What SLURM says about one job (its latest attempt).

    ``state`` is the bare state (``CANCELLED by 0`` reads ``CANCELLED``); ``exit_code`` and
    ``signal`` come from ``ExitCode`` (``3:0``); ``elapsed`` is in seconds; ``start`` and
    ``end`` are SLURM's local ISO times (``None`` when unset); ``reason`` is the pending or
    failure reason (only scontrol and accounting have it); ``source`` is ``scontrol``,
    ``sacct`` or ``sacct-c``.
    """

    job_id: str
    name: str
    state: str
    exit_code: int | None
    signal: int | None
    elapsed: int | None
    nodelist: str | None
    start: str | None
    end: str | None
    reason: str | None
    source: str

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL_STATES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_scontrol(cls, record: Mapping[str, str]) -> JobRecord:
        exit_code, signal = _exit(record.get("ExitCode"))
        reason = _value(record.get("Reason"))
        return cls(
            job_id=record["JobId"],
            name=record.get("JobName", ""),
            state=record.get("JobState", "UNKNOWN").split()[0],
            exit_code=exit_code,
            signal=signal,
            elapsed=parse_duration(record.get("RunTime", "")),
            nodelist=_value(record.get("NodeList")),
            start=_value(record.get("StartTime")),
            end=_value(record.get("EndTime")),
            reason=None if reason == "None" else reason,
            source="scontrol",
        )

    @classmethod
    def from_sacct(cls, row: Mapping[str, str], source: str) -> JobRecord:
        exit_code, signal = _exit(row.get("ExitCode"))
        state = (row.get("State") or "UNKNOWN").split()
        return cls(
            job_id=row["JobID"],
            name=row.get("JobName", ""),
            state=state[0] if state else "UNKNOWN",
            exit_code=exit_code,
            signal=signal,
            elapsed=parse_duration(row.get("Elapsed", "")),
            nodelist=_value(row.get("NodeList")),
            start=_value(row.get("Start")),
            end=_value(row.get("End")),
            reason=_value(row.get("Reason")),
            source=source,
        )


def _latest(records: Sequence[JobRecord]) -> JobRecord:
    # Attempts of one job: the latest start wins, then the latest end, then log order.
    indexed = list(enumerate(records))
    return max(indexed, key=lambda ir: (ir[1].start or "", ir[1].end or "", ir[0]))[1]


def job_states(
    job_ids: Iterable[str],
    *,
    env: Mapping[str, str] | None = None,
    use_scontrol: bool = True,
    history: Literal["auto", "accounting", "completion"] = "auto",
) -> dict[str, JobRecord]:
    """The latest known record of each job in ``job_ids``; jobs that no source knows are
    absent from the result.

    The controller's record comes first while it still knows the job (it is the current
    attempt, and it has the pending reason, e.g. ``DependencyNeverSatisfied``). For the
    others, ``history`` picks ``sacct -X`` (slurmdbd), ``sacct -c`` (jobcomp), or
    ``auto``: accounting, and the completion log where accounting storage is disabled.
    Of several attempts of a requeued job, the latest is kept.
    """
    ids = check_ids(job_ids)
    out: dict[str, JobRecord] = {}
    if use_scontrol and ids:
        known = scontrol_all(env)
        for job_id in ids:
            if job_id in known:
                out[job_id] = JobRecord.from_scontrol(known[job_id])
    rest = [j for j in ids if j not in out]
    if not rest:
        return out
    rows: list[dict[str, str]]
    source = "sacct"
    if history in ("auto", "accounting"):
        try:
            rows = sacct_accounting(rest, env=env)
        except AccountingDisabledError:
            if history == "accounting":
                raise
            rows, source = sacct_completion(rest, env=env), "sacct-c"
    else:
        rows, source = sacct_completion(rest, env=env), "sacct-c"
    by_id: dict[str, list[JobRecord]] = {}
    for row in rows:
        record = JobRecord.from_sacct(row, source)
        by_id.setdefault(record.job_id, []).append(record)
    for job_id in rest:
        if job_id in by_id:
            out[job_id] = _latest(by_id[job_id])
    return out
