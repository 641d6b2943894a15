"""Deployment calibration: each capture's unlabeled, causal start sets its own score
normalisation and threshold.

A detector moved to another vehicle keeps its ranking (AUROC 0.98-1.00 on hcrl_sa's
unknown vehicle) while a threshold frozen on the known vehicles flags everything. A real
deployment starts clean: the car is switched on and driven before anyone attacks it.

A capture's start has three phases, by when each window *ends* (a window exists only once
its last message arrived): the ``warmup`` (the detector's per-ID periods are not known
yet, so its features are transient: neither calibrated on nor scored), then ``seconds`` of
calibration windows, scored without labels, which set the capture's centre and scale
(median and MAD) and, through one of three rules, its threshold; they are never scored
themselves, and nothing after them is used. Every later window is scored.

Rules (each on the calibration scores ``c`` of one capture, ``n`` of them):

- ``zscore``: flag ``(s - median(c)) / scale(c) > k``; scale = 1.4826·MAD, floored.
- ``quantile``: flag ``s > Q_{1-α}(c)``.
- ``conformal``: p = (1 + #{c ≥ s}) / (n + 1), flag p ≤ α (Bates, Candès et al. 2023);
  windows are autocorrelated, so the FPR bound is approximate: the realised FPR is reported.

A rule may be ``guard``-ed: a window is flagged only where the frozen threshold (fitted on
labelled validation, both classes) flags it too, so calibration can raise a threshold but
never lower it. A clean start quieter than validation's would otherwise pull a threshold
below the validated one on the strength of a few seconds of traffic (hcrl_sa t01: GAT
calibrated FPR 0.12-0.18 against 0.002-0.003 frozen, at the same recall). On a new vehicle
whose normal traffic the frozen threshold flags, the guard changes nothing. The frozen
flag of a window reads that window's score only, so the guard stays causal and label-free.

The rule, its parameter, the guard and ``seconds`` are chosen on validation (never on
test), by leave-one-capture-out over the training captures' held-out clean starts
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
    "calibration_phases",
    "saturates",
]

CALIBRATION_RULES = ("zscore", "quantile", "conformal")
MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution → its standard deviation


@dataclass(frozen=True)
class CalibrationRule:
    """How a capture's clean start becomes its threshold (see the module docstring).

    ``param`` is ``k`` for ``zscore`` and ``α`` for ``quantile`` and ``conformal``;
    ``scale_floor`` (score units) stops a near-constant start from making every later
    wobble an alarm; ``seconds`` is how long the calibration is, after ``warmup`` seconds
    that are neither calibrated on nor scored; ``guard``: flag only where the frozen
    threshold flags too (calibration may raise a threshold, never lower it).
    """

    rule: str
    param: float
    seconds: float
    scale_floor: float = 1e-6
    warmup: float = 0.0
    guard: bool = False

    def __post_init__(self) -> None:
        if self.rule not in CALIBRATION_RULES:
            raise ValueError(f"calibration rule {self.rule!r}: one of {CALIBRATION_RULES}")
        if self.rule == "zscore" and not self.param > 0:
            raise ValueError(f"zscore calibration needs k > 0, got {self.param}")
        if self.rule != "zscore" and not 0 < self.param < 1:
            raise ValueError(f"{self.rule} calibration needs 0 < alpha < 1, got {self.param}")
        if not self.seconds > 0:
            raise ValueError(f"calibration seconds must be > 0, got {self.seconds}")
        if not self.warmup >= 0:
            raise ValueError(f"calibration warm-up must be >= 0, got {self.warmup}")

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "param": self.param,
            "seconds": self.seconds,
            "scale_floor": self.scale_floor,
            "warmup": self.warmup,
            "guard": self.guard,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CalibrationRule:
        return cls(
            str(data["rule"]),
            float(data["param"]),
            float(data["seconds"]),
            float(data.get("scale_floor", 1e-6)),
            float(data.get("warmup", 0.0)),
            bool(data.get("guard", False)),  # checkpoints before canids-models 0.7.0
        )

    @property
    def period(self) -> tuple[float, float]:
        """(warm-up, calibration seconds): what decides which windows calibrate."""
        return (self.warmup, self.seconds)

    def label(self, guard_at: str = "threshold") -> str:
        """In words; ``guard_at``: where a guarded rule's floor lies (the frozen cut, or the
        validation edge under it: :meth:`canids_models.metrics.Threshold.above_edge`)."""
        name = "k" if self.rule == "zscore" else "α"
        after = f" after a {self.warmup:g} s warm-up" if self.warmup else ""
        floor = {
            "edge": "validation's normal edge",
            # FusionModel.guard_flags: max and cut_max guard by each detector's own edge.
            "each": "validation's normal edge (in max and cut_max, each detector's own)",
        }.get(guard_at, "the frozen threshold")
        guard = f", never below {floor}" if self.guard else ""
        return f"{self.rule} {name}={self.param:g}, {self.seconds:g} s{after}{guard}"


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


def calibration_phases(
    window_end: np.ndarray, capture_start: np.ndarray, seconds: float, warmup: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(warm-up, calibration, scored) masks of windows, by when each window ends."""
    since = np.asarray(window_end) - np.asarray(capture_start)
    warm = since <= warmup
    cal = ~warm & (since <= warmup + seconds)
    return warm, cal, ~warm & ~cal


def calibration_mask(
    window_end: np.ndarray, capture_start: np.ndarray, seconds: float, warmup: float = 0.0
) -> np.ndarray:
    """The calibration windows: those that end after the warm-up and within ``seconds``
    more; a window exists only once its last message arrived."""
    return calibration_phases(window_end, capture_start, seconds, warmup)[1]


def saturates(rule: CalibrationRule, n: int) -> bool:
    """Whether ``rule``'s α asks for more than ``n`` calibration windows can say. A
    ``quantile`` α below 1/(n-1) is the capture's highest calibration score whatever its
    value (the "higher" quantile's index rounds up to the last score), and a ``conformal``
    α below 1/(n+1) flags nothing: on a second of windows (set_01: 15) every α of the
    default grid is then the same rule. ``zscore`` has no α: never."""
    if rule.rule == "quantile":
        return n < 2 or rule.param < 1.0 / (n - 1)
    if rule.rule == "conformal":
        return rule.param < 1.0 / (n + 1)
    return False


def calibrate_capture(cal_scores: np.ndarray, rule: CalibrationRule) -> CaptureCalibration:
    """Centre, scale and threshold of one capture from its calibration scores (no label)."""
    c = np.asarray(cal_scores, np.float64)
    if len(c) == 0:
        raise ValueError(
            f"no window of the capture ends in its calibration period ({rule.label()}): "
            "nothing to calibrate on (a longer calibration.seconds or a shorter window fixes it)"
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
