"""The graph cache: build, verify, describe."""

from .build import BuildProgress, BuildResult
from .manager import CacheManager
from .sizes import SplitSizes, read_split_sizes
from .verify import EXIT_CODES, Problem, VerifyReport, VerifyStatus

__all__ = [
    "EXIT_CODES",
    "BuildProgress",
    "BuildResult",
    "CacheManager",
    "Problem",
    "SplitSizes",
    "VerifyReport",
    "VerifyStatus",
    "read_split_sizes",
]
