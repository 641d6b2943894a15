"""How a tie between calibration periods is broken (``calibration.period_ties``,
canids-models 0.19.0): ``first`` (0.18.0-0.22.0's rule) gives it to the earliest listed,
the shortest; ``longest`` (the default since 0.23.0, with ``calibration.rule_ties=
sensitive``) widens ties to ``calibration.tie_margin`` and gives them to the longest
warm-up and length, the safer bet on a new vehicle's start transient (held out by dataset,
trained on hcrl_sa and tested on set_01's vehicle, the two together raised the default
fusion's calibrated F1: benchmarks/dataset_holdout.py)."""

import numpy as np
import pytest
from canids_models import load_config
from canids_models.calibration import CalibrationRule
from canids_models.calibration_period import select_period
from canids_models.calibration_select import CaptureStream, calibrate_stream, select_calibration

RATE = 20.0
PERIODS = [(0.0, 1.0), (0.0, 5.0), (3.0, 1.0), (3.0, 5.0)]


def _capture(seed: int, transient: float = 0.0, attack_level: float = 30.0) -> CaptureStream:
    """60 s at 20 windows a second: normal N(0, 1), attacks from 30 s on at
    ``attack_level``; ``transient``: how far the first second's normal scores sit above
    the rest (a start-up transient, falling linearly to nothing at 1 s)."""
    rng = np.random.default_rng(seed)
    n = int(60 * RATE)
    ends = 100.0 + (np.arange(n) + 1) / RATE
    scores = rng.normal(0.0, 1.0, n) + transient * np.clip(1.0 - (ends - 100.0), 0.0, None)
    y = np.zeros(n, np.uint8)
    y[int(30 * RATE) :] = 1
    scores[y == 1] += attack_level
    return CaptureStream(scores, ends, 100.0, y)


def _rules(period: tuple[float, float]) -> list[CalibrationRule]:
    w, t = period
    return [CalibrationRule("zscore", k, t, 1e-6, w) for k in (3.0, 6.0)]


def _choose(streams: list[CaptureStream]):
    def choose(name: str, period: tuple[float, float]):
        return select_calibration(streams, _rules(period))

    return choose


def _new_vehicle_f1(period: tuple[float, float], rule_k: float) -> float:
    """F1 on a capture of a vehicle with a start transient 40 σ high and attacks at
    +10 σ: calibrated on its first second, its scale is the transient's."""
    stream = _capture(99, transient=40.0, attack_level=10.0)
    rule = CalibrationRule("zscore", rule_k, period[1], 1e-6, period[0])
    _, scored = stream.phases(rule)
    _, flags, _ = calibrate_stream(stream, rule)
    y = stream.labels[scored].astype(bool)
    tp = int((y & flags).sum())
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + int((y ^ flags).sum()))


def test_a_tie_goes_to_the_longest_period_and_first_keeps_the_shortest():
    """The training vehicle has no transient and its attacks stand 30 σ out: every
    period scores F1 1.0. 0.18.0's rule takes the shortest; the new one the longest
    warm-up and length, and only that one holds on a vehicle whose start is unsettled."""
    choose = _choose([_capture(s) for s in range(3)])
    first = select_period(["gat"], PERIODS, choose, "first")
    longest = select_period(["gat"], PERIODS, choose, "longest")
    assert {row["score"] for row in longest.table} == {1.0}
    assert first.period == (0.0, 1.0)
    assert longest.period == (3.0, 5.0)
    assert first.table == longest.table  # the same judge; only the tie-break differs
    k = choose("gat", longest.period).rule.param
    assert _new_vehicle_f1(first.period, k) < 0.05  # calibrated on the transient
    assert _new_vehicle_f1(longest.period, k) > 0.95
    assert "the longest warm-up" in longest.to_json()["criterion"]
    assert "the earliest listed" in first.to_json()["criterion"]


def test_the_margin_widens_the_tie_and_a_clear_winner_still_wins():
    """A period 0.003 below the best ties within 0.005, and then the longer one wins; a
    period clearly best wins under every tie rule."""
    scores = {(0.0, 1.0): 1.0, (0.0, 5.0): 0.997, (3.0, 1.0): 0.9, (3.0, 5.0): 0.98}

    class Choice:
        def __init__(self, f1: float) -> None:
            self.f1 = f1

    def choose(name: str, period: tuple[float, float]):
        return Choice(scores[period])

    assert select_period(["x"], PERIODS, choose, "longest").period == (0.0, 1.0)
    tied = select_period(["x"], PERIODS, choose, "longest", 0.005)
    assert tied.period == (0.0, 5.0)
    assert tied.score == pytest.approx(0.997)
    assert "within 0.005 of the best" in tied.to_json()["criterion"]
    assert select_period(["x"], PERIODS, choose, "first", 0.005).period == (0.0, 1.0)
    assert select_period(["x"], PERIODS, choose, "longest", 0.1).period == (3.0, 5.0)


def test_an_unknown_tie_rule_is_refused():
    choose = _choose([_capture(0)])
    with pytest.raises(ValueError, match=r"one of \['first', 'longest'\], not 'last'"):
        select_period(["gat"], PERIODS, choose, "last")
    with pytest.raises(ValueError, match="period_ties"):
        load_config("teacher", overrides=["calibration.period_ties=last"])


def test_the_config_default_is_the_longest_since_0_23():
    assert load_config("teacher").calibration.period_ties == "longest"
    first = load_config("teacher", overrides=["calibration.period_ties=first"])
    assert first.calibration.period_ties == "first"


def _chosen(fusion: dict) -> tuple[dict, tuple[float, float]]:
    period = fusion["selection"]["period"]
    return period, (period["warmup"], period["seconds"])


def test_the_fusion_stage_breaks_period_ties_by_the_config(refit_fusion, tmp_path_factory):
    """The demo teacher's fusion and evaluate stages under both rules, on the same
    detectors: the same judge's table, each rule's own pick among its ties, and the
    evaluate stage calibrating on the period chosen."""
    root = tmp_path_factory.mktemp("period_ties")
    runs = {
        t: refit_fusion(root / t, t, f"calibration.period_ties={t}") for t in ("first", "longest")
    }
    (first, at_first), (longest, at_longest) = (_chosen(runs[t][1]) for t in ("first", "longest"))
    assert [(r["warmup"], r["seconds"]) for r in first["periods"]] == [
        (r["warmup"], r["seconds"]) for r in longest["periods"]
    ]
    rows = first["periods"]
    top = max(r["score"] for r in rows)
    assert at_first == next((r["warmup"], r["seconds"]) for r in rows if r["score"] == top)
    # Table scores are rounded to 1e-4: only rows clearly inside the margin are checked.
    clearly = [(r["warmup"], r["seconds"]) for r in rows if top - r["score"] < 0.005 - 1e-4]
    assert at_longest >= max(clearly)
    assert at_longest >= at_first
    assert "the longest warm-up, then the longest length" in longest["criterion"]
    assert "exactly equal" in first["criterion"]
    for t, at in (("first", at_first), ("longest", at_longest)):
        evaluate = runs[t][2]
        assert (evaluate["calibration_warmup"], evaluate["calibration_seconds"]) == at
