"""The evaluate stage's calibrated protocol: per-capture flags, the audit of each split's
calibration windows (reported, never used), and why a split cannot be calibrated."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..calibration import calibration_phases, saturates
from ..calibration_select import calibrate_stream
from ..fusion_inputs import FusedScores
from ..fusion_model import FusionModel
from ..scoring import SplitScores

__all__ = [
    "calibrated_split_flags",
    "calibration_audit",
    "clean_start_shares",
    "uncalibratable",
]


def uncalibratable(fusion: FusionModel, scores: SplitScores) -> str | None:
    """Why the calibrated protocol cannot run on ``scores`` (None when it can): a capture
    without a window in a calibration period, as in a validation drawn from each capture's
    time tail, which holds no capture's start."""
    periods = {(fusion.warmup, fusion.seconds), *(r.period for r in fusion.calibration.values())}
    captures = scores.captures()
    missing: set[int] = set()
    for warmup, seconds in periods:
        _, cal, _ = calibration_phases(scores.window_end, scores.capture_start, seconds, warmup)
        missing |= {int(scores.source[i[0]]) for i in captures if not cal[i].any()}
    if not missing:
        return None
    longest = max(w + s for w, s in periods)
    return (
        f"{len(missing)} of {len(captures)} captures of {scores.split} have no window in their "
        f"first {longest:g} s (warm-up and calibration), so the calibrated protocol cannot run "
        "on this split (a validation drawn from each capture's time tail holds no capture "
        "start); it is scored frozen only"
    )


def calibrated_split_flags(
    fusion: FusionModel,
    method: str,
    scores: SplitScores,
    fused: np.ndarray,
    guard_flags: np.ndarray,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Per-capture flags of ``method``'s calibrated score (a guarded rule also requires the
    window's ``guard_flags``: :meth:`FusionModel.guard_flags`); the calibrated thresholds
    listed per capture."""
    rule = fusion.calibration[method]
    flags = np.zeros(len(scores), bool)
    thresholds = {}
    windows = []
    streams = scores.streams(fused, with_labels=False, frozen_flags=guard_flags)
    for stream, idx in zip(streams, scores.captures(), strict=True):
        scored, f, calib = calibrate_stream(stream, rule)
        flags[idx[scored]] = f
        thresholds[str(int(scores.source[idx[0]]))] = calib.threshold
        windows.append(calib.windows)
    return flags, {
        "calibration": fusion.calibration_label(method),
        "guard": rule.guard,
        "guard_at": fusion.guard_at if rule.guard else None,
        "capture_thresholds": thresholds,
        # How many windows each capture calibrated on, fewest first, and on how many
        # captures the rule's α asked for more than they can say (reported, never used).
        "calibration_windows_min": min(windows),
        "saturated_captures": sum(saturates(rule, n) for n in windows),
    }


def clean_start_shares(
    scores: SplitScores, frozen_flags: np.ndarray, clean_start: np.ndarray
) -> dict[str, float]:
    """Per capture, the share of its calibration windows (its clean start, unlabeled) that
    the frozen threshold flags: that threshold's false-alarm rate on this capture's normal
    traffic, known before any attack and without a label. Far above validation's share,
    the frozen threshold does not transfer to the capture (a new vehicle)."""
    shares = {}
    for idx in scores.captures():
        cal = idx[clean_start[idx]]
        shares[str(int(scores.source[idx[0]]))] = round(float(frozen_flags[cal].mean()), 4)
    return shares


def calibration_audit(scores: SplitScores, calibrated: FusedScores) -> dict[str, Any]:
    """Computed after every threshold is fixed, and never used for anything but this report:
    how many captures have an attack inside their warm-up or calibration windows."""
    cal = ~calibrated.scored
    captures = scores.captures()
    tainted = [int(scores.source[i[0]]) for i in captures if scores.y[i][cal[i]].any()]
    return {
        "captures": len(captures),
        "calibration_windows": int(cal.sum()),
        "captures_with_attack_in_calibration": len(tainted),
        "tainted_captures": tainted,
    }
