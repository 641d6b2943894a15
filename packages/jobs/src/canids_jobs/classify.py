"""Why a SLURM job failed: the first row of :data:`canids_jobs.rules.RULES` that matches.

Order: SLURM state, then log patterns, then artifact checks, else ``unknown``. The log is
cut to a requeued job's latest attempt, and the stage's result line is replaced by its
error text (which holds real newlines where the log's JSON has escapes).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canids_models.result_line import RESULT_PREFIX

from .completion import normalize_state
from .rules import RULES, Evidence, FailureType, Source

__all__ = ["Classification", "classify", "latest_attempt"]


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


_REQUEUE = re.compile(r"^.*CANCELLED AT \S+ DUE TO JOB REQUEUE.*$", re.MULTILINE)


def latest_attempt(text: str) -> str:
    """The output of a requeued job's last attempt (SLURM may append every attempt to one
    file): the text after the last requeue line, when anything was written after it."""
    marks = list(_REQUEUE.finditer(text))
    if marks and text[marks[-1].end() :].strip():
        return text[marks[-1].end() :]
    return text


def classify(
    state: str | None,
    exit_code: str | None,
    log_text: str,
    result: Mapping[str, Any] | None,
    artifacts_ok: bool | None,
    *,
    reason: str | None = None,
) -> Classification:
    """Classify a job that ended without completing (see :func:`is_completed`).

    ``state`` is SLURM's (``None`` when unknown, e.g. a folder of output files),
    ``exit_code`` sacct's ``EXIT:SIGNAL``, ``log_text`` the job's stdout and stderr,
    ``result`` its last ``CANIDS-STAGE-RESULT`` record and ``artifacts_ok`` whether its
    artifacts are done (``None``: not checked); ``reason`` SLURM's pending/failure reason
    when the caller has it apart from the state. The first rule that matches decides.
    """
    name, state_reason = normalize_state(state)
    reason = " ".join(filter(None, (state_reason, reason)))
    text = "\n".join(
        ln for ln in latest_attempt(log_text).splitlines() if not ln.startswith(RESULT_PREFIX)
    )
    if result and result.get("error"):
        # The record's error holds the message with real newlines (the log may not).
        text += "\n" + str(result["error"])
    ev = Evidence(name, reason, exit_code, text, result, artifacts_ok)
    for rule in RULES:
        hit = rule.apply(ev)
        if hit is not None:
            detail = hit.detail or rule.explanation
            return Classification(
                rule.type, detail, hit.evidence_line, rule.name, rule.source, hit.facts
            )
    line = f"SLURM state {name or '?'}, exit code {exit_code or '?'}"
    return Classification(FailureType.UNKNOWN, "no rule matched; read the job's output", line)
