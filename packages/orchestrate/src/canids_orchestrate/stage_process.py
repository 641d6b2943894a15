"""One stage as one ``canids-train`` process: the command line, and running it to its result.

Every executor starts stages the same way, so a stage behaves the same on a laptop, in a
Ray task and in a SLURM job. The process's last line, ``CANIDS-STAGE-RESULT {json}``,
decides success: exit 0 *and* a result saying completed.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from canids_models import (
    RESULT_PREFIX,
    ArtifactStore,
    PipelinePlan,
    parse_result,
    stage_command,
)

__all__ = ["StageRunner", "failure_reason", "run_stage_process", "stage_succeeded"]


def _die_with_parent() -> None:
    # Linux only (prctl): when a Ray worker is killed, its canids-train child must die too,
    # or the retried attempt would race an orphan writing the same checkpoint.
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def run_stage_process(
    cmd: Sequence[str],
    log: Path,
    *,
    echo: Callable[[str], None],
    header: str | None = None,
    append: bool = False,
    die_with_parent: bool = False,
) -> tuple[int, dict[str, Any] | None]:
    """Run ``cmd``, copy its output to ``log`` and ``echo`` line by line; return
    (exit code, parsed result line or ``None``)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    result = None
    with log.open("a" if append else "w") as fh:
        if header is not None:
            fh.write(header + "\n")
            fh.flush()
        try:
            proc = subprocess.Popen(
                list(cmd),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                bufsize=1,
                preexec_fn=_die_with_parent if die_with_parent else None,
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
                fh.flush()
                echo(line.rstrip("\n"))
                if line.startswith(RESULT_PREFIX):
                    result = parse_result(line.rstrip("\n"))
            rc = proc.wait()
    return rc, result


def stage_succeeded(rc: int, result: dict[str, Any] | None) -> bool:
    return rc == 0 and result is not None and result.get("status") == "completed"


def failure_reason(rc: int, result: dict[str, Any] | None) -> str:
    if result is None:
        if rc < 0:
            return f"killed by signal {-rc} before writing its CANIDS-STAGE-RESULT line"
        return "no CANIDS-STAGE-RESULT line (killed, or crashed before the end)"
    return f"{result.get('error_type', 'failed')}: {result.get('error', result.get('status'))}"


class StageRunner:
    """What every executor shares: where artifacts and the cache are, and the stage command.

    ``train_command`` is how ``canids-train`` is started (default: the one on PATH);
    ``extra_args`` (``--config``/``--set`` items) go to every stage.
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
    ) -> None:
        self.store = store
        self.cache_dir = cache_dir
        self.train_command = list(train_command)
        self.extra_args = list(extra_args)
        self.check_sources = check_sources
        self.echo = echo or (lambda _line: None)

    def command(self, plan: PipelinePlan, stage: str) -> list[str]:
        return stage_command(
            plan,
            stage,
            self.store,
            self.cache_dir,
            train_command=self.train_command,
            extra_args=self.extra_args,
            check_sources=self.check_sources,
        )
