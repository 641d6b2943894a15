"""The local executor: a pipeline's stages run one after another as ``canids-train``
subprocesses (each stage gets a fresh process, so CUDA state never leaks between stages).

Each stage's output goes to its log and to the caller line by line. Its last line,
``CANIDS-STAGE-RESULT {json}``, is what decides success: a stage counts as completed
only when it exited 0 *and* its result line says completed. A failed stage stops the
chain, and the error says which stage, why, where its log is, and how to restart from it.
"""

from __future__ import annotations

import datetime as dt
import shlex
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from canids_models import RESULT_PREFIX, ArtifactStore, parse_result

from .plan import PipelinePlan

__all__ = ["LocalExecutor", "PipelineError"]


class PipelineError(RuntimeError):
    """A stage failed; ``stage`` names it and ``record`` is the run record as written."""

    def __init__(self, message: str, stage: str, record: dict[str, Any]) -> None:
        super().__init__(message)
        self.stage = stage
        self.record = record


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class LocalExecutor:
    """Runs a :class:`PipelinePlan` on this machine.

    ``train_command`` is how ``canids-train`` is started (default: the one on PATH);
    ``extra_args`` (``--config``/``--set`` items) go to every stage.
    """

    name = "local"

    def __init__(
        self,
        store: ArtifactStore,
        *,
        cache_dir: Path,
        train_command: Sequence[str] = ("canids-train",),
        extra_args: Sequence[str] = (),
        check_sources: bool = True,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.train_command = list(train_command)
        self.extra_args = list(extra_args)
        self.check_sources = check_sources
        self.echo = echo or (lambda _line: None)

    def command(self, plan: PipelinePlan, stage: str) -> list[str]:
        cmd = [
            *self.train_command,
            stage,
            "--dataset",
            plan.dataset,
            "--size",
            plan.size,
            "--run",
            self.store.run,
            "--runs-dir",
            str(self.store.runs_dir),
            "--cache-dir",
            str(self.cache_dir),
            *self.extra_args,
        ]
        if plan.distills(stage):
            cmd += ["--distill-from", str(plan.distill_from)]
        if not self.check_sources:
            cmd.append("--no-source-check")
        return cmd

    def run(self, plan: PipelinePlan, *, restart_hint: str) -> dict[str, Any]:
        """Run every planned stage; returns the final run record (also on disk)."""
        record = plan.record(executor=self.name)
        record["started"] = _now()
        self._write(plan, record)
        for entry in record["stages"]:
            if entry["status"] == "skipped":
                continue
            stage = entry["stage"]
            cmd = self.command(plan, stage)
            log = self.store.stage_log(plan.dataset, plan.pipeline.name, plan.size, stage)
            entry.update(status="running", started=_now(), command=shlex.join(cmd), log=str(log))
            self._write(plan, record)
            t0 = time.perf_counter()
            rc, result = self._run_stage(cmd, log)
            entry.update(
                finished=_now(),
                seconds=round(time.perf_counter() - t0, 3),
                returncode=rc,
                result=result,
            )
            ok = rc == 0 and result is not None and result.get("status") == "completed"
            if ok:
                entry.update(status="completed", artifacts=result.get("artifacts", {}))
                self._write(plan, record)
                continue
            why = (
                "no CANIDS-STAGE-RESULT line (killed, or crashed before the end)"
                if result is None
                else f"{result.get('error_type', 'failed')}: "
                f"{result.get('error', result.get('status'))}"
            )
            entry.update(status="failed", error=why)
            for later in record["stages"]:
                if later["status"] == "pending":
                    later["status"] = "not run (an earlier stage failed)"
            record.update(status="failed", finished=_now(), failed_stage=stage)
            path = self._write(plan, record)
            raise PipelineError(
                f"stage {stage} ({plan.size}) of pipeline {plan.pipeline.name} on "
                f"{plan.dataset} failed (exit {rc}): {why}\n  log: {log}\n  run record: {path}"
                f"\n  restart from it: {restart_hint} --from-stage {stage}",
                stage,
                record,
            )
        record.update(status="completed", finished=_now())
        self._write(plan, record)
        return record

    def _run_stage(self, cmd: list[str], log: Path) -> tuple[int, dict[str, Any] | None]:
        log.parent.mkdir(parents=True, exist_ok=True)
        result = None
        with log.open("w") as fh:
            try:
                proc = subprocess.Popen(
                    cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
                )
            except FileNotFoundError as exc:
                fh.write(f"cannot start {cmd[0]}: {exc}\n")
                return 127, {
                    "status": "failed",
                    "error_type": "FileNotFoundError",
                    "error": f"{cmd[0]} not found: install canids-cli (uv sync)",
                }
            with proc:  # closes the pipe and reaps the process, also on an exception
                assert proc.stdout is not None
                for line in proc.stdout:
                    fh.write(line)
                    self.echo(line.rstrip("\n"))
                    if line.startswith(RESULT_PREFIX):
                        result = parse_result(line.rstrip("\n"))
                rc = proc.wait()
        return rc, result

    def _write(self, plan: PipelinePlan, record: dict[str, Any]) -> Path:
        return self.store.write_pipeline_record(plan.dataset, plan.pipeline.name, plan.size, record)
