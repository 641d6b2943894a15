"""The run record (``pipeline.json``): one per pipeline run, rewritten atomically as
stages start and finish, so a crashed driver still leaves an exact account.

Each stage that ran keeps its :class:`canids_core.StageResult` (``stage_result``: exit
code, signal, report, DONE, log, node, job id, start and end, failure class), and its
``status`` follows from it by the one success rule. The older keys (``returncode``,
``result``, ``seconds``, ``node``, ``started``, ``finished``) stay for readers of
earlier records.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canids_core import StageResult
from canids_models.artifacts import ArtifactStore

if TYPE_CHECKING:
    from canids_models import PipelinePlan

__all__ = ["RunRecorder", "utc_now"]


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def _iso(ts: float | None) -> str | None:
    return None if ts is None else dt.datetime.fromtimestamp(ts, dt.UTC).isoformat()


class RunRecorder:
    """Keeps ``record`` (the JSON written to disk) in step with what the executor sees."""

    def __init__(self, store: ArtifactStore, plan: PipelinePlan, executor: str) -> None:
        self.store = store
        self.plan = plan
        self.record = plan.record(executor=executor)
        self.record["started"] = utc_now()
        self.path = self.write()

    def entry(self, stage: str) -> dict[str, Any]:
        for item in self.record["stages"]:
            if item["stage"] == stage:
                return item
        raise KeyError(f"stage {stage} is not in pipeline {self.plan.pipeline.name}")

    def running(
        self, stage: str, command: str, log: Path, *, status: str = "running", **extra: Any
    ) -> None:
        """The stage started (``status="queued"``: handed to a scheduler, start unknown)."""
        stamp = "started" if status == "running" else status
        self.entry(stage).update(
            {"status": status, stamp: utc_now(), "command": command, "log": str(log), **extra}
        )
        self.write()

    def finished(self, result: StageResult, **extra: Any) -> None:
        """The stage ended as ``result`` says: completed by the one success rule, or not
        (then :meth:`failed` says why)."""
        entry = self.entry(result.stage)
        report = result.report
        seconds = None
        if result.started_at is not None and result.ended_at is not None:
            seconds = round(result.ended_at - result.started_at, 3)
        entry.update(
            stage_result=result.to_json(),
            started=_iso(result.started_at) or entry.get("started"),
            finished=_iso(result.ended_at) or utc_now(),
            seconds=seconds,
            returncode=result.exit_code,
            result=None if report is None else report.model_dump(mode="json"),
            node=result.node,
            job_id=result.job_id,
            **extra,
        )
        if result.succeeded:
            entry.update(status="completed", artifacts=report.artifacts if report else {})
        self.write()

    def failed(self, stage: str, why: str) -> None:
        self.entry(stage).update(status="failed", error=why)
        self.record.setdefault("failed_stages", []).append(stage)
        self.record["status"] = "failed"
        self.write()

    def not_run(self, stage: str, reason: str) -> None:
        self.entry(stage).update(status="not run", reason=reason)
        self.write()

    def close(self) -> dict[str, Any]:
        """Final status: completed when every stage completed or was skipped."""
        for item in self.record["stages"]:
            if item["status"] in ("pending", "running", "queued"):
                item.update(status="not run", reason="an earlier stage failed")
        done = all(s["status"] in ("completed", "skipped") for s in self.record["stages"])
        self.record.update(status="completed" if done else "failed", finished=utc_now())
        failed = self.record.get("failed_stages")
        if failed:
            self.record["failed_stage"] = failed[0]
        self.write()
        return self.record

    def write(self) -> Path:
        plan = self.plan
        return self.store.write_pipeline_record(
            plan.dataset, plan.pipeline.name, plan.size, self.record
        )
