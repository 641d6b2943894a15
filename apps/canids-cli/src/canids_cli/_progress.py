"""Progress on long work, for every command, with one library: tqdm.

Bars go to stderr, and only when stderr is a terminal and ``--quiet`` was not given. In
a batch job, a pipe or with ``--quiet`` there is no bar and nothing per batch: the lines
the commands print anyway (one per file, epoch or stage) are the record, so SLURM logs
stay readable and ``CANIDS-STAGE-RESULT`` stays the last line of a stage's stdout.

Libraries never draw: canids-data hands ``BuildProgress`` after every file,
canids-models a ``Progress`` after every batch (``StageContext.on_progress``) and the
executors each stage's ``StageResult``; this module renders them.
"""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from canids_core import StageResult
    from canids_data import BuildProgress
    from canids_models import Progress

__all__ = ["ProgressDisplay", "clock"]


def clock(seconds: float) -> str:
    """``1:02:03`` or ``2:03``."""
    s = round(seconds)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream (click's runner)
        return False


class ProgressDisplay:
    """Bars on a terminal, lines elsewhere. ``echo`` prints a line above a live bar."""

    def __init__(self, *, quiet: bool = False, stream: IO[str] | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.bars = not quiet and _is_terminal(self.stream)
        self._bar: Any = None
        self._task: str | None = None
        self._started = time.monotonic()

    # ------------------------------------------------------------------ output
    def echo(self, line: str, *, err: bool = False) -> None:
        if self._bar is not None:
            from tqdm import tqdm

            tqdm.write(line, file=sys.stderr if err else sys.stdout)
        else:
            click.echo(line, err=err)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar, self._task = None, None

    def _open(self, task: str, total: int, unit: str, *, leave: bool = False) -> Any:
        from tqdm import tqdm

        self.close()
        self._task = task
        self._bar = tqdm(
            total=total, desc=task, unit=unit, leave=leave, file=self.stream, dynamic_ncols=True
        )
        return self._bar

    # ------------------------------------------------------------------ stages
    def on_batch(self, p: Progress) -> None:
        """``StageContext.on_progress``: one bar per epoch or scoring pass, batches with
        the running loss and graphs/s (only given when ``bars`` is on)."""
        bar = self._bar if p.task == self._task else self._open(p.task, p.total, "batch")
        bar.update(p.done - bar.n)
        shown = [f"{k} {v:.4f}" for k, v in p.values.items()]
        bar.set_postfix_str(", ".join([*shown, f"{p.graphs_per_second:,.0f} graphs/s"]))
        if p.done >= p.total:
            self.close()

    # ------------------------------------------------------------------ cache
    def on_file(self, p: BuildProgress) -> None:
        """canids-data's per-file ``BuildProgress``: files, messages/s and the ETA; a bar
        on a terminal, else one line per file."""
        elapsed = max(time.monotonic() - self._started, 1e-9)
        built = p.files_done - p.resumed
        left = p.files_total - p.files_done
        eta = clock(elapsed / built * left) if built > 0 else "?"
        rate = f"{p.messages / elapsed:,.0f} messages/s"
        if self.bars:
            bar = (
                self._bar
                if self._task == "files"
                else self._open("files", p.files_total, "file", leave=True)
            )
            bar.update(p.files_done - bar.n)
            bar.set_postfix_str(f"{rate}, {p.graphs:,} graphs, {p.current[-40:]}")
            if p.files_done >= p.files_total:
                self.close()
            return
        click.echo(
            f"[{p.files_done:>3}/{p.files_total} files] {p.messages:>12,} messages "
            f"{p.graphs:>9,} graphs  {rate}, ETA {eta}  {p.current}",
            err=True,
        )

    # ------------------------------------------------------------------ pipelines
    def start_pipeline(self, stages: list[str], *, bar: bool) -> None:
        """A submission's stages (``pipeline/size/stage`` ids, in the order a local run
        takes them). ``bar``: the executor's own output leaves room for one (local)."""
        self._stages, self._done = stages, 0
        self._started = time.monotonic()
        if self.bars and bar:
            self._open("pipeline", len(stages), "stage", leave=True)
            self._describe()

    def _describe(self) -> None:
        if self._bar is None:
            return
        nxt = self._stages[self._done] if self._done < len(self._stages) else "done"
        self._bar.set_description_str(
            f"stage {min(self._done + 1, len(self._stages))} of {len(self._stages)}: {nxt}"
        )

    def stage_finished(self, result: StageResult) -> None:
        """One stage ended: the bar moves on; without a bar, one line (stage n of m,
        elapsed)."""
        self._done += 1
        if self._bar is not None:
            self._bar.update(1)
            self._describe()
            if self._done >= len(self._stages):
                self.close()
            return
        took = (
            ""
            if result.started_at is None or result.ended_at is None
            else (f" in {clock(result.ended_at - result.started_at)}")
        )
        click.echo(
            f"[pipeline] stage {self._done} of {len(self._stages)} {result.outcome}: "
            f"{result.pipeline}/{result.size}/{result.stage}{took} "
            f"(elapsed {clock(time.monotonic() - self._started)})"
        )
