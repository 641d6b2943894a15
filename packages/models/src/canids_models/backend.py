"""Conv backend switch: ``pyg`` (default), ``cugraph`` or ``auto``.

What cugraph-pyg offers decides what ``cugraph`` can mean (docs/models.md, "Conv
backends"). Releases up to 24.12 ship ``cugraph_pyg.nn.GATv2Conv``, a fused GATv2 with
edge features on cugraph-ops. From 25.02 on, cugraph-ops is discontinued and
cugraph-pyg holds no conv layers at all: only GraphStore/FeatureStore and neighbour
loaders for one large graph, which nothing in canids uses. So the ``cugraph`` backend
runs where a cugraph-pyg with that layer imports and CUDA is present, and fails with the
reason everywhere else. ``auto`` takes it only then. There is no pretend backend that
silently runs PyG under another name.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import lru_cache

import torch
from torch import nn
from torch_geometric.nn import GATv2Conv
from torch_geometric.utils import add_self_loops

from .errors import BackendError

__all__ = ["BACKENDS", "CuGraphGATv2", "cugraph_probe", "make_conv", "resolve_backend"]

BACKENDS: tuple[str, ...] = ("pyg", "cugraph", "auto")


@lru_cache(maxsize=1)
def cugraph_probe() -> tuple[bool, str]:
    """(usable, why): whether a fused cugraph GATv2 layer can run in this process."""
    if importlib.util.find_spec("cugraph_pyg") is None:
        return (
            False,
            "cugraph-pyg is not installed (pip install cugraph-pyg-cu12 on a CUDA machine)",
        )
    if not torch.cuda.is_available():
        return False, "no CUDA device is visible to torch"
    try:
        module = importlib.import_module("cugraph_pyg")
    except Exception as exc:  # its import pulls cupy and pylibcugraph, which fail variously
        return False, f"cugraph_pyg fails to import ({type(exc).__name__}: {exc})"
    version = getattr(module, "__version__", "?")
    try:
        importlib.import_module("cugraph_pyg.nn").GATv2Conv  # noqa: B018
    except (ImportError, AttributeError):
        return False, (
            f"cugraph-pyg {version} has no conv layers: they were removed in 25.02 when "
            "cugraph-ops was discontinued, and what it ships now (GraphStore, FeatureStore, "
            "NeighborLoader) samples neighbourhoods of one large graph, which canids does "
            "not do"
        )
    return True, f"fused GATv2 (cugraph-ops) from cugraph-pyg {version}"


def resolve_backend(requested: str, device: torch.device) -> str:
    """The backend layers are built with; ``cugraph`` where it cannot run is an error."""
    if requested not in BACKENDS:
        raise BackendError(f"unknown backend {requested!r}; use one of {', '.join(BACKENDS)}")
    if requested == "pyg":
        return "pyg"
    if device.type != "cuda":
        if requested == "auto":
            return "pyg"
        raise BackendError(
            f"backend 'cugraph' needs a CUDA device, and this stage runs on "
            f"{device}; use --set train.backend=pyg (or auto)"
        )
    usable, why = cugraph_probe()
    if requested == "auto":
        return "cugraph" if usable else "pyg"
    if not usable:
        raise BackendError(
            f"backend 'cugraph' cannot run here: {why}. Use --set train.backend=pyg (or auto)"
        )
    return "cugraph"


class CuGraphGATv2(nn.Module):
    """cugraph-pyg's fused GATv2 behind PyG's call signature ``(x, edge_index, edge_attr)``.

    Self-loops are added the way PyG's ``GATv2Conv`` adds them (edge features filled
    with the mean), so both backends compute the same function. cugraph-ops has no
    attention dropout; node-state dropout in the encoder still applies.
    """

    def __init__(self, in_dim: int, out_dim: int, *, heads: int, edge_dim: int) -> None:
        super().__init__()
        conv_cls = importlib.import_module("cugraph_pyg.nn").GATv2Conv
        self.conv = conv_cls(in_dim, out_dim, heads=heads, concat=True, edge_dim=edge_dim)

    def forward(
        self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor
    ) -> torch.Tensor:
        n = x.size(0)
        edge_index, edge_attr = add_self_loops(
            edge_index, edge_attr, fill_value="mean", num_nodes=n
        )
        csc, edge_attr = self.conv.to_csc(edge_index, (n, n), edge_attr)
        return self.conv(x, csc, edge_attr=edge_attr)


def make_conv(
    backend: str, in_dim: int, out_dim: int, *, heads: int, edge_dim: int, dropout: float
) -> nn.Module:
    if backend == "pyg":
        return GATv2Conv(
            in_dim,
            out_dim,
            heads=heads,
            edge_dim=edge_dim,
            concat=True,
            dropout=dropout,
            add_self_loops=True,
            fill_value="mean",
        )
    if backend == "cugraph":
        return CuGraphGATv2(in_dim, out_dim, heads=heads, edge_dim=edge_dim)
    raise BackendError(f"no conv layers for backend {backend!r}; use pyg or cugraph")
