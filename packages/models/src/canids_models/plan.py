"""Planning a pipeline run: which stages run, which are skipped as DONE, preflight first,
and the one command line a stage runs with. Every executor (local, Ray, SLURM) plans
and starts stages through here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canids_data import CacheManager

from .artifacts import ArtifactStore
from .catalog import STAGES, ArtifactRef, Pipeline, stage_inputs
from .config import RunConfig
from .errors import PreflightError
from .preflight_checks import preflight

__all__ = [
    "PipelinePlan",
    "plan_pipeline",
    "plan_pipelines",
    "stage_command",
    "stage_graph",
    "stage_id",
]


@dataclass(frozen=True)
class PipelinePlan:
    pipeline: Pipeline
    dataset: str
    size: str
    distill_from: str | None
    run_stages: tuple[str, ...]
    skipped: dict[str, str] = field(default_factory=dict)

    def produces(self) -> list[ArtifactRef]:
        """The artifacts the stages that run make."""
        return [ArtifactRef(STAGES[s].produces, self.size) for s in self.run_stages]

    def distills(self, stage: str) -> bool:
        return self.distill_from is not None and bool(STAGES[stage].distill_consumes)

    def record(self, *, executor: str) -> dict[str, Any]:
        """The run record before anything ran."""
        return {
            "pipeline": self.pipeline.name,
            "dataset": self.dataset,
            "size": self.size,
            "distill_from": self.distill_from,
            "executor": executor,
            "status": "running",
            "stages": [
                {"stage": s, "status": "skipped", "reason": self.skipped[s]}
                if s in self.skipped
                else {"stage": s, "status": "pending"}
                for s in self.pipeline.stages
            ],
        }


def plan_pipeline(
    store: ArtifactStore,
    pipeline: Pipeline,
    dataset: str,
    *,
    size: str | None = None,
    from_stage: str | None = None,
    distill_from: str | None = None,
    cache: CacheManager | None = None,
    check_sources: bool = True,
    produced_upstream: Iterable[ArtifactRef] = (),
    config: RunConfig | None = None,
) -> PipelinePlan:
    """Decide what runs, then run preflight over it (so nothing trains if an input is missing).

    With ``from_stage``, the stages before it are skipped, and each of them must already be
    DONE; from ``from_stage`` on, every stage runs again. ``produced_upstream``: artifacts
    that pipelines submitted together with this one make first (see :func:`plan_pipelines`).
    ``config``: the stages' run config, against which the done inputs it does not make
    again are checked (:func:`canids_models.lineage.input_problems`).
    """
    size = size or pipeline.size
    if size is None:
        raise PreflightError(f"pipeline {pipeline.name} needs --size teacher or student")
    if pipeline.size is not None and size != pipeline.size:
        raise PreflightError(f"pipeline {pipeline.name} is for size {pipeline.size}, not {size}")
    distill_from = distill_from if distill_from is not None else pipeline.distill_from
    stages = list(pipeline.stages)
    skipped: dict[str, str] = {}
    if from_stage is not None:
        if from_stage not in stages:
            raise PreflightError(
                f"--from-stage {from_stage} is not a stage of pipeline "
                f"{pipeline.name} ({', '.join(stages)})"
            )
        for stage in stages[: stages.index(from_stage)]:
            key = STAGES[stage].produces
            if not store.is_done(dataset, size, key):
                raise PreflightError(
                    f"--from-stage {from_stage} skips {stage}, but its artifact {key} ({size}) "
                    f"is not done ({store.dir(dataset, size, key)}); run the pipeline without "
                    "--from-stage, or from that stage"
                )
            skipped[stage] = f"artifact {key} is DONE and --from-stage {from_stage} was given"
        stages = stages[stages.index(from_stage) :]
    preflight(
        store,
        dataset,
        size,
        stages,
        distill_from=distill_from,
        cache=cache,
        check_sources=check_sources,
        produced_upstream=produced_upstream,
        config=config,
    )
    return PipelinePlan(pipeline, dataset, size, distill_from, tuple(stages), skipped)


def plan_pipelines(
    store: ArtifactStore,
    pipelines: Sequence[tuple[Pipeline, str | None]],
    dataset: str,
    *,
    from_stage: str | None = None,
    cache: CacheManager | None = None,
    check_sources: bool = True,
    configs: Mapping[str, RunConfig] | None = None,
) -> list[PipelinePlan]:
    """Plan several pipelines submitted together (``(pipeline, size)`` pairs, in order).

    A pipeline may consume what an earlier one of the list makes (a student distilling from
    the teacher submitted with it). Two pipelines writing the same artifact are refused:
    they would overwrite each other's checkpoints. ``configs``: each size's run config,
    for :func:`plan_pipeline`'s check of the done inputs.
    """
    plans: list[PipelinePlan] = []
    made: dict[ArtifactRef, str] = {}
    for pipeline, size in pipelines:
        plan = plan_pipeline(
            store,
            pipeline,
            dataset,
            size=size,
            from_stage=from_stage if from_stage in pipeline.stages else None,
            cache=cache,
            check_sources=check_sources,
            produced_upstream=made,
            config=None if configs is None else configs.get(size or pipeline.size or ""),
        )
        for ref in plan.produces():
            if ref in made:
                raise PreflightError(
                    f"pipelines {made[ref]} and {pipeline.name} both write artifact {ref.key} "
                    f"({ref.size}) of {dataset}; submit them separately or with another --run"
                )
            made[ref] = pipeline.name
        plans.append(plan)
    return plans


def stage_command(
    plan: PipelinePlan,
    stage: str,
    store: ArtifactStore,
    cache_dir: str | Path,
    *,
    train_command: Sequence[str] = ("canids-train",),
    extra_args: Sequence[str] = (),
    check_sources: bool = True,
) -> list[str]:
    """The ``canids-train`` command line of one planned stage (a list: never a shell
    string, so no value is ever interpreted by a shell)."""
    cmd = [
        *train_command,
        stage,
        "--dataset",
        plan.dataset,
        "--size",
        plan.size,
        "--run",
        store.run,
        "--runs-dir",
        str(store.runs_dir),
        "--cache-dir",
        str(cache_dir),
        *extra_args,
    ]
    if plan.distills(stage):
        cmd += ["--distill-from", str(plan.distill_from)]
    if not check_sources:
        cmd.append("--no-source-check")
    return cmd


def stage_id(plan: PipelinePlan, stage: str) -> str:
    """A stage's name within a submission: ``pipeline/size/stage``."""
    return f"{plan.pipeline.name}/{plan.size}/{stage}"


def stage_graph(plans: Sequence[PipelinePlan]) -> dict[str, list[str]]:
    """stage id → the stage ids it waits for: those of the submission that make its inputs
    (its own size's, and the teacher's when it distils). Stages with no such input wait
    for nothing, so executors may run them at once."""
    graph: dict[str, list[str]] = {}
    maker: dict[ArtifactRef, str] = {}
    for plan in plans:
        for stage in plan.run_stages:
            sid = stage_id(plan, stage)
            refs = stage_inputs(stage, plan.size, plan.distill_from)
            graph[sid] = sorted({maker[r] for r in refs if r in maker})
            maker[ArtifactRef(STAGES[stage].produces, plan.size)] = sid
    return graph
