"""The local executor: a pipeline's stages run one after another as ``canids-train``
subprocesses (each stage gets a fresh process, so CUDA state never leaks between stages).

Each stage's output goes to its log and to the caller line by line. A failed stage stops
the chain, and the error says which stage, why, where its log is, and how to restart.
"""

from __future__ import annotations

import shlex
import time
from typing import Any

from canids_models import PipelinePlan

from .run_record import RunRecorder
from .stage_process import StageRunner, failure_reason, run_stage_process, stage_succeeded

__all__ = ["LocalExecutor", "PipelineError"]


class PipelineError(RuntimeError):
    """A stage failed; ``stage`` names it and ``record`` is the run record as written."""

    def __init__(self, message: str, stage: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.stage = stage
        self.record = record


def failure_message(
    plan: PipelinePlan, stage: str, rc: int, why: str, log: str, record_path: str, hint: str
) -> str:
    return (
        f"stage {stage} ({plan.size}) of pipeline {plan.pipeline.name} on {plan.dataset} "
        f"failed (exit {rc}): {why}\n  log: {log}\n  run record: {record_path}"
        f"\n  restart from it: {hint} --from-stage {stage}"
    )


class LocalExecutor(StageRunner):
    """Runs :class:`PipelinePlan` s on this machine, one stage at a time."""

    name = "local"

    def run(self, plan: PipelinePlan, *, restart_hint: str) -> dict[str, Any]:
        """Run every planned stage; returns the final run record (also on disk)."""
        rec = RunRecorder(self.store, plan, self.name)
        for stage in plan.run_stages:
            cmd = self.command(plan, stage)
            log = self.store.stage_log(plan.dataset, plan.pipeline.name, plan.size, stage)
            rec.running(stage, shlex.join(cmd), log)
            t0 = time.perf_counter()
            rc, result = run_stage_process(cmd, log, echo=self.echo)
            rec.finished(stage, rc, result, time.perf_counter() - t0)
            if stage_succeeded(rc, result):
                continue
            why = failure_reason(rc, result)
            rec.failed(stage, why)
            record = rec.close()
            raise PipelineError(
                failure_message(plan, stage, rc, why, str(log), str(rec.path), restart_hint),
                stage,
                record,
            )
        return rec.close()
