"""The completion rule: when a SLURM job counts as completed. One function, used by the
folder parser and by the ledger-based status alike, so the two can never disagree.

The seed's team counted jobs that *started*; here a job counts only when SLURM, the stage's
own ``CANIDS-STAGE-RESULT`` record and the artifact store all agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from canids_models.artifacts import ArtifactStore
from canids_models.catalog import STAGES
from canids_models.errors import ArtifactError

__all__ = ["artifacts_exist", "is_completed", "normalize_state"]


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


def is_completed(
    slurm_state: str | None,
    result: Mapping[str, Any] | None,
    artifacts_exist: bool | None,
) -> bool:
    """True only when the job really completed.

    - ``slurm_state`` is COMPLETED, or ``None`` when unknown (a folder of output files has
      no SLURM state): a job that traps SIGTERM at its time limit can end COMPLETED with
      exit 0, so the state alone never suffices;
    - ``result`` (the job's last ``CANIDS-STAGE-RESULT`` record) says ``completed``;
    - ``artifacts_exist`` is not ``False`` (``None`` means not checked).
    """
    name, _ = normalize_state(slurm_state)
    if name is not None and name != "COMPLETED":
        return False
    if result is None or result.get("status") != "completed":
        return False
    return artifacts_exist is not False


def artifacts_exist(result: Mapping[str, Any], runs_dir: str | Path) -> bool:
    """Whether the artifact a completed stage record names is done under ``runs_dir``.

    The record's own paths are those of the cluster it ran on; the artifact store is the
    only code that maps (run, dataset, size, artifact) to a path, so we ask it, for the
    runs folder the caller has (the same one, or a copy).
    """
    stage = result.get("stage")
    if stage not in STAGES:
        return False
    try:
        store = ArtifactStore(runs_dir, str(result.get("run") or "default"))
        return store.is_done(
            str(result.get("dataset")), str(result.get("size")), STAGES[stage].produces
        )
    except ArtifactError:
        # An unsafe dataset/size/run name in a result line cannot name a done artifact.
        return False
