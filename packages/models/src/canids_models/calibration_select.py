"""Choosing the calibration rule, its parameter and its length on validation, never on test.

Validation holds each training capture's clean start (the windows that end within the
cache's ``val_start_seconds``) and attack-bearing blocks later in it, all unseen in
training. Each training capture is replayed as a deployment would see it: its first
``seconds`` calibrate (no label read), its other validation windows are scored. A
candidate (rule, parameter, seconds) is judged by F1 pooled over the captures (the false
alarms of attack-free captures count). Leave-one-capture-out: for each capture, the
candidate chosen on the others is scored on it; that LOCO F1 is the honest estimate, and
the candidate chosen on all captures is the one used.

The period (warm-up, seconds) every branch shares is chosen with these choices by
:func:`canids_models.calibration_period.select_period`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibration import (
    CalibrationRule,
    CaptureCalibration,
    calibrate_capture,
    calibration_phases,
)
from .config import RULE_TIES

__all__ = [
    "RULE_TIES",
    "CalibrationChoice",
    "CaptureStream",
    "calibrate_stream",
    "calibrated_flags",
    "select_calibration",
]


@dataclass(frozen=True)
class CaptureStream:
    """The scored windows of one capture, in time order, as a deployment sees them."""

    scores: np.ndarray
    window_end: np.ndarray
    capture_start: float
    labels: np.ndarray | None = None  # validation only: used to judge, never to calibrate
    # Each window's flag under the frozen threshold: what a guarded rule also requires.
    frozen_flags: np.ndarray | None = None
    # Validation only (both need labels): leave the labelled attack windows out of the
    # calibration set, as a deployment calibrating before any attack would, and score only
    # the windows that end more than ``score_after`` seconds into the capture, so that every
    # period of a grid is judged on the same windows.
    clean_calibration: bool = False
    score_after: float | None = None

    def phases(self, rule: CalibrationRule) -> tuple[np.ndarray, np.ndarray]:
        """(calibration, scored) masks of this stream's windows under ``rule``."""
        _, cal, scored = calibration_phases(
            self.window_end, self.capture_start, rule.seconds, rule.warmup
        )
        if not (self.clean_calibration or self.score_after is not None):
            return cal, scored
        if self.labels is None:
            raise ValueError(
                "a clean calibration and a common scored set are simulated on validation "
                "only, from its labels, and this capture's stream carries none"
            )
        if self.clean_calibration:
            cal = cal & ~self.labels.astype(bool)
        if self.score_after is not None:
            if self.score_after + 1e-9 < rule.warmup + rule.seconds:
                raise ValueError(
                    f"{rule.label()} ends {rule.warmup + rule.seconds:g} s into the capture, "
                    f"after the common scored set's start ({self.score_after:g} s)"
                )
            scored = self.window_end - self.capture_start > self.score_after
        return cal, scored


@dataclass(frozen=True)
class CalibrationChoice:
    rule: CalibrationRule
    f1: float  # pooled over every capture, with the chosen rule
    loco_f1: float | None  # leave-one-capture-out estimate (None with one capture)
    table: list[dict[str, Any]] = field(default_factory=list)  # every candidate's pooled F1
    guard_at: str = "threshold"  # where a guarded candidate's floor lies (its label says)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.to_json(),
            "label": self.rule.label(self.guard_at),
            "val_f1": None if np.isnan(self.f1) else self.f1,
            "val_loco_f1": self.loco_f1,
            "candidates": self.table,
        }


def calibrated_flags(
    stream: CaptureStream, rule: CalibrationRule
) -> tuple[np.ndarray, np.ndarray, float]:
    """(scored mask, flags for the scored windows, threshold) of one capture; a guarded
    rule flags only where the stream's frozen flags do too (the threshold returned is the
    calibrated one)."""
    scored, flags, calib = calibrate_stream(stream, rule)
    return scored, flags, calib.threshold


