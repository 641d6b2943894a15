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
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import click
from canids_core import CanidsError
from canids_models.catalog import STAGES

from ._kernel_restart import restart_with_kernels
from ._options import (
    cache_dir_option,
    dataset_option,
    no_source_check_option,
    run_option,
    runs_dir_option,
    size_option,
)
from ._progress import ProgressDisplay
from ._stage_end import finish_stage, result_metrics
from ._tracking import StageTracking, WandbOptions, start_tracking, wandb_options

__all__ = ["main"]


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
        finish_stage(record, started, None, exc)
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
            restart_with_kernels(config.train.cpu_capability)
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
        summary = json.loads(json.dumps(result_metrics(outcome.metrics), default=str))
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
    finish_stage(
        record,
        started,
        ctx,
        error,
        traceback_shown=not isinstance(error, user_errors),
        tracking=tracking,
        metrics=metrics,
    )


if __name__ == "__main__":  # python -m canids_cli.train_cmd: the fallback of canids-submit
    main()
