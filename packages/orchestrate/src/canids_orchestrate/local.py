"""The local executor: a pipeline's stages run one after another as ``canids-train``
subprocesses (each stage gets a fresh process, so CUDA state never leaks between stages).

Each stage's output goes to its log and to the caller line by line. Each stage ends as a
:class:`canids_core.StageResult` (handed to ``on_stage_result``, kept in ``pipeline.json``).
A failed stage stops the chain, and the error says which stage, why, where its log is,
and how to restart.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canids_core import StageResult

from .errors import PipelineError
from .run_record import RunRecorder
from .stage_process import StageRunner, run_stage_process

if TYPE_CHECKING:
    from canids_models import PipelinePlan

__all__ = ["LocalExecutor", "PipelineError", "failure_message"]


def failure_message(plan: PipelinePlan, result: StageResult, record_path: str, hint: str) -> str:
    """What a person reads when a stage failed: which stage, why, its log, its run record,
    the command that restarts from it, and (when recorded) how to see the fixes."""
    exit_code = "?" if result.exit_code is None else str(result.exit_code)
    # The stage's own words first (its error, or what is missing), then the class.
    own = result.model_copy(update={"failure": None}).why_not()
    text = (
        f"stage {result.stage} ({plan.size}) of pipeline {plan.pipeline.name} on "
        f"{plan.dataset} failed (exit {exit_code}): {own}"
    )
    if result.failure is not None:
        text += f"\n  cause: {result.failure.type} ({result.failure.detail})"
    text += (
        f"\n  log: {result.log}\n  run record: {record_path}"
        f"\n  restart from it: {hint} --from-stage {result.stage}"
    )
    if result.failure is not None and result.job_id is not None:
        text += f"\n  fixes: canids-jobs remediate {result.job_id}"
    return text


class LocalExecutor(StageRunner):
    """Runs :class:`PipelinePlan` s on this machine, one stage at a time."""

    name = "local"

    def run(self, plan: PipelinePlan, *, restart_hint: str) -> dict[str, Any]:
        """Run every planned stage; returns the final run record (also on disk)."""
        rec = RunRecorder(self.store, plan, self.name)
        for stage in plan.run_stages:
            call = self.call(plan, stage)
            rec.running(stage, shlex.join(call.command), Path(call.log))
            result = self.observed(run_stage_process(call, echo=self.echo))
            rec.finished(result)
            if result.succeeded:
                continue
            rec.failed(stage, result.why_not())
            record = rec.close()
            raise PipelineError(
                failure_message(plan, result, str(rec.path), restart_hint), stage, record
            )
        return rec.close()
