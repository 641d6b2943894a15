"""How ``canids-submit pipeline`` hands its plans to an executor and reports back: the
``canids-train`` every executor runs, the local or Ray runner, the SLURM submission, the
dry-run listing and the outcome lines.

Executors, canids-jobs and the models load inside each function, so that
``canids-submit --help`` imports only click and the catalogue.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ._progress import ProgressDisplay

if TYPE_CHECKING:
    from canids_core import StageResult
    from canids_models import ArtifactStore, PipelinePlan, RunConfig
    from canids_orchestrate import LocalExecutor, RayCluster, RayExecutor


__all__ = [
    "families_per_size",
    "make_runner",
    "print_dry_run",
    "print_outcome",
    "slurm_overrides",
    "submit_slurm",
    "train_command",
    "wandb_group",
    "with_progress",
]


def train_command() -> list[str]:
    """The absolute ``canids-train`` of this environment: Ray workers, SLURM jobs and a
    ``canids-submit`` started by its full path (no venv on PATH) must all run the stage
    code this command belongs to."""
    beside = Path(sys.executable).parent / "canids-train"
    if beside.is_file():
        return [str(beside)]
    found = shutil.which("canids-train")
    return [found] if found else [sys.executable, "-m", "canids_cli.train_cmd"]


def wandb_group(store: ArtifactStore) -> Any:
    """``stage_args`` of the executors: every stage of a pipeline in one W&B group."""

    def args(plan: PipelinePlan, _stage: str) -> list[str]:
        return ["--wandb-group", f"{store.run}-{plan.dataset}-{plan.pipeline.name}-{plan.size}"]

    return args


def with_progress(recorder: Any, display: ProgressDisplay) -> Any:
    """The recorder as ``on_stage_result``, moving the pipeline's progress on as well."""

    def observe(result: StageResult) -> StageResult | None:
        recorded = recorder(result)
        display.stage_finished(recorded if recorded is not None else result)
        return recorded

    return observe


def make_runner(
    executor: str,
    store: ArtifactStore,
    common: dict[str, Any],
    address: str | None,
    num_cpus: int | None,
    resources: dict[str, Any],
    max_retries: int,
    workers: int = 1,
) -> tuple[LocalExecutor | RayExecutor, RayCluster | None]:
    """The executor, and the Ray cluster to shut down afterwards (``None`` locally)."""
    if executor == "ray":
        from canids_orchestrate import RayCluster, RayExecutor

        cluster = RayCluster(address, num_cpus=num_cpus, echo=click.echo)
        runner = RayExecutor(
            store,
            train_command=train_command(),
            cluster=cluster,
            resources=resources,
            max_retries=max_retries,
            workers=workers,
            **common,
        )
        return runner, cluster
    from canids_orchestrate import LocalExecutor

    if any(v is not None for v in resources.values()):
        click.echo("note: --cpus, --gpus and --memory apply to the ray and slurm executors")
    return LocalExecutor(store, train_command=train_command(), **common), None


def print_dry_run(runner: LocalExecutor | RayExecutor, plans: list[PipelinePlan]) -> None:
    from canids_models import stage_graph, stage_id

    graph = stage_graph(plans) if runner.name == "ray" else {}
    for plan in plans:
        for stage in plan.run_stages:
            waits = graph.get(stage_id(plan, stage))
            after = f"   # after {', '.join(waits)}" if waits else ""
            click.echo("  " + " ".join(runner.command(plan, stage)) + after)


def print_outcome(store: ArtifactStore, plan: PipelinePlan, record: dict) -> None:
    click.echo(
        f"pipeline {plan.pipeline.name} {record['status']}: "
        + ", ".join(
            f"{s['stage']} {s['status']}" + (f" ({s['seconds']:.0f} s)" if s.get("seconds") else "")
            for s in record["stages"]
        )
    )
    click.echo(f"run record: {store.pipeline_record(plan.dataset, plan.pipeline.name, plan.size)}")
    results = store.path(plan.dataset, plan.size, "results", "results.md")
    report = store.path(plan.dataset, plan.size, "results", "report.html")
    if "evaluate" in plan.run_stages and results.is_file():
        click.echo(results.read_text().rstrip())
    if "evaluate" in plan.run_stages and report.is_file():
        click.echo(f"report: {report}")


