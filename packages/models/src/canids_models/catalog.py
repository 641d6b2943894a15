"""Stage and pipeline catalogue: what each stage consumes and produces, and its resources.

Executors (local, Ray, SLURM) read this and nothing else to order and size stages.
"""

from __future__ import annotations

from dataclasses import dataclass

from canids_core import Resources

from .errors import ConfigError

__all__ = [
    "PIPELINES",
    "STAGES",
    "ArtifactRef",
    "Pipeline",
    "Resources",
    "StageSpec",
    "get_pipeline",
    "stage_inputs",
]


# ``Resources`` is canids-core's, the one resources type of every executor; it is
# re-exported here (and as ``canids_models.Resources``) for the catalogue's readers.


@dataclass(frozen=True)
class StageSpec:
    name: str
    consumes: tuple[str, ...]
    produces: str
    resources: Resources
    description: str
    # With --distill-from teacher, the student also reads these of the teacher.
    distill_consumes: tuple[str, ...] = ()
    # Runs on N data-parallel workers with --workers N; otherwise on one, and why.
    data_parallel: bool = True
    single_worker_reason: str = ""


@dataclass(frozen=True)
class ArtifactRef:
    """One artifact of one size: what a stage reads or writes."""

    key: str
    size: str


STAGES: dict[str, StageSpec] = {
    "vgae": StageSpec(
        "vgae",
        (),
        "vgae",
        Resources(cpus=4, gpus=1, memory="16G", walltime="02:00:00"),
        "VGAE on normal training graphs; its reconstruction error is the anomaly score",
        distill_consumes=("vgae",),
    ),
    "gat": StageSpec(
        "gat",
        (),
        "gat",
        Resources(cpus=4, gpus=1, memory="16G", walltime="02:00:00"),
        "supervised GAT classifier on all training graphs",
        distill_consumes=("gat",),
    ),
    "gat_curriculum": StageSpec(
        "gat_curriculum",
        ("vgae",),
        "gat",
        Resources(cpus=4, gpus=1, memory="32G", walltime="04:00:00"),
        "GAT with a normal:attack curriculum and VGAE-scored hard-sample mining",
        distill_consumes=("gat",),
    ),
    "fusion": StageSpec(
        "fusion",
        ("vgae", "gat"),
        "fusion",
        Resources(cpus=4, gpus=1, memory="16G", walltime="01:00:00"),
        "Double-DQN choosing alpha in {0, 0.05, ..., 1} to mix GAT and VGAE scores",
        # A student's fusion reads its teacher's: the teacher's held-out family runs (the
        # families rule) or its deployed pick (fusion.select=teacher).
        distill_consumes=("fusion",),
        data_parallel=False,
        single_worker_reason=(
            "not data-parallel: the DQN learns from one replay buffer whose samples depend "
            "on its own past actions (split across ranks, each rank would train on another "
            "policy's experience), and it fits in seconds on the validation scores"
        ),
    ),
    "evaluate": StageSpec(
        "evaluate",
        ("vgae", "gat", "fusion"),
        "results",
        Resources(cpus=4, gpus=1, memory="16G", walltime="01:00:00"),
        "held-out test metrics per split with thresholds frozen on validation",
        data_parallel=False,
        single_worker_reason="not a training stage: it scores the test splits once",
    ),
}


@dataclass(frozen=True)
class Pipeline:
    name: str
    stages: tuple[str, ...]
    size: str | None = None  # None: the caller chooses
    distill_from: str | None = None


PIPELINES: dict[str, Pipeline] = {
    "teacher": Pipeline("teacher", ("vgae", "gat_curriculum", "fusion", "evaluate"), "teacher"),
    "student": Pipeline("student", ("vgae", "gat", "fusion", "evaluate"), "student", "teacher"),
    "supervised_only": Pipeline("supervised_only", ("vgae", "gat", "fusion", "evaluate")),
    "curriculum_only": Pipeline("curriculum_only", ("vgae", "gat_curriculum")),
}


def get_pipeline(name: str, stages: list[str] | tuple[str, ...] | None = None) -> Pipeline:
    """A named pipeline, or ``custom`` with an explicit stage list."""
    if name == "custom":
        if not stages:
            raise ConfigError("pipeline 'custom' needs a stage list (e.g. --stages vgae,gat)")
        unknown = [s for s in stages if s not in STAGES]
        if unknown:
            raise ConfigError(f"unknown stage(s) {unknown}; known: {', '.join(STAGES)}")
        return Pipeline("custom", tuple(stages))
    if name not in PIPELINES:
        raise ConfigError(f"unknown pipeline {name!r}; known: {', '.join(PIPELINES)}, custom")
    return PIPELINES[name]


def stage_inputs(stage: str, size: str, distill_from: str | None) -> list[ArtifactRef]:
    """The artifacts a stage reads, its own size's and (distilling) the teacher's."""
    spec = STAGES[stage]
    refs = [ArtifactRef(key, size) for key in spec.consumes]
    if distill_from is not None and spec.distill_consumes:
        refs += [ArtifactRef(key, distill_from) for key in spec.distill_consumes]
    return refs
