"""canids-jobs: canids pipelines on SLURM, what really completed, and why jobs failed."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
