"""Typed, frozen run configuration: presets per size, files and ``--set`` overrides.

Each section is a frozen pydantic model that refuses unknown keys. Types are strict, as
they were when this module coerced by hand: an int is accepted where a float is expected
(and stored as a float, so ``train.lr=1`` and ``train.lr=1.0`` share a digest), but a bool
is not an int and a string is not a number. NaN and infinity are refused everywhere. The
resolved config is recorded with every artifact so a checkpoint can rebuild its own model,
and its :attr:`RunConfig.digest` keys checkpoints and resume state: the digest is the
SHA-256 of the sorted-key JSON of :meth:`RunConfig.to_dict`, unchanged from the dataclass
implementation (``tests/test_config_digest.py`` holds golden values).

Every refusal is a :class:`ConfigError` in the canids config error format
(``canids_core.describe_validation_error``): ``source: section.key: what (got value)``,
where the source is the file or the ``--set`` item, and an unknown key lists the known ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal, get_args

from canids_core import describe_validation_error
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .errors import ConfigError

__all__ = [
    "CUT_UNITS_AT",
    "FUSION_ONLY_SECTIONS",
    "SIZES",
    "TIE_MARGIN",
    "BatchingConfig",
    "CalibrationConfig",
    "CurriculumConfig",
    "DQNConfig",
    "DistillConfig",
    "EvalConfig",
    "FusionConfig",
    "GATConfig",
    "RunConfig",
    "TrainConfig",
    "VGAEConfig",
    "load_config",
]

Size = Literal["teacher", "student"]
SIZES: tuple[str, ...] = ("teacher", "student")
# F1 this close to the best is a tie that the simpler fusion wins: validation's rule
# (stages.fusion) and the default of fusion.families_margin.
TIE_MARGIN = 0.005


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


class DQNConfig(_Section):
    hidden: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    gamma: float = Field(0.9, ge=0.0, lt=1.0)
    buffer: int = Field(50_000, ge=1)
    batch_size: int = Field(256, ge=1)
    steps: int = Field(6_000, ge=1)
    target_sync: int = Field(200, ge=1)
    epsilon_start: float = Field(1.0, ge=0.0, le=1.0)
    epsilon_end: float = Field(0.05, ge=0.0, le=1.0)

    @field_validator("batch_size")
    @classmethod
    def _batch_fits_buffer(cls, value: int, info: ValidationInfo) -> int:
        return _not_above(value, info, "buffer")

    @field_validator("epsilon_end")
    @classmethod
    def _epsilon_decays(cls, value: float, info: ValidationInfo) -> float:
        return _not_above(value, info, "epsilon_start")


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


def _positive_grid(values: tuple[float, ...], upper: float | None = None) -> tuple[float, ...]:
    for v in values:
        if not v > 0 or (upper is not None and not v < upper):
            bound = f"in (0, {upper:g})" if upper is not None else "> 0"
            raise ValueError(f"every value must be {bound}, got {v}")
    return values


# Where a guarded calibration rule's floor lies (CalibrationConfig.guard_at); fusion
# checkpoints are checked against the same values.
GuardAt = Literal["edge", "threshold"]
GUARD_FLOORS: tuple[str, ...] = get_args(GuardAt)
# How a tie between calibration periods is broken (CalibrationConfig.period_ties;
# calibration_select.select_period checks against the same values).
PeriodTies = Literal["first", "longest"]
PERIOD_TIES: tuple[str, ...] = get_args(PeriodTies)
# How a tie between calibration rules is broken (CalibrationConfig.rule_ties;
# calibration_select.select_calibration checks against the same values).
RuleTies = Literal["first", "sensitive"]
RULE_TIES: tuple[str, ...] = get_args(RuleTies)
# Whose shared calibration period a run calibrates on (FusionConfig.period_of;
# stages.fusion_choice.period_system checks against the same values).
PeriodOf = Literal["pick", "validation"]
PERIOD_OF: tuple[str, ...] = get_args(PeriodOf)
# Each detector's unit in the cut fusions under the calibrated protocol
# (FusionConfig.cut_units_at; canids_models.fusion_methods.CAPTURE_UNIT_QUANTILE).
CutUnitsAt = Literal["validation", "capture"]
CUT_UNITS_AT: tuple[str, ...] = get_args(CutUnitsAt)
# Which rule chooses the deployed fusion (FusionConfig.select; families.choosing_rule).
FusionSelect = Literal["auto", "validation", "families", "teacher"]


class CalibrationConfig(_Section):
    """The ``calibrated`` protocol (canids_models.calibration): which rule turns a
    capture's clean start into its threshold, and how long that start is. ``auto`` and an
    unset ``seconds`` and ``warmup`` are chosen on validation by leave-one-capture-out,
    among the grids."""

    rule: Literal["auto", "zscore", "quantile", "conformal"] = "auto"
    param: float | None = Field(None, gt=0)
    seconds: float | None = Field(None, gt=0)
    # The first seconds of a capture, while the per-ID periods are still being learnt,
    # are neither calibrated on nor scored; None: chosen on validation among the grid.
    warmup: float | None = Field(None, ge=0)
    warmup_grid: tuple[float, ...] = Field((0.0, 1.0, 2.0, 3.0), strict=False, min_length=1)
    seconds_grid: tuple[float, ...] = Field((1.0, 2.5, 5.0, 7.5, 10.0), strict=False, min_length=1)
    zscore_k: tuple[float, ...] = Field((3.0, 4.0, 6.0, 8.0), strict=False, min_length=1)
    alphas: tuple[float, ...] = Field((0.001, 0.005, 0.01, 0.02), strict=False, min_length=1)
    # A capture's scale is at least this share of the validation scale: a near-constant
    # clean start must not turn every later wobble into an alarm.
    scale_floor: float = Field(0.1, gt=0)
    # Flag only where the frozen threshold flags too (calibration raises a threshold, never
    # lowers it): "auto" chooses it per score on validation with the rule; with a fixed
    # rule, "auto" means off.
    guard: Literal["auto", "on", "off"] = "auto"
    # Where a guarded rule's floor lies: "edge", the highest validation score the frozen
    # cut leaves unflagged (the default since canids-models 0.15.0: on validation it flags
    # exactly what "threshold" flags), or "threshold", the frozen cut itself, which sits
    # midway into the gap validation's known attacks leave (0.7.0-0.14.x; keeps their
    # digest).
    guard_at: GuardAt = "edge"
    # Judge the periods as a deployment that calibrates before any attack would see them:
    # on validation (never on test), each capture's labelled attack windows are left out of
    # its calibration set, and every period is scored on the same windows, those after the
    # grid's longest period. False: 0.17.0's judge (and its digest), which calibrated on
    # whatever the period held, so that a training capture attacked 3 s after its start
    # ruled out every longer period.
    clean_validation: bool = True
    # Rules within this much pooled validation F1 of the best tie, and a tie goes to the
    # rule whose calibration does best without the guard (validation's only evidence of
    # what it does where the frozen floor does not transfer); None: 0.17.0's exact best,
    # the earliest listed on a tie (and its digest).
    tie_margin: float | None = Field(0.005, ge=0)
    # How a tie between calibration periods is broken: "longest" (the default since
    # canids-models 0.23.0), scores within tie_margin of the best tie, and a tie goes to
    # the longest warm-up, then the longest length; "first", the earliest listed (the
    # shortest warm-up and length), only exactly equal scores tying (0.18.0-0.22.0's rule
    # and digest).
    period_ties: PeriodTies = "longest"
    # How a tie between calibration rules is broken: "sensitive" (the default since
    # canids-models 0.23.0), among those tied without the guard too (within tie_margin),
    # the one whose threshold sits lowest in each capture's own scale
    # (calibration_select.select_calibration); "first", the best without its guard, then
    # the earliest listed (0.18.0-0.22.0's rule and digest). Both defaults were adopted
    # together, judged across datasets on a direction they were not shaped on
    # (benchmarks/dataset_holdout.py: trained on hcrl_sa, tested on set_01's vehicle;
    # docs/results.md).
    rule_ties: RuleTies = "sensitive"

    @field_validator("seconds_grid", "zscore_k")
    @classmethod
    def _grid(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        return _positive_grid(value)

    @field_validator("warmup_grid")
    @classmethod
    def _warmups(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not v >= 0 for v in value):
            raise ValueError(f"every warm-up must be >= 0, got {list(value)}")
        return value

    @field_validator("alphas")
    @classmethod
    def _alphas(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        return _positive_grid(value, 1.0)

    @field_validator("param")
    @classmethod
    def _param_needs_rule(cls, value: float | None, info: ValidationInfo) -> float | None:
        rule = info.data.get("rule")
        if value is not None and rule == "auto":
            raise ValueError("needs calibration.rule (zscore, quantile or conformal)")
        if value is not None and rule in ("quantile", "conformal") and not value < 1:
            raise ValueError(f"is alpha for the {rule} rule: it must be < 1")
        return value


class FusionConfig(_Section):
    """``method``: ``auto`` chooses by ``select``, any other name fixes the default fusion.
    ``select``: ``validation`` (the best mean of frozen val F1 and calibrated leave-one-
    capture-out F1), or ``families``: the best mean frozen F1 on each attack family of the
    training captures when the detectors are trained again without it (canids_models.
    families; the fusion stage then trains once more per family), or ``auto`` (the default
    since canids-models 0.17.0): the families rule where ``method`` is ``auto`` and the
    training captures hold two attack families or more, validation's otherwise; the run's
    fusion metrics record which rule chose and why (:meth:`holds_out_families`); or
    ``teacher`` (a distilled student only, canids-models 0.26.0): the fusion its teacher's
    fusion stage deployed, fitted on the student's own validation like every candidate,
    with no held-out family runs of the student's (:mod:`canids_models.stages.fusion_teacher`).
    ``vgae_false_alarm_rate``: unset, the VGAE's frozen threshold maximises F1 on
    validation, like the GAT's; a rate (0.01) sets it at the lowest cut that flags at most
    that share of validation's normal windows (an anomaly detector judged by its false
    alarms, not by the attacks it was shown). It is the VGAE's decision in ``either`` and
    the floor its calibrated threshold keeps; the score fusions and the DQN do not move.
    ``families_margin`` (with ``select=families`` only): held-out mean F1 within this of
    the best is a tie, which the frozen val F1 breaks (within the same margin), then the
    simpler candidate; validation's rule has the same 0.005 (:data:`TIE_MARGIN`).
    0 takes the best mean however small its lead (canids-models 0.8.0–0.11.0).
    ``cut_fusions``: fit ``cut_mean`` and ``cut_max`` (each detector's score in units of
    its own frozen cut, canids-models 0.16.0) among the candidates (where a tie puts
    them: ``tie_order``); false: 0.15.0's candidates (and its digest).
    ``tie_order``: which fusion a tie goes to, in validation's rule and the families rule
    (:data:`~canids_models.fusion_methods.TIE_ORDERS`): ``simplest`` (mean, max, logistic,
    dqn, cut_mean, cut_max, either), or ``alone_first``, the fusions in which either
    detector flags alone first (max, cut_max, either, then mean, logistic, dqn,
    cut_mean).
    ``period_of``: whose shared calibration period the run calibrates on: ``pick`` (the
    default since canids-models 0.20.0), the deployed fusion's own, judged for the system
    that runs; ``validation``, validation's own choice whichever fusion the families rule
    deployed (0.13.0-0.19.0, and their digest).
    ``cut_units_at``: each detector's unit in the cut fusions under the calibrated
    protocol: ``validation`` (the default), its frozen cut; ``capture`` (opt-in, canids-
    models 0.24.0), at least the capture's own high quantile of that detector's score over
    its calibration windows (:data:`~canids_models.fusion_methods.CAPTURE_UNIT_QUANTILE`):
    a detector whose normal traffic on this capture crosses its validation cut is
    measured against that traffic instead, so that it cannot lift the fused threshold over
    the other detector's attacks. The frozen protocol keeps the validation cuts."""

    method: Literal["auto", "mean", "max", "logistic", "dqn", "cut_mean", "cut_max", "either"] = (
        "auto"
    )
    select: FusionSelect = "auto"
    vgae_false_alarm_rate: float | None = Field(default=None, gt=0.0, lt=0.5)
    families_margin: float = Field(default=TIE_MARGIN, ge=0.0, lt=0.5)
    cut_fusions: bool = True
    tie_order: Literal["simplest", "alone_first"] = "alone_first"
    period_of: PeriodOf = "pick"
    cut_units_at: CutUnitsAt = "validation"

    @field_validator("select")
    @classmethod
    def _select_needs_auto(cls, value: str, info: ValidationInfo) -> str:
        method = info.data.get("method")
        if value in ("families", "teacher") and method != "auto":
            raise ValueError(
                f"chooses the fusion, but fusion.method={method} fixes it: set one of them"
            )
        return value

    @field_validator("families_margin")
    @classmethod
    def _margin_needs_families(cls, value: float, info: ValidationInfo) -> float:
        select = info.data.get("select")
        if select == "validation" and value != TIE_MARGIN:
            raise ValueError(
                f"is a tie margin of the families rule, but fusion.select={select}: "
                "set fusion.select=families (or auto) too, or leave the margin out"
            )
        return value

    def holds_out_families(self, families: int) -> bool:
        """Whether the fusion stage chooses by the families rule on training captures that
        hold ``families`` attack families: ``families`` always (the stage refuses fewer
        than two), ``auto`` where the method is not fixed and there are two or more."""
        if self.select == "families":
            return True
        return self.select == "auto" and self.method == "auto" and families >= 2

    @field_validator("cut_fusions")
    @classmethod
    def _cut_method_needs_cut_fusions(cls, value: bool, info: ValidationInfo) -> bool:
        method = info.data.get("method")
        if not value and method in ("cut_mean", "cut_max"):
            raise ValueError(
                f"is false, but fusion.method={method} is a cut fusion: set one of them"
            )
        return value


