"""The conv backend switch: pyg everywhere, cugraph only where it can run, never a pretend."""

from __future__ import annotations

import importlib.util

import pytest
import torch
from canids_models import BACKENDS, BackendError, RunConfig, StageContext, resolve_backend
from canids_models.backend import cugraph_probe, make_conv
from torch_geometric.nn import GATv2Conv

CPU = torch.device("cpu")
CUDA = torch.device("cuda")  # a device object only: nothing is allocated on it


def test_pyg_is_pyg_everywhere():
    assert BACKENDS == ("pyg", "cugraph", "auto")
    assert resolve_backend("pyg", CPU) == "pyg"
    assert resolve_backend("pyg", CUDA) == "pyg"


def test_auto_on_cpu_is_pyg():
    assert resolve_backend("auto", CPU) == "pyg"


def test_cugraph_on_cpu_names_the_reason_and_the_fix():
    with pytest.raises(BackendError) as err:
        resolve_backend("cugraph", CPU)
    msg = str(err.value)
    assert "needs a CUDA device" in msg
    assert "cpu" in msg
    assert "--set train.backend=pyg" in msg


def test_unknown_backend():
    with pytest.raises(BackendError, match="unknown backend 'dgl'; use one of pyg, cugraph, auto"):
        resolve_backend("dgl", CPU)
    with pytest.raises(BackendError, match="no conv layers for backend 'dgl'"):
        make_conv("dgl", 4, 4, heads=1, edge_dim=2, dropout=0.0)


def test_probe_on_this_machine():
    usable, why = cugraph_probe()
    assert isinstance(usable, bool)
    assert why
    if importlib.util.find_spec("cugraph_pyg") is None:
        assert not usable
        assert "cugraph-pyg is not installed" in why
    elif not torch.cuda.is_available():
        assert not usable
        assert "no CUDA device" in why


def test_cugraph_on_cuda_follows_the_probe():
    usable, why = cugraph_probe()
    assert resolve_backend("auto", CUDA) == ("cugraph" if usable else "pyg")
    if usable:
        assert resolve_backend("cugraph", CUDA) == "cugraph"
    else:
        with pytest.raises(BackendError) as err:
            resolve_backend("cugraph", CUDA)
        assert why in str(err.value)
        assert "--set train.backend=pyg (or auto)" in str(err.value)


def test_pyg_conv_is_gatv2_with_edge_features():
    conv = make_conv("pyg", 6, 4, heads=3, edge_dim=5, dropout=0.1)
    assert isinstance(conv, GATv2Conv)
    out = conv(torch.randn(5, 6), torch.tensor([[0, 1, 2], [1, 2, 3]]), torch.randn(3, 5))
    assert out.shape == (5, 12)


def test_a_stage_context_refuses_cugraph_on_cpu():
    cfg = RunConfig().merged({"train": {"backend": "cugraph", "device": "cpu"}}, "test")
    with pytest.raises(BackendError, match="needs a CUDA device"):
        StageContext("demo", "teacher", cfg, None)  # type: ignore[arg-type]
    ok = StageContext(
        "demo", "teacher", RunConfig().merged({"train": {"device": "cpu"}}, "t"), None
    )  # type: ignore[arg-type]
    assert (ok.backend, ok.device) == ("pyg", CPU)
