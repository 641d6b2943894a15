"""Deployment calibration: the rules, causality, robustness to a contaminated start, and
choosing the rule on validation by leave-one-capture-out."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
from canids_models import ConfigError, load_config
from canids_models.calibration import (
    CalibrationRule,
    calibrate_capture,
    calibration_mask,
    saturates,
)
from canids_models.calibration_period import select_period
from canids_models.calibration_select import (
    CaptureStream,
    calibrated_flags,
    select_calibration,
)
from canids_models.stages.fusion_calibration import calibration_candidates, fixed_rule


def _stream(seed, n=600, shift=0.0, attack_from=400, attack_level=8.0, rate=20.0):
    """A capture of ``n`` windows (``rate`` per second): normal scores N(shift, 1), attack
    windows from ``attack_from`` on at ``shift + attack_level``."""
    rng = np.random.default_rng(seed)
    scores = rng.normal(shift, 1.0, n)
    y = np.zeros(n, np.uint8)
    y[attack_from:] = 1
    scores[attack_from:] += attack_level
    ends = 100.0 + (np.arange(n) + 1) / rate
    return CaptureStream(scores, ends, 100.0, y)


@pytest.mark.parametrize(
    ("rule", "param"), [("zscore", 3.0), ("quantile", 0.01), ("conformal", 0.01)]
)
def test_each_rule_sets_a_threshold_from_the_start_only(rule, param):
    st = _stream(0, shift=50.0)  # a "new vehicle": every score 50 higher than anywhere else
    r = CalibrationRule(rule, param, 10.0)
    scored, flags, thr = calibrated_flags(st, r)
    y = st.labels[scored].astype(bool)
    assert 50.0 < thr < 58.0
    assert flags[y].mean() == 1.0  # every attack caught
    # Few false alarms: α = 1 % estimated from 200 windows, so a few per cent at most.
    assert flags[~y].mean() < 0.05


def test_calibration_windows_are_never_scored():
    st = _stream(1)
    cal = calibration_mask(st.window_end, st.capture_start, 10.0)
    assert cal.sum() == 200  # 20 windows per second, windows that end by t0 + 10 s
    scored, flags, _ = calibrated_flags(st, CalibrationRule("zscore", 3.0, 10.0))
    np.testing.assert_array_equal(scored, ~cal)
    assert len(flags) == 400


def test_causal_what_comes_after_the_start_does_not_move_the_threshold():
    st = _stream(2)
    rule = CalibrationRule("zscore", 3.0, 10.0)
    _, _, before = calibrated_flags(st, rule)
    more = np.concatenate((st.scores, np.full(500, 1e6)))  # a huge attack appended
    ends = np.concatenate((st.window_end, st.window_end[-1] + (np.arange(500) + 1) / 20))
    _, _, after = calibrated_flags(CaptureStream(more, ends, st.capture_start), rule)
    assert after == before


def test_labels_are_never_read_to_calibrate():
    st = _stream(3)
    rule = CalibrationRule("quantile", 0.01, 10.0)
    permuted = CaptureStream(
        st.scores, st.window_end, st.capture_start, np.random.default_rng(0).permutation(st.labels)
    )
    assert calibrated_flags(st, rule)[2] == calibrated_flags(permuted, rule)[2]


def test_zscore_threshold_moves_boundedly_with_ten_percent_attacks_in_the_start():
    # The documented bound (docs/results.md): with a fraction ε of the start replaced by
    # attacks of any size, the median moves at most to the 1/(2(1-ε)) quantile of the clean
    # scores, and the MAD to the half-width that holds 1/(2(1-ε)) of them around it. For
    # N(0,1), ε = 0.1 and k = 3: median +0.14σ, σ̂ ×1.13, threshold +0.54σ at most.
    rng = np.random.default_rng(4)
    clean = rng.normal(0.0, 1.0, 400)
    rule = CalibrationRule("zscore", 3.0, 10.0)
    base = calibrate_capture(clean, rule).threshold
    dirty = clean.copy()
    dirty[:40] = 1e3  # 10 % of the start is a flood of huge scores
    moved = calibrate_capture(dirty, rule).threshold
    assert 0.0 < moved - base < 0.6
    # The quantile rule has no such bound: a 10 % flood above its (1-α) quantile takes it.
    q = CalibrationRule("quantile", 0.01, 10.0)
    assert calibrate_capture(dirty, q).threshold == 1e3


def test_conformal_threshold_is_the_rank_that_bounds_the_p_value():
    c = np.arange(1.0, 100.0)  # 99 scores, 1..99
    cal = calibrate_capture(c, CalibrationRule("conformal", 0.05, 10.0))
    # p(s) = (1 + #{c >= s}) / 100 <= 0.05  <=>  at most 4 scores >= s  <=>  s > 95
    assert cal.threshold == 95.0
    assert calibrate_capture(c, CalibrationRule("conformal", 0.005, 10.0)).threshold == np.inf


@pytest.mark.parametrize("n", [2, 3, 14, 15, 16, 20, 60, 1001])
@pytest.mark.parametrize("alpha", [0.001, 0.005, 0.01, 0.02, 0.05, 1 / 14, 0.1])
def test_saturation_is_when_alpha_asks_for_more_than_the_windows_can_say(n, alpha):
    """A saturated quantile rule's cut is the highest calibration score whatever its α; a
    saturated conformal rule flags nothing; every other cut lies below the highest."""
    c = np.random.default_rng(n).normal(size=n)
    quantile = CalibrationRule("quantile", alpha, 1.0)
    conformal = CalibrationRule("conformal", alpha, 1.0)
    q = calibrate_capture(c, quantile).threshold
    assert saturates(quantile, n) == (q == c.max())
    assert saturates(conformal, n) == (calibrate_capture(c, conformal).threshold == np.inf)
    assert not saturates(CalibrationRule("zscore", 3.0, 1.0), n)


def test_a_second_of_set_01_windows_makes_the_default_alphas_one_rule():
    """15 windows (a second of set_01 validation, 2 s after its start): every α of the
    default grid is the highest calibration score, or never flags."""
    alphas = load_config("teacher").calibration.alphas
    assert all(saturates(CalibrationRule("quantile", a, 1.0), 15) for a in alphas)
    assert all(saturates(CalibrationRule("conformal", a, 1.0), 15) for a in alphas)
    assert not saturates(CalibrationRule("quantile", 0.02, 10.0), 150)


def test_a_near_constant_start_is_floored():
    cal = calibrate_capture(np.full(50, 2.0), CalibrationRule("zscore", 3.0, 5.0, scale_floor=0.5))
    assert cal.scale == 0.5
    assert cal.threshold == 3.5


def test_no_calibration_window_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"no window of the capture ends in its calibration period \(zscore k=3, 5 s\)",
    ):
        calibrate_capture(np.zeros(0), CalibrationRule("zscore", 3.0, 5.0))


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("median", 3.0, 5.0), "one of"),
        (("zscore", 0.0, 5.0), "k > 0"),
        (("quantile", 1.5, 5.0), "0 < alpha < 1"),
        (("conformal", 0.01, 0.0), "seconds must be > 0"),
    ],
)
def test_bad_rules_are_refused(args, match):
    with pytest.raises(ValueError, match=match):
        CalibrationRule(*args)


def test_selection_prefers_the_rule_that_works_and_reports_loco():
    # Heavy-tailed normal traffic: a quantile threshold at 1 % raises alarms that a z-score
    # at k = 6 does not, while every attack (+12) stays above both.
    streams = []
    for seed in range(4):
        st = _stream(seed, shift=10.0 * seed, attack_level=12.0)
        rng = np.random.default_rng(100 + seed)
        noisy = st.scores + np.where(rng.random(len(st.scores)) < 0.02, 4.0, 0.0)
        streams.append(CaptureStream(noisy, st.window_end, st.capture_start, st.labels))
    candidates = [CalibrationRule("quantile", 0.01, 10.0), CalibrationRule("zscore", 6.0, 10.0)]
    choice = select_calibration(streams, candidates)
    assert choice.rule.rule == "zscore"
    assert choice.f1 > 0.99
    assert choice.loco_f1 is not None
    assert choice.loco_f1 > 0.99
    assert [c["rule"] for c in choice.table] == [c.label() for c in candidates]


def test_selection_needs_streams_and_candidates():
    with pytest.raises(ValueError, match="no validation capture"):
        select_calibration([], [CalibrationRule("zscore", 3.0, 5.0)])
    with pytest.raises(ValueError, match="no calibration candidate"):
        select_calibration([_stream(0)], [])


def _settling(st: CaptureStream, height: float, seconds: float) -> CaptureStream:
    """``st`` with a start-up transient: normal scores ``height`` higher at the start,
    falling linearly to nothing after ``seconds`` (an anomaly score whose features are
    still settling)."""
    since = st.window_end - st.capture_start
    lift = height * np.clip(1.0 - since / seconds, 0.0, None)
    return CaptureStream(st.scores + lift, st.window_end, st.capture_start, st.labels)


def test_one_period_is_chosen_for_every_branch_not_for_the_fusion_alone():
    """The classifier catches validation's attacks on any period, and so does a fusion
    that leans on it: judged on those, every period ties and the shortest wins, leaving
    the anomaly branch calibrated on its start-up transient (it then flags nothing).
    Chosen for the branches together, the period skips the transient."""
    gat = [_stream(s, attack_level=30.0) for s in range(4)]
    vgae = [_settling(_stream(10 + s, attack_level=6.0), 12.0, 3.0) for s in range(4)]
    periods = [(0.0, 1.0), (0.0, 2.5), (3.0, 1.0), (3.0, 2.5)]

    def rules(period):
        w, t = period
        return [CalibrationRule("zscore", k, t, 1e-6, w) for k in (3.0, 6.0)]

    streams = {"gat": gat, "vgae": vgae}

    def choose(name, period):
        return select_calibration(streams[name], rules(period))

    alone = select_period(["gat"], periods, choose)
    assert alone.period == (0.0, 1.0)  # a tie everywhere: the first period wins
    assert {row["f1"]["gat"] for row in alone.table} == {1.0}
    both = select_period(["gat", "vgae"], periods, choose)
    assert both.period[0] == 3.0  # past the transient
    rows = {(r["warmup"], r["seconds"]): r for r in both.table}
    assert rows[(0.0, 1.0)]["f1"]["vgae"] < 0.2  # calibrated on the transient: flags ~nothing
    assert rows[both.period]["f1"]["vgae"] > 0.9
    assert both.score == pytest.approx(sum(rows[both.period]["f1"].values()) / 2, abs=1e-4)
    assert both.to_json()["warmup"] == 3.0


def test_period_selection_needs_branches_and_periods():
    def choose(name, period):
        return select_calibration([_stream(0)], [CalibrationRule("zscore", 3.0, period[1])])

    with pytest.raises(ValueError, match="needs branches and periods"):
        select_period([], [(0.0, 1.0)], choose)
    with pytest.raises(ValueError, match="needs branches and periods"):
        select_period(["gat"], [], choose)


def _quiet_start(st: CaptureStream, frozen_threshold: float) -> CaptureStream:
    """``st`` whose clean start is ten times quieter than the rest of its normal traffic
    (a classifier sure of the first seconds), with each window's flag under a frozen
    threshold fitted elsewhere."""
    since = st.window_end - st.capture_start
    scores = st.scores.copy()
    start = since <= 10.0
    scores[start] = scores[start] * 0.1
    return CaptureStream(
        scores, st.window_end, st.capture_start, st.labels, scores > frozen_threshold
    )


def test_a_guarded_rule_flags_only_what_the_frozen_threshold_flags_too():
    """A clean start quieter than the rest pulls a calibrated threshold down: unguarded,
    normal traffic after it is flagged; guarded, a window is flagged only where the frozen
    threshold flags it too, the calibrated threshold itself is unchanged, and attacks far
    above both stay caught."""
    st = _quiet_start(_stream(7), frozen_threshold=3.5)
    plain = CalibrationRule("zscore", 3.0, 10.0)
    guarded = dataclasses.replace(plain, guard=True)
    scored, flags, thr = calibrated_flags(st, plain)
    scored_g, flags_g, thr_g = calibrated_flags(st, guarded)
    y = st.labels[scored].astype(bool)
    np.testing.assert_array_equal(scored, scored_g)
    assert thr == thr_g < 1.0  # the quiet start's threshold, far below the frozen 3.5
    assert flags[~y].mean() > 0.2  # unguarded: a fifth of the normal windows flagged
    np.testing.assert_array_equal(flags_g, flags & st.frozen_flags[scored])
    assert flags_g[~y].mean() < 0.01
    assert flags_g[y].mean() == 1.0

    # Where the frozen threshold flags every window (a new vehicle), the guard is a no-op.
    loud = CaptureStream(st.scores, st.window_end, st.capture_start, st.labels, st.scores > -1e9)
    np.testing.assert_array_equal(calibrated_flags(loud, guarded)[1], flags)


def test_a_guarded_rule_without_frozen_flags_fails_clearly():
    st = _stream(8)
    with pytest.raises(ValueError, match="a guarded rule needs each window's frozen flag"):
        calibrated_flags(st, CalibrationRule("zscore", 3.0, 10.0, guard=True))


def test_selection_takes_the_guard_only_where_it_wins_on_validation():
    """Candidates list the unguarded rules first: the guard is chosen where validation's
    quiet starts make the plain rule raise false alarms, not where it ties."""
    quiet = [_quiet_start(_stream(20 + s), frozen_threshold=3.5) for s in range(4)]
    plain = [CalibrationRule("zscore", k, 10.0) for k in (3.0, 6.0)]
    candidates = plain + [dataclasses.replace(r, guard=True) for r in plain]
    chosen = select_calibration(quiet, candidates)
    assert chosen.rule.guard
    assert chosen.loco_f1 is not None
    assert chosen.loco_f1 > 0.99
    tidy = [
        CaptureStream(s.scores, s.window_end, s.capture_start, s.labels, s.scores > -1e9)
        for s in (_stream(30 + s) for s in range(4))
    ]
    assert not select_calibration(tidy, candidates).rule.guard  # a tie: the plain rule


def test_the_guard_survives_a_checkpoint_and_is_named():
    rule = CalibrationRule("quantile", 0.01, 2.5, 0.1, 1.0, guard=True)
    assert CalibrationRule.from_json(rule.to_json()) == rule
    assert rule.label().endswith(", never below the frozen threshold")
    old = {k: v for k, v in rule.to_json().items() if k != "guard"}  # before 0.7.0
    assert CalibrationRule.from_json(old).guard is False


@pytest.mark.parametrize(
    ("guard", "expected"), [("auto", (False, True)), ("on", (True,)), ("off", (False,))]
)
def test_the_guard_candidates_follow_the_config(guard, expected):
    """``auto`` lists every rule unguarded first, then guarded (a guard must win on its
    own); ``on`` and ``off`` fix it. A fixed rule takes the guard only when it is ``on``."""
    cfg = load_config("teacher", overrides=[f"calibration.guard={guard}"])
    rules = calibration_candidates(SimpleNamespace(config=cfg), (1.0, 2.5))
    per_guard = len(cfg.calibration.zscore_k) + 2 * len(cfg.calibration.alphas)
    assert len(rules) == per_guard * len(expected)
    assert tuple(r.guard for r in rules[::per_guard]) == expected
    assert {r.period for r in rules} == {(1.0, 2.5)}
    fixed = load_config(
        "teacher",
        overrides=[
            f"calibration.guard={guard}",
            "calibration.rule=zscore",
            "calibration.param=4",
            "calibration.seconds=2",
        ],
    )
    rule = fixed_rule(SimpleNamespace(config=fixed))
    assert rule is not None
    assert rule.guard is (guard == "on")
    with pytest.raises(ConfigError, match="guard"):
        load_config("teacher", overrides=["calibration.guard=maybe"])
