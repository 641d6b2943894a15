"""``canids-submit pipeline NAME [NAME…]``: run whole pipelines with an executor.

``local`` runs stages one after another as ``canids-train`` subprocesses; ``ray`` runs them
as Ray tasks chained by their inputs (independent stages and pipelines at the same time);
``slurm`` submits one chained sbatch job per stage. The default is ``slurm`` where
``sbatch`` is on PATH, else ``local``; it is printed. Every stage logs one W&B run
(offline without an API key), grouped per pipeline (``RUN-DATASET-PIPELINE-SIZE``);
``--no-wandb`` turns it off. A local run shows a bar of its stages on a terminal, and one
line per stage elsewhere. Every stage of a local or Ray run is
recorded in ``<runs>/jobs/history.sqlite``, a failure classified by the same rules as a
SLURM job, so ``canids-jobs analyze`` and ``remediate`` see it.

Start-up imports only click and the catalogue: the executors, the data code and torch
load when a pipeline is planned.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from canids_core import CanidsError

from ._console import fail
from ._options import (
    cache_dir_option,
    dataset_option,
    no_source_check_option,
    run_option,
    runs_dir_option,
)
from ._progress import ProgressDisplay
from ._restart import restart_command
from ._size_overrides import split_size_overrides
from ._submit_executors import (
    families_per_size,
    make_runner,
    print_dry_run,
    print_outcome,
    slurm_overrides,
    submit_slurm,
    wandb_group,
    with_progress,
)
from ._tracking import WandbOptions, wandb_options

__all__ = ["default_executor", "main"]

EXECUTORS = ["local", "ray", "slurm"]


def default_executor() -> tuple[str, str]:
    """(executor, why): SLURM where its client is installed, else this machine."""
    if shutil.which("sbatch"):
        return "slurm", "sbatch is on PATH"
    return "local", "no sbatch on PATH"


def _list_pipelines(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from canids_models.catalog import PIPELINES

    for pipe in PIPELINES.values():
        size = pipe.size or "--size teacher|student"
        click.echo(f"{pipe.name:16} {size:24} {' -> '.join(pipe.stages)}")
    click.echo(f"{'custom':16} {'--size teacher|student':24} --stages a,b,...")
    ctx.exit(0)


def _user_errors() -> tuple[type[Exception], ...]:
    """What a person fixes (printed without a traceback): every canids error. canids-data's
    base is not a CanidsError yet, so it is named beside it."""
    from canids_data import CanidsDataError

    return (CanidsError, CanidsDataError)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Submit canids pipelines."""


