"""Binary detection metrics that say "undefined" instead of inventing a 0, and thresholds
fitted on validation.

A metric is undefined (``None``) when its denominator is empty. On a test split with
no attack, for example, recall, AUROC and MCC do not exist, while F1 does once the
model raises a false alarm (it is then 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "FLAG_ALL_MARGIN",
    "OneClassValidationError",
    "Threshold",
    "auprc",
    "auroc",
    "binary_metrics",
    "false_alarm_threshold",
    "fit_threshold",
    "flag_all_f1",
]

# A row whose F1 is this close to flagging every window carries no detection information
# beyond the attack share; tables mark it.
FLAG_ALL_MARGIN = 0.01


def _div(num: float, den: float) -> float | None:
    return None if den == 0 else float(num / den)


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Area under the ROC curve by the rank statistic (ties count half); None if one class."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, np.float64)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_s = s[order]
    # Average rank within each run of equal scores.
    starts = np.flatnonzero(np.concatenate(([True], sorted_s[1:] != sorted_s[:-1])))
    ends = np.concatenate((starts[1:], [len(s)]))
    avg = (starts + ends + 1) / 2.0
    ranks[order] = np.repeat(avg, ends - starts)
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def auprc(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Average precision (area under the precision-recall curve, step-wise; tied scores
    form one step); None without an attack, where recall does not exist."""
    y = np.asarray(y_true).astype(bool)
    s = np.asarray(scores, np.float64)
    n_pos = int(y.sum())
    if n_pos == 0:
        return None
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    last_of_run = np.concatenate((s_sorted[1:] != s_sorted[:-1], [True]))
    tp, k = tp[last_of_run], np.flatnonzero(last_of_run) + 1
    recall = tp / n_pos
    precision = tp / k
    steps = np.diff(np.concatenate(([0.0], recall)))
    return float((steps * precision).sum())


def flag_all_f1(y_true: np.ndarray) -> float | None:
    """The F1 of flagging every window: 2π/(1+π) for attack share π (None when empty)."""
    y = np.asarray(y_true).astype(bool)
    if len(y) == 0:
        return None
    pi = float(y.mean())
    return 2 * pi / (1 + pi)


