"""``gat.ignore_features``: node feature columns of the cache the GAT classifier does not
see (the VGAE still does), kept in its checkpoint, refused where the cache lacks them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from canids_data import BuildConfig, CachedGraphDataset, CacheManager
from canids_data.feature_sets import LOAD_NODE_FEATURES
from canids_models import ArtifactStore, StageContext, load_config
from canids_models.checkpoints import load_model
from canids_models.errors import ConfigError
from canids_models.nn.gat import seen_columns
from canids_models.stages import run_stage
from canids_testkit import tiny_overrides as tiny

DS = "demo"
IGNORE = 'gat.ignore_features=["bus_load"]'
LOAD = LOAD_NODE_FEATURES.index("bus_load")


def test_seen_columns_leave_out_the_named_ones():
    assert seen_columns(["a", "b", "c"], ("b",)) == [0, 2]
    assert seen_columns(["a", "b"], ()) == [0, 1]


def test_a_name_the_cache_lacks_is_refused_with_the_fix():
    with pytest.raises(ConfigError) as err:
        seen_columns(["count_frac", "id_age"], ("bus_load", "zz"))
    text = str(err.value)
    assert "gat.ignore_features names bus_load, zz" in text
    assert "(count_frac, id_age)" in text
    assert "canids-cache build --features invariant_load" in text
    with pytest.raises(ConfigError, match="names every node feature"):
        seen_columns(["a"], ("a",))


def test_the_digest_counts_it_only_when_it_names_a_feature():
    base = load_config("teacher")
    assert load_config("teacher", None, ["gat.ignore_features=[]"]).digest == base.digest
    other = load_config("teacher", None, [IGNORE])
    assert other.gat.ignore_features == ("bus_load",)
    assert other.digest != base.digest


@pytest.fixture(scope="module")
def load_cache(demo, tmp_path_factory) -> Path:
    """The demo captures' cache with the ``invariant_load`` feature set."""
    cache = tmp_path_factory.mktemp("load_cache") / "cache"
    CacheManager(cache).build(DS, demo.root, BuildConfig(features="invariant_load"), workers=1)
    return cache


def test_a_trained_gat_does_not_see_the_ignored_column(load_cache, tmp_path):
    store = ArtifactStore(tmp_path / "runs", "ignore")
    config = load_config("teacher", None, tiny("teacher", "train.epochs=1", IGNORE))
    ctx = StageContext(DS, "teacher", config, store, load_cache, log=lambda _: None)
    run_stage("gat", ctx)
    ckpt = store.load(DS, "teacher", "gat")
    seen = [i for i in range(len(LOAD_NODE_FEATURES)) if i != LOAD]
    assert ckpt["inputs"]["node_columns"] == seen
    model = ctx.load_model("gat")
    split = CachedGraphDataset(load_cache, DS, "val")
    batch = split.collate(np.arange(min(12, len(split))))
    with torch.no_grad():
        before = model(batch)
        batch.x[:, LOAD] += 3.0  # a flood on every window: the GAT cannot tell
        assert torch.equal(model(batch), before)
        batch.x[:, 0] += 3.0  # a column it sees moves its logits
        assert not torch.equal(model(batch), before)


def test_an_older_checkpoint_without_columns_sees_every_column(pipelines, demo, batch):
    # The session pipeline's GAT was trained without the option, as every GAT before it.
    assert "node_columns" not in pipelines.store.load(DS, "teacher", "gat")["inputs"]
    plain = load_model(
        pipelines.store,
        DS,
        "teacher",
        "gat",
        vocab_digest=demo.split("train").manifest.data["vocabulary"]["digest"],
        device=torch.device("cpu"),
    )
    assert plain.node_columns is None
    assert "node_columns" not in plain.state_dict()
    with torch.no_grad():
        logits = plain(batch)
        batch.x[:, -1] += 3.0
        moved = plain(batch)
        batch.x[:, -1] -= 3.0
    assert not torch.equal(logits, moved)


@pytest.mark.parametrize("stage", ["gat", "gat_curriculum"])
def test_ignoring_a_column_the_cache_lacks_fails_before_anything_is_written(demo, tmp_path, stage):
    # gat_curriculum has no VGAE here: the column check comes before the VGAE is read.
    store = ArtifactStore(tmp_path / "runs", "lacks")
    config = load_config("teacher", None, tiny("teacher", "train.epochs=1", IGNORE))
    ctx = StageContext(DS, "teacher", config, store, demo.cache_dir, log=lambda _: None)
    with pytest.raises(ConfigError, match=r"gat\.ignore_features names bus_load"):
        run_stage(stage, ctx)
    assert not store.dir(DS, "teacher", "gat").exists()
