"""canids-batching: memory-aware batching of graph datasets for PyTorch.

Profile the node and edge counts of a dataset, batch it under a node and/or edge budget
with an exact length per epoch (DDP-ready), and find the largest budget a model trains
with on a given GPU. Runtime dependencies: torch and numpy; PyG (``[pyg]``) and
matplotlib (``[plot]``) are optional extras.
"""

from __future__ import annotations

from canids_batching._plan import EpochPlan
from canids_batching._plot import plot_profile
from canids_batching.errors import BatchingError, BatchingWarning, DoesNotFit
from canids_batching.finder import find_max_budget
from canids_batching.profile import (
    CV_THRESHOLD,
    Histogram,
    Profile,
    Recommendation,
    SizeStats,
    profile_dataset,
    profile_sizes,
)
from canids_batching.sampler import BudgetBatchSampler, SamplerStats
from canids_batching.search import BudgetResult, ProbeRecord, search_max_budget
from canids_batching.synthetic import make_can_batch, sample_sizes

__version__ = "0.2.0"

__all__ = [
    # errors and warnings
    "BatchingError",
    "BatchingWarning",
    "DoesNotFit",
    # profiler
    "CV_THRESHOLD",
    "Histogram",
    "Profile",
    "Recommendation",
    "SizeStats",
    "plot_profile",
    "profile_dataset",
    "profile_sizes",
    # sampler
    "BudgetBatchSampler",
    "EpochPlan",
    "SamplerStats",
    # budget finder
    "BudgetResult",
    "ProbeRecord",
    "find_max_budget",
    "search_max_budget",
    # synthetic CAN-like data
    "make_can_batch",
    "sample_sizes",
]
