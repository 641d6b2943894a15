"""find_max_budget: CPU-side behaviour, and the real CUDA probe where a GPU exists."""

from __future__ import annotations

import canids_batching as cb
import numpy as np
import pytest
import torch
from canids_batching.finder import _default_loss, _limit_fraction, _to_device
from torch import nn


class TinyGNN(nn.Module):
    """Message passing by index_add: enough to make memory grow with nodes and edges."""

    def __init__(self, f_in: int, hidden: int = 64) -> None:
        super().__init__()
        self.lin1 = nn.Linear(f_in, hidden)
        self.norm = nn.BatchNorm1d(hidden)
        self.lin2 = nn.Linear(hidden, hidden)

    def forward(self, batch) -> torch.Tensor:
        x, ei = (
            (batch["x"], batch["edge_index"])
            if isinstance(batch, dict)
            else (batch.x, batch.edge_index)
        )
        h = torch.relu(self.norm(self.lin1(x)))
        msg = torch.zeros_like(h).index_add_(0, ei[1], h[ei[0]])
        return self.lin2(h + msg)


@pytest.fixture
def profile() -> cb.Profile:
    rng = np.random.default_rng(0)
    nodes = rng.integers(20, 85, 2000)
    edges = np.clip((nodes * rng.uniform(1.2, 2.0, 2000)).astype(int), 26, 98)
    return cb.profile_sizes(nodes, edges, node_feature_dim=11, edge_feature_dim=4)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA error")
def test_without_cuda_is_a_clear_error(profile) -> None:
    with pytest.raises(cb.BatchingError, match="no CUDA device is available"):
        cb.find_max_budget(
            TinyGNN(11), lambda b: cb.make_can_batch(profile, b, pyg=False), low=100, high=1000
        )


def test_memory_limit_parsing() -> None:
    assert _limit_fraction(None, 1000) == (None, None)
    assert _limit_fraction(0.5, 1000) == (500, 0.5)
    assert _limit_fraction(250, 1000) == (250, 0.25)
    for bad in (0, 2000, 1.5, -0.1, True, "1GB"):
        with pytest.raises(cb.BatchingError, match="memory_limit"):
            _limit_fraction(bad, 1000)


def test_default_loss_and_device_moves_on_cpu(profile) -> None:
    model = TinyGNN(11)
    batch = cb.make_can_batch(profile, 300, pyg=False, seed=1)
    moved = _to_device({"a": batch, "b": [batch["x"]]}, torch.device("cpu"))
    assert moved["b"][0] is batch["x"]
    loss = _default_loss(model, batch)
    loss.backward()
    assert loss.dim() == 0
    assert model.lin1.weight.grad is not None
    frozen = nn.Linear(11, 2).requires_grad_(False)
    with pytest.raises(cb.BatchingError, match="pass loss_fn"):
        _default_loss(lambda b: frozen(b["x"]), batch)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_real_cuda_probe_finds_a_budget_under_a_memory_limit(profile) -> None:
    model = TinyGNN(11, hidden=256)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    limit = 1 * 2**30
    r = cb.find_max_budget(
        model,
        lambda b: cb.make_can_batch(profile, b, key="nodes", pyg=False, seed=b),
        key="nodes",
        low=1000,
        high=5_000_000,
        memory_limit=limit,
    )
    assert r.device_name
    assert r.total_memory
    assert r.memory_limit == limit
    assert r.capacity_bytes == limit
    assert r.converged
    assert not r.capped
    assert r.num_probes <= 8
    assert all(p.peak_bytes <= limit for p in r.probes if p.fits)
    assert r.upper_bound is not None
    assert r.budget < r.upper_bound
    # The model comes back as it was: same mode, buffers and weights, no gradients.
    assert not model.training
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k].cpu()) for k in before)
    assert all(p.grad is None for p in model.parameters())
    # And a batch of the safe budget really trains under the limit.
    torch.cuda.set_per_process_memory_fraction(limit / r.total_memory)
    try:
        batch = _to_device(cb.make_can_batch(profile, r.safe_budget, pyg=False), "cuda")
        model.train()
        _default_loss(model, batch).backward()
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0)


