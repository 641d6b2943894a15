"""One stage as one ``canids-train`` process: the command line, and running it to its
:class:`canids_core.StageResult`.

Every executor starts stages the same way, so a stage behaves the same on a laptop, in a
Ray task and in a SLURM job. What the process leaves decides success, by the one rule of
canids-core: exit code 0 **and** its last ``CANIDS-STAGE-RESULT`` line says completed
**and** the artifact store has its DONE record.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from canids_core import RESULT_PREFIX, CoreError, StageReport, StageResult, parse_report
from canids_models.artifacts import ArtifactStore
from canids_models.catalog import STAGES

if TYPE_CHECKING:  # planning imports canids-data; a worker running a stage needs neither
    from canids_models import PipelinePlan

__all__ = ["StageCall", "StageRunner", "run_stage_process"]


def _die_with_parent() -> None:
    # Linux only (prctl): when a Ray worker is killed, its canids-train child must die too,
    # or the retried attempt would race an orphan writing the same checkpoint.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass(frozen=True)
class StageCall:
    """One stage run to start: its command, its log, and what its result will name.
    Picklable: the Ray executor sends it to a worker."""

    executor: str  # local | ray
    stage: str
    dataset: str
    size: str
    run: str
    pipeline: str
    runs_dir: str
    command: tuple[str, ...]
    log: str

    def result(self, **observed: object) -> StageResult:
        """A :class:`StageResult` of this call with what the executor ``observed``."""
        return StageResult.model_validate(
            {
                "executor": self.executor,
                "stage": self.stage,
                "dataset": self.dataset,
                "size": self.size,
                "run": self.run,
                "pipeline": self.pipeline,
                "log": self.log,
                **observed,
            }
        )

    def done(self) -> bool:
        """Whether the stage's artifact has its DONE record (the store is the only code
        that knows where it is)."""
        store = ArtifactStore(self.runs_dir, self.run)
        return store.is_done(self.dataset, self.size, STAGES[self.stage].produces)


def run_stage_process(
    call: StageCall,
    *,
    echo: Callable[[str], None],
    job_id: str | None = None,
    header: str | None = None,
    append: bool = False,
    die_with_parent: bool = False,
) -> StageResult:
    """Run ``call.command``, copy its output to ``call.log`` and ``echo`` line by line, and
    return what happened: exit code (a process a signal killed has the negative code
    Python reports, and the signal), the last well-formed result line, DONE, the host,
    start and end, and a job id (``local-<uuid>`` unless given)."""
    log = Path(call.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    job_id = job_id or f"{call.executor}-{uuid.uuid4().hex[:12]}"
    report: StageReport | None = None
    started = time.time()
    with log.open("a" if append else "w") as fh:
        if header is not None:
            fh.write(header + "\n")
            fh.flush()
        try:
            proc = subprocess.Popen(
                list(call.command),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                preexec_fn=_die_with_parent if die_with_parent else None,
            )
        except FileNotFoundError as exc:
            # No process ran: the stage reports nothing, the log says why (exit 127, as a
            # shell reports a missing command).
            fh.write(f"cannot start {call.command[0]}: {exc}; install canids-cli (uv sync)\n")
            return call.result(
                job_id=job_id,
                node=socket.gethostname(),
                exit_code=127,
                done=call.done(),
                started_at=started,
                ended_at=time.time(),
            )
        with proc:  # closes the pipe and reaps the process, also on an exception
            assert proc.stdout is not None
            for line in proc.stdout:
                fh.write(line)
                fh.flush()
                echo(line.rstrip("\n"))
                if line.startswith(RESULT_PREFIX):
                    report = _report(line.rstrip("\n"), fh)
            rc = proc.wait()
    return call.result(
        job_id=job_id,
        node=socket.gethostname(),
        exit_code=rc,
        signal=-rc if rc < 0 else None,
        report=report,
        done=call.done(),
        started_at=started,
        ended_at=time.time(),
    )


def _report(line: str, log: IO[str]) -> StageReport | None:
    """A result line's report; a malformed one counts as none (the stage did not end
    properly), and the log says so."""
    try:
        return parse_report(line)
    except CoreError as exc:
        log.write(f"canids executor: ignoring a malformed result line: {exc}\n")
        return None


class StageRunner:
    """What every executor shares: where artifacts and the cache are, and the stage command.

    ``train_command`` is how ``canids-train`` is started (default: the one on PATH);
    ``extra_args`` (``--config``/``--set`` items) go to every stage, and
    ``stage_args(plan, stage)`` adds a stage's own (``canids-submit`` names each
    pipeline's W&B group with it). ``on_stage_result``
    is called with each stage's :class:`StageResult` as it ends; when it returns a result
    (the same one with its failure classified), the executor records that one. The
    ``canids-submit`` command hands canids-jobs' recorder here, so a local or Ray failure
    lands in the same failure history as a SLURM one (this package never imports
    canids-jobs: it sits above).
    """

    name = "base"

    def __init__(
        self,
        store: ArtifactStore,
        *,
        cache_dir: Path,
        train_command: Sequence[str] = ("canids-train",),
        extra_args: Sequence[str] = (),
        check_sources: bool = True,
        echo: Callable[[str], None] | None = None,
        on_stage_result: Callable[[StageResult], StageResult | None] | None = None,
        stage_args: Callable[[PipelinePlan, str], Sequence[str]] | None = None,
    ) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.train_command = list(train_command)
        self.extra_args = list(extra_args)
        self.check_sources = check_sources
        self.echo = echo or (lambda _line: None)
        self.on_stage_result = on_stage_result
        self.stage_args = stage_args

    def command(self, plan: PipelinePlan, stage: str) -> list[str]:
        from canids_models.plan import stage_command

        return stage_command(
            plan,
            stage,
            self.store,
            self.cache_dir,
            train_command=self.train_command,
            extra_args=[
                *self.extra_args,
                *(self.stage_args(plan, stage) if self.stage_args is not None else ()),
            ],
            check_sources=self.check_sources,
        )

    def call(self, plan: PipelinePlan, stage: str) -> StageCall:
        """The :class:`StageCall` of one planned stage."""
        log = self.store.stage_log(plan.dataset, plan.pipeline.name, plan.size, stage)
        return StageCall(
            executor=self.name,
            stage=stage,
            dataset=plan.dataset,
            size=plan.size,
            run=self.store.run,
            pipeline=plan.pipeline.name,
            runs_dir=str(self.store.runs_dir),
            command=tuple(self.command(plan, stage)),
            log=str(log),
        )

    def observed(self, result: StageResult) -> StageResult:
        """Hand ``result`` to ``on_stage_result``; the result to record."""
        if self.on_stage_result is None:
            return result
        returned = self.on_stage_result(result)
        return result if returned is None else returned
