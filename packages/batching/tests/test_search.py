"""The budget search on injected probes: no GPU needed."""

from __future__ import annotations

import json
import math

import canids_batching as cb
import numpy as np
import pytest
import torch

GIB = 2**30


def linear_probe(
    a: float, b: float, capacity: float, noise: float = 0.0, seed: int = 0, oom=cb.DoesNotFit
):
    rng = np.random.default_rng(seed)
    calls: list[int] = []

    def probe(budget: int) -> int:
        calls.append(budget)
        peak = (a + b * budget) * (1 + (rng.normal(0, noise) if noise else 0.0))
        if peak > capacity:
            raise oom(budget) if oom is cb.DoesNotFit else oom("CUDA out of memory")
        return int(peak)

    probe.calls = calls  # type: ignore[attr-defined]
    return probe


def curve(x_star: float, intercept_share: float, capacity: int = 40 * GIB):
    a = intercept_share * capacity
    return a, (capacity - a) / x_star, capacity


@pytest.mark.parametrize("x_star", [350.0, 4321.0, 77777.0])
@pytest.mark.parametrize("share", [0.02, 0.3])
def test_linear_curve_lands_within_tolerance_in_few_probes(x_star, share) -> None:
    a, b, cap = curve(x_star, share)
    probe = linear_probe(a, b, cap)
    r = cb.search_max_budget(probe, low=100, high=100_000, capacity=cap, safety=0.8)
    true_max = math.floor(x_star)
    assert r.budget <= true_max
    assert r.budget >= 0.97 * true_max
    assert r.num_probes <= 5
    assert r.converged
    assert not r.capped
    assert r.upper_bound is not None
    assert r.upper_bound > true_max
    assert r.safe_budget == math.floor(0.8 * r.budget)
    assert r.bytes_per_unit == pytest.approx(b, rel=1e-6)
    assert r.intercept_bytes == pytest.approx(a, rel=1e-4)
    assert [p.budget for p in r.probes] == probe.calls
    assert r.probes[0].budget == 100
    assert r.probes[0].fits


def test_noisy_curve_stays_within_five_percent() -> None:
    a, b, cap = curve(25_000.0, 0.15)
    probe = linear_probe(a, b, cap, noise=0.01, seed=11)
    r = cb.search_max_budget(probe, low=100, high=100_000, capacity=cap)
    assert abs(r.budget / 25_000 - 1) <= 0.05
    assert r.num_probes <= 8


def test_median_probes_over_random_noisy_curves_beats_binary_search() -> None:
    rng = np.random.default_rng(2024)
    probes, errors = [], []
    for i in range(60):
        x_star = math.exp(rng.uniform(math.log(300), math.log(99_000)))
        a, b, cap = curve(x_star, rng.uniform(0.01, 0.4))
        r = cb.search_max_budget(
            linear_probe(a, b, cap, noise=0.01, seed=i), low=100, high=100_000, capacity=cap
        )
        probes.append(r.num_probes)
        errors.append(abs(r.budget / x_star - 1))
    assert np.median(probes) <= 6
    assert np.mean(np.array(errors) <= 0.05) >= 0.95


def test_first_probe_that_does_not_fit_is_a_clear_error() -> None:
    probe = linear_probe(0, 1000, capacity=50_000)
    with pytest.raises(cb.BatchingError, match=r"first probe, at low=100 .* does not fit"):
        cb.search_max_budget(probe, low=100, high=1000, capacity=50_000)


def test_non_oom_errors_propagate() -> None:
    def probe(budget: int) -> int:
        if budget > 100:
            raise RuntimeError("shape mismatch in layer 3")
        return 1000

    with pytest.raises(RuntimeError, match="shape mismatch"):
        cb.search_max_budget(probe, low=100, high=10_000, capacity=10**6)


def test_torch_out_of_memory_counts_as_does_not_fit() -> None:
    a, b, cap = curve(5000.0, 0.1)
    probe = linear_probe(a, b, cap, oom=torch.OutOfMemoryError)
    r = cb.search_max_budget(probe, low=100, high=100_000, capacity=cap)
    assert 0.97 * 5000 <= r.budget <= 5000
    assert any(not p.fits for p in r.probes)


def test_capped_at_high_when_everything_fits() -> None:
    a, b, cap = curve(1e9, 0.1)
    r = cb.search_max_budget(linear_probe(a, b, cap), low=100, high=5000, capacity=cap)
    assert r.budget == 5000
    assert r.capped
    assert r.upper_bound is None
    assert r.num_probes <= 3


def test_running_out_of_probes_warns_and_returns_the_best_so_far() -> None:
    a, b, cap = curve(50_000.0, 0.3)
    with pytest.warns(cb.BatchingWarning, match="stopped after 3 probes"):
        r = cb.search_max_budget(
            linear_probe(a, b, cap), low=100, high=100_000, capacity=cap, max_probes=3
        )
    assert not r.converged
    assert r.num_probes == 3
    assert r.budget == max(p.budget for p in r.probes if p.fits)


def test_model_free_fallback_when_peaks_do_not_grow() -> None:
    # A probe that reports no memory growth: the search still brackets by doubling.
    def probe(budget: int) -> int:
        if budget > 3000:
            raise cb.DoesNotFit(budget)
        return 10

    r = cb.search_max_budget(probe, low=100, high=100_000, capacity=10**9)
    assert 0.97 * 3000 <= r.budget <= 3000


def test_result_json_round_trip_and_save(tmp_path) -> None:
    a, b, cap = curve(5000.0, 0.1)
    r = cb.search_max_budget(
        linear_probe(a, b, cap), low=100, high=100_000, capacity=cap, key="edges"
    )
    assert cb.BudgetResult.from_json(r.to_json()) == r
    path = r.save(tmp_path / "budget.json")
    data = json.loads(path.read_text())
    assert data["kind"] == "canids-batching.budget"
    assert data["key"] == "edges"
    assert data["probes"][0] == {"budget": 100, "peak_bytes": r.probes[0].peak_bytes}
    data["surprise"] = 1
    with pytest.raises(cb.BatchingError, match="unknown keys"):
        cb.BudgetResult.from_json(json.dumps(data))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"low": 0}, "low must be a positive integer"),
        ({"low": 500, "high": 100}, "must not exceed high"),
        ({"safety": 0.0}, "safety"),
        ({"rel_tol": 1.0}, "rel_tol"),
        ({"capacity": -1}, "capacity"),
    ],
)
def test_invalid_search_arguments(kwargs, match) -> None:
    args = {"low": 100, "high": 1000, "capacity": 10**9, **kwargs}
    with pytest.raises(cb.BatchingError, match=match):
        cb.search_max_budget(lambda b: 1, **args)
