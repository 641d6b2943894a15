"""The Ray executor: every stage is a Ray task with the stage's resources, chained by
object refs, so a stage starts only when the stages making its inputs are done and
independent branches run at the same time.

A task runs the same ``canids-train`` process as the local executor. A stage's own
failure (its result says failed) is final: it raises :class:`StageFailedError`, which Ray does
not retry. A *system* failure (the worker or its node died) is retried ``max_retries``
times; the retried ``canids-train`` resumes from the stage's last epoch checkpoint.
"""

from __future__ import annotations

import os
import shlex
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canids_models import STAGES, PipelinePlan, stage_graph, stage_id

from .local import PipelineError, failure_message
from .ray_cluster import RayCluster, StageResources, import_ray
from .run_record import RunRecorder, utc_now
from .stage_process import StageRunner, failure_reason, run_stage_process, stage_succeeded

__all__ = ["RayExecutor", "StageFailedError"]

ATTEMPT_MARK = "=== canids ray attempt"


class StageFailedError(RuntimeError):
    """The stage ran and failed (not a system failure): never retried."""

    def __init__(self, stage_id: str, rc: int, why: str, outcome: dict[str, Any]) -> None:
        super().__init__(stage_id, rc, why, outcome)
        self.stage_id, self.rc, self.why, self.outcome = stage_id, rc, why, outcome

    def __str__(self) -> str:
        return f"stage {self.stage_id} failed (exit {self.rc}): {self.why}"


def run_stage_task(stage_id: str, cmd: list[str], log: str, *upstream: dict[str, Any]) -> dict:
    """The body of one stage's Ray task. ``upstream`` are the outcomes of the stages it
    waits for: Ray passes them only once they succeeded, which is the chaining."""
    import ray

    log_path = Path(log)
    header = (
        f"{ATTEMPT_MARK} of {stage_id} on {socket.gethostname()}, ray worker pid "
        f"{os.getpid()}, task {ray.get_runtime_context().get_task_id()} ==="
    )
    started, t0 = utc_now(), time.perf_counter()
    rc, result = run_stage_process(
        cmd,
        log_path,
        echo=lambda line: print(line, flush=True),
        header=header,
        append=True,  # a retried attempt keeps the killed attempt's lines above it
        die_with_parent=True,
    )
    attempts = sum(1 for line in log_path.open() if line.startswith(ATTEMPT_MARK))
    outcome = {
        "stage_id": stage_id,
        "returncode": rc,
        "result": result,
        "started": started,
        "finished": utc_now(),
        "seconds": round(time.perf_counter() - t0, 3),
        "node": socket.gethostname(),
        "worker_pid": os.getpid(),
        "attempts": attempts,
        "upstream": [u["stage_id"] for u in upstream],
    }
    if not stage_succeeded(rc, result):
        raise StageFailedError(stage_id, rc, failure_reason(rc, result), outcome)
    return outcome


@dataclass
class _Task:
    plan_index: int
    stage: str
    stage_id: str
    log: Path


class RayExecutor(StageRunner):
    """Runs one or more :class:`PipelinePlan` s (submitted together) as one task graph."""

    name = "ray"

    def __init__(
        self,
        *args: Any,
        cluster: RayCluster,
        resources: StageResources | None = None,
        max_retries: int = 2,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.cluster = cluster
        self.resources = resources or StageResources()
        self.max_retries = max_retries

    def run(self, plans: Sequence[PipelinePlan], *, restart_hint: str) -> list[dict[str, Any]]:
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
                cmd = self.command(plan, stage)
                log = self.store.stage_log(plan.dataset, plan.pipeline.name, plan.size, stage)
                log.parent.mkdir(parents=True, exist_ok=True)
                log.write_text("")  # attempts append: start this run's log empty
                options, notes = self.cluster.task_options(STAGES[stage], self.resources)
                for note in notes:
                    self.echo(f"{sid}: {note}")
                name = f"canids-{plan.dataset}-{plan.size}-{stage}"
                ref = remote.options(name=name, max_retries=self.max_retries, **options).remote(
                    sid, cmd, str(log), *(refs[dep] for dep in graph[sid])
                )
                refs[sid] = ref
                tasks[ref] = _Task(i, stage, sid, log)
                recorders[i].running(
                    stage,
                    shlex.join(cmd),
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
                out = ray.get(ready[0])
            except Exception as err:  # sorted below: own failure, upstream failed, system
                cause = getattr(err, "cause", err)
                if isinstance(cause, StageFailedError) and cause.stage_id == task.stage_id:
                    self._finish(rec, task, cause.outcome)
                    rec.failed(task.stage, cause.why)
                    plan = plans[task.plan_index]
                    failures.append(
                        failure_message(
                            plan,
                            task.stage,
                            cause.rc,
                            cause.why,
                            str(task.log),
                            str(rec.path),
                            restart_hint,
                        )
                    )
                elif isinstance(cause, StageFailedError):
                    rec.not_run(task.stage, f"upstream stage {cause.stage_id} failed")
                else:
                    why = (
                        f"system failure after {self.max_retries} retries: "
                        f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                    )
                    rec.failed(task.stage, why)
                    failures.append(f"stage {task.stage_id}: {why}\n  log: {task.log}")
                continue
            self._finish(rec, task, out)
            self.echo(
                f"done {task.stage_id} in {out['seconds']:.1f} s on {out['node']}"
                + (f" after {out['attempts']} attempts" if out["attempts"] > 1 else "")
            )
        records = [rec.close() for rec in recorders]
        if failures:
            first = next(r for r in records if r["status"] == "failed")
            raise PipelineError("\n".join(failures), first.get("failed_stage", "?"), first)
        return records

    @staticmethod
    def _finish(rec: RunRecorder, task: _Task, out: dict[str, Any]) -> None:
        rec.entry(task.stage)["started"] = out["started"]
        rec.finished(
            task.stage,
            out["returncode"],
            out["result"],
            out["seconds"],
            node=out["node"],
            attempts=out["attempts"],
        )
        rec.entry(task.stage)["finished"] = out["finished"]  # the task's clock, not ours
        rec.write()


def _describe(options: dict[str, Any]) -> str:
    mem = options.get("memory")
    return ", ".join(
        [f"{options.get('num_cpus', 0):g} CPU", f"{options.get('num_gpus', 0):g} GPU"]
        + ([f"{mem / (1 << 30):.1f} GiB"] if mem else [])
    )
