"""``benchmarks/fusion_rerun.py``: what it compares between the reused and the retrained
fit, and that the reused flag, the one thing that must differ, is not among it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import ModuleType

import pytest


@pytest.fixture
def bench(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("fusion_rerun")


def _fit(reused: bool) -> dict:
    figures = {"train_windows": 10, "frozen_f1": {"mean": 0.9}, "reused": {"vgae": reused}}
    return {
        "method": "mean",
        "thresholds": {"mean": {"value": 1.5}},
        "calibration": {"mean": {"rule": "quantile"}},
        "dqn_history": [{"loss": 0.1}],
        "selection": {"families": {"dos": figures}},
    }


def test_the_reused_flag_is_not_a_difference(bench):
    assert bench.agreement(_fit(True), _fit(False)) == []


def test_a_threshold_or_a_family_figure_that_moved_is_named(bench):
    other = copy.deepcopy(_fit(False))
    other["thresholds"]["mean"]["value"] = 1.6
    other["selection"]["families"]["dos"]["frozen_f1"]["mean"] = 0.8
    assert bench.agreement(_fit(True), other) == ["thresholds", "families"]


def test_a_run_without_families_compares_the_rest(bench):
    plain = _fit(True)
    plain["selection"] = {"families": None}
    assert bench.agreement(plain, copy.deepcopy(plain)) == []
