"""canids-orchestrate: run canids pipelines locally or on Ray (stages as ``canids-train``
processes, with preflight, skipping of finished stages, one :class:`canids_core.StageResult`
per stage and an atomically written run record), and tune them with Ray Tune, Optuna, ASHA
and W&B.

Names load on first use (PEP 562), and Ray only when the Ray executor or the tuner runs:
importing this package costs neither torch nor Ray.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.5.5"

# public name -> the module that defines it (``canids_models`` for the re-exported planning)
_LAZY: dict[str, str] = {
    "DataParallelError": ".data_parallel",
    "DataParallelJob": ".data_parallel",
    "DataParallelResult": ".data_parallel",
    "LocalExecutor": ".local",
    "OrchestrateError": ".errors",
    "PipelineError": ".errors",
    "PipelinePlan": "canids_models",
    "RayCluster": ".ray_cluster",
    "RayExecutor": ".ray_exec",
    "RayJobSpecError": ".errors",
    "ResourceOverrideError": ".errors",
    "RunRecorder": ".run_record",
    "StageCall": ".stage_process",
    "StageFailedError": ".errors",
    "StageRunner": ".stage_process",
    "TrialOutOfMemoryError": ".errors",
    "TuneConfigError": ".errors",
    "check_overrides": ".ray_cluster",
    "plan_pipeline": "canids_models",
    "plan_pipelines": "canids_models",
    "run_data_parallel": ".data_parallel",
    "run_stage_process": ".stage_process",
}

__all__ = [
    "DataParallelError",
    "DataParallelJob",
    "DataParallelResult",
    "LocalExecutor",
    "OrchestrateError",
    "PipelineError",
    "PipelinePlan",
    "RayCluster",
    "RayExecutor",
    "RayJobSpecError",
    "ResourceOverrideError",
    "RunRecorder",
    "StageCall",
    "StageFailedError",
    "StageRunner",
    "TrialOutOfMemoryError",
    "TuneConfigError",
    "__version__",
    "check_overrides",
    "plan_pipeline",
    "plan_pipelines",
    "run_data_parallel",
    "run_stage_process",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canids_orchestrate' has no attribute {name!r}")
    package = __name__ if module.startswith(".") else None
    value = getattr(importlib.import_module(module, package), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from canids_models import PipelinePlan, plan_pipeline, plan_pipelines

    from .data_parallel import (
        DataParallelError,
        DataParallelJob,
        DataParallelResult,
        run_data_parallel,
    )
    from .errors import (
        OrchestrateError,
        PipelineError,
        RayJobSpecError,
        ResourceOverrideError,
        StageFailedError,
        TrialOutOfMemoryError,
        TuneConfigError,
    )
    from .local import LocalExecutor
    from .ray_cluster import RayCluster, check_overrides
    from .ray_exec import RayExecutor
    from .run_record import RunRecorder
    from .stage_process import StageCall, StageRunner, run_stage_process
