"""canids-models: GAT, VGAE and DQN-fusion CAN intrusion detectors; stages, pipelines, one
artifact store and held-out evaluation.

Names load on first use (PEP 562): ``canids_models.ArtifactStore`` or the catalogue cost no
torch import, so job status and every ``--help`` stay fast; the detectors import torch when
they are first touched.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.30.2"

# public name -> the submodule that defines it (never a module named as a public name:
# importing canids_models.X would replace the lazy function X by the module)
_LAZY: dict[str, str] = {
    "ARTIFACT_KEYS": "artifacts",
    "ArtifactError": "errors",
    "ArtifactRef": "catalog",
    "ArtifactStore": "artifacts",
    "BACKENDS": "backend",
    "BackendError": "errors",
    "BatchTracker": "context",
    "BatchingConfig": "config",
    "CPU_CAPABILITIES": "cpu_kernels",
    "CalibrationConfig": "config",
    "CalibrationRule": "calibration",
    "CaptureCalibration": "calibration",
    "ConfigError": "errors",
    "CurriculumConfig": "config",
    "DQNConfig": "config",
    "DistillConfig": "config",
    "EvalConfig": "config",
    "FusionConfig": "config",
    "FusionModel": "fusion_model",
    "GATConfig": "config",
    "LineageError": "errors",
    "MissingArtifact": "preflight_checks",
    "ModelsError": "errors",
    "PIPELINES": "catalog",
    "Pipeline": "catalog",
    "PipelinePlan": "plan",
    "PreflightError": "errors",
    "Progress": "context",
    "RESULT_PREFIX": "result_line",
    "Ranks": "ranks",
    "LossStep": "ranks",
    "Resources": "catalog",
    "RunConfig": "config",
    "SIZES": "config",
    "STAGES": "catalog",
    "StageContext": "context",
    "StageOutcome": "stages",
    "StageSpec": "catalog",
    "Threshold": "metrics",
    "TrainConfig": "config",
    "VGAEConfig": "config",
    "auprc": "metrics",
    "auroc": "metrics",
    "binary_metrics": "metrics",
    "check_kernels": "cpu_kernels",
    "kernel_environment": "cpu_kernels",
    "kernels_pinned": "cpu_kernels",
    "machine_record": "cpu_kernels",
    "find_result": "result_line",
    "false_alarm_threshold": "metrics",
    "fit_threshold": "metrics",
    "flag_all_f1": "metrics",
    "format_memory": "resources",
    "format_result": "result_line",
    "format_walltime": "resources",
    "get_pipeline": "catalog",
    "leave_process_group": "ranks",
    "load_config": "config",
    "parse_memory": "resources",
    "parse_result": "result_line",
    "parse_walltime": "resources",
    "plan_pipeline": "plan",
    "plan_pipelines": "plan",
    "preflight": "preflight_checks",
    "ranks_from_env": "ranks",
    "render_run_report": "run_report",
    "resolve_backend": "backend",
    "resolve_runs_dir": "artifacts",
    "run_stage": "stages",
    "select_calibration": "calibration_select",
    "select_period": "calibration_period",
    "PeriodChoice": "calibration_period",
    "stage_command": "plan",
    "stage_graph": "plan",
    "stage_id": "plan",
    "stage_inputs": "catalog",
    "write_run_report": "run_report",
}

__all__ = [
    "ARTIFACT_KEYS",
    "ArtifactError",
    "ArtifactRef",
    "ArtifactStore",
    "BACKENDS",
    "BackendError",
    "BatchTracker",
    "BatchingConfig",
    "CPU_CAPABILITIES",
    "CalibrationConfig",
    "CalibrationRule",
    "CaptureCalibration",
    "ConfigError",
    "CurriculumConfig",
    "DQNConfig",
    "DistillConfig",
    "EvalConfig",
    "FusionConfig",
    "FusionModel",
    "GATConfig",
    "LineageError",
    "MissingArtifact",
    "PeriodChoice",
    "ModelsError",
    "PIPELINES",
    "Pipeline",
    "PipelinePlan",
    "LossStep",
    "PreflightError",
    "Progress",
    "RESULT_PREFIX",
    "Ranks",
    "Resources",
    "RunConfig",
    "SIZES",
    "STAGES",
    "StageContext",
    "StageOutcome",
    "StageSpec",
    "Threshold",
    "TrainConfig",
    "VGAEConfig",
    "__version__",
    "auprc",
    "auroc",
    "binary_metrics",
    "check_kernels",
    "kernel_environment",
    "kernels_pinned",
    "machine_record",
    "false_alarm_threshold",
    "find_result",
    "fit_threshold",
    "flag_all_f1",
    "format_memory",
    "format_result",
    "format_walltime",
    "get_pipeline",
    "leave_process_group",
    "load_config",
    "parse_memory",
    "parse_result",
    "parse_walltime",
    "plan_pipeline",
    "plan_pipelines",
    "preflight",
    "ranks_from_env",
    "render_run_report",
    "resolve_backend",
    "resolve_runs_dir",
    "run_stage",
    "select_calibration",
    "select_period",
    "stage_command",
    "stage_graph",
    "stage_id",
    "stage_inputs",
    "write_run_report",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canids_models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from .artifacts import (
        ARTIFACT_KEYS,
        ArtifactStore,
        resolve_runs_dir,
    )
    from .backend import (
        BACKENDS,
        resolve_backend,
    )
    from .calibration import (
        CalibrationRule,
        CaptureCalibration,
    )
    from .calibration_period import (
        PeriodChoice,
        select_period,
    )
    from .calibration_select import (
        select_calibration,
    )
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
        CalibrationConfig,
        CurriculumConfig,
        DistillConfig,
        DQNConfig,
        EvalConfig,
        FusionConfig,
        GATConfig,
        RunConfig,
        TrainConfig,
        VGAEConfig,
        load_config,
    )
    from .context import (
        BatchTracker,
        Progress,
        StageContext,
    )
    from .errors import (
        ArtifactError,
        BackendError,
        ConfigError,
        LineageError,
        ModelsError,
        PreflightError,
    )
    from .fusion_model import (
        FusionModel,
    )
    from .metrics import (
        Threshold,
        auprc,
        auroc,
        binary_metrics,
        false_alarm_threshold,
        fit_threshold,
        flag_all_f1,
    )
    from .plan import (
        PipelinePlan,
        plan_pipeline,
        plan_pipelines,
        stage_command,
        stage_graph,
        stage_id,
    )
    from .preflight_checks import (
        MissingArtifact,
        preflight,
    )
    from .ranks import (
        LossStep,
        Ranks,
        leave_process_group,
        ranks_from_env,
    )
    from .resources import (
        format_memory,
        format_walltime,
        parse_memory,
        parse_walltime,
    )
    from .result_line import (
        RESULT_PREFIX,
        find_result,
        format_result,
        parse_result,
    )
    from .run_report import (
        render_run_report,
        write_run_report,
    )
    from .stages import (
        StageOutcome,
        run_stage,
    )
