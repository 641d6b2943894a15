"""What the fusion stage records: how the deployed fusion was chosen (the ``selection``
block of its checkpoint and metrics, which the results page and the student's
``fusion.select=teacher`` read) and the stage's metrics."""

from __future__ import annotations

from typing import Any

from ..checkpoints import count_parameters
from ..context import StageContext
from ..families import detector_means
from ..fusion_methods import EITHER
from ..metrics import binary_metrics
from .fusion_calibration import CalibrationOutcome
from .fusion_fit import FrozenFit
from .fusion_teacher import TeacherPick

__all__ = ["fusion_metrics", "selection_record"]


def _criterion(teacher: TeacherPick | None, families: bool, fixed: bool) -> str:
    if teacher is not None:
        return (
            f"the fusion the {teacher.teacher} deployed ({teacher.chosen_by}), fitted on "
            "this student's validation"
        )
    if families:
        return (
            "best mean frozen F1 on the attack families of the training captures, each held "
            "out of both detectors' training and of the fusion's fit"
        )
    if not fixed:
        return (
            "mean of frozen val F1 and calibrated leave-one-capture-out val F1, "
            "each fusion calibrated on the period it shares with both detectors"
        )
    return "frozen val F1 (the calibration rule is fixed by the config, not chosen)"


def _recall(fitted: FrozenFit, cut: float) -> float | None:
    return binary_metrics(fitted.y_fit, fitted.inputs.z_vgae[fitted.fit] >= cut)["recall"]


def selection_record(
    ctx: StageContext,
    fitted: FrozenFit,
    cal: CalibrationOutcome,
    *,
    rule: str,
    rule_reason: str,
    teacher: TeacherPick | None,
    families: dict[str, Any] | None,
    family_means: dict[str, float],
    order: tuple[str, ...],
) -> dict[str, Any]:
    """The ``selection`` block: the deployed method, the rule that chose it and why, what
    validation alone would have chosen, the VGAE's cut, and every score's frozen F1 and
    calibration choice."""
    cfg = ctx.config
    model = fitted.model
    judge = (
        None
        if cal.fixed
        else "clean: validation's labelled attack windows left out of each calibration set, "
        f"every period scored after {cal.score_after:g} s"
        if cal.clean
        else "as recorded: each period calibrated on whatever it held, scored after itself"
    )
    return {
        "method": model.method,
        "configured": cfg.fusion.method,
        "select": cfg.fusion.select,
        "rule": rule,
        "rule_reason": rule_reason,
        "validation_choice": cal.by_validation,
        "criterion": _criterion(teacher, families is not None, cal.fixed),
        "families": families,
        "teacher": None if teacher is None else teacher.to_json(),
        "family_mean_f1": family_means,
        "family_detector_mean_f1": detector_means(families) if families is not None else {},
        "families_margin": cfg.fusion.families_margin if families is not None else None,
        "tie_order": list(order),
        # Whose shared period the run calibrates on (fusion.period_of), and which system's
        # period that was (None with a fixed rule: no period chosen).
        "period_of": cfg.fusion.period_of,
        "period_system": cal.period_from,
        "vgae_cut": {
            "false_alarm_rate": cfg.fusion.vgae_false_alarm_rate,
            "value": model.thresholds["vgae"].value,
            "method": model.thresholds["vgae"].method,
            "f1_cut": fitted.vgae_f1_cut.value,
            # What each cut recalls of validation's attacks: a rate cut that passes many
            # of them shows it before any test (set_01: 0.65–0.67 against 0.89–0.92).
            "val_recall": _recall(fitted, model.thresholds["vgae"].value),
            "f1_cut_val_recall": _recall(fitted, fitted.vgae_f1_cut.value),
        },
        "seconds": model.seconds,
        "warmup": model.warmup,
        "calibration_judge": judge,
        "period": None if cal.period_choice is None else cal.period_choice.to_json(),
        "systems": {
            m: {
                "warmup": choice.period[0],
                "seconds": choice.period[1],
                "period_score": round(choice.score, 4),
                "calibrated_val_f1": cal.choices_at_own[m].f1,
                "calibrated_loco_f1": cal.choices_at_own[m].loco_f1,
            }
            for m, choice in cal.systems.items()
        },
        "scores": {
            name: {
                "frozen_val_f1": model.thresholds[name].val_f1,
                "calibrated": choice.to_json(),
            }
            for name, choice in cal.choices.items()
        }
        | {EITHER: {"frozen_val_f1": model.thresholds[EITHER].val_f1, "calibrated": None}},
    }


def fusion_metrics(
    fitted: FrozenFit, selection: dict[str, Any], detectors: tuple[Any, Any], frozen_warmup: float
) -> dict[str, Any]:
    """The stage's metrics: the selection, every threshold, normaliser and calibration rule,
    the parameters of the whole system and what validation held."""
    model = fitted.model
    qnet = model.policy.qnet  # type: ignore[union-attr]
    return {
        "method": model.method,
        "selection": selection,
        "thresholds": {k: t.to_json() for k, t in model.thresholds.items()},
        "normalisers": {k: n.to_json() for k, n in model.normalisers.items()},
        "calibration": {k: r.to_json() for k, r in model.calibration.items()},
        "calibration_seconds": model.seconds,
        "calibration_warmup": model.warmup,
        "guard_at": model.guard_at,
        "parameters": count_parameters(qnet) + sum(count_parameters(d) for d in detectors),
        "dqn_parameters": count_parameters(qnet),
        "dqn_history": fitted.dqn_history,
        "val_graphs": len(fitted.y),
        "val_attack_graphs": int(fitted.y.sum()),
        "frozen_warmup": frozen_warmup,
        "frozen_fit_graphs": int(fitted.fit.sum()),
        "frozen_fit_attack_graphs": int(fitted.y_fit.sum()),
        "alpha_mean": float(model.alphas(fitted.inputs).mean()),
    }
