"""The one stage result of every executor, and the one rule that says it succeeded.

A stage (``canids-train STAGE``) ends by printing ``CANIDS-STAGE-RESULT {json}``: its own
:class:`StageReport`. The executor that ran it (local, Ray or SLURM) adds what only it
sees: the exit code or signal, the scheduler's state, the log, the node, and whether the
artifact's DONE record exists. That is a :class:`StageResult`, the record that
``pipeline.json``, the SLURM ledger, ``canids-jobs status`` and the failure history keep.

Success is :func:`stage_succeeded`: exit code 0 **and** the report says ``completed``
**and** DONE exists **and**, where a scheduler ran it, the scheduler says ``COMPLETED``.
An observer that cannot see one piece of evidence (a folder of SLURM output files has no
exit code) passes ``None`` for it: unknown is not counted against the stage, and the
result lists it under :attr:`StageResult.unverified`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from .errors import CoreError

__all__ = [
    "ATTEMPT_MARK",
    "RESULT_PREFIX",
    "STAGE_RESULT_VERSION",
    "FailureInfo",
    "StageReport",
    "StageResult",
    "find_report",
    "format_report",
    "parse_report",
    "stage_succeeded",
]

RESULT_PREFIX = "CANIDS-STAGE-RESULT "
# An executor that retries a stage into the same log starts each attempt with this line; a
# log is judged by its last attempt (the Ray executor writes it, the classifier reads it).
ATTEMPT_MARK = "=== canids ray attempt"
STAGE_RESULT_VERSION = 1
Executor = Literal["local", "ray", "slurm"]


class StageReport(BaseModel):
    """What a stage says of itself in its last output line."""

    # Reports come from other processes and other versions: keep what we do not know.
    model_config = ConfigDict(frozen=True, extra="allow")

    stage: str
    dataset: str
    size: str
    run: str = "default"
    status: Literal["completed", "failed"]
    metrics: dict[str, JsonValue] = Field(default_factory=dict)
    artifacts: dict[str, str] = Field(default_factory=dict)
    wall_seconds: float | None = None
    peak_memory: dict[str, int] | None = None
    error_type: str | None = None
    error: str | None = None
    last_frame: str | None = None


class FailureInfo(BaseModel):
    """Why a stage did not succeed: the failure class of the shared rule table
    (``canids_jobs.rules``) and the line that shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str
    detail: str
    evidence_line: str = ""
    rule: str = ""
    source: str | None = None
    facts: dict[str, str] = Field(default_factory=dict)


def stage_succeeded(
    exit_code: int | None,
    report: StageReport | None,
    done: bool | None,
    scheduler_state: str | None = None,
) -> bool:
    """The success rule of every executor (see the module docstring)."""
    if scheduler_state is not None and scheduler_state.split(" ")[0].rstrip("+") != "COMPLETED":
        return False
    if exit_code is not None and exit_code != 0:
        return False
    if report is None or report.status != "completed":
        return False
    return done is not False


class StageResult(BaseModel):
    """One stage run as its executor saw it. ``succeeded`` is derived, never stored apart."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1] = STAGE_RESULT_VERSION
    executor: Executor
    stage: str
    dataset: str
    size: str
    run: str = "default"
    pipeline: str | None = None
    job_id: str | None = None
    node: str | None = None
    exit_code: int | None = None
    signal: int | None = None
    scheduler_state: str | None = None
    report: StageReport | None = None
    done: bool | None = None
    log: str | None = None
    started_at: float | None = None  # unix time
    ended_at: float | None = None
    failure: FailureInfo | None = None

    @property
    def succeeded(self) -> bool:
        return stage_succeeded(self.exit_code, self.report, self.done, self.scheduler_state)

    @property
    def started(self) -> bool:
        """Whether the stage's process ever ran (a SLURM job may never start)."""
        return self.report is not None or self.exit_code is not None or self.log is not None

    @property
    def outcome(self) -> Literal["completed", "failed", "never_ran"]:
        if self.succeeded:
            return "completed"
        return "failed" if self.started else "never_ran"

    @property
    def unverified(self) -> list[str]:
        """The evidence this observer could not check."""
        missing = []
        if self.exit_code is None:
            missing.append("exit code")
        if self.done is None:
            missing.append("DONE record")
        if self.executor == "slurm" and self.scheduler_state is None:
            missing.append("SLURM state")
        return missing

    def why_not(self) -> str:
        """A one-line reason when it did not succeed ("" when it did)."""
        if self.succeeded:
            return ""
        if self.failure is not None:
            return f"{self.failure.type}: {self.failure.detail}"
        if self.scheduler_state is not None and not self.scheduler_state.startswith("COMPLETED"):
            return f"SLURM state {self.scheduler_state}"
        if self.signal:
            return f"killed by signal {self.signal} before it finished"
        if self.report is None:
            return "no CANIDS-STAGE-RESULT line (killed, or crashed before the end)"
        if self.report.status != "completed":
            return f"{self.report.error_type or 'failed'}: {self.report.error or 'no message'}"
        if self.exit_code not in (0, None):
            return f"exit code {self.exit_code} although the stage reported completed"
        return "the stage reported completed but its DONE record does not exist"

    def to_json(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        data["succeeded"] = self.succeeded
        data["outcome"] = self.outcome
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StageResult:
        body = {k: v for k, v in data.items() if k not in ("succeeded", "outcome")}
        try:
            return cls.model_validate(body)
        except ValidationError as exc:
            raise CoreError(
                f"not a canids stage result (version {STAGE_RESULT_VERSION}): {exc}"
            ) from exc


def format_report(report: StageReport | dict[str, Any]) -> str:
    """The result line a stage prints last."""
    data = report.model_dump(mode="json") if isinstance(report, StageReport) else report
    return RESULT_PREFIX + json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))


def parse_report(line: str) -> StageReport:
    """A result line → its report; :class:`CoreError` naming the problem otherwise."""
    if not line.startswith(RESULT_PREFIX):
        raise CoreError(f"not a stage result line: {line[:80]!r}")
    try:
        return StageReport.model_validate_json(line[len(RESULT_PREFIX) :])
    except ValidationError as exc:
        raise CoreError(f"malformed stage result line {line[:120]!r}: {exc}") from exc


def find_report(text: str) -> StageReport | None:
    """The last well-formed result line in a stage's output, or ``None``."""
    for line in reversed(text.splitlines()):
        if line.startswith(RESULT_PREFIX):
            try:
                return parse_report(line.rstrip("\r"))
            except CoreError:
                return None
    return None
