"""``canids-train STAGE``: run one stage; the same entry point for every executor.

One line per epoch goes to stdout; on a terminal (and without ``--quiet``) a bar per
epoch shows the batches, the loss and graphs/s on stderr. The last stdout line is
``CANIDS-STAGE-RESULT {json}``, a :class:`canids_core.StageReport` (status, stage,
dataset, size, metrics, artifact paths, wall time, peak memory), which executors and the
SLURM job parser read. Exit 0 when the stage completed, 1 otherwise. Each stage is one
W&B run (offline without an API key; ``--no-wandb`` turns it off; see ``_tracking``).

Only the catalogue is imported at start-up (``--help`` answers at once); the data and
model code, and torch with it, load when a stage runs.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any, NoReturn

import click
from canids_core import CanidsError, StageReport, format_report
from canids_models.catalog import STAGES

from ._options import (
    cache_dir_option,
    dataset_option,
    no_source_check_option,
    run_option,
    runs_dir_option,
    size_option,
)
from ._progress import ProgressDisplay
from ._tracking import StageTracking, WandbOptions, start_tracking, wandb_options

__all__ = ["main"]


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
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


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("stage", type=click.Choice(list(STAGES)))
@dataset_option("Dataset whose cache to train on.")
@size_option()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="JSON/TOML config (e.g. canids-tune's best config).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override one value (repeatable), e.g. --set train.epochs=5.",
)
@click.option(
    "--distill-from",
    type=click.Choice(["teacher"]),
    default=None,
    help="Student stages: distil from the teacher's artifacts.",
)
@run_option()
@runs_dir_option()
@cache_dir_option()
@no_source_check_option()
@click.option(
    "--quiet",
    is_flag=True,
    help="No progress bars on a terminal: one line per epoch, as in a batch job.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Data-parallel workers (Ray Train ranks; sets train.workers). Default: train.workers, 1.",
)
@click.option(
    "--address",
    default=None,
    help="Ray cluster for --workers > 1 (HOST:PORT or auto). Default: $RAY_ADDRESS, "
    "else a Ray started here.",
)
@click.option(
    "--placement",
    type=click.Choice(["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"]),
    default="PACK",
    show_default=True,
    help="How Ray places the workers on nodes.",
)
@click.option(
    "--max-failures",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Worker-group restarts (from the last epoch checkpoint) before the stage fails.",
)
@wandb_options(group=True)
def main(
    stage: str,
    dataset: str,
    size: str,
    config_path: Path | None,
    overrides: tuple[str, ...],
    distill_from: str | None,
    run_name: str,
    runs_dir: Path | None,
    cache_dir: Path | None,
    no_source_check: bool,
    quiet: bool,
    workers: int | None,
    address: str | None,
    placement: str,
    max_failures: int,
    no_wandb: bool,
    wandb_mode: str,
    wandb_project: str,
    wandb_group: str | None,
) -> None:
    """Train or evaluate one STAGE of the catalogue for DATASET and SIZE."""
    # Executors and SLURM logs read progress while the stage runs: flush every line.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    started = time.time()
    record: dict[str, Any] = {"stage": stage, "dataset": dataset, "size": size, "run": run_name}
    ctx = None
    tracking: StageTracking | None = None
    metrics: dict[str, Any] | None = None
    display = ProgressDisplay(quiet=quiet)
    wandb = WandbOptions("disabled" if no_wandb else wandb_mode, wandb_project, wandb_group)
    # Heavy imports here, inside the stage's own error handling: a broken install still
    # ends with a result line.
    try:
        from canids_data import CacheManager, CanidsDataError
        from canids_models import (
            ArtifactStore,
            StageContext,
            kernels_pinned,
            leave_process_group,
            load_config,
            preflight,
            ranks_from_env,
            run_stage,
        )

        from ._workers import plan_workers, run_on_workers
    except Exception as exc:
        traceback.print_exc()
        _finish(record, started, None, exc)
    # canids-data's base error is not a CanidsError yet; both are the user's to fix.
    user_errors = (CanidsError, CanidsDataError)
    ranks = None  # this process's torch.distributed ranks, when it joined a group
    try:
        cache = CacheManager(cache_dir)
        store = ArtifactStore(runs_dir, run_name, cache_dir=cache_dir)
        click.echo(f"cache: {cache.cache_dir}")
        click.echo(f"artifacts: {store.runs_dir / store.run}")
        config = load_config(size, config_path, overrides)
        if workers is not None:
            config = config.merged({"train": {"workers": workers}}, f"--workers {workers}")
        if not kernels_pinned(config.train.cpu_capability):
            _restart_with_kernels(config.train.cpu_capability)
        plan = plan_workers(stage, config.train.workers)
        if plan.note:
            click.echo(plan.note)
        ranks = ranks_from_env(config.train.device) if plan.mode == "env" else None
        quiet_rank = ranks is not None and not ranks.is_main  # rank 0 speaks for all
        preflight(
            store,
            dataset,
            size,
            [stage],
            distill_from=distill_from,
            cache=cache,
            check_sources=not no_source_check,
            config=config,
        )
        ctx = StageContext(
            dataset,
            size,
            config,
            store,
            cache.cache_dir,
            distill_from,
            check_sources=not no_source_check,
            log=(lambda line: None) if quiet_rank else display.echo,
            on_progress=display.on_batch if display.bars and not quiet_rank else None,
            **({"ranks": ranks} if ranks is not None else {}),
        )
        where = {
            "single": "",
            "ray": f", {plan.workers} Ray Train workers",
            "env": f", rank {ranks.rank if ranks else 0} of {plan.workers} (torch.distributed)",
        }[plan.mode]
        click.echo(
            f"{stage} ({size}) on {dataset}: device {ctx.device}, backend {ctx.backend}, "
            f"config {config.digest[:12]}{where}"
        )
        if quiet_rank:
            wandb = WandbOptions("disabled", wandb_project, wandb_group)
        tracking = start_tracking(wandb, ctx, store, stage, click.echo)
        if plan.mode == "ray":
            outcome = run_on_workers(
                ctx,
                store,
                stage,
                plan.workers,
                address=address,
                placement=placement,
                max_failures=max_failures,
                check_sources=not no_source_check,
                echo=click.echo,
            )
        else:
            outcome = run_stage(stage, ctx)
        if ranks is not None:
            leave_process_group(wait=True)
        if outcome is None:  # a torchrun rank other than 0: rank 0 reports the stage
            display.close()
            sys.exit(0)
        metrics = outcome.metrics
        # JSON-plain values (numpy numbers become their text, as the old line had them).
        summary = json.loads(json.dumps(_summary(outcome.metrics), default=str))
        record.update(status="completed", metrics=summary, artifacts=outcome.paths)
        error = None
    except user_errors as exc:
        display.close()
        click.echo(f"error: {exc}", err=True)
        error = exc
    except Exception as exc:
        display.close()
        traceback.print_exc()
        error = exc
    if error is not None and ranks is not None:
        leave_process_group(wait=False)
    display.close()
    _finish(
        record,
        started,
        ctx,
        error,
        traceback_shown=not isinstance(error, user_errors),
        tracking=tracking,
        metrics=metrics,
    )


def _restart_with_kernels(capability: str) -> None:
    """Run this command again in this process (same pid, so executors and SLURM keep
    watching it) with ``capability``'s kernels pinned: torch and MKL read the variables
    only when they load. Called as a library (not the ``canids-train`` program), or when
    the restart did not take, it refuses instead."""
    from canids_models import ModelsError, kernel_environment

    pinned = kernel_environment(capability)  # refuses kernels this CPU cannot run
    if os.environ.get(_RESTARTED) or Path(sys.argv[0]).name != "canids-train":
        wanted = " ".join(f"{k}={v}" for k, v in pinned.items())
        raise ModelsError(
            f"train.cpu_capability={capability} needs the stage's process to start with "
            f"{wanted}; run it through the canids-train program, or set them before Python "
            "starts"
        )
    click.echo("cpu kernels: restarting with " + " ".join(f"{k}={v}" for k, v in pinned.items()))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(
        sys.executable,
        [sys.executable, *sys.orig_argv[1:]],
        {**os.environ, **pinned, _RESTARTED: capability},
    )


_RESTARTED = "CANIDS_KERNELS_RESTARTED"


def _finish(
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


if __name__ == "__main__":  # python -m canids_cli.train_cmd: the fallback of canids-submit
    main()
