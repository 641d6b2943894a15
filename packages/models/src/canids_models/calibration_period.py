"""Choosing the calibration period every branch shares, on validation, never on test.

A deployment calibrates once, so every branch (the classifier, the anomaly detector and
the fusion) shares one calibration period (warm-up, seconds). :func:`select_period`
chooses it for all of them together: the period whose best rule serves the branches best
on validation, on average. Judged on the fusion alone, every period ties wherever the
classifier already knows validation's attacks, and the shortest wins even when it leaves
the anomaly branch, the only one that can catch an attack nobody trained on, flagging
nothing (a score still settling after the capture's start sits in its calibration).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .calibration_select import CalibrationChoice
from .config import PERIOD_TIES

__all__ = ["PERIOD_TIES", "PeriodChoice", "select_period"]


@dataclass(frozen=True)
class PeriodChoice:
    """The shared calibration period and, per period, each branch's best pooled val F1."""

    period: tuple[float, float]  # (warm-up, seconds)
    score: float  # mean over the branches of their best pooled validation F1 at it
    table: list[dict[str, Any]] = field(default_factory=list)
    ties: str = "first"  # how a tie was broken (PERIOD_TIES)
    margin: float | None = None  # scores within it of the best tie (None: exact ties)

    def to_json(self) -> dict[str, Any]:
        within = "exactly equal" if not self.margin else f"within {self.margin:g} of the best"
        tie = {
            "first": "the earliest listed (the shortest warm-up, then length)",
            "longest": "the longest warm-up, then the longest length",
        }[self.ties]
        return {
            "warmup": self.period[0],
            "seconds": self.period[1],
            "criterion": "mean over the branches of each one's best pooled validation F1; "
            f"scores {within} tie, and a tie goes to {tie}",
            "score": round(self.score, 4),
            "periods": self.table,
        }


def select_period(
    branches: Sequence[str],
    periods: Sequence[tuple[float, float]],
    choose: Callable[[str, tuple[float, float]], CalibrationChoice],
    ties: str = "first",
    margin: float | None = None,
) -> PeriodChoice:
    """The (warm-up, seconds) period whose best candidate rule, per branch, gives the
    highest mean pooled validation F1 over ``branches``. Scores within ``margin`` of the
    best tie (``None``: only equal ones); ``ties="first"`` gives a tie to the earliest
    listed (list the shorter ones first; the default), ``"longest"`` to the longest
    warm-up, then the longest length: the one that skips most of a capture's start
    transient and estimates its scale on the most windows, where the training vehicle
    cannot tell the periods apart (held out by vehicle on hcrl_sa's training captures it
    helped the detectors, not the default fusion: benchmarks/vehicle_holdout.py).
    ``choose(branch, period)`` is that branch's :func:`select_calibration` among the
    period's rules (a caller choosing for several systems that share branches memoises
    it)."""
    if not branches or not periods:
        raise ValueError("choosing a calibration period needs branches and periods")
    if ties not in PERIOD_TIES:
        raise ValueError(f"period ties go to one of {list(PERIOD_TIES)}, not {ties!r}")
    table: list[dict[str, Any]] = []
    scores: list[float] = []
    for period in periods:
        f1 = {name: choose(name, period).f1 for name in branches}
        score = float(np.mean([0.0 if np.isnan(v) else v for v in f1.values()]))
        table.append(
            {
                "warmup": period[0],
                "seconds": period[1],
                "f1": {name: round(v, 4) for name, v in f1.items()},
                "score": round(score, 4),
            }
        )
        scores.append(score)
    top = max(scores)
    # Rounded to 1e-6, so that a difference of exactly ``margin`` ties.
    tied = [i for i, v in enumerate(scores) if round(top - v, 6) <= (margin or 0.0)]
    best = max(tied, key=lambda i: periods[i]) if ties == "longest" else tied[0]
    return PeriodChoice(periods[best], scores[best], table, ties, margin)
