"""Fusing the GAT and VGAE scores: normalisation and the simple fusions the DQN must beat.

Both detectors' raw scores live on their own scales (a GAT logit, the log of a VGAE
Mahalanobis distance). Fusion works on normalised scores ``z = (s - centre) / scale``:
under the ``frozen`` protocol the centre and scale are the median and MAD of the normal
validation windows; under ``calibrated`` they come from each capture's clean start. The
fusions, all fitted on validation only:

- ``mean``: (z_gat + z_vgae) / 2;
- ``max``: max(z_gat, z_vgae): an attack either detector sees stands out;
- ``logistic``: logistic stacking, w·z + b fitted by L2-regularised Newton steps, with
  w ≥ 0: a fusion of detector scores must not read a more anomalous score as more normal.
  Unconstrained, it learnt a negative VGAE weight in every run (−0.11 to −0.39: where the
  GAT already separates validation, the VGAE's residual correlation is used as a
  correction), so on a new vehicle, where the VGAE rises, the fused score fell and the
  attacks were missed (docs/results.md);
- ``dqn``: the seeds' Double DQN choosing α per window (:mod:`canids_models.fusion_agent`);
- ``cut_mean`` and ``cut_max`` (:data:`CUT_FUSIONS`, canids-models 0.16.0): the mean and
  max of ``u = z / cut``, each z in units of its detector's own frozen F1 cut (1 at the cut
  for both). MAD-σ units weigh a detector by how far its validation attacks lie from its
  normal traffic: set_01's GAT cut sits at 105 σ and its VGAE's at 1.9 σ, so ``mean`` is
  the GAT with the VGAE as a wobble, and an attack only the VGAE sees cannot reach the
  mean's cut. In cut units the two weigh the same at their decision boundaries. A cut
  nearer than 1 σ to normal's median counts as 1 σ (:data:`MIN_CUT_UNIT`): a detector
  that cuts into its own normal traffic is not amplified without bound. They are ranked
  after the four above, so that on a tie the older candidate keeps its place. Under the
  calibrated protocol with ``fusion.cut_units_at=capture`` (opt-in, 0.24.0) each unit is
  at least the capture's own :data:`CAPTURE_UNIT_QUANTILE` of that detector's z over its
  calibration windows (:func:`capture_cut_units`): where a detector's normal traffic on a
  new vehicle spikes past its validation cut, the fused score's calibrated threshold
  would otherwise sit on those spikes, above every attack the other detector carries.
  With ``fusion.cut_units_at=capture_scale`` (opt-in, 0.29.0) each unit is its frozen cut
  re-expressed in the capture's own normalisation (:func:`capture_scale_units`);
- ``either`` (:data:`EITHER`): a decision-level OR, each detector at its own threshold of
  the protocol. It has no score of its own for a calibration rule to normalise, so it is
  fitted beside the four (its frozen threshold is 0 on the nearer detector's margin past
  its threshold), not ranked by validation's criterion, and chosen by ``fusion.select=
  families`` or by name. Left out where one detector alone must decide, it earns its place
  where the two miss different attacks: on set_01 the GAT misses the unseen attack of a
  new vehicle that the VGAE catches (docs/results.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .calibration import MAD_TO_SIGMA

__all__ = [
    "CAPTURE_UNIT_QUANTILE",
    "CUT_FUSIONS",
    "CaptureNorms",
    "EACH_GUARDED",
    "EITHER",
    "FUSION_METHODS",
    "MIN_CUT_UNIT",
    "TIE_ORDERS",
    "Normaliser",
    "tie_ranked",
    "fit_logistic",
    "fit_normaliser",
    "capture_cut_units",
    "capture_scale_units",
    "cut_units",
    "simple_fusion",
    "vgae_raw",
]

FUSION_METHODS = ("mean", "max", "logistic", "dqn")  # score fusions, ranked on validation
CUT_FUSIONS = ("cut_mean", "cut_max")  # score fusions in cut units, ranked after those
EITHER = "either"
# The score fusions in which either detector flags alone: under calibration.guard_at=each
# (canids-models 0.30.0) their guard is each detector's own (FusionModel.guard_flags).
EACH_GUARDED = ("max", "cut_max")
# Which fusion a tie goes to, first to last (FusionConfig.tie_order), in validation's rule
# and the families rule alike.
TIE_ORDERS: dict[str, tuple[str, ...]] = {
    # The simpler first, the cut fusions (0.16.0) after the older four, either last: the
    # order until canids-models 0.18.0.
    "simplest": (*FUSION_METHODS, *CUT_FUSIONS, EITHER),
    # The fusions in which either detector flags alone first (max, cut_max, either), then
    # the ones that average it with the other (mean, logistic, dqn, cut_mean). The training
    # vehicle's validation ties every fusion wherever the classifier knows its attacks; on
    # a vehicle held out (benchmarks/vehicle_holdout.py) the classifier ranked the other
    # vehicle's attack below its normal traffic in four of six runs, and a fusion that
    # averages the anomaly branch with it missed what the anomaly branch alone caught.
    "alone_first": ("max", "cut_max", EITHER, "mean", "logistic", "dqn", "cut_mean"),
}


def tie_ranked(order: tuple[str, ...], methods: tuple[str, ...]) -> list[str]:
    """``methods`` in tie ``order`` (:data:`TIE_ORDERS`); an order that leaves one out is
    refused rather than dropping it."""
    missing = sorted(set(methods) - set(order))
    if missing:
        raise ValueError(f"the tie order {list(order)} does not rank {missing}")
    return [m for m in order if m in methods]


MIN_CUT_UNIT = 1.0  # σ: the smallest unit a frozen cut gives its detector's score
# The quantile of a detector's calibration windows below which its capture unit keeps
# that capture's normal traffic (fusion.cut_units_at=capture). Fixed, not chosen: it is the
# level of the quantile rule's α 0.02, the calibration most runs choose, so that the unit
# covers what the fused score's own calibration covers; a spike rarer than one window in 50
# still counts against the detector.
CAPTURE_UNIT_QUANTILE = 0.98
_SCALE_FLOOR = 1e-6


def vgae_raw(distance: np.ndarray) -> np.ndarray:
    """The VGAE score on the scale fusion and calibration use: the log of its Mahalanobis
    distance (distances span decades between normal traffic and a flood)."""
    return np.log(np.maximum(np.asarray(distance, np.float64), 1e-12))


@dataclass(frozen=True)
class Normaliser:
    """``z = (s - center) / scale`` of one detector's raw score."""

    center: float
    scale: float

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, np.float64) - self.center) / self.scale

    def to_json(self) -> dict[str, float]:
        return {"center": self.center, "scale": self.scale}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Normaliser:
        return cls(float(data["center"]), float(data["scale"]))


