"""Shared fixtures: seeded CAN-like size distributions and optional-extra imports."""

from __future__ import annotations

import warnings

import numpy as np
import pytest


def hcrl_like_sizes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sizes like hcrl_sa windows: nodes 20-84 (mean ~33, right-skewed), edges 26-98."""
    rng = np.random.default_rng(seed)
    nodes = np.clip(np.round(20 + rng.gamma(2.0, 6.5, n)), 20, 84).astype(np.int64)
    edges = np.clip(np.round(20 + 1.1 * nodes + rng.normal(0, 6, n)), 26, 98).astype(np.int64)
    return nodes, edges


def skewed_sizes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Mostly small graphs with a heavy tail of large ones (sizes up to ~half a budget)."""
    rng = np.random.default_rng(seed)
    nodes = np.where(rng.random(n) < 0.7, rng.integers(5, 40, n), rng.integers(150, 520, n)).astype(
        np.int64
    )
    edges = (nodes * rng.uniform(1.2, 2.0, n)).astype(np.int64)
    return nodes, edges


def import_extra(name: str) -> object:
    """pytest.importorskip for an optional extra, without failing on its import warnings."""
    with warnings.catch_warnings():
        # torch_geometric calls the deprecated torch.jit.script at import time.
        warnings.simplefilter("ignore")
        return pytest.importorskip(name)


@pytest.fixture
def hcrl_sizes() -> tuple[np.ndarray, np.ndarray]:
    return hcrl_like_sizes(5000, seed=7)


# Test modules cannot import conftest under --import-mode=importlib: hand the helpers
# over as fixtures instead.
@pytest.fixture
def make_hcrl():
    return hcrl_like_sizes


@pytest.fixture
def make_skewed():
    return skewed_sizes


@pytest.fixture
def extra():
    return import_extra
