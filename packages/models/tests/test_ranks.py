"""How a data-parallel rank takes its share of an epoch (no process group needed: the
plan is computed by each rank alone), and that one process is today's path."""

from __future__ import annotations

import numpy as np
import pytest
from canids_models import BatchingConfig, Ranks, load_config
from canids_models.context import batch_indices


def test_one_process_is_a_passthrough() -> None:
    ranks = Ranks()
    cfg = BatchingConfig()
    assert not ranks.parallel
    assert ranks.is_main
    assert ranks.batching(cfg) is cfg
    assert ranks.sum(1.5, 2) == (1.5, 2.0)
    assert ranks.gather({"a": 1}) == [{"a": 1}]
    assert ranks.broadcast([3]) == [3]
    assert ranks.seed(7) == 7


def test_the_global_budget_is_split_across_ranks() -> None:
    cfg = BatchingConfig(budget=4000, batch_size=64)
    half = Ranks(1, 2).batching(cfg)
    assert (half.budget, half.batch_size) == (2000, 32)
    assert Ranks(0, 3).batching(cfg).budget == 1333
    assert Ranks(1, 2).seed(7) != 7


@pytest.mark.parametrize("mode", ["budget", "fixed"])
def test_ranks_take_disjoint_equal_shares_of_one_epoch(train_split, mode: str) -> None:
    cfg = BatchingConfig(mode=mode, budget=600, batch_size=16)
    nodes, _ = train_split.sizes()
    shares = [
        batch_indices(train_split, cfg, seed=3, epoch=2, shuffle=True, ranks=Ranks(r, 2))
        for r in (0, 1)
    ]
    assert len(shares[0]) == len(shares[1]) > 0
    flat = [np.concatenate(s) for s in shares]
    assert not set(flat[0].tolist()) & set(flat[1].tolist())
    seen = np.concatenate(flat)
    assert len(np.unique(seen)) == len(seen)
    assert len(seen) >= len(train_split) - 16  # only an equalisation remainder is left out
    for share in shares:
        for batch in share:
            if mode == "budget" and len(batch) > 1:
                assert nodes[batch].sum() <= 300
            if mode == "fixed":
                assert len(batch) <= 8


def test_workers_enter_the_digest_only_when_not_one() -> None:
    one = load_config("teacher")
    assert load_config("teacher", overrides=["train.workers=1"]).digest == one.digest
    two = load_config("teacher", overrides=["train.workers=2"])
    assert two.train.workers == 2
    assert two.digest != one.digest


@pytest.mark.parametrize("wait", [True, False])
def test_leaving_the_group_ends_it_and_leaving_none_is_nothing(tmp_path, wait: bool) -> None:
    import torch.distributed as dist
    from canids_models import leave_process_group

    leave_process_group(wait=wait)  # no group: nothing to leave, nothing raised
    assert not dist.is_initialized()
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        assert Ranks.current().world_size == 1
        leave_process_group(wait=wait)
        assert not dist.is_initialized()
        assert Ranks.current() == Ranks()
    finally:
        if dist.is_initialized():  # a failed assertion must not leave the group to others
            dist.destroy_process_group()
