"""One failure record for every executor: the ``on_stage_result`` callback that the local
and Ray executors of canids-orchestrate call after each stage.

canids-orchestrate sits below canids-jobs and never imports it; ``canids-submit`` (the
apps layer) hands a :class:`StageResultRecorder` to the executor. Each stage result is
classified by the same rule table as a SLURM job (from its exit code or signal, its log
and its artifacts) and written to the same history, so ``canids-jobs analyze`` and
``remediate`` see local and Ray failures too.
"""

from __future__ import annotations

import time
from pathlib import Path

from canids_core import StageResult

from .classification import classify_result
from .history import History, JobEvent

__all__ = ["StageResultRecorder", "event_of"]


def event_of(result: StageResult, *, pipeline_id: str | None = None) -> JobEvent:
    """A stage result as a record of the failure history (its failure must be set when it
    did not succeed: see :meth:`StageResultRecorder.classified`)."""
    if result.job_id is None:
        raise ValueError(f"stage {result.stage} of {result.dataset}: the history needs a job id")
    failure = result.failure
    if not result.succeeded and failure is None:
        raise ValueError(f"job {result.job_id} did not succeed: classify it first")
    return JobEvent(
        result.job_id,
        result.outcome,
        result.ended_at if result.ended_at is not None else time.time(),
        stage=result.stage,
        dataset=result.dataset,
        size=result.size,
        node=result.node,
        pipeline_id=pipeline_id,
        failure_type=None if result.succeeded or failure is None else failure.type,
        detail="" if result.succeeded or failure is None else failure.evidence_line,
        executor=result.executor,
        result=None if result.succeeded else result.to_json(),
    )


class StageResultRecorder:
    """``recorder(result)`` classifies a stage that did not succeed, records the result in
    the history (successes too: failure rates need them) and returns it with its
    ``failure`` set, which the executor then keeps in ``pipeline.json``."""

    def __init__(self, history: History) -> None:
        self.history = history

    @classmethod
    def for_runs(cls, runs_dir: str | Path) -> StageResultRecorder:
        """The recorder of the history beside a runs folder (``<runs>/jobs/history.sqlite``,
        the file ``canids-jobs`` reads)."""
        return cls(History(Path(runs_dir) / "jobs" / "history.sqlite"))

    @staticmethod
    def classified(result: StageResult) -> StageResult:
        """``result`` with its failure class (unchanged when it succeeded or has one)."""
        if result.succeeded or result.failure is not None:
            return result
        return result.model_copy(update={"failure": classify_result(result).to_failure()})

    def __call__(self, result: StageResult) -> StageResult:
        result = self.classified(result)
        self.history.record_job(event_of(result))
        return result

    def close(self) -> None:
        self.history.close()
