"""canids-jobs: canids pipelines on SLURM (chained sbatch jobs, a ledger), what really
completed on every executor, why stages failed, and a remediation base that learns which
fixes work.

Names load on first use (PEP 562): ``canids-jobs status``, ``list`` and ``analyze`` import
the ledger, SLURM and history code only, never torch, torch_geometric, zarr or ray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.6.1"

# public name -> the submodule that defines it (never a module of the same name as a
# function: importing ``canids_jobs.analyze`` would replace the function by the module)
_LAZY: dict[str, str] = {
    "Analysis": "analysis",
    "Classification": "classification",
    "ClusterProfile": "cluster_profile",
    "FailedJob": "remediate",
    "FailureType": "rules",
    "History": "history",
    "HistoryError": "errors",
    "JobEvent": "history",
    "JobOutcome": "summary",
    "JobRecord": "slurm",
    "JobStatus": "status",
    "JobsError": "errors",
    "Ledger": "ledger",
    "LedgerJob": "ledger",
    "OutputsError": "errors",
    "ProfileError": "errors",
    "RenderedJob": "submit",
    "ResourcesError": "errors",
    "Resubmission": "jobs_report",
    "ResultsSummary": "summary",
    "SlurmError": "errors",
    "SlurmSubmitter": "submit",
    "StageResultRecorder": "recorder",
    "SubmitError": "submit",
    "Suggestion": "remediate",
    "analyze": "analysis",
    "artifacts_exist": "completion",
    "classify": "classification",
    "classify_result": "classification",
    "failed_job": "remediate",
    "folder_resubmissions": "jobs_report",
    "job_states": "slurm",
    "job_statuses": "status",
    "job_window": "jobs_report",
    "ledger_resubmissions": "jobs_report",
    "load_profile": "cluster_profile",
    "parse_folder": "parse_outputs",
    "parse_stage_resources": "stage_script",
    "record_outcomes": "status",
    "render_jobs_report": "jobs_report",
    "render_stage_script": "stage_script",
    "resubmit": "resubmission",
    "sbatch": "slurm",
    "scancel": "slurm",
    "settings_unknown": "failed_jobs",
    "suggest": "remediate",
    "summarize": "summary",
}

__all__ = [
    "Analysis",
    "Classification",
    "ClusterProfile",
    "FailedJob",
    "FailureType",
    "History",
    "HistoryError",
    "JobEvent",
    "JobOutcome",
    "JobRecord",
    "JobStatus",
    "JobsError",
    "Ledger",
    "LedgerJob",
    "OutputsError",
    "ProfileError",
    "RenderedJob",
    "ResourcesError",
    "Resubmission",
    "ResultsSummary",
    "SlurmError",
    "SlurmSubmitter",
    "StageResultRecorder",
    "SubmitError",
    "Suggestion",
    "analyze",
    "artifacts_exist",
    "classify",
    "classify_result",
    "failed_job",
    "folder_resubmissions",
    "job_states",
    "job_statuses",
    "job_window",
    "ledger_resubmissions",
    "load_profile",
    "parse_folder",
    "parse_stage_resources",
    "record_outcomes",
    "render_jobs_report",
    "render_stage_script",
    "resubmit",
    "sbatch",
    "scancel",
    "settings_unknown",
    "suggest",
    "summarize",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canids_jobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from .analysis import Analysis, analyze
    from .classification import Classification, classify, classify_result
    from .cluster_profile import ClusterProfile, load_profile
    from .completion import artifacts_exist
    from .errors import (
        HistoryError,
        JobsError,
        OutputsError,
        ProfileError,
        ResourcesError,
        SlurmError,
    )
    from .failed_jobs import settings_unknown
    from .history import History, JobEvent
    from .jobs_report import (
        Resubmission,
        folder_resubmissions,
        job_window,
        ledger_resubmissions,
        render_jobs_report,
    )
    from .ledger import Ledger, LedgerJob
    from .parse_outputs import parse_folder
    from .recorder import StageResultRecorder
    from .remediate import FailedJob, Suggestion, failed_job, suggest
    from .resubmission import resubmit
    from .rules import FailureType
    from .slurm import JobRecord, job_states, sbatch, scancel
    from .stage_script import parse_stage_resources, render_stage_script
    from .status import JobStatus, job_statuses, record_outcomes
    from .submit import RenderedJob, SlurmSubmitter, SubmitError
    from .summary import JobOutcome, ResultsSummary, summarize