def calibrate_stream(
    stream: CaptureStream, rule: CalibrationRule
) -> tuple[np.ndarray, np.ndarray, CaptureCalibration]:
    """:func:`calibrated_flags` with the whole calibration (centre, scale, threshold and how
    many windows it rests on) in place of the threshold."""
    cal, scored = stream.phases(rule)
    calib = calibrate_capture(stream.scores[cal], rule)
    flags = calib.flags(stream.scores[scored])
    if rule.guard:
        if stream.frozen_flags is None:
            raise ValueError(
                f"{rule.label()}: a guarded rule needs each window's frozen flag, and this "
                "capture's stream carries none (build it with SplitScores.streams(..., "
                "frozen_flags=...))"
            )
        flags &= stream.frozen_flags[scored]
    return scored, flags, calib


def _judged(
    streams: Sequence[CaptureStream], rule: CalibrationRule
) -> tuple[np.ndarray, np.ndarray]:
    """Each capture under ``rule``: [captures, 3] tp, fp, fn (0s where it cannot run), and
    [captures] its reach, the calibrated threshold in that capture's own scale above its
    centre (NaN where it cannot calibrate; +inf where it flags nothing; lower is more
    sensitive)."""
    counts = np.zeros((len(streams), 3), np.int64)
    reach = np.full(len(streams), np.nan)
    for i, st in enumerate(streams):
        assert st.labels is not None
        cal, scored = st.phases(rule)
        if not cal.any():
            # Nothing to calibrate on at this length: every attack is missed, honestly.
            counts[i, 2] = int(st.labels[scored].sum())
            continue
        _, flags, calib = calibrate_stream(st, rule)
        y = st.labels[scored].astype(bool)
        counts[i] = ((flags & y).sum(), (flags & ~y).sum(), (~flags & y).sum())
        reach[i] = (calib.threshold - calib.center) / calib.scale
    return counts, reach


def _f1(c: np.ndarray) -> float:
    tp, fp, fn = (int(v) for v in c)
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0


Streams = Sequence[CaptureStream] | Callable[[float, float], Sequence[CaptureStream]]


def _pick(
    f1: Sequence[float],
    own: Sequence[float],
    margin: float | None,
    reach: Sequence[float] | None = None,
) -> int:
    """The chosen candidate: the best F1 (the earliest on a tie) with ``margin`` None;
    otherwise every candidate within ``margin`` of the best ties, and the tie goes to the
    best F1 without the guard (``own``), then to the earliest. With ``reach`` (rule ties
    ``sensitive``), the candidates also within ``margin`` of that best ``own`` tie, and the
    tie goes to the lowest reach, then to the earliest."""
    best = int(np.argmax(f1))
    if margin is None and reach is None:
        return best
    m = 0.0 if margin is None else margin
    tied = [j for j, v in enumerate(f1) if v >= f1[best] - m - 1e-12]
    if reach is None:
        return max(tied, key=lambda j: (own[j], -j))
    top = max(own[j] for j in tied)
    tied = [j for j in tied if own[j] >= top - m - 1e-12]
    return min(tied, key=lambda j: (reach[j], j))


def _rounded(value: float) -> float | None:
    """JSON-safe: a rule that flags nothing has an infinite reach, written as None."""
    return round(value, 4) if math.isfinite(value) else None


def _mean_reach(per_capture: np.ndarray) -> float:
    finite = per_capture[~np.isnan(per_capture)]
    return float(finite.mean()) if len(finite) else math.inf


