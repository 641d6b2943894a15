"""canids-orchestrate: run canids pipelines stage by stage, with preflight, skipping of
finished stages and an atomically written run record."""

from __future__ import annotations

from .local import LocalExecutor, PipelineError
from .plan import PipelinePlan, plan_pipeline

__version__ = "0.1.0"

__all__ = ["LocalExecutor", "PipelineError", "PipelinePlan", "__version__", "plan_pipeline"]
