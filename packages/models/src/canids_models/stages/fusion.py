"""Stage ``fusion``: fit every fusion on validation, choose the calibration rules, and pick
the default fusion, all on validation (never on a test split).

The DQN (the seeds' method) is compared with the simple fusions of normalised scores
(mean, max, logistic stacking); the default is whichever scores best on validation,
frozen and calibrated protocols averaged, the simpler one on a tie.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..calibration import CALIBRATION_RULES, CalibrationRule
from ..calibration_select import CalibrationChoice, select_calibration
from ..checkpoints import count_parameters
from ..context import StageContext
from ..errors import ModelsError
from ..fusion_agent import train_dqn
from ..fusion_methods import FUSION_METHODS, fit_logistic, fit_normaliser
from ..fusion_model import FusionModel, calibrated_inputs, dqn_state, sigmoid
from ..metrics import OneClassValidationError, fit_threshold
from ..scoring import SplitScores, score_split
from .common import StageOutcome, publish, require_two_classes

__all__ = ["TIE_MARGIN", "calibration_candidates", "load_fusion", "run_fusion"]

TIE_MARGIN = 0.005  # validation F1 closer than this is a tie: the simpler method wins


def calibration_candidates(ctx: StageContext, seconds: float) -> list[CalibrationRule]:
    """Every (rule, parameter) of the config at one length, simplest and strictest first."""
    cal = ctx.config.calibration
    rules = CALIBRATION_RULES if cal.rule == "auto" else (cal.rule,)
    out = []
    for rule in rules:
        params = cal.zscore_k if rule == "zscore" else cal.alphas
        if cal.param is not None and cal.rule != "auto":
            params = (cal.param,)
        out += [CalibrationRule(rule, float(p), float(seconds)) for p in params]
    return out


def clean_start_seconds(ctx: StageContext) -> float:
    """How much clean start every training capture has in validation: the cache's
    ``val_start_seconds``, cut to ``val_start_max_fraction`` of the shortest capture."""
    manifest = ctx.split("train").manifest.data
    config = manifest["config"]
    limit = float(config.get("val_start_seconds", 0.0))
    share = float(config.get("val_start_max_fraction", 0.0))
    for src in manifest["sources"]:
        if src["split"] == "train" and src.get("used", True) and "last_timestamp" in src:
            duration = float(src["last_timestamp"]) - float(src["first_timestamp"])
            limit = min(limit, duration * share)
    return limit


def _seconds_grid(ctx: StageContext) -> list[float]:
    cal = ctx.config.calibration
    if cal.seconds is not None:
        return [float(cal.seconds)]
    limit = clean_start_seconds(ctx)
    grid = [float(s) for s in cal.seconds_grid if s <= limit + 1e-9]
    if not grid:
        raise ModelsError(
            f"{ctx.dataset}: validation holds {limit:g} s of clean start per training capture,"
            f" shorter than every calibration length of calibration.seconds_grid "
            f"{list(cal.seconds_grid)}, so none can be chosen on validation. Rebuild the cache "
            f"with a longer clean start (`canids-cache build --dataset {ctx.dataset} "
            "--val-start-seconds 10`), or pass shorter lengths (--set "
            "calibration.seconds_grid=[0.5,1]) or one length (--set calibration.seconds=S)"
        )
    return grid


def run_fusion(ctx: StageContext) -> StageOutcome:
    cfg = ctx.config
    require_two_classes(ctx, ctx.split("val").labels())  # before anything is loaded or written
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    ctx.store.begin(ctx.dataset, ctx.size, "fusion")
    val = score_split(ctx.split("val"), "val", gat, vgae, cfg.batching, ctx.device)
    y = val.y
    normal = y == 0
    norms = {"gat": fit_normaliser(val.gat[normal]), "vgae": fit_normaliser(val.vgae[normal])}
    floors = (
        cfg.calibration.scale_floor * norms["gat"].scale,
        cfg.calibration.scale_floor * norms["vgae"].scale,
    )
    model = FusionModel(norms, "mean", {}, {}, 0.0, scale_floors=floors)
    frozen = model.frozen_inputs(val)

    def threshold(scores: np.ndarray) -> Any:
        try:
            return fit_threshold(scores, y, one_class=cfg.eval.one_class_fit)
        except OneClassValidationError as exc:  # checked above; kept for a clear message
            raise ModelsError(f"{ctx.dataset}: {exc}") from exc

    for name in ("gat", "vgae"):
        model.thresholds[name] = threshold(frozen.z_gat if name == "gat" else frozen.z_vgae)
    model.logistic = fit_logistic(np.column_stack((frozen.z_gat, frozen.z_vgae)), y)
    model.dqn_centers = (model.thresholds["gat"].value, model.thresholds["vgae"].value)
    u_g = sigmoid(frozen.z_gat - model.dqn_centers[0])
    u_v = sigmoid(frozen.z_vgae - model.dqn_centers[1])
    model.policy, history = train_dqn(
        dqn_state(val.state, frozen.z_gat, frozen.z_vgae), u_g, u_v, y, cfg.dqn, cfg.train.seed
    )
    for method in FUSION_METHODS:
        model.thresholds[method] = threshold(model.fuse(method, frozen))

    fixed = _fixed_rule(ctx)
    choices: dict[str, CalibrationChoice] = {}
    if fixed is not None:
        # Rule, parameter and length all set by the user: nothing is chosen on validation
        # (which may hold no clean start to choose on), and the results say so.
        model.seconds = fixed.seconds
        for name in ("gat", "vgae", *FUSION_METHODS):
            choices[name] = CalibrationChoice(fixed, float("nan"), None)
            model.calibration[name] = fixed
        method = _choose_method(ctx, model, choices)
    else:
        seconds = _seconds_grid(ctx)
        for name in ("gat", "vgae", *FUSION_METHODS):

            def streams(t: float, name: str = name) -> Any:
                inputs = calibrated_inputs(val, t, floors)
                return val.streams(model.fuse(name, inputs), with_labels=True)

            candidates = [r for t in seconds for r in calibration_candidates(ctx, t)]
            choices[name] = _select(ctx, streams, candidates)
        method = _choose_method(ctx, model, choices)
        # One calibration length for the run (a deployment calibrates once): the default
        # fusion's; the inputs and other fusions take their best rule at that length.
        model.seconds = choices[method].rule.seconds
        for name in choices:
            if choices[name].rule.seconds != model.seconds:

                def at_length(t: float, name: str = name) -> Any:
                    inputs = calibrated_inputs(val, t, floors)
                    return val.streams(model.fuse(name, inputs), with_labels=True)

                choices[name] = _select(ctx, at_length, calibration_candidates(ctx, model.seconds))
            model.calibration[name] = choices[name].rule
    model.method = method
    selection = {
        "method": method,
        "configured": cfg.fusion.method,
        "criterion": "mean of frozen val F1 and calibrated leave-one-capture-out val F1"
        if fixed is None
        else "frozen val F1 (the calibration rule is fixed by the config, not chosen)",
        "seconds": model.seconds,
        "scores": {
            name: {
                "frozen_val_f1": model.thresholds[name].val_f1,
                "calibrated": choices[name].to_json(),
            }
            for name in choices
        },
    }
    model.selection = selection
    ctx.log(_selection_lines(selection))
    metrics = {
        "method": method,
        "selection": selection,
        "thresholds": {k: t.to_json() for k, t in model.thresholds.items()},
        "normalisers": {k: n.to_json() for k, n in norms.items()},
        "calibration": {k: r.to_json() for k, r in model.calibration.items()},
        "calibration_seconds": model.seconds,
        "parameters": count_parameters(model.policy.qnet)  # type: ignore[union-attr]
        + count_parameters(gat)
        + count_parameters(vgae),
        "dqn_parameters": count_parameters(model.policy.qnet),  # type: ignore[union-attr]
        "dqn_history": history,
        "val_graphs": len(y),
        "val_attack_graphs": int(y.sum()),
        "alpha_mean": float(model.alphas(frozen).mean()),
    }
    return publish(ctx, "fusion", "fusion", model.to_checkpoint(), metrics)


def _fixed_rule(ctx: StageContext) -> CalibrationRule | None:
    cal = ctx.config.calibration
    if cal.rule == "auto" or cal.param is None or cal.seconds is None:
        return None
    return CalibrationRule(cal.rule, float(cal.param), float(cal.seconds))


def _select(
    ctx: StageContext, streams: Any, candidates: list[CalibrationRule]
) -> CalibrationChoice:
    try:
        return select_calibration(streams, candidates)
    except ValueError as exc:
        raise ModelsError(f"{ctx.dataset}: choosing the calibration rule: {exc}") from exc


def _choose_method(
    ctx: StageContext, model: FusionModel, choices: dict[str, CalibrationChoice]
) -> str:
    configured = ctx.config.fusion.method
    if configured != "auto":
        return configured
    best, best_score = FUSION_METHODS[0], -1.0
    for method in FUSION_METHODS:  # simplest first: a later one must win by TIE_MARGIN
        frozen_f1 = model.thresholds[method].val_f1 or 0.0
        cal = choices[method]
        calibrated = cal.loco_f1 if cal.loco_f1 is not None else cal.f1
        score = frozen_f1 if np.isnan(calibrated) else (frozen_f1 + calibrated) / 2
        if score > best_score + TIE_MARGIN:
            best, best_score = method, score
    return best


def _selection_lines(selection: dict[str, Any]) -> str:
    lines = [f"fusion: default {selection['method']} ({selection['criterion']})"]
    for name, s in selection["scores"].items():
        cal = s["calibrated"]
        lines.append(
            f"  {name:8} frozen val F1 {_f(s['frozen_val_f1'])}  calibrated val F1 "
            f"{_f(cal['val_f1'])} (LOCO {_f(cal['val_loco_f1'])}) with {cal['label']}"
        )
    return "\n".join(lines)


def _f(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def load_fusion(ctx: StageContext) -> FusionModel:
    return FusionModel.from_checkpoint(ctx.store.load(ctx.dataset, ctx.size, "fusion"))


def scores_of(ctx: StageContext, split: str) -> SplitScores:
    """Both detectors' scores over ``split`` (for evaluation)."""
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    return score_split(ctx.split(split), split, gat, vgae, ctx.config.batching, ctx.device)