def families_per_size(
    cache_dir: Path,
    dataset: str,
    plans: list[PipelinePlan],
    configs: Mapping[str, RunConfig],
) -> dict[str, int]:
    """Per planned size, how many attack families its fusion stage holds out (each one more
    training of both detectors inside it), where its config (``configs``: each planned
    size's, loaded by ``canids-submit`` before planning) takes the families rule."""
    from canids_data.cache.manifest import load_manifest
    from canids_models.attack_families import attack_families

    sizes = sorted({plan.size for plan in plans})
    per_size = [configs[size] for size in sizes]
    # The cache's manifest is read only where a config could take the families rule (it
    # would with two families); then the count decides, per size, whether one does (the
    # student's preset deploys its teacher's pick and holds none out).
    if not any(c.fusion.holds_out_families(2) for c in per_size) or not any(
        "fusion" in plan.run_stages for plan in plans
    ):
        return {}
    held = len(attack_families(load_manifest(cache_dir / dataset, dataset).data))
    return {
        size: held
        for size, config in zip(sizes, per_size, strict=True)
        if config.fusion.holds_out_families(held)
    }


def slurm_overrides(
    walltime: str | None, memory: str | None, cpus: float | None, gpus: float | None
) -> dict[str, str]:
    """The SLURM resources given on the command line, as the profile's keys."""
    given = {
        "walltime": walltime,
        "mem": memory,
        # As given: a fraction is refused by the SLURM executor, never rounded (--cpus 0.5
        # once became --cpus-per-task=0).
        "cpus": None if cpus is None else f"{cpus:g}",
        "gpus": None if gpus is None else f"{gpus:g}",
    }
    return {k: v for k, v in given.items() if v is not None}


def submit_slurm(
    store: ArtifactStore,
    plans: list[PipelinePlan],
    common: dict,
    *,
    profile: str,
    overrides: dict[str, str],
    stage_resources: tuple[str, ...],
    gpu_type: str | None,
    dry_run: bool,
    workers: int = 1,
    families: Mapping[str, int] | None = None,
) -> None:
    from canids_jobs import Ledger, SlurmSubmitter, load_profile, parse_stage_resources

    submitter = SlurmSubmitter(
        store,
        cache_dir=common["cache_dir"],
        profile=load_profile(profile),
        ledger=None if dry_run else Ledger.for_runs(store.runs_dir),
        train_command=train_command(),
        extra_args=common["extra_args"],
        stage_args=common["stage_args"],
        check_sources=common["check_sources"],
        overrides=overrides,
        stage_overrides=parse_stage_resources(stage_resources),
        gpu_type=gpu_type,
        echo=click.echo,
        workers=workers,
        families=families or {},
    )
    jobs = submitter.render(plans)
    if dry_run:
        for job in jobs:
            click.echo(f"# ---- {job.script_path}")
            click.echo(job.script, nl=False)
        click.echo("dependency graph (nothing submitted):")
        click.echo(submitter.describe(jobs))
        return
    for job in jobs:
        for note in job.notes:
            click.echo(f"{job.stage_id}: {note}")
    pipeline_id, rows = submitter.submit(plans)
    click.echo(f"pipeline {pipeline_id}: {len(rows)} jobs submitted")
    click.echo(f"follow it: canids-jobs status {pipeline_id} --runs-dir {store.runs_dir}")
    click.echo(json.dumps({"pipeline_id": pipeline_id, "jobs": [r.job_id for r in rows]}))
