"""Validation's rule for the default fusion (``fusion.select=validation``, and the
fallback of ``auto`` where the training captures hold fewer than two attack families):
every score fusion ranked by the mean of its frozen val F1 and its calibrated
leave-one-capture-out val F1, the simpler (or older) one on a tie."""

from __future__ import annotations

import numpy as np

from ..calibration_select import CalibrationChoice
from ..config import TIE_MARGIN
from ..fusion_methods import EITHER, FUSION_METHODS
from ..fusion_model import FusionModel

__all__ = ["choose_by_validation"]


def choose_by_validation(
    configured: str, model: FusionModel, choices: dict[str, CalibrationChoice]
) -> str:
    """Validation's choice among the score fusions (the mean of frozen val F1 and the
    calibrated leave-one-capture-out val F1), or the configured method where it is not
    ``auto``. ``either`` has no fused score to calibrate and is not ranked here."""
    if configured != "auto":
        return configured
    best, best_score = FUSION_METHODS[0], -1.0
    # Simplest first, the cut fusions (0.16.0) after the older four: a later one must win
    # by TIE_MARGIN.
    for method in (m for m in model.methods if m != EITHER):
        frozen_f1 = model.thresholds[method].val_f1 or 0.0
        cal = choices[method]
        calibrated = cal.loco_f1 if cal.loco_f1 is not None else cal.f1
        score = frozen_f1 if np.isnan(calibrated) else (frozen_f1 + calibrated) / 2
        if score > best_score + TIE_MARGIN:
            best, best_score = method, score
    return best
