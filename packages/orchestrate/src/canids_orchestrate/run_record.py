"""The run record (``pipeline.json``): one per pipeline run, rewritten atomically as
stages start and finish, so a crashed driver still leaves an exact account."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from canids_models import ArtifactStore, PipelinePlan

from .stage_process import stage_succeeded

__all__ = ["RunRecorder", "utc_now"]


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


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

    def finished(
        self, stage: str, rc: int, result: dict[str, Any] | None, seconds: float, **extra: Any
    ) -> None:
        entry = self.entry(stage)
        entry.update(
            finished=utc_now(), seconds=round(seconds, 3), returncode=rc, result=result, **extra
        )
        if stage_succeeded(rc, result):
            entry.update(status="completed", artifacts=result.get("artifacts", {}))
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
            if item["status"] in ("pending", "running"):
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
