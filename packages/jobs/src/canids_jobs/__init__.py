"""canids-jobs: canids pipelines on SLURM (chained sbatch jobs, a ledger), what really
completed, why jobs failed, and a remediation base that learns which fixes work."""

from __future__ import annotations

from .analyze import Analysis, analyze
from .classify import Classification, FailureType, classify
from .completion import artifacts_exist, is_completed
from .errors import HistoryError, JobsError, OutputsError
from .history import History, JobEvent
from .ledger import Ledger, LedgerJob
from .localslurm import LocalSlurm, LocalSlurmError
from .parse_outputs import parse_folder
from .profile import ClusterProfile, load_profile
from .remediate import FailedJob, Suggestion, suggest
from .resubmit import resubmit
from .slurm import JobRecord, SlurmError, job_states, sbatch, scancel
from .stage_script import parse_stage_resources, render_stage_script
from .status import JobStatus, job_statuses, record_outcomes
from .submit import RenderedJob, SlurmSubmitter, SubmitError
from .summary import JobOutcome, ResultsSummary, summarize
from .synthetic_outputs import write_synthetic_outputs

__version__ = "0.1.0"

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
    "LocalSlurm",
    "LocalSlurmError",
    "OutputsError",
    "RenderedJob",
    "ResultsSummary",
    "SlurmError",
    "SlurmSubmitter",
    "SubmitError",
    "Suggestion",
    "__version__",
    "analyze",
    "artifacts_exist",
    "classify",
    "is_completed",
    "job_states",
    "job_statuses",
    "load_profile",
    "parse_folder",
    "parse_stage_resources",
    "record_outcomes",
    "render_stage_script",
    "resubmit",
    "sbatch",
    "scancel",
    "suggest",
    "summarize",
    "write_synthetic_outputs",
]
