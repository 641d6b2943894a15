"""Metrics say "undefined" (None) instead of inventing a 0; AUROC and the fitted threshold
agree with brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from canids_models import Threshold, auprc, auroc, binary_metrics, fit_threshold, flag_all_f1
from canids_models.metrics import OneClassValidationError, false_alarm_threshold


def brute_auroc(y: np.ndarray, s: np.ndarray) -> float:
    """P(score of a positive > score of a negative) + ½ P(tie), over all pairs."""
    pos, neg = s[y == 1], s[y == 0]
    total = sum(1.0 if a > b else 0.5 if a == b else 0.0 for a in pos for b in neg)
    return total / (len(pos) * len(neg))


def brute_f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = int((y & pred).sum())
    fp = int((~y & pred).sum())
    fn = int((y & ~pred).sum())
    return 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0


# --- binary_metrics ------------------------------------------------------------------


def test_two_class_values():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 1])
    p = np.array([1, 1, 0, 0, 0, 1, 0, 1])
    m = binary_metrics(y, p)
    assert m["confusion"] == {"tp": 3, "fp": 1, "tn": 3, "fn": 1}
    assert (m["n"], m["positives"], m["negatives"]) == (8, 4, 4)
    assert m["precision"] == pytest.approx(0.75)
    assert m["recall"] == pytest.approx(0.75)
    assert m["f1"] == pytest.approx(0.75)
    assert m["accuracy"] == pytest.approx(0.75)
    assert m["fpr"] == pytest.approx(0.25)
    assert m["mcc"] == pytest.approx((3 * 3 - 1 * 1) / np.sqrt(4 * 4 * 4 * 4))
    assert m["auroc"] is None  # no scores given


def test_one_class_split_without_attacks_reports_undefined_not_zero():
    y = np.zeros(6, int)
    scores = np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9])
    # Two false alarms: F1 exists and is 0 (all its errors are false positives).
    m = binary_metrics(y, scores >= 0.75, scores)
    assert m["recall"] is None
    assert m["auroc"] is None
    assert m["mcc"] is None
    assert m["f1"] == 0.0
    assert m["precision"] == 0.0
    assert m["fpr"] == pytest.approx(2 / 6)
    assert m["accuracy"] == pytest.approx(4 / 6)
    # No alarm at all: F1 and precision have empty denominators too.
    quiet = binary_metrics(y, np.zeros(6, bool), scores)
    assert quiet["f1"] is None
    assert quiet["precision"] is None
    assert quiet["recall"] is None
    assert quiet["fpr"] == 0.0
    assert quiet["accuracy"] == 1.0


def test_one_class_split_with_only_attacks():
    y = np.ones(5, int)
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    m = binary_metrics(y, scores >= 0.5, scores)
    assert m["auroc"] is None
    assert m["mcc"] is None
    assert m["fpr"] is None  # no normal graph: no false-positive rate
    assert m["recall"] == pytest.approx(0.6)
    assert m["precision"] == 1.0
    assert m["f1"] == pytest.approx(0.75)


def test_f1_undefined_when_nothing_is_positive_and_zero_with_only_false_positives():
    assert binary_metrics(np.array([0, 0]), np.array([0, 0]))["f1"] is None
    assert binary_metrics(np.array([0, 0]), np.array([1, 0]))["f1"] == 0.0
    # Positives exist but none is found: F1 is 0, precision undefined.
    missed = binary_metrics(np.array([1, 0]), np.array([0, 0]))
    assert missed["f1"] == 0.0
    assert missed["precision"] is None
    assert missed["recall"] == 0.0


def test_empty_split_is_all_undefined():
    m = binary_metrics(np.zeros(0, int), np.zeros(0, bool), np.zeros(0))
    assert m["n"] == 0
    assert all(m[k] is None for k in ("f1", "precision", "recall", "accuracy", "auroc", "mcc"))


# --- AUROC ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_auroc_equals_pairwise_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 60))
    y = rng.integers(0, 2, n)
    y[0], y[1] = 0, 1
    # Few distinct values: many ties, within and across classes.
    s = rng.integers(0, 5, n).astype(float) / 4
    assert auroc(y, s) == pytest.approx(brute_auroc(y, s), abs=1e-12)


def test_auroc_extremes():
    y = np.array([0, 0, 1, 1])
    assert auroc(y, np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert auroc(y, np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert auroc(y, np.full(4, 0.5)) == 0.5
    assert auroc(np.array([1, 1]), np.array([0.1, 0.2])) is None
    assert auroc(np.array([0, 0]), np.array([0.1, 0.2])) is None


# --- fit_threshold -------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(8))
def test_fit_threshold_picks_the_max_f1_cut(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4, 80))
    y = rng.integers(0, 2, n).astype(bool)
    y[0], y[1] = False, True
    s = np.round(rng.normal(size=n) + y * rng.uniform(0, 2), 1)  # rounded: ties
    thr = fit_threshold(s, y)
    best = max(brute_f1(y, s >= t) for t in np.unique(s))
    assert thr.method == "max F1 on validation"
    assert thr.val_f1 == pytest.approx(best)
    # The frozen threshold reproduces that F1 on the same scores.
    assert brute_f1(y, thr.apply(s)) == pytest.approx(best)
    # It lies between two observed scores (or on the lowest), never inside a run of ties.
    assert s.min() - 1 < thr.value <= s.max()
    # Its edge (the highest score it leaves unflagged) flags the same scores of the fit.
    np.testing.assert_array_equal(thr.above_edge(s), thr.apply(s))
    if thr.edge is not None:
        assert thr.edge == s[s < thr.value].max()


def test_fit_threshold_cuts_midway_between_scores():
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1])
    thr = fit_threshold(s, y)
    assert thr.val_f1 == 1.0
    assert thr.value == pytest.approx(0.55)
    assert thr.apply(np.array([0.54, 0.56])).tolist() == [False, True]


def test_the_edge_is_the_highest_score_the_cut_leaves_unflagged():
    """The cut lies midway into the gap validation's attacks leave; its edge is where that
    gap starts. On the fit they flag the same windows; a later score between them (an
    attack quieter than validation's) passes the edge and not the cut."""
    s = np.array([0.1, 0.2, 0.3, 0.8, 0.9])
    y = np.array([0, 0, 0, 1, 1])
    thr = fit_threshold(s, y)
    assert (thr.value, thr.edge) == (pytest.approx(0.55), 0.3)
    np.testing.assert_array_equal(thr.above_edge(s), thr.apply(s))
    assert thr.above_edge(np.array([0.3, 0.31, 0.5])).tolist() == [False, True, True]
    assert thr.apply(np.array([0.3, 0.31, 0.5])).tolist() == [False, False, False]


def test_an_edge_is_recorded_by_every_way_of_fitting_a_cut():
    s = np.linspace(0.0, 1.0, 101)
    one_class = fit_threshold(s, np.zeros(101), quantile=0.95, one_class=True)
    assert one_class.edge == pytest.approx(0.94)
    everything = fit_threshold(np.array([0.2, 0.7, 0.4]), np.ones(3), one_class=True)
    # Nothing left unflagged: no score is known normal, so the edge holds nothing back.
    assert everything.edge is None
    assert everything.above_edge(np.array([-5.0, 0.0])).all()
    y = np.r_[np.zeros(100), np.ones(1)].astype(bool)
    rate = false_alarm_threshold(s, y, 0.05)
    assert rate.edge == s[s < rate.value].max()


def test_fit_threshold_never_splits_a_tie():
    s = np.array([0.5, 0.5, 0.5, 0.1])
    y = np.array([1, 0, 1, 0])
    thr = fit_threshold(s, y)
    pred = thr.apply(s)
    assert pred[0] == pred[1] == pred[2]


def test_fit_threshold_without_attacks_is_refused_unless_asked():
    s = np.linspace(0.0, 1.0, 101)
    with pytest.raises(OneClassValidationError, match="holds 0 attack and 101 normal windows"):
        fit_threshold(s, np.zeros(101))
    with pytest.raises(OneClassValidationError, match="no normal window"):
        fit_threshold(s[:3], np.ones(3))


def test_fit_threshold_one_class_falls_back_to_a_normal_quantile():
    s = np.linspace(0.0, 1.0, 101)
    thr = fit_threshold(s, np.zeros(101), quantile=0.95, one_class=True)
    assert thr.value == pytest.approx(0.95)
    assert thr.val_f1 is None
    assert "no attack in validation" in thr.method
    assert "quantile 0.95" in thr.method
    # About 5 % of normal validation graphs raise an alarm.
    assert thr.apply(s).sum() == 6


def test_fit_threshold_without_normal_flags_everything():
    s = np.array([0.2, 0.7, 0.4])
    thr = fit_threshold(s, np.ones(3), one_class=True)
    assert thr.value == pytest.approx(0.2)
    assert "no normal in validation" in thr.method
    assert thr.apply(s).all()


def test_fit_threshold_refuses_an_empty_validation_set():
    with pytest.raises(ValueError, match="empty validation set"):
        fit_threshold(np.zeros(0), np.zeros(0))


def test_threshold_json_round_trip():
    thr = Threshold(0.25, "max F1 on validation", 0.5)
    assert Threshold.from_json(thr.to_json()) == thr
    with_edge = Threshold(0.25, "max F1 on validation", 0.5, 0.125)
    assert Threshold.from_json(with_edge.to_json()) == with_edge
    # Saved before canids-models 0.15.0: no edge key.
    assert Threshold.from_json({"value": 0.25, "method": "m", "val_f1": None}).edge is None
    assert thr.apply(np.array([0.2, 0.25, 0.3])).tolist() == [False, True, True]


def test_all_cuts_brute_force_on_a_tiny_exhaustive_case():
    """Every labelling of 6 graphs with 3 distinct scores (ties everywhere)."""
    s = np.array([0.1, 0.1, 0.5, 0.5, 0.9, 0.9])
    for bits in itertools.product([False, True], repeat=6):
        y = np.array(bits)
        if not y.any() or y.all():
            continue
        thr = fit_threshold(s, y)
        assert thr.val_f1 == pytest.approx(max(brute_f1(y, s >= t) for t in np.unique(s)))


def test_auprc_is_average_precision_with_ties_as_one_step():
    y = np.array([1, 0, 1, 0, 0, 1])
    s = np.array([0.9, 0.8, 0.7, 0.3, 0.2, 0.1])
    # Precision at each attack's rank: 1/1, 2/3, 3/6; each recall step is 1/3.
    assert auprc(y, s) == pytest.approx((1 + 2 / 3 + 3 / 6) / 3)
    tied = np.array([0.5] * 6)
    assert auprc(y, tied) == pytest.approx(0.5)  # one step: precision = attack share
    assert auprc(np.zeros(4), np.arange(4.0)) is None


def test_flag_all_f1_and_the_near_flag_all_mark():
    y = np.array([1, 0, 0, 0, 1, 0, 0, 0, 0, 0])  # attack share 0.2
    assert flag_all_f1(y) == pytest.approx(2 * 0.2 / 1.2)
    flag_all = binary_metrics(y, np.ones(10, bool), np.arange(10.0))
    assert flag_all["f1"] == pytest.approx(flag_all["flag_all_f1"])
    assert flag_all["near_flag_all"] is True
    good = binary_metrics(y, y.astype(bool), np.arange(10.0))
    assert good["near_flag_all"] is False
    assert flag_all_f1(np.zeros(0)) is None


def test_false_alarms_per_hour():
    y = np.array([0, 0, 0, 1])
    m = binary_metrics(y, np.array([1, 1, 0, 1], bool), hours=0.5)
    assert m["false_alarms_per_hour"] == 4.0
    assert binary_metrics(y, y.astype(bool))["false_alarms_per_hour"] is None
