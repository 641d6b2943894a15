"""The README's code runs as written: each ``python`` block executes with the names it
leaves to the reader (``train_ds``, ``epochs``, ``model``) defined here, and its printed
claims are checked."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import canids_batching as cb
import numpy as np
import pytest
import torch
from torch import nn

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)


def test_the_readme_has_the_two_examples():
    blocks = _blocks()
    assert len(blocks) == 2
    assert "BudgetBatchSampler(train_ds" in blocks[0]
    assert "find_max_budget(" in blocks[1]


def _graphs(extra, n: int = 120) -> list:
    """CAN-like PyG graphs: 3 node and 2 edge features, 20-60 nodes."""
    data = extra("torch_geometric.data")
    rng = np.random.default_rng(0)
    graphs = []
    for _ in range(n):
        nodes = int(rng.integers(20, 61))
        edges = int(nodes * 1.3)
        graphs.append(
            data.Data(
                x=torch.rand(nodes, 3),
                edge_index=torch.from_numpy(rng.integers(0, nodes, (2, edges))),
                edge_attr=torch.rand(edges, 2),
                y=torch.tensor([0]),
            )
        )
    return graphs


def _run(block: str, names: dict) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(block, str(README), "exec"), names)
    return out.getvalue()


def test_quick_start_runs(extra):
    names: dict = {"train_ds": _graphs(extra), "epochs": 2}
    printed = _run(_blocks()[0], names)
    profile, sampler = names["profile"], names["sampler"]
    assert isinstance(profile, cb.Profile)
    assert profile.nodes.count == 120
    assert str(profile.recommendation) in printed
    stats = sampler.stats()
    assert str(stats) in printed
    # Every graph is in exactly one batch of the last epoch, each under the budget.
    batches = list(sampler)
    assert sorted(i for b in batches for i in b) == list(range(120))
    sizes = [sum(names["train_ds"][i].num_nodes for i in b) for b in batches]
    assert max(sizes) <= 4096


class _TinyModel(nn.Module):
    def __init__(self, features: int) -> None:
        super().__init__()
        self.lin = nn.Linear(features, 64)

    def forward(self, batch) -> torch.Tensor:
        return self.lin(batch.x).relu().sum()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_budget_finder_example_runs(extra, tmp_path, monkeypatch):
    names: dict = {"train_ds": _graphs(extra), "epochs": 1}
    _run(_blocks()[0], names)
    names["model"] = _TinyModel(3)
    monkeypatch.chdir(tmp_path)  # the example saves budget.json in the working folder
    _run(_blocks()[1], names)
    result = names["result"]
    assert result.safe_budget <= result.budget
    assert cb.BudgetResult.from_json((tmp_path / "budget.json").read_text()) == result
    assert tuple(names["sampler"].budget) == (result.safe_budget,)
