"""The sections of :class:`~canids_models.config.RunConfig` that the detectors' training
reads (the GAT, the VGAE, batching, the training loop, distillation, the curriculum), and
the frozen, strict section base every section shares. Import them from
``canids_models.config``; the rules they follow are in its docstring."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

__all__ = [
    "BatchingConfig",
    "CurriculumConfig",
    "DistillConfig",
    "GATConfig",
    "TrainConfig",
    "VGAEConfig",
]


class _Section(BaseModel):
    """Frozen, unknown keys refused, strict types (see the module docstring)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)
    # No custom __init__: pydantic would call it for every nested section too. Built in code
    # (``GATConfig(heads=0)``), a bad value raises pydantic's ValidationError (a ValueError);
    # user input arrives through RunConfig.merged, which raises ConfigError.


def _not_above(value: Any, info: ValidationInfo, other: str) -> Any:
    """``value <= other`` where ``other`` is an earlier field of the same section (absent
    when it failed its own check, which is then reported instead)."""
    bound = info.data.get(other)
    if bound is not None and value > bound:
        raise ValueError(f"must be <= {other} ({bound})")
    return value


def _not_below(value: Any, info: ValidationInfo, other: str) -> Any:
    bound = info.data.get(other)
    if bound is not None and value < bound:
        raise ValueError(f"must be >= {other} ({bound})")
    return value


class GATConfig(_Section):
    layers: int = Field(5, ge=1)
    heads: int = Field(8, ge=1)
    hidden: int = Field(32, ge=1)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    embed_dim: int = Field(16, ge=1)
    mlp_hidden: int = Field(64, ge=1)
    id_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    # Off: the GAT sees what a CAN ID does, not which ID it is, so it can move to another
    # vehicle (docs/results.md measures both).
    id_embedding: bool = False
    # Node feature columns of the cache the classifier does not see (the VGAE sees them
    # all). A classifier trained on floods only learns the bus load as the attack and
    # misses an attack that adds no frames (docs/results.md, canids-data 0.4.0).
    ignore_features: tuple[str, ...] = Field((), strict=False)

    @field_validator("ignore_features")
    @classmethod
    def _names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        # One spelling per set of names, so that the digest does not depend on the order.
        return tuple(sorted(set(value)))


class VGAEConfig(_Section):
    layers: int = Field(3, ge=1)
    heads: int = Field(4, ge=1)
    hidden: int = Field(32, ge=1)
    latent: int = Field(16, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    embed_dim: int = Field(16, ge=1)
    id_dropout: float = Field(0.0, ge=0.0, lt=1.0)
    kl_weight: float = 0.001
    logvar_clamp: float = 10.0
    id_embedding: bool = False


class BatchingConfig(_Section):
    mode: Literal["budget", "fixed"] = "budget"
    key: Literal["nodes", "edges"] = "nodes"
    budget: int = Field(4000, ge=1)
    batch_size: int = Field(64, ge=1)
    packing: Literal["sequential", "sorted"] = "sorted"


class TrainConfig(_Section):
    epochs: int = Field(12, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(4, ge=1)
    seed: int = 0
    device: str = "auto"
    backend: Literal["pyg", "cugraph", "auto"] = "pyg"
    threads: int = Field(0, ge=0, description="0: torch's default")
    # torch.use_deterministic_algorithms: identical metrics for identical runs on one machine.
    deterministic: bool = True
    # The CPU kernels torch and MKL run (canids_models.cpu_kernels): "" is whatever the
    # CPU offers; "avx2" gives the same kernels on every x86-64 CPU with AVX2, so that
    # two machines can train the same detectors; "default" is scalar code (slowest).
    cpu_capability: Literal["", "default", "avx2", "avx512"] = ""
    # Data-parallel workers (Ray Train ranks; canids-train --workers N). The batching
    # budget stays the global budget of one step: each rank packs budget / workers.
    workers: int = Field(1, ge=1)


# Which epoch a distilled GAT keeps (DistillConfig.select).
DistillSelect = Literal["f1", "fidelity"]


class DistillConfig(_Section):
    """Knowledge distillation of the student from its teacher. ``select``: which epoch a
    distilled GAT keeps. ``f1``, the best validation F1 (every version before 0.22.0, and
    its digest); ``fidelity`` (opt-in), the epoch whose soft labels on validation are
    closest to its teacher's (KL at ``temperature``): validation F1 saturates at the
    student's first epochs, and the student's job is to be its teacher, also where
    validation's labels cannot tell. It has no effect on a run that does not distil."""

    temperature: float = Field(4.0, gt=0)
    alpha: float = Field(0.7, ge=0.0, le=1.0)
    latent_weight: float = 1.0
    select: DistillSelect = "f1"


class CurriculumConfig(_Section):
    start_ratio: float = Field(1.0, gt=0)
    end_ratio: float = Field(4.0, gt=0)
    start_percentile: float = Field(60.0, gt=0, le=100)
    end_percentile: float = Field(100.0, gt=0, le=100)
    ramp_epochs: int = Field(10, ge=0)
    score_chunk: int = Field(2048, ge=1)

    @field_validator("end_percentile")
    @classmethod
    def _percentiles_rise(cls, value: float, info: ValidationInfo) -> float:
        return _not_below(value, info, "start_percentile")
