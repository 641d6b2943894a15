"""A family run reuses its detectors only where they were made from what a training now
would use (:mod:`canids_models.detector_reuse`), and then gives the figures a training
would: a fusion stage run again with other fusion settings trains no detector again."""

from __future__ import annotations

import json
import shutil

import canids_models
import pytest
from canids_data import BuildConfig, CachedGraphDataset, CacheManager
from canids_models import ArtifactStore, StageContext, load_config
from canids_models.detector_reuse import reusable, training_record
from canids_models.lineage import cache_identity
from canids_models.stages import run_stage
from canids_testkit import tiny_overrides as tiny

DS = "demo"
FAMILIES = ("dos", "fuzzing", "spoofing")
# A fusion-only change: which fusion a tie goes to. No detector reads it.
OTHER_FUSION = "fusion.tie_order=simplest"


def _ctx(demo, store: ArtifactStore, size: str, *extra: str, log=None, **kw) -> StageContext:
    config = load_config(size, None, tiny(size, *extra))
    lines = log if log is not None else []
    return StageContext(DS, size, config, store, demo.cache_dir, log=lines.append, **kw)


def _store_with_teacher(pipelines, root, run: str) -> ArtifactStore:
    store = ArtifactStore(root / "runs", run)
    for key in ("vgae", "gat"):
        shutil.copytree(pipelines.store.dir(DS, "teacher", key), store.dir(DS, "teacher", key))
    return store


def _family(store: ArtifactStore, name: str) -> ArtifactStore:
    return ArtifactStore(store.runs_dir / store.run / DS / "families", name)


def _fusion(demo, store: ArtifactStore, *extra: str) -> tuple[dict, list[str]]:
    log: list[str] = []
    ctx = _ctx(demo, store, "teacher", "fusion.select=families", *extra, log=log)
    return run_stage("fusion", ctx).metrics, log


def _weights(store: ArtifactStore) -> dict[tuple[str, str], bytes]:
    return {
        (fam, key): _family(store, fam).path(DS, "teacher", key, "checkpoint.pt").read_bytes()
        for fam in FAMILIES
        for key in ("vgae", "gat")
    }


@pytest.fixture(scope="module")
def reruns(pipelines, demo, tmp_path_factory):
    """The families fusion three times: trained (first), again in the same store with
    another fusion setting (reused), and with that setting in a fresh store (trained)."""
    root = tmp_path_factory.mktemp("reuse")
    store = _store_with_teacher(pipelines, root / "a", "reuse")
    first = _fusion(demo, store)
    weights = _weights(store)
    again = _fusion(demo, store, OTHER_FUSION)
    fresh_store = _store_with_teacher(pipelines, root / "b", "reuse")
    fresh = _fusion(demo, fresh_store, OTHER_FUSION)
    return first, weights, again, fresh, store, fresh_store


def test_a_fusion_rerun_with_other_fusion_settings_reuses_every_family_s_detectors(reruns):
    first, weights, again, fresh, store, _ = reruns
    for metrics, reused in ((first[0], False), (again[0], True), (fresh[0], False)):
        figures = metrics["selection"]["families"]
        assert [figures[f]["reused"] for f in FAMILIES] == [{"vgae": reused, "gat": reused}] * len(
            FAMILIES
        )
    said = "\n".join(again[1])
    for fam in FAMILIES:
        where = _family(store, fam).dir(DS, "teacher", "vgae")
        assert f"[without {fam}] vgae (teacher): reusing the one finished" in said
        assert f"(remove {where} to train it again)" in said
    assert "epoch 0" not in said  # no detector trained
    assert _weights(store) == weights  # the reused weights were not rewritten


def test_reused_detectors_give_the_figures_a_training_gives(reruns):
    _, _, again, fresh, store, fresh_store = reruns
    reused, trained = again[0], fresh[0]

    def without_flag(metrics: dict) -> dict:
        return {
            fam: {k: v for k, v in fig.items() if k != "reused"}
            for fam, fig in metrics["selection"]["families"].items()
        }

    assert without_flag(reused) == without_flag(trained)
    for key in ("method", "thresholds", "calibration", "dqn_history"):
        assert reused[key] == trained[key], key
    assert _weights(store) == _weights(fresh_store)  # training is deterministic on the CPU


def test_the_done_record_says_what_the_weights_were_made_from(pipelines, demo):
    record = pipelines.store.done_record(DS, "student", "gat")["training"]
    teacher_gat = pipelines.store.done_record(DS, "teacher", "gat")["finished"]
    assert record["stage"] == "gat"
    assert record["read"] == {"teacher/gat": teacher_gat}
    assert record["cache"] == cache_identity(demo.split("train").manifest.data)
    assert record["train_windows"] == len(demo.split("train"))
    curriculum = pipelines.store.done_record(DS, "teacher", "gat")["training"]
    vgae_done = pipelines.store.done_record(DS, "teacher", "vgae")["finished"]
    assert (curriculum["stage"], curriculum["read"]) == (
        "gat_curriculum",
        {"teacher/vgae": vgae_done},
    )
    # Only the sections no detector reads leave the digest unchanged.
    base = load_config("teacher", None, tiny("teacher"))
    fusion_only = load_config("teacher", None, tiny("teacher", OTHER_FUSION, "dqn.hidden=7"))
    assert fusion_only.digest != base.digest
    assert fusion_only.detector_digest == base.detector_digest
    for detector_change in ("train.seed=1", "vgae.latent=5", "eval.one_class_fit=true"):
        changed = load_config("teacher", None, tiny("teacher", detector_change))
        assert changed.detector_digest != base.detector_digest, detector_change


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ((OTHER_FUSION,), None),  # reusable: the stamp comes back
        (("train.seed=1",), "another seed"),
        (("gat.heads=1",), "another detector config"),
    ],
)
def test_a_detector_is_reused_only_where_nothing_it_was_made_from_changed(
    pipelines, demo, extra, why
):
    ctx = _ctx(demo, pipelines.store, "teacher", "train.epochs=3", *extra)
    stamp = reusable(ctx, "gat", "gat_curriculum")
    if why is None:
        assert stamp == pipelines.store.done_record(DS, "teacher", "gat")["finished"]
    else:
        assert stamp is None, why