def select_calibration(
    streams: Streams,
    candidates: Sequence[CalibrationRule],
    guard_at: str = "threshold",
    tie_margin: float | None = None,
    rule_ties: str = "first",
) -> CalibrationChoice:
    """The candidate with the best pooled F1 on ``streams`` (earlier candidates win ties:
    list the simpler and shorter ones first), with its leave-one-capture-out estimate.

    ``streams`` may depend on the calibration period (a fused score whose inputs are
    normalised on the same clean start): then pass a function of (warm-up, seconds).
    ``guard_at`` only names a guarded candidate's floor in the labels: the streams' frozen
    flags already are that floor's.

    ``tie_margin`` (canids-models 0.18.0): candidates within it of the best pooled F1 tie,
    and a tie goes to the one whose calibration does best on its own, without the guard.
    Validation is the training vehicle, where the frozen floor is right: guarded candidates
    tie there because the floor decides for all of them, whatever their own threshold.
    Where the floor does not transfer (a new vehicle), their own thresholds decide, and
    the F1 without the guard is validation's only evidence about those. None: the earliest
    of the exact best (0.17.0's rule), whatever the rules do alone.

    ``rule_ties`` (:data:`RULE_TIES`, canids-models 0.21.0): ``first`` is the rule above;
    ``sensitive`` (opt-in) narrows the tie to the candidates within
    ``tie_margin`` of the best F1 without the guard too, and gives it to the one whose
    calibrated threshold sits lowest in each capture's own scale (mean over the captures;
    the table's ``reach``): where validation cannot tell the rules apart (its attacks
    stand far out of every threshold), the one that would still catch a subtler attack.
    Its leave-one-capture-out estimate reads the reach on the other captures only.
    """
    if rule_ties not in RULE_TIES:
        raise ValueError(f"rule ties go to one of {list(RULE_TIES)}, not {rule_ties!r}")
    if not candidates:
        raise ValueError("no calibration candidate to choose from")
    cache: dict[tuple[float, float], Sequence[CaptureStream]] = {}

    def at(rule: CalibrationRule) -> Sequence[CaptureStream]:
        if rule.period not in cache:
            cache[rule.period] = streams(*rule.period) if callable(streams) else streams
        return cache[rule.period]

    if not at(candidates[0]):
        raise ValueError("no validation capture to choose a calibration rule on")
    # [candidates, captures, 3]
    judged = [_judged(at(r), r) for r in candidates]
    per = np.stack([counts for counts, _ in judged])
    own = per
    if tie_margin is not None:
        # A guarded rule's unguarded twin is usually a candidate too (guard=auto).
        listed = {r: j for j, r in enumerate(candidates)}

        def alone(r: CalibrationRule) -> np.ndarray:
            u = dataclasses.replace(r, guard=False)
            return per[listed[u]] if u in listed else _judged(at(u), u)[0]

        own = np.stack([alone(r) for r in candidates])
    pooled = [_f1(per[j].sum(0)) for j in range(len(candidates))]
    pooled_own = [_f1(own[j].sum(0)) for j in range(len(candidates))]
    # [candidates, captures]: each rule's reach, read only to break a sensitive tie.
    reach = np.stack([r for _, r in judged]) if rule_ties == "sensitive" else None
    mean_reach = None if reach is None else [_mean_reach(r) for r in reach]
    best = _pick(pooled, pooled_own, tie_margin, mean_reach)
    loco = None
    n_captures = per.shape[1]
    if n_captures > 1:
        held = np.zeros(3, np.int64)
        for i in range(n_captures):
            others = per.sum(1) - per[:, i]
            others_own = own.sum(1) - own[:, i]
            reach_others = None if reach is None else [_mean_reach(np.delete(r, i)) for r in reach]
            j = _pick(
                [_f1(o) for o in others], [_f1(o) for o in others_own], tie_margin, reach_others
            )
            held += per[j, i]
        loco = _f1(held)
    table = [
        {"rule": r.label(guard_at), "val_f1": round(f, 4)}
        | ({"val_f1_unguarded": round(u, 4)} if tie_margin is not None and r.guard else {})
        # How far out it flags, in the captures' own scale (a sensitive tie's key).
        | ({"reach": _rounded(mean_reach[j])} if mean_reach is not None else {})
        for j, (r, f, u) in enumerate(zip(candidates, pooled, pooled_own, strict=True))
    ]
    return CalibrationChoice(candidates[best], pooled[best], loco, table, guard_at)
