"""Why a stage failed, on any executor: the first row of :data:`canids_jobs.rules.RULES`
that matches.

Order: the executor's verdict (SLURM state, or the signal of a local or Ray process), then
log patterns, then artifact checks, else ``unknown``. The log is cut to the latest attempt
(a requeued SLURM job, a retried Ray task), and the stage's result line is replaced by its
error text (which holds real newlines where the log's JSON has escapes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canids_core import RESULT_PREFIX, FailureInfo, StageReport, StageResult
from canids_core.stage_result import ATTEMPT_MARK

from .completion import normalize_state
from .rules import RULES, Evidence, FailureType, Source

__all__ = ["Classification", "classify", "classify_result", "exit_text", "latest_attempt"]


@dataclass(frozen=True)
class Classification:
    type: FailureType
    detail: str
    evidence_line: str
    rule: str = ""
    source: Source | None = None
    facts: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "type": str(self.type),
            "detail": self.detail,
            "evidence_line": self.evidence_line,
            "rule": self.rule,
            "source": None if self.source is None else str(self.source),
            "facts": dict(self.facts),
        }

    def to_failure(self) -> FailureInfo:
        """As the ``failure`` of a :class:`canids_core.StageResult`."""
        return FailureInfo.model_validate(self.to_json())

    @classmethod
    def from_failure(cls, info: FailureInfo) -> Classification:
        return cls(
            FailureType(info.type),
            info.detail,
            info.evidence_line,
            info.rule,
            Source(info.source) if info.source else None,
            dict(info.facts),
        )


_REQUEUE = re.compile(r"^.*CANCELLED AT \S+ DUE TO JOB REQUEUE.*$", re.MULTILINE)


def latest_attempt(text: str) -> str:
    """The output of the last attempt when several were written to one file: after the last
    SLURM requeue line (when anything was written after it), and after the last line that
    starts a retried attempt (``ATTEMPT_MARK``)."""
    marks = list(_REQUEUE.finditer(text))
    if marks and text[marks[-1].end() :].strip():
        text = text[marks[-1].end() :]
    at = text.rfind("\n" + ATTEMPT_MARK)
    return text[at + 1 :] if at >= 0 else text


def exit_text(exit_code: int | None, signal: int | None) -> str | None:
    """sacct's ``EXIT:SIGNAL`` for an exit code and signal: a process a signal killed reads
    ``0:N``, as SLURM writes a batch script a signal killed (``None``: nothing known)."""
    if exit_code is None and signal is None:
        return None
    if signal:
        return f"0:{signal}"
    return f"{exit_code}:0"


def classify(
    state: str | None,
    exit_code: str | None,
    log_text: str,
    result: StageReport | Mapping[str, Any] | None,
    artifacts_ok: bool | None,
    *,
    reason: str | None = None,
    executor: str | None = None,
) -> Classification:
    """Classify a stage run that ended without succeeding (see
    :func:`canids_core.stage_succeeded`).

    ``state`` is SLURM's (``None`` when unknown or when no scheduler ran it),
    ``exit_code`` sacct's ``EXIT:SIGNAL``, ``log_text`` the run's stdout and stderr,
    ``result`` its last ``CANIDS-STAGE-RESULT`` record and ``artifacts_ok`` whether its
    artifact is done (``None``: not checked); ``reason`` SLURM's pending/failure reason
    when the caller has it apart from the state; ``executor`` ``local``, ``ray`` or
    ``slurm`` (``None``: a folder of SLURM outputs). The first rule that matches decides.
    """
    name, state_reason = normalize_state(state)
    reason = " ".join(filter(None, (state_reason, reason)))
    record = result.model_dump() if isinstance(result, StageReport) else result
    text = "\n".join(
        ln for ln in latest_attempt(log_text).splitlines() if not ln.startswith(RESULT_PREFIX)
    )
    if record and record.get("error"):
        # The record's error holds the message with real newlines (the log may not).
        text += "\n" + str(record["error"])
    ev = Evidence(name, reason, exit_code, text, record, artifacts_ok, executor)
    for rule in RULES:
        hit = rule.apply(ev)
        if hit is not None:
            detail = hit.detail or rule.explanation
            return Classification(
                rule.type, detail, hit.evidence_line, rule.name, rule.source, hit.facts
            )
    where = f"SLURM state {name or '?'}" if executor in (None, "slurm") else f"{executor} stage"
    line = f"{where}, exit code {exit_code or '?'}"
    return Classification(FailureType.UNKNOWN, "no rule matched; read the job's output", line)


def classify_result(
    result: StageResult, log_text: str | None = None, *, reason: str | None = None
) -> Classification:
    """Classify a stage run from what its executor recorded: the exit code or signal, the
    scheduler's state, the report, the DONE record, and its log (read from
    ``result.log`` unless ``log_text`` is given)."""
    if log_text is None:
        log_text = ""
        if result.log is not None and Path(result.log).is_file():
            log_text = Path(result.log).read_text(encoding="utf-8", errors="replace")
    return classify(
        result.scheduler_state,
        exit_text(result.exit_code, result.signal),
        log_text,
        result.report,
        result.done,
        reason=reason,
        executor=result.executor,
    )
