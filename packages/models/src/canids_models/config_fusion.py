"""The sections of :class:`~canids_models.config.RunConfig` that decide what is done with
the detectors' scores: the DQN, the calibrated protocol's rule and grids and the fusion's
choice (``config.FUSION_ONLY_SECTIONS``: no detector's training reads them), and the
evaluation section, with the values their fields may take. Import them from
``canids_models.config``; the rules they follow are in its docstring."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, ValidationInfo, field_validator

from .config_training import _not_above, _Section

__all__ = [
    "CUT_UNITS_AT",
    "GUARD_FLOORS",
    "PERIOD_OF",
    "PERIOD_TIES",
    "RULE_TIES",
    "TIE_MARGIN",
    "CalibrationConfig",
    "DQNConfig",
    "EvalConfig",
    "FusionConfig",
]

# F1 this close to the best is a tie that the simpler fusion wins: validation's rule
# (stages.fusion) and the default of fusion.families_margin.
TIE_MARGIN = 0.005


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


def _positive_grid(values: tuple[float, ...], upper: float | None = None) -> tuple[float, ...]:
    for v in values:
        if not v > 0 or (upper is not None and not v < upper):
            bound = f"in (0, {upper:g})" if upper is not None else "> 0"
            raise ValueError(f"every value must be {bound}, got {v}")
    return values


# Where a guarded calibration rule's floor lies (CalibrationConfig.guard_at); fusion
# checkpoints are checked against the same values.
GuardAt = Literal["edge", "threshold", "each"]
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
# (FusionConfig.cut_units_at; canids_models.fusion_methods.CAPTURE_UNIT_QUANTILE and
# capture_scale_units).
CutUnitsAt = Literal["validation", "capture", "capture_scale"]
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
    # digest), or "each" (canids-models 0.30.0, opt-in): in the fusions where either
    # detector flags alone (max, cut_max) each detector's own edge, so that a fused cut
    # one detector's normal tail set on validation does not hold back what only the other
    # detector sees (canids_models.fusion_model.FusionModel.guard_flags).
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
    the other detector's attacks; ``capture_scale`` (opt-in, canids-models 0.29.0), its
    frozen cut re-expressed in the capture's own normalisation
    (:func:`~canids_models.fusion_methods.capture_scale_units`): the calibrated z divides
    by the capture's MAD, the validation cut is in validation's, and a detector whose
    capture is quieter than validation would otherwise be magnified by the ratio (judged
    held out by dataset and not adopted, docs/results.md). The frozen protocol keeps the
    validation cuts."""

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
