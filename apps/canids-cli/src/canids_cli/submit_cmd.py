"""``canids-submit pipeline NAME``: run a whole pipeline with an executor.

This release has the ``local`` executor (stages as ``canids-train`` subprocesses, one after
another). ``ray`` comes with the Ray executor, and ``slurm`` with canids-jobs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from canids_data import CacheManager, CanidsDataError
from canids_models import ArtifactStore, ModelsError, get_pipeline
from canids_orchestrate import LocalExecutor, PipelineError, plan_pipeline

from ._console import fail

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Submit canids pipelines."""


@main.command()
@click.argument("name")
@click.option("--dataset", required=True)
@click.option(
    "--executor",
    type=click.Choice(["local"]),
    default="local",
    show_default=True,
    help="Where stages run (local: subprocesses on this machine).",
)
@click.option(
    "--size",
    type=click.Choice(["teacher", "student"]),
    default=None,
    help="Size (the teacher and student pipelines fix their own).",
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
    help="Override passed to every stage (repeatable).",
)
@click.option("--run", "run_name", default="default", show_default=True)
@click.option("--runs-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--no-source-check", is_flag=True)
def pipeline(
    name: str,
    dataset: str,
    executor: str,
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
) -> None:
    """Run pipeline NAME (teacher, student, supervised_only, curriculum_only, custom)."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    cache = CacheManager(cache_dir)
    store = ArtifactStore(runs_dir, run_name)
    click.echo(f"cache: {cache.cache_dir}")
    click.echo(f"artifacts: {store.runs_dir / store.run}")
    click.echo(f"executor: {executor}")
    extra = [
        *(["--config", str(config_path)] if config_path else []),
        *(a for item in overrides for a in ("--set", item)),
    ]
    hint = (
        f"canids-submit pipeline {name} --dataset {dataset} --executor {executor}"
        f" --run {run_name} --runs-dir {store.runs_dir} --cache-dir {cache.cache_dir}"
    )
    try:
        pipe = get_pipeline(name, stages.split(",") if stages else None)
        plan = plan_pipeline(
            store,
            pipe,
            dataset,
            size=size,
            from_stage=from_stage,
            distill_from=distill_from,
            cache=cache,
            check_sources=not no_source_check,
        )
        runner = LocalExecutor(
            store,
            cache_dir=cache.cache_dir,
            extra_args=extra,
            check_sources=not no_source_check,
            echo=click.echo,
        )
        for stage, reason in plan.skipped.items():
            click.echo(f"skipping {stage}: {reason}")
        click.echo(
            f"pipeline {pipe.name} ({plan.size}) on {dataset}: {' -> '.join(plan.run_stages)}"
        )
        if dry_run:
            for stage in plan.run_stages:
                click.echo("  " + " ".join(runner.command(plan, stage)))
            return
        record = runner.run(plan, restart_hint=hint)
    except PipelineError as exc:
        fail(exc)
    except (ModelsError, CanidsDataError) as exc:
        fail(exc)
    click.echo(
        f"pipeline {pipe.name} completed: "
        + ", ".join(
            f"{s['stage']} {s['status']}" + (f" ({s['seconds']:.0f} s)" if "seconds" in s else "")
            for s in record["stages"]
        )
    )
    click.echo(f"run record: {store.pipeline_record(dataset, pipe.name, plan.size)}")
    results = store.dir(dataset, plan.size, "results") / "results.md"
    if "evaluate" in plan.run_stages and results.is_file():
        click.echo(results.read_text().rstrip())
    click.echo(json.dumps({"pipeline": pipe.name, "status": record["status"]}))
