"""Preflight: before any training, every input of every stage must exist or be made earlier."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from canids_data import CacheManager

from .artifacts import ArtifactStore
from .catalog import STAGES, ArtifactRef, stage_inputs
from .config import RunConfig
from .errors import PreflightError
from .lineage import cache_identity, input_problems

__all__ = ["MissingArtifact", "preflight"]


@dataclass(frozen=True)
class MissingArtifact:
    stage: str
    ref: ArtifactRef
    path: Path
    producers: tuple[str, ...]
    command: str

    def describe(self) -> str:
        return (
            f"stage {self.stage} needs artifact {self.ref.key} ({self.ref.size}): "
            f"{self.path} is not done; produced by stage {' or '.join(self.producers)}: "
            f"{self.command}"
        )


def _producers(key: str) -> tuple[str, ...]:
    return tuple(name for name, spec in STAGES.items() if spec.produces == key)


def preflight(
    store: ArtifactStore,
    dataset: str,
    size: str,
    stages: list[str] | tuple[str, ...],
    *,
    distill_from: str | None = None,
    cache: CacheManager | None = None,
    check_sources: bool = True,
    produced_upstream: Iterable[ArtifactRef] = (),
    config: RunConfig | None = None,
) -> None:
    """Raise :class:`PreflightError` listing every missing input (and a cache problem).

    An input is satisfied when its DONE record exists, when a stage earlier in ``stages``
    (same size) produces it, or when it is in ``produced_upstream`` (made by another
    pipeline of the same submission that runs first). ``cache`` is verified first. With
    ``config`` (the stages' run config), a done input that no earlier stage makes again
    must also be one this config describes, made from the inputs on disk now and on this
    cache (:func:`canids_models.lineage.input_problems`).
    """
    problems: list[str] = []
    identity = None  # the cache a stage would read now, where it verifies
    if cache is not None:
        report = cache.verify(dataset, check_sources=check_sources)
        if report.ok and report.manifest is not None:
            identity = cache_identity(report.manifest.data)
        if not report.ok:
            first = report.problems[0]
            problems.append(
                f"graph cache of {dataset} is {report.status} ({first.where}: "
                f"{first.detail}); fix: {report.fix}"
            )
    missing: list[MissingArtifact] = []
    produced: set[tuple[str, str]] = {(ref.key, ref.size) for ref in produced_upstream}
    for stage in stages:
        if stage not in STAGES:
            raise PreflightError(f"unknown stage {stage!r}; known: {', '.join(STAGES)}")
        if config is not None:
            problems += input_problems(
                store, dataset, size, stage, config, distill_from, cache=identity, skip=produced
            )
        for ref in stage_inputs(stage, size, distill_from):
            if (ref.key, ref.size) in produced or store.is_done(dataset, ref.size, ref.key):
                continue
            producers = _producers(ref.key)
            cmd = store.train_command(producers[-1], dataset, ref.size)
            missing.append(
                MissingArtifact(stage, ref, store.dir(dataset, ref.size, ref.key), producers, cmd)
            )
        produced.add((STAGES[stage].produces, size))
    problems += [m.describe() for m in missing]
    # Two stages of a plan may read the same done artifact: one line for it.
    problems = list(dict.fromkeys(problems))
    if problems:
        raise PreflightError("preflight failed:\n  - " + "\n  - ".join(problems))