def binary_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray | None = None,
    *,
    hours: float | None = None,
) -> dict[str, Any]:
    """F1, precision, recall, accuracy, AUROC, AUPRC, MCC, FPR, the flag-everything F1 and
    the confusion matrix; with ``hours`` (of traffic scored), false alarms per hour."""
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(y_pred).astype(bool)
    tp = int((y & p).sum())
    fp = int((~y & p).sum())
    tn = int((~y & ~p).sum())
    fn = int((y & ~p).sum())
    mcc_den = float(np.sqrt(float(tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    f1 = _div(2 * tp, 2 * tp + fp + fn)
    base = flag_all_f1(y)
    return {
        "n": len(y),
        "positives": tp + fn,
        "negatives": tn + fp,
        "f1": f1,
        "precision": _div(tp, tp + fp),
        "recall": _div(tp, tp + fn),
        "accuracy": _div(tp + tn, len(y)),
        "auroc": None if scores is None else auroc(y, scores),
        "auprc": None if scores is None else auprc(y, scores),
        "mcc": _div(tp * tn - fp * fn, mcc_den),
        "fpr": _div(fp, fp + tn),
        "false_alarms_per_hour": None if not hours else fp / hours,
        "hours": hours,
        "flag_all_f1": base,
        "near_flag_all": f1 is not None
        and base is not None
        and tp + fn > 0
        and abs(f1 - base) <= FLAG_ALL_MARGIN,
        "confusion": {"tp": tp, "fp": fp, "tn": tn, "fn": fn},
    }


class OneClassValidationError(ValueError):
    """Validation lacks a class, so there is no F1 to maximise (see :func:`fit_threshold`)."""


@dataclass(frozen=True)
class Threshold:
    """A decision threshold (``score >= value`` is an attack) and how it was chosen.

    ``edge`` is the highest score of the fit the cut leaves unflagged: where validation's
    evidence that a score is normal ends (the cut itself lies higher, midway to the next
    score). ``None`` where no score of the fit lies below the cut (and in thresholds saved
    before canids-models 0.15.0, whose fusion models guard at the cut itself)."""

    value: float
    method: str
    val_f1: float | None
    edge: float | None = None

    def apply(self, scores: np.ndarray) -> np.ndarray:
        return np.asarray(scores) >= self.value

    def above_edge(self, scores: np.ndarray) -> np.ndarray:
        """``score > edge``: above every score the cut left unflagged on validation (every
        score, where the fit left none unflagged)."""
        s = np.asarray(scores)
        return np.ones(s.shape, bool) if self.edge is None else s > self.edge

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "method": self.method,
            "val_f1": self.val_f1,
            "edge": self.edge,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Threshold:
        edge = data.get("edge")
        return cls(
            float(data["value"]),
            str(data["method"]),
            data.get("val_f1"),
            None if edge is None else float(edge),
        )


def _edge(scores: np.ndarray, value: float) -> float | None:
    """The highest of ``scores`` below ``value`` (what a cut at ``value`` leaves unflagged)."""
    below = scores[scores < value]
    return float(below.max()) if len(below) else None


def fit_threshold(
    scores: np.ndarray,
    y_true: np.ndarray,
    *,
    quantile: float = 0.99,
    one_class: bool = False,
) -> Threshold:
    """The cut that maximises F1 on validation; it is then frozen for every test split.

    With only one class in validation there is no F1 to maximise. With ``one_class``
    (an explicit opt-in: ``--set eval.one_class_fit=true``) the threshold is then the
    ``quantile`` of the normal scores, and its method says so; otherwise
    :class:`OneClassValidationError` says which class is missing.
    """
    s = np.asarray(scores, np.float64)
    y = np.asarray(y_true).astype(bool)
    if len(s) == 0:
        raise ValueError("cannot fit a threshold on an empty validation set")
    if (not y.any() or y.all()) and not one_class:
        missing = "attack" if not y.any() else "normal"
        raise OneClassValidationError(
            f"validation holds {int(y.sum())} attack and {int((~y).sum())} normal windows: "
            f"no {missing} window, so no threshold can be fitted by F1"
        )
    if not y.any() or y.all():
        value = float(np.quantile(s, quantile)) if not y.any() else float(s.min())
        return Threshold(
            value,
            f"no {'attack' if not y.any() else 'normal'} in validation: "
            f"{'normal-score quantile ' + str(quantile) if not y.any() else 'min'}",
            None if not y.any() else 1.0,
            _edge(s, value),
        )
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    tp = np.cumsum(y_sorted)
    fp = np.cumsum(~y_sorted)
    # Only cut between distinct scores: everything >= the cut is flagged.
    last_of_run = np.concatenate((s_sorted[1:] != s_sorted[:-1], [True]))
    f1 = 2 * tp / (2 * tp + fp + (y.sum() - tp))
    f1 = np.where(last_of_run, f1, -1.0)
    best = int(np.argmax(f1))
    cut = s_sorted[best]
    nxt = s_sorted[best + 1] if best + 1 < len(s_sorted) else cut - 1.0
    # Midway to the next lower score: robust to tiny score shifts on other data.
    value = float((cut + nxt) / 2.0) if nxt < cut else float(cut)
    return Threshold(value, "max F1 on validation", float(f1[best]), _edge(s, value))


def false_alarm_threshold(scores: np.ndarray, y_true: np.ndarray, rate: float) -> Threshold:
    """The lowest cut that flags at most ``rate`` of validation's normal windows.

    An anomaly detector's cut set by the false alarms it is allowed on normal traffic, not
    by F1 on the attacks of validation: those are attacks it may never meet again, and an
    F1 cut sits just under the weakest of them (docs/results.md). The cut lies midway
    between the highest normal score left unflagged and the next higher score, so a tie
    is never split; ``val_f1`` is validation's F1 at it (``None`` with no attack there).
    """
    s = np.asarray(scores, np.float64)
    y = np.asarray(y_true).astype(bool)
    if not 0.0 < rate < 1.0:
        raise ValueError(f"a false-alarm rate is in (0, 1), not {rate}")
    normal = np.sort(s[~y])[::-1]  # highest first
    if len(normal) == 0:
        raise ValueError(
            f"validation holds no normal window ({len(s)} windows, all attacks): no "
            "false-alarm rate can be measured on it"
        )
    allowed = int(np.floor(rate * len(normal)))
    kept = normal[allowed]  # the highest normal score the cut must leave unflagged
    above = s[s > kept]
    value = float((kept + above.min()) / 2.0) if len(above) else float(np.nextafter(kept, np.inf))
    flags = s >= value
    val_f1 = binary_metrics(y, flags)["f1"] if y.any() else None
    return Threshold(
        value, f"at most {rate:g} of validation's normal windows flagged", val_f1, _edge(s, value)
    )