class FakeCuda:
    """Stands in for torch.cuda on a CPU machine: memory = a + b * nodes of the batch."""

    def __init__(self, total: int, a: int, b: int) -> None:
        self.total, self.a, self.b = total, a, b
        self.fraction = 1.0
        self.fractions: list[float] = []
        self.peak = 0
        self.cleanups = 0

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        cuda = torch.cuda
        props = type("Props", (), {"name": "Fake GPU", "total_memory": self.total})()
        monkeypatch.setattr(cuda, "is_available", lambda: True)
        monkeypatch.setattr(cuda, "current_device", lambda: 0)
        monkeypatch.setattr(cuda, "get_device_properties", lambda d: props)
        monkeypatch.setattr(cuda, "get_per_process_memory_fraction", lambda d: self.fraction)
        monkeypatch.setattr(cuda, "set_per_process_memory_fraction", self._set_fraction)
        monkeypatch.setattr(cuda, "mem_get_info", lambda d: (self.total - 10, self.total))
        monkeypatch.setattr(cuda, "memory_reserved", lambda d: 10)
        monkeypatch.setattr(cuda, "reset_peak_memory_stats", self._reset)
        monkeypatch.setattr(cuda, "empty_cache", self._cleanup)
        monkeypatch.setattr(cuda, "synchronize", lambda d: None)
        monkeypatch.setattr(cuda, "max_memory_reserved", lambda d: self.peak)
        monkeypatch.setattr("canids_batching.finder._to_device", lambda batch, dev: batch)

    def _set_fraction(self, fraction: float, device: object = None) -> None:
        self.fraction = fraction
        self.fractions.append(fraction)

    def _reset(self, device: object = None) -> None:
        self.peak = 0

    def _cleanup(self) -> None:
        self.cleanups += 1

    def loss(self, model: nn.Module, batch: dict) -> torch.Tensor:
        out = model(batch)
        self.peak = self.a + self.b * batch["x"].shape[0]
        if self.peak > self.fraction * self.total:
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return out.float().mean()


class StaysOnCpu(TinyGNN):
    def to(self, *args, **kwargs):  # the fake device is this CPU
        return self


def test_finder_orchestration_on_a_simulated_device(monkeypatch, profile) -> None:
    fake = FakeCuda(total=80 * 10**9, a=2 * 10**9, b=10**6)
    fake.install(monkeypatch)
    model = StaysOnCpu(11)
    model.eval()
    buffers = {k: v.clone() for k, v in model.named_buffers()}
    r = cb.find_max_budget(
        model,
        lambda b: cb.make_can_batch(profile, b, pyg=False, seed=b),
        low=1000,
        high=1_000_000,
        device="cuda",
        memory_limit=0.25,
        loss_fn=fake.loss,
    )
    limit = int(0.25 * fake.total)
    true_max = (limit - fake.a) // fake.b  # nodes; batches hold up to `budget` nodes
    assert r.memory_limit == limit
    assert r.capacity_bytes == limit
    assert r.device_name == "Fake GPU"
    assert r.total_memory == fake.total
    assert 0.95 * true_max <= r.budget <= true_max + 100  # a batch may fall short of budget
    assert r.num_probes <= 6
    assert any(not p.fits for p in r.probes)  # OOM became "does not fit"
    assert fake.fractions == [0.25, 1.0]  # limit set, previous fraction restored
    assert fake.cleanups >= r.num_probes
    assert not model.training
    assert all(torch.equal(buffers[k], v) for k, v in model.named_buffers())
    assert all(p.grad is None for p in model.parameters())


def test_finder_propagates_non_oom_errors_on_a_simulated_device(monkeypatch, profile) -> None:
    fake = FakeCuda(total=10**9, a=0, b=1)
    fake.install(monkeypatch)

    def broken(model, batch):
        raise KeyError("edge_attr")

    with pytest.raises(KeyError, match="edge_attr"):
        cb.find_max_budget(
            StaysOnCpu(11),
            lambda b: cb.make_can_batch(profile, b, pyg=False),
            low=100,
            high=1000,
            memory_limit=0.5,
            loss_fn=broken,
        )
    assert fake.fractions == [0.5, 1.0]  # restored on the way out


def test_finder_first_probe_oom_is_a_clear_error_on_a_simulated_device(
    monkeypatch, profile
) -> None:
    fake = FakeCuda(total=10**9, a=10**9, b=1)
    fake.install(monkeypatch)
    with pytest.raises(cb.BatchingError, match="first probe, at low=100"):
        cb.find_max_budget(
            StaysOnCpu(11),
            lambda b: cb.make_can_batch(profile, b, pyg=False),
            low=100,
            high=1000,
            loss_fn=fake.loss,
        )
