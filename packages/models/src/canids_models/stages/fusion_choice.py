"""Validation's rule for the default fusion (``fusion.select=validation``, and the
fallback of ``auto`` where the training captures hold fewer than two attack families):
every score fusion ranked by the mean of its frozen val F1 and its calibrated
leave-one-capture-out val F1, a tie going to the one first in ``fusion.tie_order``."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np

from ..calibration_select import CalibrationChoice
from ..config import PERIOD_OF, TIE_MARGIN
from ..fusion_methods import EITHER, TIE_ORDERS, tie_ranked
from ..fusion_model import FusionModel

__all__ = ["PERIOD_OF", "choose_by_validation", "period_system"]


def choose_by_validation(
    configured: str,
    model: FusionModel,
    choices: dict[str, CalibrationChoice],
    order: tuple[str, ...] = TIE_ORDERS["simplest"],
) -> str:
    """Validation's choice among the score fusions (the mean of frozen val F1 and the
    calibrated leave-one-capture-out val F1), or the configured method where it is not
    ``auto``. ``either`` has no fused score to calibrate and is not ranked here. Taken in
    ``order`` (:data:`TIE_ORDERS`), a later fusion must beat the best so far by
    ``TIE_MARGIN``."""
    if configured != "auto":
        return configured
    ranked = [m for m in tie_ranked(order, model.methods) if m != EITHER]
    best, best_score = ranked[0], -1.0
    for method in ranked:
        frozen_f1 = model.thresholds[method].val_f1 or 0.0
        cal = choices[method]
        calibrated = cal.loco_f1 if cal.loco_f1 is not None else cal.f1
        score = frozen_f1 if np.isnan(calibrated) else (frozen_f1 + calibrated) / 2
        if score > best_score + TIE_MARGIN:
            best, best_score = method, score
    return best


def period_system(period_of: str, pick: str, by_validation: str, systems: Collection[str]) -> str:
    """The score fusion whose shared calibration period the run calibrates on: with
    ``pick``, the deployed fusion's own (the families rule's pick where that rule chose:
    the period judged best for the system that runs); with ``validation``, validation's own
    choice (canids-models 0.13.0-0.19.0, whichever fusion was deployed). ``either`` has no
    fused score and no system of its own: the score fusion validation ranks first stands
    in for it, and ``mean`` where validation's choice is ``either`` too."""
    if period_of not in PERIOD_OF:
        raise ValueError(f"the calibration period is one of {list(PERIOD_OF)}'s, not {period_of!r}")
    first = (pick,) if period_of == "pick" else ()
    for name in (*first, by_validation, "mean"):
        if name in systems:
            return name
    raise ValueError(f"no score fusion among the systems {sorted(systems)} to calibrate on")