class EvalConfig(_Section):
    """``frozen_warmup``: seconds at each capture's start that the frozen protocol neither
    fits on (validation) nor scores (every split), as the calibrated protocol skips its
    warm-up: the invariant features' per-ID periods are still being learnt there, and most
    of the frozen VGAE's validation false alarms fall in it (docs/results.md). Default 2 s
    since canids-models 0.13.0: the calibration warm-up validation chose on both real
    datasets, so both protocols skip the same start; 0 scores every window, the default of
    0.9.0-0.12.0 (and keeps their digest)."""

    # Validation without attacks fits thresholds blind; only an explicit opt-in allows it.
    one_class_fit: bool = False
    frozen_warmup: float = Field(default=2.0, ge=0.0)


# Read by the fusion and evaluate stages only: no detector's training reads them.
FUSION_ONLY_SECTIONS: tuple[str, ...] = ("calibration", "dqn", "fusion")


def _json_sha256(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


class RunConfig(_Section):
    """Everything a stage needs besides its data; ``size`` picks the model presets."""

    size: Size = "teacher"
    gat: GATConfig = Field(default_factory=GATConfig)
    vgae: VGAEConfig = Field(default_factory=VGAEConfig)
    dqn: DQNConfig = Field(default_factory=DQNConfig)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _teacher_select_needs_student(self) -> RunConfig:
        if self.fusion.select == "teacher" and self.size != "student":
            raise ValueError(
                "fusion.select=teacher deploys the fusion a distilled student's teacher "
                f"deployed, but size={self.size} has no teacher: set fusion.select=auto"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples as lists): what config.json holds and the digest hashes."""
        return self.model_dump(mode="json")

    @property
    def digest(self) -> str:
        """SHA-256 of the sorted-key JSON of :meth:`to_dict`. ``train.workers`` counts only
        when it is not 1, so every single-process config keeps the digest it had before
        the key existed (saved runs and tune trials stay valid); N workers train on other
        batches, so they are another config. ``fusion.select`` likewise counts only when it
        is not ``validation`` (the choice every run made before the key existed, and the
        default until 0.17.0's ``auto``, a new config),
        ``eval.frozen_warmup`` only when it is not 0 (0 keeps the digest of 0.12.0's
        default, which scored every window; the 2 s default is a new config),
        ``gat.ignore_features`` only when it names a feature,
        ``fusion.vgae_false_alarm_rate`` and ``train.cpu_capability`` only when set,
        ``calibration.guard_at`` only when it is not ``threshold`` (0.7.0-0.14.x's guard
        keeps their digest; the ``edge`` default is a new config), ``fusion.cut_fusions``
        only when true (false keeps 0.15.0's digest; more candidates are a new config),
        ``calibration.clean_validation`` only when true and ``calibration.tie_margin``
        only when set (false and None keep 0.17.0's digest), ``calibration.period_ties`` only
        when it is not ``first`` (``first`` keeps 0.18.0's digest; the ``longest`` default
        of 0.23.0 is a new config), ``fusion.tie_order``
        only when it is not ``simplest`` (``simplest`` keeps 0.18.0's digest),
        ``fusion.period_of`` only when it is not ``validation`` (``validation`` keeps
        0.19.0's digest), ``fusion.cut_units_at`` only when it is not ``validation``
        (``validation`` keeps 0.23.0's digest), ``calibration.rule_ties`` only when it is
        not ``first``
        (``first`` keeps 0.20.0's digest; the ``sensitive`` default of 0.23.0 is a new
        config), ``distill.select`` only when it is
        not ``f1`` (``f1`` keeps 0.21.0's digest).
        ``fusion.families_margin`` counts only with ``select=families`` or ``auto`` and when
        it is not 0: a families config with the default margin is a new config (its choice breaks
        near-ties where canids-models 0.8.0–0.11.0 did not), and margin 0, their rule, keeps
        their digest."""
        data = self.to_dict()
        fusion = data["fusion"]
        if fusion["select"] == "validation" or fusion["families_margin"] == 0.0:
            del fusion["families_margin"]
        if data["train"]["workers"] == 1:
            del data["train"]["workers"]
        if data["fusion"]["select"] == "validation":
            del data["fusion"]["select"]
        if data["eval"]["frozen_warmup"] == 0.0:
            del data["eval"]["frozen_warmup"]
        if not data["gat"]["ignore_features"]:
            del data["gat"]["ignore_features"]
        if not data["train"]["cpu_capability"]:
            del data["train"]["cpu_capability"]
        if data["fusion"]["vgae_false_alarm_rate"] is None:
            del data["fusion"]["vgae_false_alarm_rate"]
        if data["calibration"]["guard_at"] == "threshold":
            del data["calibration"]["guard_at"]
        if not fusion["cut_fusions"]:
            del fusion["cut_fusions"]
        if not data["calibration"]["clean_validation"]:
            del data["calibration"]["clean_validation"]
        if data["calibration"]["tie_margin"] is None:
            del data["calibration"]["tie_margin"]
        if fusion["tie_order"] == "simplest":
            del fusion["tie_order"]
        if fusion["period_of"] == "validation":
            del fusion["period_of"]
        if fusion["cut_units_at"] == "validation":
            del fusion["cut_units_at"]
        if data["calibration"]["rule_ties"] == "first":
            del data["calibration"]["rule_ties"]
        if data["calibration"]["period_ties"] == "first":
            del data["calibration"]["period_ties"]
        if data["distill"]["select"] == "f1":
            del data["distill"]["select"]
        return _json_sha256(data)

    @property
    def detector_digest(self) -> str:
        """SHA-256 of the sorted-key JSON of :meth:`to_dict` without
        :data:`FUSION_ONLY_SECTIONS`: two configs with the same one train the same
        detectors on the same data (canids-models 0.25.0: a family run reuses its detectors
        on it, :mod:`canids_models.detector_reuse`)."""
        data = self.to_dict()
        for section in FUSION_ONLY_SECTIONS:
            del data[section]
        return _json_sha256(data)

    @classmethod
    def preset(cls, size: str) -> RunConfig:
        """The original authors' sizes: teacher GAT 5x8x32, VGAE 3x4x32; student 2x4x16, 2x2x16.
        The student deploys its teacher's fusion (``fusion.select=teacher``)."""
        if size not in SIZES:
            raise ConfigError(f"size must be teacher or student, not {size!r}")
        if size == "teacher":
            return cls(size="teacher")
        return cls(
            size="student",
            gat=GATConfig(layers=2, heads=4, hidden=16, mlp_hidden=32, embed_dim=8),
            vgae=VGAEConfig(layers=2, heads=2, hidden=16, latent=8, embed_dim=8),
            dqn=DQNConfig(hidden=64),
            # canids-models 0.26.0: the student deploys its teacher's fusion, adopted by a
            # rule written before its runs (docs/results.md); fusion.select=auto is 0.25.0's.
            fusion=FusionConfig(select="teacher"),
        )

    def merged(self, data: dict[str, Any], source: str) -> RunConfig:
        """A copy with ``data`` (nested sections) applied and validated as a whole; unknown
        sections and keys are errors that name ``source`` and list the known ones."""
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: expected a mapping of sections, got {type(data).__name__}"
            )
        try:
            return RunConfig.model_validate(_deep_merged(self.to_dict(), data))
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, source, known=_known_keys())) from exc


def _deep_merged(base: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for section, values in data.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:  # size, or a value that is not a mapping: validation says what is wrong
            merged[section] = values
    return merged


@functools.cache
def _known_keys() -> dict[str, list[str]]:
    """Section → its keys (``""`` → the sections), in declaration order, listed after an
    unknown key."""
    known = {"": list(RunConfig.model_fields)}
    for name, info in RunConfig.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, _Section):
            known[name] = list(info.annotation.model_fields)
    return known


def _parse_override(item: str) -> tuple[str, str, Any]:
    """``section.key=value`` → its parts; the value is JSON when it parses as JSON (``4``,
    ``0.5``, ``true``, ``"auto"``), else the bare word as a string (``cpu``)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value (e.g. gat.heads=4)")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--set {item!r}: expected section.key=value (e.g. train.epochs=5)")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return parts[0], parts[1], value


def _apply_overrides(config: RunConfig, overrides: list[str] | tuple[str, ...]) -> RunConfig:
    """``--set`` items applied one after another, each validated on the config so far (as
    before the move to pydantic): a bad value is refused even when a later item sets the
    key again, and each refusal names its item. Values that must agree with each other
    are set in an order that keeps them valid (``dqn.batch_size`` before a smaller
    ``dqn.buffer``), which the error says."""
    for item in overrides:
        section, key, value = _parse_override(item)
        config = config.merged({section: {key: value}}, f"--set {item}")
    return config


def load_config(
    size: str, path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> RunConfig:
    """Preset for ``size``, then the file at ``path`` (JSON or TOML; the artifact store's
    ``config.json`` with its ``config`` wrapper key too), then ``--set`` items."""
    config = RunConfig.preset(size)
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the config ({exc})") from exc
        data = data.get("config", data) if isinstance(data, dict) else data
        if isinstance(data, dict) and data.get("size", size) != size:
            raise ConfigError(
                f"{path} is a {data['size']} config; this stage runs size {size} "
                f"(pass --size {data['size']}, or remove size from the file)"
            )
        config = config.merged(data, str(path))
    return _apply_overrides(config, overrides)
