"""Stage ``fusion``: fit every fusion on validation, choose the calibration rules, and pick
the default fusion, never on a test split.

The DQN (the seeds' method) is compared with the simple fusions of normalised scores
(mean, max, logistic stacking, and since canids-models 0.16.0 the mean and max in units of
each detector's own cut). ``either`` (each detector at its own threshold, OR) is fitted
beside them. With ``fusion.select=families`` all of them compete on the attack families of
the training captures, each held out of a training of both detectors
(:mod:`canids_models.families`); with ``fusion.select=validation`` the default is whichever
scores best on validation, frozen and calibrated protocols averaged, a tie going to the
first in ``fusion.tie_order`` (the metrics record it). The default, ``auto``, is the
families rule wherever the training captures hold two attack families or more,
validation's otherwise (the metrics say which). A distilled student with
``fusion.select=teacher`` deploys its teacher's pick (:mod:`.fusion_teacher`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..calibration_select import CalibrationChoice, PeriodChoice
from ..checkpoints import count_parameters
from ..config import TIE_MARGIN  # re-exported: validation F1 closer than this is a tie
from ..context import StageContext
from ..errors import ModelsError
from ..families import (
    attack_families,
    choose_by_families,
    choosing_rule,
    detector_means,
    family_figures,
)
from ..fusion_agent import train_dqn
from ..fusion_methods import (
    CUT_FUSIONS,
    EITHER,
    FUSION_METHODS,
    TIE_ORDERS,
    cut_units,
    fit_logistic,
    fit_normaliser,
)
from ..fusion_model import FusionModel, calibrated_inputs, dqn_state, frozen_scored, sigmoid
from ..metrics import (
    OneClassValidationError,
    Threshold,
    binary_metrics,
    false_alarm_threshold,
    fit_threshold,
)
from ..scoring import SplitScores, score_split
from .common import StageOutcome, publish, require_two_classes
from .fusion_calibration import (
    calibration_candidates,
    fixed_rule,
    period_grid,
    select_rule,
    shared_period,
)
from .fusion_checks import require_both_past_warmup, require_normal_for_rate
from .fusion_choice import choose_by_validation, period_system
from .fusion_lines import selection_lines
from .fusion_teacher import teacher_pick

__all__ = ["TIE_MARGIN", "calibration_candidates", "load_fusion", "run_fusion"]


def run_fusion(ctx: StageContext) -> StageOutcome:
    cfg = ctx.config
    require_two_classes(ctx, ctx.split("val").labels())  # before anything is loaded or written
    require_both_past_warmup(ctx)
    require_normal_for_rate(ctx)
    # Held out first: each family's run trains, and this fit starts seeded as without them.
    held = attack_families(ctx.split("train").manifest.data)
    rule, rule_reason = choosing_rule(cfg.fusion, held, ctx.dataset)
    ctx.log(f"fusion: choosing by {rule} ({rule_reason})")
    fusions = FUSION_METHODS + (CUT_FUSIONS if cfg.fusion.cut_fusions else ())
    # Read before anything is written, so that a missing teacher stops the stage clean.
    teacher = teacher_pick(ctx, (*fusions, EITHER)) if rule == "teacher" else None
    families = family_figures(ctx, held) if rule == "families" else None
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    ctx.store.begin(ctx.dataset, ctx.size, "fusion")
    val = score_split(
        ctx.split("val"),
        "val",
        gat,
        vgae,
        cfg.batching,
        ctx.device,
        track=lambda n: ctx.tracker("scoring val", n),
    )
    y = val.y
    # The frozen protocol fits on the windows it scores: past each capture's warm-up.
    fit = frozen_scored(val, cfg.eval.frozen_warmup)
    normal = y == 0
    norms = {
        "gat": fit_normaliser(val.gat[normal & fit]),
        "vgae": fit_normaliser(val.vgae[normal & fit]),
    }
    floors = (
        cfg.calibration.scale_floor * norms["gat"].scale,
        cfg.calibration.scale_floor * norms["vgae"].scale,
    )
    model = FusionModel(
        norms,
        "mean",
        {},
        {},
        0.0,
        scale_floors=floors,
        frozen_warmup=cfg.eval.frozen_warmup,
        guard_at=cfg.calibration.guard_at,
        cut_units_at=cfg.fusion.cut_units_at,
    )
    frozen = model.frozen_inputs(val)
    y_fit = y[fit]

    def threshold(scores: np.ndarray) -> Any:
        try:
            return fit_threshold(scores[fit], y_fit, one_class=cfg.eval.one_class_fit)
        except OneClassValidationError as exc:  # checked above; kept for a clear message
            raise ModelsError(f"{ctx.dataset}: {exc}") from exc

    # Each score on validation under the frozen protocol: its threshold is fitted on it,
    # and where it lies against that threshold is what a guarded calibration rule requires.
    frozen_scores = {"gat": frozen.z_gat, "vgae": frozen.z_vgae}
    for name in ("gat", "vgae"):
        model.thresholds[name] = threshold(frozen_scores[name])
    model.logistic = fit_logistic(np.column_stack((frozen.z_gat, frozen.z_vgae))[fit], y_fit)
    # The DQN's inputs are centred on the F1 cuts whatever decides the VGAE, so that a
    # false-alarm-rate cut moves the VGAE's decisions (and either's) and nothing else.
    model.dqn_centers = (model.thresholds["gat"].value, model.thresholds["vgae"].value)
    # The cut fusions' units are those F1 cuts too, for the same reason.
    if cfg.fusion.cut_fusions:
        model.cut_units = cut_units(*model.dqn_centers)
    vgae_f1_cut = model.thresholds["vgae"]
    rate = cfg.fusion.vgae_false_alarm_rate
    if rate is not None:  # validation past the warm-up holds normal windows (checked above)
        model.thresholds["vgae"] = false_alarm_threshold(frozen.z_vgae[fit], y_fit, rate)
    u_g = sigmoid(frozen.z_gat - model.dqn_centers[0])
    u_v = sigmoid(frozen.z_vgae - model.dqn_centers[1])
    state = dqn_state(val.state, frozen.z_gat, frozen.z_vgae)
    model.policy, history = train_dqn(
        state[fit], u_g[fit], u_v[fit], y_fit, cfg.dqn, cfg.train.seed
    )
    for method in fusions:
        frozen_scores[method] = model.fuse(method, frozen)
        model.thresholds[method] = threshold(frozen_scores[method])
    frozen_flags = {name: model.thresholds[name].apply(z) for name, z in frozen_scores.items()}
    guard_flags = {name: model.guard_flags(name, z) for name, z in frozen_scores.items()}
    either = frozen_flags["gat"] | frozen_flags["vgae"]
    model.thresholds[EITHER] = Threshold(
        0.0, "either detector at its own frozen threshold", _f1(y_fit.astype(bool), either[fit])
    )

    order = TIE_ORDERS[cfg.fusion.tie_order]  # which fusion a tie goes to
    # The pick of the families rule (frozen F1 on held-out families) or of the teacher:
    # known before any period.
    family_means: dict[str, float] = {}
    by_rule: str | None = None if teacher is None else teacher.method
    if families is not None:
        val_f1 = {m: model.thresholds[m].val_f1 for m in model.methods}
        by_rule, family_means = choose_by_families(
            families, val_f1, model.methods, cfg.fusion.families_margin, order
        )

    fixed = fixed_rule(ctx)
    choices: dict[str, CalibrationChoice] = {}
    period_from: str | None = None  # the system whose period every score calibrates on
    period_choice: PeriodChoice | None = None
    systems: dict[str, PeriodChoice] = {}
    choices_at_own: dict[str, CalibrationChoice] = {}

    clean = cfg.calibration.clean_validation
    attacks = val.y.astype(bool) if clean else None
    # The periods validation chooses among (none with a fixed rule), read once.
    periods = period_grid(ctx) if fixed is None else []
    score_after = max(w + t for w, t in periods) if clean and periods else None

    def streams(name: str) -> Any:
        def at(warmup: float, seconds: float) -> Any:
            inputs = calibrated_inputs(val, warmup, seconds, floors, exclude=attacks)
            fused = model.fuse(name, inputs)
            return val.streams(
                fused,
                with_labels=True,
                frozen_flags=guard_flags[name],
                clean_calibration=clean,
                score_after=score_after,
            )

        return at

    if fixed is not None:
        # Rule, parameter, warm-up and length all set by the user: nothing is chosen on
        # validation (which may hold no clean start to choose on), and the results say so.
        for name in ("gat", "vgae", *fusions):
            choices[name] = CalibrationChoice(
                fixed, float("nan"), None, guard_at=cfg.calibration.guard_at
            )
        by_validation = choose_by_validation(cfg.fusion.method, model, choices, order)
    else:
        # A deployment calibrates once: each fusion is judged as a system, its own score
        # and both detectors sharing the period chosen for the three together; the method
        # is then chosen on those systems, and every score takes its best rule for the
        # winner's period.
        chosen: dict[tuple[str, tuple[float, float]], CalibrationChoice] = {}

        def choose(name: str, period: tuple[float, float]) -> CalibrationChoice:
            # Every system shares the GAT and VGAE branches: each (score, period) once.
            if (name, period) not in chosen:
                rules = calibration_candidates(ctx, period)
                chosen[name, period] = select_rule(ctx, streams(name), rules)
            return chosen[name, period]

        systems = {m: shared_period(ctx, choose, periods, m) for m in fusions}
        choices_at_own = {m: choose(m, system.period) for m, system in systems.items()}
        by_validation = choose_by_validation(cfg.fusion.method, model, choices_at_own, order)
        pick = by_rule or by_validation
        period_from = period_system(cfg.fusion.period_of, pick, by_validation, systems)
        period_choice = systems[period_from]
        for name in ("gat", "vgae", *fusions):
            choices[name] = choose(name, period_choice.period)
    for name, choice in choices.items():
        model.calibration[name] = choice.rule
    method = by_rule or by_validation
    model.warmup, model.seconds = choices["gat" if method == EITHER else method].rule.period
    model.method = method
    selection = {
        "method": method,
        "configured": cfg.fusion.method,
        "select": cfg.fusion.select,
        "rule": rule,
        "rule_reason": rule_reason,
        "validation_choice": by_validation,
        "criterion": (
            f"the fusion the {teacher.teacher} deployed ({teacher.chosen_by}), fitted on "
            "this student's validation"
            if teacher is not None
            else "best mean frozen F1 on the attack families of the training captures, each held "
            "out of both detectors' training and of the fusion's fit"
            if families is not None
            else "mean of frozen val F1 and calibrated leave-one-capture-out val F1, "
            "each fusion calibrated on the period it shares with both detectors"
            if fixed is None
            else "frozen val F1 (the calibration rule is fixed by the config, not chosen)"
        ),
        "families": families,
        "teacher": None if teacher is None else teacher.to_json(),
        "family_mean_f1": family_means,
        "family_detector_mean_f1": detector_means(families) if families is not None else {},
        "families_margin": cfg.fusion.families_margin if families is not None else None,
        "tie_order": list(order),
        # Whose shared period the run calibrates on (fusion.period_of), and which system's
        # period that was (None with a fixed rule: no period chosen).
        "period_of": cfg.fusion.period_of,
        "period_system": period_from,
        "vgae_cut": {
            "false_alarm_rate": rate,
            "value": model.thresholds["vgae"].value,
            "method": model.thresholds["vgae"].method,
            "f1_cut": vgae_f1_cut.value,
            # What each cut recalls of validation's attacks: a rate cut that passes many
            # of them shows it before any test (set_01: 0.65–0.67 against 0.89–0.92).
            "val_recall": _recall(y_fit, frozen.z_vgae[fit] >= model.thresholds["vgae"].value),
            "f1_cut_val_recall": _recall(y_fit, frozen.z_vgae[fit] >= vgae_f1_cut.value),
        },
        "seconds": model.seconds,
        "warmup": model.warmup,
        "calibration_judge": None
        if fixed is not None
        else "clean: validation's labelled attack windows left out of each calibration set, "
        f"every period scored after {score_after:g} s"
        if clean
        else "as recorded: each period calibrated on whatever it held, scored after itself",
        "period": None if period_choice is None else period_choice.to_json(),
        "systems": {
            m: {
                "warmup": choice.period[0],
                "seconds": choice.period[1],
                "period_score": round(choice.score, 4),
                "calibrated_val_f1": choices_at_own[m].f1,
                "calibrated_loco_f1": choices_at_own[m].loco_f1,
            }
            for m, choice in systems.items()
        },
        "scores": {
            name: {
                "frozen_val_f1": model.thresholds[name].val_f1,
                "calibrated": choices[name].to_json(),
            }
            for name in choices
        }
        | {EITHER: {"frozen_val_f1": model.thresholds[EITHER].val_f1, "calibrated": None}},
    }
    model.selection = selection
    ctx.log(selection_lines(selection))
    metrics = {
        "method": method,
        "selection": selection,
        "thresholds": {k: t.to_json() for k, t in model.thresholds.items()},
        "normalisers": {k: n.to_json() for k, n in norms.items()},
        "calibration": {k: r.to_json() for k, r in model.calibration.items()},
        "calibration_seconds": model.seconds,
        "calibration_warmup": model.warmup,
        "guard_at": model.guard_at,
        "parameters": count_parameters(model.policy.qnet)  # type: ignore[union-attr]
        + count_parameters(gat)
        + count_parameters(vgae),
        "dqn_parameters": count_parameters(model.policy.qnet),  # type: ignore[union-attr]
        "dqn_history": history,
        "val_graphs": len(y),
        "val_attack_graphs": int(y.sum()),
        "frozen_warmup": cfg.eval.frozen_warmup,
        "frozen_fit_graphs": int(fit.sum()),
        "frozen_fit_attack_graphs": int(y_fit.sum()),
        "alpha_mean": float(model.alphas(frozen).mean()),
    }
    return publish(ctx, "fusion", "fusion", model.to_checkpoint(), metrics)


def _f1(y: np.ndarray, flags: np.ndarray) -> float | None:
    return binary_metrics(y, flags)["f1"]


def _recall(y: np.ndarray, flags: np.ndarray) -> float | None:
    return binary_metrics(y, flags)["recall"]


def load_fusion(ctx: StageContext) -> FusionModel:
    ckpt = ctx.store.load(ctx.dataset, ctx.size, "fusion")
    try:
        return FusionModel.from_checkpoint(ckpt)
    except ValueError as exc:
        where = ctx.store.dir(ctx.dataset, ctx.size, "fusion")
        raise ModelsError(
            f"{where}: {exc}; to fit it again: rm -r {where}, then "
            f"{ctx.store.train_command('fusion', ctx.dataset, ctx.size)}"
        ) from exc


def scores_of(ctx: StageContext, split: str) -> SplitScores:
    """Both detectors' scores over ``split`` (for evaluation)."""
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    return score_split(
        ctx.split(split),
        split,
        gat,
        vgae,
        ctx.config.batching,
        ctx.device,
        track=lambda n: ctx.tracker(f"scoring {split}", n),
    )
