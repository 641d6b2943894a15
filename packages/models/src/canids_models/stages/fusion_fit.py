"""The fusion stage's frozen fit on validation: each detector's normaliser, every score's
frozen threshold, the logistic stacking and the DQN, fitted on the windows the frozen
protocol scores (past each capture's warm-up). The calibration choices come after it
(:mod:`.fusion_calibration`) and read what it records: where each score lies against its
frozen threshold is what a guarded calibration rule requires."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..context import StageContext
from ..errors import ModelsError
from ..fusion_agent import train_dqn
from ..fusion_inputs import FusedScores, dqn_state, frozen_scored, sigmoid
from ..fusion_methods import EITHER, cut_units, fit_logistic, fit_normaliser
from ..fusion_model import FusionModel
from ..metrics import (
    OneClassValidationError,
    Threshold,
    binary_metrics,
    false_alarm_threshold,
    fit_threshold,
)
from ..scoring import SplitScores

__all__ = ["FrozenFit", "fit_frozen"]


@dataclass(frozen=True)
class FrozenFit:
    """What the frozen fit leaves for the calibration choices and the stage's record."""

    model: FusionModel  # method "mean" until the stage picks one; no calibration yet
    inputs: FusedScores  # validation's normalised scores under the frozen protocol
    y: np.ndarray  # validation's window labels
    fit: np.ndarray  # the validation windows fitted on (past each capture's warm-up)
    guard_flags: dict[str, np.ndarray]  # per score: where a guarded rule may flag
    dqn_history: list[dict[str, float]]
    vgae_f1_cut: Threshold  # the VGAE's F1 cut, kept where a false-alarm rate replaced it

    @property
    def y_fit(self) -> np.ndarray:
        return self.y[self.fit]


def fit_frozen(ctx: StageContext, val: SplitScores, fusions: tuple[str, ...]) -> FrozenFit:
    """Fit every score of ``fusions`` (and both detectors, and ``either``) on validation."""
    cfg = ctx.config
    y = val.y
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

    def threshold(scores: np.ndarray) -> Threshold:
        try:
            return fit_threshold(scores[fit], y_fit, one_class=cfg.eval.one_class_fit)
        except OneClassValidationError as exc:  # checked before; kept for a clear message
            raise ModelsError(f"{ctx.dataset}: {exc}") from exc

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
    if rate is not None:  # validation past the warm-up holds normal windows (checked before)
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
    either = frozen_flags["gat"] | frozen_flags["vgae"]
    f1 = binary_metrics(y_fit.astype(bool), either[fit])["f1"]
    model.thresholds[EITHER] = Threshold(0.0, "either detector at its own frozen threshold", f1)
    return FrozenFit(
        model=model,
        inputs=frozen,
        y=y,
        fit=fit,
        guard_flags={name: model.guard_flags(name, z, frozen) for name, z in frozen_scores.items()},
        dqn_history=history,
        vgae_f1_cut=vgae_f1_cut,
    )
