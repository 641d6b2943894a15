"""Preflight: before any training, every input of every stage must exist or be made earlier."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from canids_data import CacheManager

from .artifacts import ArtifactStore
from .catalog import STAGES, ArtifactRef, stage_inputs
from .errors import PreflightError

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
) -> None:
    """Raise :class:`PreflightError` listing every missing input (and a cache problem).

    An input is satisfied when its DONE record exists, when a stage earlier in ``stages``
    (same size) produces it, or when it is in ``produced_upstream`` (made by another
    pipeline of the same submission that runs first). ``cache`` is verified first.
    """
    problems: list[str] = []
    if cache is not None:
        report = cache.verify(dataset, check_sources=check_sources)
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
    if problems:
        raise PreflightError("preflight failed:\n  - " + "\n  - ".join(problems))
