"""Deployment calibration: each capture's unlabeled, causal start sets its own score
normalisation and threshold.

A detector moved to another vehicle keeps its ranking (AUROC 0.98-1.00 on hcrl_sa's
unknown vehicle) while a threshold frozen on the known vehicles flags everything. A real
deployment starts clean: the car is switched on and driven before anyone attacks it. The
windows that *end* within a capture's first ``seconds`` are scored without labels; they set
the capture's centre and scale (median and MAD) and, through one of three rules, its
threshold. They are never scored themselves, and nothing after them is used.

Rules (each on the calibration scores ``c`` of one capture, ``n`` of them):

- ``zscore``: flag ``(s - median(c)) / scale(c) > k``; scale = 1.4826·MAD, floored.
- ``quantile``: flag ``s > Q_{1-α}(c)``.
- ``conformal``: p = (1 + #{c ≥ s}) / (n + 1), flag p ≤ α (Bates, Candès et al. 2023);
  windows are autocorrelated, so the FPR bound is approximate: the realised FPR is reported.

The rule, its parameter and ``seconds`` are chosen on validation (never on test), by
leave-one-capture-out over the training captures' held-out clean starts
(:mod:`canids_models.calibration_select`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "CALIBRATION_RULES",
    "MAD_TO_SIGMA",
    "CaptureCalibration",
    "CalibrationRule",
    "calibrate_capture",
    "calibration_mask",
]

CALIBRATION_RULES = ("zscore", "quantile", "conformal")
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution → its standard deviation


@dataclass(frozen=True)
class CalibrationRule:
    """How a capture's clean start becomes its threshold (see the module docstring).

    ``param`` is ``k`` for ``zscore`` and ``α`` for ``quantile`` and ``conformal``;
    ``scale_floor`` (score units) stops a near-constant start from making every later
    wobble an alarm; ``seconds`` is how long the clean start is.
    """

    rule: str
    param: float
    seconds: float
    scale_floor: float = 1e-6

    def __post_init__(self) -> None:
        if self.rule not in CALIBRATION_RULES:
            raise ValueError(f"calibration rule {self.rule!r}: one of {CALIBRATION_RULES}")
        if self.rule == "zscore" and not self.param > 0:
            raise ValueError(f"zscore calibration needs k > 0, got {self.param}")
        if self.rule != "zscore" and not 0 < self.param < 1:
            raise ValueError(f"{self.rule} calibration needs 0 < alpha < 1, got {self.param}")
        if not self.seconds > 0:
            raise ValueError(f"calibration seconds must be > 0, got {self.seconds}")

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "param": self.param,
            "seconds": self.seconds,
            "scale_floor": self.scale_floor,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CalibrationRule:
        return cls(
            str(data["rule"]),
            float(data["param"]),
            float(data["seconds"]),
            float(data.get("scale_floor", 1e-6)),
        )

    def label(self) -> str:
        name = "k" if self.rule == "zscore" else "α"
        return f"{self.rule} {name}={self.param:g}, first {self.seconds:g} s"


@dataclass(frozen=True)
class CaptureCalibration:
    """One capture's calibration: centre, scale and threshold in raw score units."""

    center: float
    scale: float
    threshold: float
    windows: int

    def normalise(self, scores: np.ndarray) -> np.ndarray:
        return (np.asarray(scores, np.float64) - self.center) / self.scale

    def flags(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores, np.float64) > self.threshold


def calibration_mask(
    window_end: np.ndarray, capture_start: np.ndarray, seconds: float
) -> np.ndarray:
    """The windows that end within the first ``seconds`` of their capture: a window exists
    only once its last message arrived, so these are all a detector has seen by then."""
    return np.asarray(window_end) <= np.asarray(capture_start) + seconds


def calibrate_capture(cal_scores: np.ndarray, rule: CalibrationRule) -> CaptureCalibration:
    """Centre, scale and threshold of one capture from its calibration scores (no label)."""
    c = np.asarray(cal_scores, np.float64)
    if len(c) == 0:
        raise ValueError(
            f"no window ends within the first {rule.seconds:g} s of the capture: nothing to "
            "calibrate on (a longer calibration.seconds or a shorter window fixes it)"
        )
    center = float(np.median(c))
    scale = max(float(np.median(np.abs(c - center))) * MAD_TO_SIGMA, rule.scale_floor)
    if rule.rule == "zscore":
        threshold = center + rule.param * scale
    elif rule.rule == "quantile":
        threshold = float(np.quantile(c, 1.0 - rule.param, method="higher"))
    else:
        # p ≤ α  ⇔  #{c ≥ s} ≤ α(n+1) - 1: s must exceed the rank-r largest score.
        n = len(c)
        r = math.floor(rule.param * (n + 1))  # scores at or above s allowed: r - 1
        threshold = float(np.sort(c)[n - r]) if r >= 1 else math.inf
    return CaptureCalibration(center, scale, threshold, len(c))
