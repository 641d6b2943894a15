"""Logistic stacking is monotone: no detector's weight is negative, and the constrained fit
is the constrained optimum."""

from __future__ import annotations

import numpy as np
from canids_models.fusion_methods import fit_logistic


def _data(seed: int = 0, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    """The GAT separates the classes with noise ``e``; the VGAE score carries ``e`` too
    and nothing of the label, so an unconstrained fit cancels ``e`` with a negative VGAE
    weight: on a new vehicle where the VGAE rises, such a fusion reads attacks as normal."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(np.float64)
    e = rng.normal(0.0, 1.0, n)
    z_gat = 2.0 * y + e
    z_vgae = e + 0.3 * rng.normal(0.0, 1.0, n)
    return np.column_stack((z_gat, z_vgae)), y


def _gradient(features: np.ndarray, y: np.ndarray, w: np.ndarray, l2: float) -> np.ndarray:
    x = np.column_stack((features, np.ones(len(y))))
    n_pos, n_neg = y.sum(), len(y) - y.sum()
    sample_w = np.where(y == 1, len(y) / (2 * n_pos), len(y) / (2 * n_neg))
    p = 1.0 / (1.0 + np.exp(-(x @ w)))
    penalty = np.full(x.shape[1], l2 * len(y))
    penalty[-1] = 0.0
    return x.T @ (sample_w * (p - y)) + penalty * w


def test_unconstrained_stacking_learns_a_negative_weight_the_default_does_not() -> None:
    features, y = _data()
    free = fit_logistic(features, y, nonnegative=False)
    assert free[1] < -0.5  # the correction a GAT-dominated validation teaches
    w = fit_logistic(features, y)
    assert w[0] > 0.5
    assert w[1] == 0.0
    # KKT of the constrained optimum: zero gradient on the free weights, a gradient that
    # pushes the held weight below zero (so it stays at its bound).
    g = _gradient(features, y, w, 1e-2) / len(y)
    assert abs(g[0]) < 1e-6
    assert abs(g[2]) < 1e-6
    assert g[1] > 0


def test_when_no_weight_wants_to_be_negative_both_fits_agree() -> None:
    rng = np.random.default_rng(1)
    y = (rng.random(3000) < 0.4).astype(np.float64)
    features = np.column_stack(
        (1.5 * y + rng.normal(0, 1, len(y)), 1.0 * y + rng.normal(0, 1, len(y)))
    )
    w = fit_logistic(features, y)
    np.testing.assert_allclose(w, fit_logistic(features, y, nonnegative=False), atol=1e-8)
    assert (w[:2] > 0).all()


def test_the_fit_is_deterministic_and_finite() -> None:
    features, y = _data(seed=3)
    a = fit_logistic(features, y)
    b = fit_logistic(features, y)
    assert np.array_equal(a, b)
    assert np.isfinite(a).all()
