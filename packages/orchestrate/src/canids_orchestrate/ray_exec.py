"""The Ray executor: every stage is a Ray task with the stage's resources, chained by
object refs, so a stage starts only when the stages making its inputs are done and
independent branches run at the same time.

A task runs the same ``canids-train`` process as the local executor and returns its
:class:`canids_core.StageResult`. A stage's own failure (it ran and did not succeed) is
final: it raises :class:`StageFailedError`, which Ray does not retry. A *system* failure
(the worker or its node died) is retried ``max_retries`` times; the retried
``canids-train`` resumes from the stage's last epoch checkpoint.
"""

from __future__ import annotations

import os
import shlex
import socket
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from canids_core import StageResult
from canids_core.stage_result import ATTEMPT_MARK
from canids_models.catalog import STAGES

from .errors import PipelineError, StageFailedError
from .local import failure_message
from .ray_cluster import RayCluster, check_overrides, import_ray
from .run_record import RunRecorder
from .stage_process import StageCall, StageRunner, run_stage_process

if TYPE_CHECKING:
    from canids_models import PipelinePlan

__all__ = ["ATTEMPT_MARK", "RayExecutor", "StageFailedError", "run_stage_task"]


def run_stage_task(call: StageCall, *upstream: dict[str, Any]) -> dict[str, Any]:
    """The body of one stage's Ray task; returns its StageResult as JSON. ``upstream`` are
    the results of the stages it waits for: Ray passes them only once they succeeded,
    which is the chaining."""
    import ray

    runtime = ray.get_runtime_context()
    task_id = runtime.get_task_id()
    # A data-parallel stage (``--workers N``) starts its Ray Train workers on this cluster,
    # not on a Ray of its own.
    os.environ["RAY_ADDRESS"] = runtime.gcs_address
    header = (
        f"{ATTEMPT_MARK} of {call.pipeline}/{call.size}/{call.stage} on "
        f"{socket.gethostname()}, ray worker pid {os.getpid()}, task {task_id} ==="
    )
    result = run_stage_process(
        call,
        echo=lambda line: print(line, flush=True),
        job_id=f"ray-{task_id}",  # a retry keeps the task id: the history keeps its last
        header=header,
        append=True,  # a retried attempt keeps the killed attempt's lines above it
        die_with_parent=True,
    )
    data = result.to_json()
    lines = Path(call.log).read_text(errors="replace").splitlines()
    data["attempts"] = sum(1 for line in lines if line.startswith(ATTEMPT_MARK))
    data["upstream"] = [u["stage"] for u in upstream]
    if not result.succeeded:
        sid = f"{call.pipeline}/{call.size}/{call.stage}"
        raise StageFailedError(sid, result.exit_code, result.why_not(), data)
    return data


def _result(data: dict[str, Any]) -> StageResult:
    return StageResult.from_json({k: v for k, v in data.items() if k not in _TASK_KEYS})


_TASK_KEYS = ("attempts", "upstream")


@dataclass
class _Task:
    plan_index: int
    stage: str
    stage_id: str
    call: StageCall