def test_other_captures_a_newer_upstream_or_an_old_record_train_again(pipelines, demo, tmp_path):
    store = _store_with_teacher(pipelines, tmp_path, "copy")
    base = ("train.epochs=3",)
    ctx = _ctx(demo, store, "teacher", *base)
    assert reusable(ctx, "gat", "gat_curriculum") is not None
    # Fewer training captures (a family held out): another record.
    train = demo.split("train")
    held = train.sources() != train.sources()[-1]
    subset = {"train": train.subset(held), "val": demo.split("val")}
    assert (
        reusable(_ctx(demo, store, "teacher", *base, _splits=subset), "gat", "gat_curriculum")
        is None
    )
    # Its VGAE finished again (a new stamp): the curriculum GAT read another VGAE.
    done = store.path(DS, "teacher", "vgae", "DONE.json")
    record = json.loads(done.read_text())
    store.finish(
        DS,
        "teacher",
        "vgae",
        {k: record[k] for k in ("stage", "config_digest", "summary", "training")},
    )
    assert reusable(ctx, "gat", "gat_curriculum") is None
    vgae_ctx = _ctx(demo, store, "teacher")  # the VGAE trained with the tiny epochs
    assert reusable(vgae_ctx, "vgae", "vgae") is not None
    # Trained where torch ran other kernels (another CPU's, or another thread count): the
    # weights would differ in their last bits from a training here.
    record = json.loads(done.read_text())
    for key, other in (("threads", 999), ("cpu_capability", "another CPU")):
        changed = {**record["training"], "kernels": {**record["training"]["kernels"], key: other}}
        done.write_text(json.dumps({**record, "training": changed}))
        assert reusable(vgae_ctx, "vgae", "vgae") is None, key
    done.write_text(json.dumps(record))
    assert reusable(vgae_ctx, "vgae", "vgae") is not None
    # A record from before canids-models 0.25.0 says nothing of its inputs.
    record = json.loads(done.read_text())
    del record["training"]
    done.write_text(json.dumps(record))
    assert reusable(vgae_ctx, "vgae", "vgae") is None
    assert training_record(vgae_ctx, "vgae", "vgae")["canids_models"] == canids_models.__version__


def _student_fusion(demo, store: ArtifactStore, *extra: str) -> tuple[dict, list[str]]:
    log: list[str] = []
    ctx = _ctx(demo, store, "student", "fusion.select=families", *extra, log=log)
    return run_stage("fusion", ctx).metrics, log


def _reused(metrics: dict) -> list[dict[str, bool]]:
    return [metrics["selection"]["families"][f]["reused"] for f in FAMILIES]


def test_a_student_s_family_runs_are_reused_only_beside_the_teacher_runs_they_distilled_from(
    reruns, pipelines, demo
):
    """The student's family detectors read its teacher's family detectors: reused while
    those are the ones they distilled from, trained again beside teacher family runs
    finished later (another store's, with other finished stamps)."""
    *_, store, fresh_store = reruns
    for target in (store, fresh_store):
        for key in ("vgae", "gat"):
            shutil.copytree(pipelines.store.dir(DS, "student", key), target.dir(DS, "student", key))
    first, _ = _student_fusion(demo, store)
    assert _reused(first) == [{"vgae": False, "gat": False}] * len(FAMILIES)
    again, log = _student_fusion(demo, store, OTHER_FUSION)
    assert _reused(again) == [{"vgae": True, "gat": True}] * len(FAMILIES)
    assert "[without dos] gat (student): reusing the one finished" in "\n".join(log)
    # The same student family runs beside the other store's teacher family runs.
    for fam in FAMILIES:
        source, target = _family(store, fam), _family(fresh_store, fam)
        for key in ("vgae", "gat"):
            shutil.copytree(source.dir(DS, "student", key), target.dir(DS, "student", key))
    moved, _ = _student_fusion(demo, fresh_store, OTHER_FUSION)
    assert _reused(moved) == [{"vgae": False, "gat": False}] * len(FAMILIES)
    assert moved["selection"]["families"] == {
        fam: {**fig, "reused": {"vgae": False, "gat": False}}
        for fam, fig in again["selection"]["families"].items()
    }


def test_a_cache_built_again_elsewhere_keeps_its_detectors_reusable(pipelines, demo, tmp_path):
    # The same captures under the same build config, in another folder: another build
    # (its manifest's own digest differs), the same windows (its identity does not).
    other = tmp_path / "cache"
    CacheManager(other).build(DS, demo.root, BuildConfig(), workers=1)
    built, first = (
        CachedGraphDataset(other, DS, "train").manifest.data,
        demo.split("train").manifest.data,
    )
    assert built["manifest_digest"] != first["manifest_digest"]
    assert cache_identity(built) == cache_identity(first)
    store = pipelines.store
    for key, stage in (("vgae", "vgae"), ("gat", "gat_curriculum")):
        config = load_config("teacher", store.path(DS, "teacher", key, "config.json"))
        ctx = StageContext(DS, "teacher", config, store, other, log=lambda _: None)
        stamp = store.done_record(DS, "teacher", key)["finished"]
        assert reusable(ctx, key, stage) == stamp, key
