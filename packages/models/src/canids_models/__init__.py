"""canids-models: GAT, VGAE and DQN-fusion CAN intrusion detectors; stages, pipelines, one
artifact store and held-out evaluation."""

from __future__ import annotations

from .artifacts import ARTIFACT_KEYS, ArtifactStore, resolve_runs_dir
from .backend import BACKENDS, resolve_backend
from .catalog import (
    PIPELINES,
    STAGES,
    ArtifactRef,
    Pipeline,
    Resources,
    StageSpec,
    get_pipeline,
    stage_inputs,
)
from .config import (
    SIZES,
    BatchingConfig,
    CurriculumConfig,
    DistillConfig,
    DQNConfig,
    GATConfig,
    RunConfig,
    TrainConfig,
    VGAEConfig,
    load_config,
)
from .context import StageContext
from .errors import ArtifactError, BackendError, ConfigError, ModelsError, PreflightError
from .metrics import Threshold, auroc, binary_metrics, fit_threshold
from .plan import (
    PipelinePlan,
    plan_pipeline,
    plan_pipelines,
    stage_command,
    stage_graph,
    stage_id,
)
from .preflight import MissingArtifact, preflight
from .resources import format_memory, format_walltime, parse_memory, parse_walltime
from .result_line import RESULT_PREFIX, find_result, format_result, parse_result
from .stages import StageOutcome, run_stage

__version__ = "0.1.1"

__all__ = [
    "PipelinePlan",
    "plan_pipeline",
    "plan_pipelines",
    "stage_command",
    "stage_graph",
    "stage_id",
    "format_memory",
    "format_walltime",
    "parse_memory",
    "parse_walltime",
    "ARTIFACT_KEYS",
    "BACKENDS",
    "PIPELINES",
    "RESULT_PREFIX",
    "SIZES",
    "STAGES",
    "ArtifactError",
    "ArtifactRef",
    "ArtifactStore",
    "BackendError",
    "BatchingConfig",
    "ConfigError",
    "CurriculumConfig",
    "DQNConfig",
    "DistillConfig",
    "GATConfig",
    "MissingArtifact",
    "ModelsError",
    "Pipeline",
    "PreflightError",
    "Resources",
    "RunConfig",
    "StageContext",
    "StageOutcome",
    "StageSpec",
    "Threshold",
    "TrainConfig",
    "VGAEConfig",
    "__version__",
    "auroc",
    "binary_metrics",
    "find_result",
    "fit_threshold",
    "format_result",
    "get_pipeline",
    "load_config",
    "parse_result",
    "preflight",
    "resolve_backend",
    "resolve_runs_dir",
    "run_stage",
    "stage_inputs",
]
