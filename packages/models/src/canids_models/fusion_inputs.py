"""Both protocols' inputs to the fusion: each detector's score normalised, frozen (one
normaliser per detector, fitted on validation's normal windows) or calibrated (each
capture's own clean start normalises it, :func:`calibrated_inputs`), and the DQN's state.
:class:`~canids_models.fusion_model.FusionModel` fuses them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .calibration import MAD_TO_SIGMA, calibration_phases
from .fusion_methods import CAPTURE_UNIT_QUANTILE, CaptureNorms
from .scoring import SplitScores

__all__ = ["FusedScores", "calibrated_inputs", "dqn_state", "frozen_scored", "sigmoid"]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -30, 30)))


def dqn_state(state: np.ndarray, z_gat: np.ndarray, z_vgae: np.ndarray) -> np.ndarray:
    """The DQN's state: the detectors' own statistics plus both normalised scores."""
    return np.column_stack((state, z_gat, z_vgae)).astype(np.float32)


@dataclass(frozen=True)
class FusedScores:
    """Normalised inputs of one split under one protocol; ``scored`` marks the windows the
    protocol scores (all for frozen; all but the calibration windows for calibrated).
    ``capture_quantiles`` (calibrated only): per window, its capture's
    :data:`~canids_models.fusion_methods.CAPTURE_UNIT_QUANTILE` of (z_gat, z_vgae) over
    that capture's calibration windows, for ``fusion.cut_units_at=capture``;
    ``capture_norms`` (calibrated only): per window, its capture's (centre, scale) of the
    GAT's and of the VGAE's raw score, for ``fusion.cut_units_at=capture_scale``."""

    z_gat: np.ndarray
    z_vgae: np.ndarray
    state: np.ndarray
    scored: np.ndarray
    capture_quantiles: tuple[np.ndarray, np.ndarray] | None = None
    capture_norms: CaptureNorms | None = None


def frozen_scored(scores: SplitScores, warmup: float) -> np.ndarray:
    """The windows the frozen protocol fits on and scores: those that end after each
    capture's first ``warmup`` seconds (every window with 0)."""
    if warmup <= 0.0:
        return np.ones(len(scores), bool)
    return (scores.window_end - scores.capture_start) > warmup


def calibrated_inputs(
    scores: SplitScores,
    warmup: float,
    seconds: float,
    floors: tuple[float, float],
    exclude: np.ndarray | None = None,
) -> FusedScores:
    """Each capture normalised by its own calibration windows (those that end after the
    ``warmup`` and within ``seconds`` more; median and MAD-σ, floored at ``floors`` =
    (gat, vgae) in raw units). No label is read. Only the windows after them are scored.
    ``exclude`` (validation only: its labelled attack windows) leaves windows out of the
    calibration set, simulating a calibration before any attack."""
    _, in_period, scored = calibration_phases(
        scores.window_end, scores.capture_start, seconds, warmup
    )
    cal = in_period if exclude is None else in_period & ~exclude
    z_g = np.zeros(len(scores))
    z_v = np.zeros(len(scores))
    q_g = np.full(len(scores), np.nan)
    q_v = np.full(len(scores), np.nan)
    norms = (
        (np.full(len(scores), np.nan), np.full(len(scores), np.nan)),
        (np.full(len(scores), np.nan), np.full(len(scores), np.nan)),
    )
    for idx in scores.captures():
        c = idx[cal[idx]]
        if len(c) == 0 and in_period[idx].any():
            # Attacked through its whole calibration period: a clean calibration of that
            # length cannot be simulated on this capture, and the streams' judge counts
            # every attack after it as missed (NaN is never read).
            z_g[idx] = z_v[idx] = np.nan
            continue
        if len(c) == 0:
            raise ValueError(
                f"{scores.split}: capture {int(scores.source[idx[0]])} has no window that ends "
                f"in its calibration period ({seconds:g} s after a {warmup:g} s warm-up): "
                "nothing to calibrate on"
            )
        for raw, out, q, floor, (centres, scales) in (
            (scores.gat, z_g, q_g, floors[0], norms[0]),
            (scores.vgae, z_v, q_v, floors[1], norms[1]),
        ):
            center = float(np.median(raw[c]))
            scale = max(float(np.median(np.abs(raw[c] - center))) * MAD_TO_SIGMA, floor)
            out[idx] = (raw[idx] - center) / scale
            q[idx] = float(np.quantile(out[c], CAPTURE_UNIT_QUANTILE))
            centres[idx], scales[idx] = center, scale
    return FusedScores(z_g, z_v, scores.state, scored, (q_g, q_v), norms)
