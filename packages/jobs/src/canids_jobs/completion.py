"""Evidence for the one success rule (:func:`canids_core.stage_succeeded`): SLURM's state
text normalised, and whether a stage's artifact is DONE, asked of the artifact store.

The rule itself is not here: every executor's observations become a
:class:`canids_core.StageResult`, and ``StageResult.succeeded`` decides. A job counts only
when its exit code (where known), its ``CANIDS-STAGE-RESULT`` line, its DONE record and
SLURM's state (where a scheduler ran it) all agree; the seed's team counted jobs that
*started*.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from canids_core import StageReport
from canids_models.artifacts import ArtifactStore
from canids_models.catalog import STAGES
from canids_models.errors import ArtifactError

__all__ = ["artifacts_exist", "normalize_state", "stage_done"]


def normalize_state(state: str | None) -> tuple[str | None, str]:
    """SLURM state text → (STATE, reason).

    sacct writes ``CANCELLED by 1234``, squeue ``PENDING (DependencyNeverSatisfied)`` and
    scontrol ``JobState=PENDING Reason=...``; callers pass whichever they have.
    """
    if state is None or not state.strip():
        return None, ""
    text = state.strip()
    if text.startswith("JobState="):
        text = text[len("JobState=") :]
    head, _, rest = text.partition(" ")
    reason = rest.strip().strip("()").removeprefix("Reason=")
    return head.rstrip("+").upper(), reason


def stage_done(runs_dir: str | Path, run: str, dataset: str, size: str, stage: str) -> bool:
    """Whether ``stage``'s artifact has its DONE record under ``runs_dir``. The artifact
    store is the only code that maps (run, dataset, size, artifact) to a path."""
    if stage not in STAGES:
        return False
    try:
        return ArtifactStore(runs_dir, run).is_done(dataset, size, STAGES[stage].produces)
    except ArtifactError:
        # An unsafe dataset/size/run name (from a result line) cannot name a done artifact.
        return False


def artifacts_exist(result: StageReport | Mapping[str, Any], runs_dir: str | Path) -> bool:
    """Whether the artifact a stage's report names is done under ``runs_dir``: the runs
    folder the caller has (the cluster's, or a copy; the report's own paths are those of
    the machine it ran on)."""
    data = result.model_dump() if isinstance(result, StageReport) else result
    return stage_done(
        runs_dir,
        str(data.get("run") or "default"),
        str(data.get("dataset")),
        str(data.get("size")),
        str(data.get("stage")),
    )