def fit_normaliser(scores: np.ndarray) -> Normaliser:
    """Median and MAD-based σ of ``scores`` (normal windows), floored."""
    s = np.asarray(scores, np.float64)
    if len(s) == 0:
        raise ValueError("no normal window to fit a score normalisation on")
    center = float(np.median(s))
    scale = float(np.median(np.abs(s - center))) * MAD_TO_SIGMA
    return Normaliser(center, max(scale, _SCALE_FLOOR))


def cut_units(cut_gat: float, cut_vgae: float) -> tuple[float, float]:
    """Each detector's unit for the cut fusions: its frozen F1 cut in σ (z units), at
    least :data:`MIN_CUT_UNIT`."""
    return (max(float(cut_gat), MIN_CUT_UNIT), max(float(cut_vgae), MIN_CUT_UNIT))


def capture_cut_units(
    units: tuple[float, float], quantiles: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Per window, each detector's unit under ``fusion.cut_units_at=capture``: its frozen
    cut ``units`` or its capture's :data:`CAPTURE_UNIT_QUANTILE` of z over the capture's
    calibration windows (``quantiles``, per window), whichever is larger."""
    return (np.maximum(units[0], quantiles[0]), np.maximum(units[1], quantiles[1]))


# Per window, (centre, scale) of each detector's raw score over its capture's calibration
# windows: the GAT's, then the VGAE's.
CaptureNorms = tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def capture_scale_units(
    units: tuple[float, float],
    normalisers: tuple[Normaliser, Normaliser],
    norms: CaptureNorms,
) -> tuple[np.ndarray, np.ndarray]:
    """Per window, each detector's unit under ``fusion.cut_units_at=capture_scale``: its
    frozen cut ``units`` (σ of validation, :func:`cut_units`) moved to its raw score by the
    validation ``normalisers``, then expressed in its capture's own normalisation
    (``norms``: per window, the capture's (centre, scale) in raw units), at least
    :data:`MIN_CUT_UNIT`.

    Calibrated z is in units of the capture's MAD and the cut in validation's, so with the
    cut as is a detector whose capture is ten times quieter than validation weighs ten
    times its share: set_01 t04's GAT, whose clean start is 2.87 times quieter than
    validation, spikes to twice its cut there on normal traffic (docs/results.md). Here
    the unit moves by the same ratio, and the cut keeps its place in raw score; a capture
    centred at or past the cut (a new vehicle whose normal traffic the frozen cut flags)
    floors the unit at 1 σ of the capture. Judged held out by dataset and not adopted:
    on hcrl_sa's vehicles that floor is where the VGAE's unit lands on every capture, and
    weighs it up twofold."""
    out = []
    for unit, norm, (centre, scale) in zip(units, normalisers, norms, strict=True):
        raw_cut = norm.center + unit * norm.scale
        out.append(np.maximum((raw_cut - centre) / scale, MIN_CUT_UNIT))
    return out[0], out[1]


def simple_fusion(
    method: str,
    z_gat: np.ndarray,
    z_vgae: np.ndarray,
    weights: np.ndarray | None = None,
    units: tuple[float, float] | tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """The fused score of ``mean``, ``max``, ``logistic`` (``weights`` = [w_gat, w_vgae,
    b]) or a cut fusion (``units`` = :func:`cut_units`, or per window
    :func:`capture_cut_units` or :func:`capture_scale_units`)."""
    if method in CUT_FUSIONS:
        if units is None:
            raise ValueError(f"{method} fusion needs each detector's cut unit (cut_units)")
        return simple_fusion(method.removeprefix("cut_"), z_gat / units[0], z_vgae / units[1])
    if method == "mean":
        return (z_gat + z_vgae) / 2.0
    if method == "max":
        return np.maximum(z_gat, z_vgae)
    if method == "logistic":
        if weights is None:
            raise ValueError("logistic fusion needs its fitted weights")
        return weights[0] * z_gat + weights[1] * z_vgae + weights[2]
    raise ValueError(
        f"fusion method {method!r} is not a simple fusion; known: mean, max, logistic, "
        + ", ".join(CUT_FUSIONS)
    )


def fit_logistic(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    l2: float = 1e-2,
    iterations: int = 100,
    nonnegative: bool = True,
) -> np.ndarray:
    """Weights [w..., b] of a logistic regression by Newton's method (IRLS) with an L2
    penalty on w; classes are weighted equally, as the DQN's reward weighs them.

    ``nonnegative``: every w ≥ 0 (the intercept is free), by an active-set Newton method:
    a weight whose step would cross zero is held at zero, and released when the gradient
    asks it to grow. The loss is convex, so the fixed point is the constrained optimum
    (its KKT conditions are checked by the tests)."""
    x = np.column_stack((np.asarray(features, np.float64), np.ones(len(labels))))
    y = np.asarray(labels, np.float64)
    n_pos = max(y.sum(), 1.0)
    n_neg = max(len(y) - y.sum(), 1.0)
    sample_w = np.where(y == 1, len(y) / (2 * n_pos), len(y) / (2 * n_neg))
    d = x.shape[1]
    w = np.zeros(d)
    penalty = np.full(d, l2 * len(y))
    penalty[-1] = 0.0  # the intercept is not shrunk
    bounded = np.zeros(d, bool)
    if nonnegative:
        bounded[:-1] = True
    held = np.zeros(d, bool)  # bounded weights held at zero
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (sample_w * (p - y)) + penalty * w
        hess = (x * (sample_w * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        held &= grad >= 0  # a held weight whose loss falls as it grows is released
        free = ~held
        step = np.zeros(d)
        step[free] = np.linalg.solve(hess[np.ix_(free, free)], grad[free])
        new = w - step
        crossing = bounded & (new < 0)
        if crossing.any():
            new[crossing] = 0.0
            held |= crossing
        moved = np.abs(new - w).max()
        w = new
        if moved < 1e-8:
            break
    return w
