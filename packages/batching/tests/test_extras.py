"""A missing optional extra raises an ImportError that names the extra to install."""

from __future__ import annotations

import sys

import canids_batching as cb
import numpy as np
import pytest


def _block(monkeypatch: pytest.MonkeyPatch, root: str) -> None:
    for name in [m for m in sys.modules if m == root or m.startswith(root + ".")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, root, None)


@pytest.fixture
def profile() -> cb.Profile:
    rng = np.random.default_rng(0)
    nodes = rng.integers(20, 85, 500)
    return cb.profile_sizes(nodes, nodes * 2, node_feature_dim=8, edge_feature_dim=2)


def test_plot_without_matplotlib_names_the_plot_extra(monkeypatch, profile, tmp_path) -> None:
    _block(monkeypatch, "matplotlib")
    with pytest.raises(ImportError, match=r'pip install "canids-batching\[plot\]"'):
        cb.plot_profile(profile, tmp_path / "p.png")
    assert not (tmp_path / "p.png").exists()


def test_pyg_batch_without_pyg_names_the_pyg_extra(monkeypatch, profile) -> None:
    _block(monkeypatch, "torch_geometric")
    with pytest.raises(ImportError, match=r'pip install "canids-batching\[pyg\]"'):
        cb.make_can_batch(profile, 500, pyg=True)


def test_auto_output_falls_back_to_a_dict_without_pyg(monkeypatch, profile) -> None:
    _block(monkeypatch, "torch_geometric")
    batch = cb.make_can_batch(profile, 500)
    assert isinstance(batch, dict)
    assert set(batch) == {"x", "edge_index", "edge_attr", "y", "batch", "ptr"}