class RayExecutor(StageRunner):
    """Runs one or more :class:`PipelinePlan` s (submitted together) as one task graph.

    ``resources`` overrides every stage's catalogue resources (``cpus``, ``gpus``,
    ``memory``; fractions of a CPU or GPU are fine on Ray), validated here, before any
    task is queued.
    """

    name = "ray"

    def __init__(
        self,
        *args: Any,
        cluster: RayCluster,
        resources: Mapping[str, object] | None = None,
        max_retries: int = 2,
        workers: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        self.resources = check_overrides(resources or {})
        self.max_retries = max_retries
        self.workers = workers

    def run(self, plans: Sequence[PipelinePlan], *, restart_hint: str) -> list[dict[str, Any]]:
        from canids_models.plan import stage_graph, stage_id

        ray = import_ray()
        self.cluster.connect()
        remote = ray.remote(run_stage_task)
        graph = stage_graph(plans)
        recorders = [RunRecorder(self.store, plan, self.name) for plan in plans]
        refs: dict[str, Any] = {}
        tasks: dict[Any, _Task] = {}
        for i, plan in enumerate(plans):
            for stage in plan.run_stages:
                sid = stage_id(plan, stage)
                call = self.call(plan, stage)
                log = Path(call.log)
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text("")  # attempts append: start this run's log empty
                options, notes = self.cluster.task_options(STAGES[stage], self.resources)
                if self.workers > 1 and STAGES[stage].data_parallel:
                    # The stage's Ray Train workers ask for the CPUs and GPUs; the task
                    # that drives them holds none (else it would wait for its own workers).
                    options = {"num_cpus": 0, "num_gpus": 0}
                    notes = [f"{self.workers} data-parallel workers (Ray Train)"]
                for note in notes:
                    self.echo(f"{sid}: {note}")
                name = f"canids-{plan.dataset}-{plan.size}-{stage}"
                ref = remote.options(name=name, max_retries=self.max_retries, **options).remote(
                    call, *(refs[dep] for dep in graph[sid])
                )
                refs[sid] = ref
                tasks[ref] = _Task(i, stage, sid, call)
                recorders[i].running(
                    stage,
                    shlex.join(call.command),
                    log,
                    status="queued",
                    waits_for=graph[sid],
                    ray_resources=options,
                )
                self.echo(
                    f"queued {sid}"
                    + (f" after {', '.join(graph[sid])}" if graph[sid] else "")
                    + f" ({_describe(options)})"
                )
        failures: list[str] = []
        pending = list(tasks)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            task = tasks[ready[0]]
            rec = recorders[task.plan_index]
            try:
                data = ray.get(ready[0])
            except Exception as err:  # sorted below: own failure, upstream failed, system
                cause = getattr(err, "cause", err)
                if isinstance(cause, StageFailedError) and cause.stage_id == task.stage_id:
                    result = self._finish(rec, cause.outcome)
                    rec.failed(task.stage, result.why_not())
                    plan = plans[task.plan_index]
                    failures.append(failure_message(plan, result, str(rec.path), restart_hint))
                elif isinstance(cause, StageFailedError):
                    rec.not_run(task.stage, f"upstream stage {cause.stage_id} failed")
                else:
                    failures.append(self._system_failure(rec, task, err))
                continue
            result = self._finish(rec, data)
            self.echo(
                f"done {task.stage_id} in {_seconds(result):.1f} s on {result.node}"
                + (f" after {data['attempts']} attempts" if data["attempts"] > 1 else "")
            )
        records = [rec.close() for rec in recorders]
        if failures:
            first = next(r for r in records if r["status"] == "failed")
            raise PipelineError("\n".join(failures), first.get("failed_stage", "?"), first)
        return records

    def _finish(self, rec: RunRecorder, data: dict[str, Any]) -> StageResult:
        result = self.observed(_result(data))
        rec.finished(result, attempts=data["attempts"])
        return result

    def _system_failure(self, rec: RunRecorder, task: _Task, err: Exception) -> str:
        """The worker died more often than ``max_retries``: the stage has no result of its
        own, so the executor writes one from what it saw (its log), and records it."""
        first = str(err).splitlines()[0] if str(err) else ""
        why = f"system failure after {self.max_retries} retries: {type(err).__name__}: {first}"
        # The task's own id died with it: a fresh one, so the history keeps this failure.
        lost = f"ray-lost-{uuid.uuid4().hex[:12]}"
        result = self.observed(task.call.result(job_id=lost, ended_at=time.time()))
        rec.finished(result, attempts=self.max_retries + 1)
        rec.failed(task.stage, why)
        return f"stage {task.stage_id}: {why}\n  log: {task.call.log}"


def _seconds(result: StageResult) -> float:
    if result.started_at is None or result.ended_at is None:
        return 0.0
    return result.ended_at - result.started_at


def _describe(options: dict[str, Any]) -> str:
    mem = options.get("memory")
    return ", ".join(
        [f"{options.get('num_cpus', 0):g} CPU", f"{options.get('num_gpus', 0):g} GPU"]
        + ([f"{mem / (1 << 30):.1f} GiB"] if mem else [])
    )
