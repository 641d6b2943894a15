"""How a tie between calibration rules is broken (``calibration.rule_ties``, canids-models
0.21.0): ``first`` (0.18.0-0.22.0's rule: the best without its guard, then the earliest
listed) or ``sensitive`` (the default since 0.23.0): the tied rule whose calibrated
threshold sits lowest in each capture's own scale, the one that still catches an attack
subtler than validation's."""

import numpy as np
import pytest
from canids_models import load_config
from canids_models.calibration import CalibrationRule
from canids_models.calibration_select import CaptureStream, select_calibration

RATE = 20.0
PERIOD = (2.0, 5.0)
# The earliest listed is the strictest z-score; the quantile's threshold, the
# calibration's 98th percentile, sits near 2 σ of Gaussian traffic.
CANDIDATES = [
    CalibrationRule("zscore", 6.0, PERIOD[1], 1e-6, PERIOD[0]),
    CalibrationRule("zscore", 3.0, PERIOD[1], 1e-6, PERIOD[0]),
    CalibrationRule("quantile", 0.02, PERIOD[1], 1e-6, PERIOD[0]),
]


def _capture(seed: int, attack_level: float) -> CaptureStream:
    """60 s at 20 windows a second: normal N(0, 1), attacks from 30 s on, raised by
    ``attack_level``."""
    rng = np.random.default_rng(seed)
    n = int(60 * RATE)
    ends = 100.0 + (np.arange(n) + 1) / RATE
    scores = rng.normal(0.0, 1.0, n)
    y = np.zeros(n, np.uint8)
    y[int(30 * RATE) :] = 1
    scores[y == 1] += attack_level
    return CaptureStream(scores, ends, 100.0, y)


def _choose(streams, ties: str, margin: float | None = 0.005):
    return select_calibration(streams, CANDIDATES, "edge", margin, ties)


def test_a_tie_goes_to_the_rule_that_flags_lowest_and_first_keeps_the_earliest():
    """Validation's attacks far out of every threshold: every rule catches all of them,
    and they differ only by their false alarms on the normal windows (k = 6: none; k = 3:
    0.1 % of them; the 98th percentile: about 2 %)."""
    streams = [_capture(s, 40.0) for s in range(3)]
    first, sensitive = _choose(streams, "first"), _choose(streams, "sensitive")
    table = {row["rule"]: row["val_f1"] for row in first.table}
    f1 = [table[r.label("edge")] for r in CANDIDATES]
    assert f1[0] == 1.0
    assert 1.0 - 0.005 < f1[1] < 1.0
    assert f1[2] < 1.0 - 0.005
    assert first.rule == CANDIDATES[0]
    assert all("reach" not in row for row in first.table)  # read only to break a tie
    # A z-score flags k of its scales out; the 98th percentile of Gaussian traffic about 2.
    reach = {row["rule"]: row["reach"] for row in sensitive.table}
    assert [reach[r.label("edge")] for r in CANDIDATES[:2]] == [6.0, 3.0]
    assert 1.7 < reach[CANDIDATES[2].label("edge")] < 2.5
    # Within the margin: k = 3 flags lower than k = 6; the quantile's false alarms cost it
    # more than the margin, so it is not tied, however low it flags.
    assert sensitive.rule == CANDIDATES[1]
    assert sensitive.loco_f1 is not None
    assert sensitive.loco_f1 > 0.99
    # A margin wide enough to tie all three gives it to the quantile, the lowest.
    assert _choose(streams, "sensitive", 0.02).rule == CANDIDATES[2]
    # Exact ties only (no margin): k = 6 stands alone at the top.
    assert _choose(streams, "sensitive", None).rule == CANDIDATES[0]


def test_a_clear_lead_still_wins_whatever_the_tie_rule():
    """Attacks 3.5 σ up: the strictest z-score misses most of them, and the lowest two
    differ by far more than the margin: the better one wins under both rules."""
    streams = [_capture(s, 3.5) for s in range(3)]
    first, sensitive = _choose(streams, "first"), _choose(streams, "sensitive")
    table = {row["rule"]: row["val_f1"] for row in first.table}
    best = max(table.values())
    assert table[CANDIDATES[0].label("edge")] < best - 0.1
    assert first.rule == sensitive.rule
    assert round(first.f1, 4) == best


def test_a_capture_that_cannot_calibrate_is_left_out_of_the_reach():
    """A capture attacked through its whole calibration (its scores NaN, as
    ``calibrated_inputs`` leaves them) is skipped, not averaged in."""
    streams = [_capture(s, 40.0) for s in range(3)]
    broken = streams[0]
    streams[0] = CaptureStream(
        np.full_like(broken.scores, np.nan), broken.window_end, broken.capture_start, broken.labels
    )
    assert _choose(streams, "sensitive").rule == CANDIDATES[1]
    assert _choose(streams, "sensitive", 0.02).rule == CANDIDATES[2]


def test_an_unknown_tie_rule_is_refused_and_the_config_names_it():
    streams = [_capture(0, 40.0)]
    with pytest.raises(ValueError, match=r"one of \['first', 'sensitive'\], not 'loudest'"):
        _choose(streams, "loudest")
    with pytest.raises(ValueError, match="rule_ties"):
        load_config("teacher", overrides=["calibration.rule_ties=loudest"])
    default = load_config("teacher")
    assert default.calibration.rule_ties == "sensitive"  # the default since 0.23.0
    first = load_config("teacher", overrides=["calibration.rule_ties=first"])
    sensitive = load_config("teacher", overrides=["calibration.rule_ties=sensitive"])
    assert sensitive.digest == default.digest != first.digest
