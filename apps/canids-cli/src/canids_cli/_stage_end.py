"""How a ``canids-train`` stage ends: its W&B run closed, the ``CANIDS-STAGE-RESULT`` line
(a :class:`canids_core.StageReport`, the last line on stdout, which executors and the
SLURM job parser read) and the exit status, 0 when it completed."""

from __future__ import annotations

import sys
import time
import traceback
from typing import Any, NoReturn

import click
from canids_core import StageReport, format_report

from ._tracking import StageTracking

__all__ = ["finish_stage", "result_metrics"]


def result_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Small, flat metrics for the result line (the full set is in metrics.json)."""
    keep = (
        "best_epoch",
        "best_val_f1",
        "best_val_loss",
        "epochs_run",
        "parameters",
        "stopped_early",
        "alpha_mean",
        "method",
        "calibration_seconds",
        "fusion_method",
    )
    out = {k: metrics[k] for k in keep if k in metrics}
    if "rows" in metrics:
        out["f1"] = {
            f"{r['split']}/{r['protocol']}/{r['model']}": r["f1"]
            for r in metrics["rows"]
            if r.get("default", True)
        }
    return out


def finish_stage(
    record: dict[str, Any],
    started: float,
    ctx: Any,
    error: BaseException | None,
    *,
    traceback_shown: bool = True,
    tracking: StageTracking | None = None,
    metrics: dict[str, Any] | None = None,
) -> NoReturn:
    """Close the stage's W&B run, print the stage's report as its last line and exit: 0
    when it completed."""
    if error is not None:
        record.update(status="failed", error_type=type(error).__name__, error=str(error))
        if traceback_shown:  # a bug: where it happened; a user error says so itself
            record["last_frame"] = _last_frame(error)
    record["wall_seconds"] = round(time.time() - started, 3)
    if ctx is not None:
        record["peak_memory"] = ctx.peak_memory()
    if tracking is not None:
        try:
            tracking.finish(
                metrics=metrics,
                summary=record.get("metrics", {}),
                peak_memory=record.get("peak_memory"),
                wall_seconds=record["wall_seconds"],
                failed=error is not None,
            )
        except Exception as exc:  # the stage's own outcome stands; the log says W&B failed
            click.echo(
                f"error: wandb: closing the run failed: {type(exc).__name__}: {exc}", err=True
            )
    click.echo(format_report(StageReport.model_validate(record)))
    sys.stdout.flush()
    sys.exit(0 if error is None else 1)


def _last_frame(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    return f"{tb[-1].filename}:{tb[-1].lineno} in {tb[-1].name}" if tb else ""
