"""Held out by dataset, a candidate that moves the teacher's default and the student's
alike (:data:`BOTH_JUDGED`), judged on both sizes together by the rule written before its
runs (docs/results.md, canids-models 0.30.0).

``calibration.guard_at=each`` changes how the deployed fusion of either size is guarded,
so a verdict on the teacher alone would adopt or refuse it for a student nobody measured.
Adopted where, against its baseline on the same detectors and the directions it is judged
on:

(a) the deployed fusion's mean calibrated F1 over every attack capture, seed and size
    rises by more than :data:`RISE`;
(b) neither size's own mean falls by more than :data:`FALL`;
(c) each size's mean calibrated false alarms per hour on the attack-free captures is at
    most :data:`ALARM_GROWTH` times its baseline's (from a quiet baseline, at most 1 per
    hour more);
(d) each size's mean calibrated F1 on validation (the training vehicles' held-back
    blocks, ``val``) falls by at most :data:`VAL_FALL`: a new vehicle must not be bought
    with the known one.
"""

from __future__ import annotations

import statistics
from typing import Any

__all__ = [
    "BOTH_JUDGED",
    "VAL_FALL",
    "alarm_limit",
    "both_lines",
    "both_verdict",
    "pick_cells",
    "size_summary",
    "validation_condition",
    "validation_f1",
]

# Teacher variants whose verdict is this module's (dataset_holdout.table leaves them out).
BOTH_JUDGED: tuple[str, ...] = ("guard_each",)
RISE = 0.005
FALL = 0.005
ALARM_GROWTH = 1.5
VAL_FALL = 0.005
SIZES = ("teacher", "student")


def pick_cells(runs: dict[str, dict[str, Any]]) -> tuple[list[float], list[float]]:
    """Of runs' figures (``dataset_holdout.figures``): the deployed fusion's calibrated F1
    per attack cell (an undefined F1 counts 0) and its calibrated false alarms per hour on
    each attack-free capture."""
    cells, alarms = [], []
    for fig in runs.values():
        for key, value in fig["models"]["pick"].items():
            if key.startswith("calibrated f1 "):
                cells.append(value or 0.0)
            elif key.startswith("calibrated alarms_h ") and value is not None:
                alarms.append(value)
    return cells, alarms


def validation_f1(runs: dict[str, dict[str, Any]]) -> float | None:
    """The deployed fusion's mean calibrated F1 on validation over the runs that have it
    (``dataset_holdout.figures``' ``val_f1``); ``None`` where none has."""
    val = [fig["val_f1"] for fig in runs.values() if fig.get("val_f1") is not None]
    return statistics.fmean(val) if val else None


def alarm_limit(alarms_h: float, growth: float) -> float:
    """The most false alarms per hour a candidate may raise against a baseline's
    ``alarms_h``: ``growth`` times it, and from a quiet baseline at least 1 per hour more."""
    return max(alarms_h * growth, alarms_h + 1.0)


def validation_condition(before: float | None, after: float | None) -> tuple[bool, str]:
    """Condition (d), also of ``holdout_student``'s rules: the deployed fusion's mean
    calibrated F1 on validation falls by at most :data:`VAL_FALL`; a side without it fails.
    Four digits, so that a fall just past the limit shows."""
    if before is None or after is None:
        return False, "validation's calibrated F1 missing (the rule needs it)"
    fall = round(after - before, 6)
    return fall >= -VAL_FALL, (
        f"validation's calibrated F1 {before:.4f} -> {after:.4f} ({fall:+.4f}; at most -{VAL_FALL})"
    )


def size_summary(runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Of one size's runs: :func:`pick_cells`, the mean of each, and the deployed fusion's
    mean calibrated F1 on validation."""
    cells, alarms = pick_cells(runs)
    return {
        "cells": cells,
        "f1": statistics.fmean(cells) if cells else 0.0,
        "alarms_h": statistics.fmean(alarms) if alarms else 0.0,
        "val_f1": validation_f1(runs),
    }


def both_verdict(
    default: dict[str, dict[str, Any]], candidate: dict[str, dict[str, Any]]
) -> tuple[bool, list[str]]:
    """(adopted, the reasons, a line per size and one pooled): ``default`` and
    ``candidate`` map each size to its :func:`size_summary`."""
    lines, ok = [], True
    for size in SIZES:
        d, c = default[size], candidate[size]
        change = round(c["f1"] - d["f1"], 6)
        limit = alarm_limit(d["alarms_h"], ALARM_GROWTH)
        val_ok, val = validation_condition(d["val_f1"], c["val_f1"])
        size_ok = change >= -FALL and c["alarms_h"] <= limit and val_ok
        ok &= size_ok
        lines.append(
            f"- {size}: mean calibrated F1 over {len(c['cells'])} attack cells {d['f1']:.3f} "
            f"-> {c['f1']:.3f} ({change:+.3f}; at most -{FALL}), false alarms per hour "
            f"{d['alarms_h']:.1f} -> {c['alarms_h']:.1f} (at most {limit:.1f}), {val}: "
            f"{'holds' if size_ok else 'fails'}"
        )
    before = [v for size in SIZES for v in default[size]["cells"]]
    after = [v for size in SIZES for v in candidate[size]["cells"]]
    rise = round(statistics.fmean(after) - statistics.fmean(before), 6) if after else 0.0
    pooled = bool(before) and len(before) == len(after) and rise > RISE
    lines.append(
        f"- both sizes: mean calibrated F1 over {len(after)} attack cells "
        f"{statistics.fmean(before) if before else 0.0:.3f} -> "
        f"{statistics.fmean(after) if after else 0.0:.3f} ({rise:+.3f}; adopting needs more "
        f"than +{RISE}): {'holds' if pooled else 'fails'}"
    )
    return ok and pooled, lines


def both_lines(
    teachers: dict[str, dict[str, dict[str, Any]]],
    students: dict[str, dict[str, dict[str, Any]]],
    judged_on: dict[str, tuple[str, ...]],
    baselines: dict[str, str],
) -> list[str]:
    """The verdict of each :data:`BOTH_JUDGED` variant that ran, on the runs of its judged
    directions that its baseline and both sizes have."""
    lines = []
    for name in BOTH_JUDGED:
        if name not in teachers:
            continue
        base = baselines[name]
        sets = (teachers.get(base, {}), teachers[name], students.get(base, {}))
        runs = sorted(
            k
            for k in students.get(name, {})
            if k.rsplit("-s", 1)[0] in judged_on[name] and all(k in s for s in sets)
        )
        if not runs:
            lines.append(f"\n{name}: no run with its baseline {base} and both sizes: no verdict")
            continue
        default = {
            "teacher": size_summary({k: teachers[base][k] for k in runs}),
            "student": size_summary({k: students[base][k] for k in runs}),
        }
        candidate = {
            "teacher": size_summary({k: teachers[name][k] for k in runs}),
            "student": size_summary({k: students[name][k] for k in runs}),
        }
        adopted, why = both_verdict(default, candidate)
        verdict = "adopt" if adopted else "not adopted"
        lines += [f"\n{name} against {base}, teacher and student, judged on {', '.join(runs)}:"]
        lines += [*why, f"\n{name}: **{verdict}**"]
    return lines
