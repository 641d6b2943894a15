"""Where ``canids-jobs`` finds a runs folder's ledger and failure history, and the option
that names the folder: shared by its commands (``jobs_cmd``, ``jobs_fixes``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._options import runs_dir_option

if TYPE_CHECKING:
    from canids_jobs import History, Ledger, LedgerJob

__all__ = ["jobs_dirs", "latest_attempts", "runs_option"]

runs_option = runs_dir_option()


def jobs_dirs(runs_dir: Path | None) -> tuple[Ledger, History]:
    from canids_jobs import History, Ledger
    from canids_models.artifacts import resolve_runs_dir

    runs = resolve_runs_dir(runs_dir)
    return Ledger.for_runs(runs), History(runs / "jobs" / "history.sqlite")


def latest_attempts(jobs: list[LedgerJob]) -> list[LedgerJob]:
    """A resubmitted job counts by its latest attempt."""
    replaced = {j.resubmit_of for j in jobs if j.resubmit_of}
    return [j for j in jobs if j.job_id not in replaced]