@main.command()
@click.option(
    "--list-pipelines",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_list_pipelines,
    help="List the pipelines and their stages, then exit.",
)
@click.argument("names", nargs=-1, required=True, metavar="NAME...")
@dataset_option("Dataset whose cache the stages train on.")
@click.option(
    "--executor",
    type=click.Choice(EXECUTORS),
    default=None,
    help="Where stages run. Default: slurm where sbatch is on PATH, else local.",
)
@click.option(
    "--size",
    type=click.Choice(["teacher", "student"]),
    default=None,
    help="Size of the pipelines that do not fix their own (teacher and student do).",
)
@click.option("--stages", default=None, help="Comma-separated stages (pipeline 'custom').")
@click.option("--from-stage", default=None, help="Skip the DONE stages before this one.")
@click.option("--distill-from", type=click.Choice(["teacher"]), default=None)
@click.option("--dry-run", is_flag=True, help="Print the plan and the commands; run nothing.")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Config file passed to every stage.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="SECTION.KEY=VALUE",
    help="Override passed to every stage (repeatable); SIZE:SECTION.KEY=VALUE to the stages "
    "of that size only (e.g. student:fusion.select=auto), after the shared ones.",
)
@run_option()
@runs_dir_option()
@cache_dir_option()
@no_source_check_option()
@click.option("--address", default=None, help="ray: join this cluster (HOST:PORT or auto).")
@click.option("--num-cpus", type=int, default=None, help="ray: CPUs of a local cluster.")
@click.option("--cpus", type=float, default=None, help="ray: CPUs per stage (default: catalogue).")
@click.option("--gpus", type=float, default=None, help="ray: GPUs per stage (default: catalogue).")
@click.option("--memory", default=None, help="ray: memory per stage, e.g. 8G.")
@click.option("--max-retries", type=int, default=2, show_default=True, help="ray: system retries.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Data-parallel workers of the training stages (canids-train --workers).",
)
@click.option(
    "--profile",
    default="local",
    show_default=True,
    help="slurm: cluster profile (local, osc, or a TOML file).",
)
@click.option("--walltime", default=None, help="slurm: walltime of every job (HH:MM:SS).")
@click.option(
    "--stage-resources",
    multiple=True,
    metavar="STAGE:walltime=..,mem=..",
    help="slurm: per-stage resources (repeatable).",
)
@click.option("--gpu-type", default=None, help="slurm: a GPU kind of the profile.")
@click.option("--quiet", is_flag=True, help="No progress bar on a terminal: one line per stage.")
@wandb_options(group=False)
def pipeline(
    names: tuple[str, ...],
    dataset: str,
    executor: str | None,
    size: str | None,
    stages: str | None,
    from_stage: str | None,
    distill_from: str | None,
    dry_run: bool,
    config_path: Path | None,
    overrides: tuple[str, ...],
    run_name: str,
    runs_dir: Path | None,
    cache_dir: Path | None,
    no_source_check: bool,
    address: str | None,
    num_cpus: int | None,
    cpus: float | None,
    gpus: float | None,
    memory: str | None,
    max_retries: int,
    workers: int | None,
    profile: str,
    walltime: str | None,
    stage_resources: tuple[str, ...],
    gpu_type: str | None,
    quiet: bool,
    no_wandb: bool,
    wandb_mode: str,
    wandb_project: str,
) -> None:
    """Run pipelines NAME... (teacher, student, supervised_only, curriculum_only, custom).

    Several names are submitted together: a later one may use what an earlier one makes
    (``teacher student``), and the ray executor runs independent stages concurrently.
    """
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    if executor is None:
        executor, why = default_executor()
        click.echo(f"executor: {executor} (default: {why}; choose with --executor)")
    else:
        click.echo(f"executor: {executor}")
    user_errors = _user_errors()
    from canids_data import CacheManager
    from canids_models import ArtifactStore, get_pipeline, load_config, plan_pipelines

    try:
        cache = CacheManager(cache_dir)
        store = ArtifactStore(runs_dir, run_name, cache_dir=cache_dir)
    except user_errors as exc:
        fail(exc)
    click.echo(f"cache: {cache.cache_dir}")
    click.echo(f"artifacts: {store.runs_dir / store.run}")
    wandb = WandbOptions("disabled" if no_wandb else wandb_mode, wandb_project)
    try:
        sets = split_size_overrides(overrides)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from exc
    extra = [
        *(["--config", str(config_path)] if config_path else []),
        *(a for item in sets.shared for a in ("--set", item)),
        *(["--workers", str(workers)] if workers else []),
        *wandb.args(),
    ]
    # The submission as given, so that a restart runs under the same config.
    hint = restart_command(
        click.get_current_context(),
        {
            "executor": executor,
            "run_name": run_name,
            "runs_dir": store.runs_dir,
            "cache_dir": cache.cache_dir,
        },
    )
    display = ProgressDisplay(quiet=quiet)
    common: dict[str, Any] = {
        "cache_dir": cache.cache_dir,
        "extra_args": extra,
        "check_sources": not no_source_check,
        "echo": display.echo,
        "stage_args": sets.stage_args(None if wandb.mode == "disabled" else wandb_group(store)),
    }
    cluster = None
    recorder = None
    try:
        chosen = stages.split(",") if stages else None
        pipes = [(get_pipeline(name, chosen), size) for name in names]
        if distill_from is not None:
            pipes = [(replace(p, distill_from=distill_from), s) for p, s in pipes]
        # Each size's config (the file and its --set items, checked against the config
        # model before anything runs or is queued: a stage would refuse them only when it
        # starts, after SLURM had queued the whole chain), against which the done
        # artifacts a plan reads but does not make again are checked.
        planned = sorted(x for x in {given or p.size for p, given in pipes} if x is not None)
        configs = {s: load_config(s, config_path, sets.for_size(s)) for s in planned}
        plans = plan_pipelines(
            store,
            pipes,
            dataset,
            from_stage=from_stage,
            cache=cache,
            check_sources=not no_source_check,
            configs=configs,
        )
        try:
            sets.check_planned({plan.size for plan in plans})
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--set") from exc
        families = families_per_size(cache.cache_dir, dataset, plans, configs)
        for plan in plans:
            for stage, reason in plan.skipped.items():
                click.echo(f"skipping {plan.pipeline.name}/{stage}: {reason}")
            click.echo(
                f"pipeline {plan.pipeline.name} ({plan.size}) on {dataset}: "
                + " -> ".join(plan.run_stages)
            )
        if executor == "slurm":
            submit_slurm(
                store,
                plans,
                common,
                profile=profile,
                overrides=slurm_overrides(walltime, memory, cpus, gpus),
                stage_resources=stage_resources,
                gpu_type=gpu_type,
                dry_run=dry_run,
                workers=workers or 1,
                families=families,
            )
            return
        resources = {"cpus": cpus, "gpus": gpus, "memory": memory}
        runner, cluster = make_runner(
            executor, store, common, address, num_cpus, resources, max_retries, workers or 1
        )
        if dry_run:
            print_dry_run(runner, plans)
            return
        from canids_jobs import StageResultRecorder
        from canids_orchestrate import RayExecutor

        # Every stage into the failure history the SLURM jobs use (canids-jobs analyze).
        recorder = StageResultRecorder.for_runs(store.runs_dir)
        runner.on_stage_result = with_progress(recorder, display)
        click.echo(f"stage results: {recorder.history.path}")
        stage_ids = [f"{p.pipeline.name}/{p.size}/{s}" for p in plans for s in p.run_stages]
        # Ray forwards its workers' lines straight to this terminal: no bar under them.
        display.start_pipeline(stage_ids, bar=not isinstance(runner, RayExecutor))
        if isinstance(runner, RayExecutor):
            records = runner.run(plans, restart_hint=hint)
        else:
            records = [runner.run(plan, restart_hint=hint) for plan in plans]
    except user_errors as exc:
        display.close()
        fail(exc)
    finally:
        display.close()
        if recorder is not None:
            recorder.close()
        if cluster is not None:
            cluster.shutdown()
    for plan, record in zip(plans, records, strict=True):
        print_outcome(store, plan, record)
    statuses = {p.pipeline.name: r["status"] for p, r in zip(plans, records, strict=True)}
    click.echo(json.dumps({"pipelines": statuses}))
