"""canids-orchestrate: run canids pipelines locally or on Ray (stages as ``canids-train``
processes, with preflight, skipping of finished stages and an atomically written run
record), and tune them with Ray Tune, Optuna, ASHA and W&B.

Ray is imported only when the Ray executor or the tuner is used.
"""

from __future__ import annotations

from canids_models import PipelinePlan, plan_pipeline, plan_pipelines  # re-exported

from .local import LocalExecutor, PipelineError
from .ray_cluster import RayCluster, StageResources
from .ray_exec import RayExecutor, StageFailedError
from .run_record import RunRecorder
from .stage_process import StageRunner, run_stage_process

__version__ = "0.2.0"

__all__ = [
    "LocalExecutor",
    "PipelineError",
    "PipelinePlan",
    "RayCluster",
    "RayExecutor",
    "RunRecorder",
    "StageFailedError",
    "StageResources",
    "StageRunner",
    "__version__",
    "plan_pipeline",
    "plan_pipelines",
    "run_stage_process",
]
