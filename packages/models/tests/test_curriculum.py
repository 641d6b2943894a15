"""Curriculum: the schedule advances, sampling follows it deterministically, hard samples are
ranked right, and every epoch is an index view of the one training dataset."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from canids_data import CachedGraphDataset
from canids_models import CurriculumConfig
from canids_models.curriculum import CurriculumSampler, difficulty_percentiles

CFG = CurriculumConfig(
    start_ratio=1.0, end_ratio=3.0, start_percentile=50.0, end_percentile=100.0, ramp_epochs=4
)


@pytest.fixture
def sampler() -> CurriculumSampler:
    """400 normal, 50 attack graphs (enough normals for every ratio of the schedule)."""
    rng = np.random.default_rng(0)
    labels = np.array([0] * 400 + [1] * 50)[rng.permutation(450)]
    scores = rng.normal(size=450)
    return CurriculumSampler(CFG, labels, difficulty_percentiles(scores, labels), seed=3)


def test_schedule_rises_until_ramp_epochs_then_stays(sampler):
    points = [sampler.schedule(e) for e in range(8)]
    ratios, pcts = zip(*points, strict=True)
    assert ratios[:5] == pytest.approx([1.0, 1.5, 2.0, 2.5, 3.0])
    assert pcts[:5] == pytest.approx([50.0, 62.5, 75.0, 87.5, 100.0])
    assert all(a < b for a, b in itertools.pairwise(ratios[:5]))
    assert all(a < b for a, b in itertools.pairwise(pcts[:5]))
    assert set(ratios[4:]) == {3.0}
    assert set(pcts[4:]) == {100.0}


def test_no_ramp_means_the_end_values_at_once():
    cfg = CurriculumConfig(start_ratio=1, end_ratio=2, ramp_epochs=0)
    s = CurriculumSampler(cfg, np.array([0, 1]), np.array([50.0, 50.0]), 0)
    assert s.schedule(0) == (2.0, 100.0)


def test_sampled_ratio_and_difficulty_follow_the_schedule(sampler):
    for epoch in range(6):
        idx, info = sampler.sample(epoch)
        ratio, pct = sampler.schedule(epoch)
        labels, diff = sampler.labels[idx], sampler.difficulty[idx]
        n_att, n_norm = int((labels == 1).sum()), int((labels == 0).sum())
        # Every attack within the difficulty ceiling, and ratio × as many normal graphs.
        eligible_att = int(((sampler.labels == 1) & (sampler.difficulty <= pct + 1e-9)).sum())
        assert n_att == eligible_att > 0
        assert n_norm == round(ratio * n_att)
        assert diff.max() <= pct + 1e-9
        assert info == {
            "curriculum_ratio": round(ratio, 4),
            "curriculum_percentile": round(pct, 2),
            "sampled_attack": float(n_att),
            "sampled_normal": float(n_norm),
        }
        # Sorted, unique positions: a view in dataset order.
        assert np.array_equal(idx, np.unique(idx))
    sizes = [len(sampler.sample(e)[0]) for e in range(6)]
    assert sizes == sorted(sizes)
    assert sizes[0] < sizes[-1]


def test_normals_are_capped_when_there_are_too_few():
    labels = np.array([0] * 5 + [1] * 10)
    s = CurriculumSampler(CFG, labels, np.full(15, 10.0), 0)
    idx, info = s.sample(0)
    assert info["sampled_normal"] == 5.0
    assert info["sampled_attack"] == 10.0
    assert len(idx) == 15


def test_sampling_is_deterministic_for_seed_and_epoch(sampler):
    a, _ = sampler.sample(2)
    b, _ = sampler.sample(2)
    assert np.array_equal(a, b)
    assert not np.array_equal(sampler.sample(1)[0], sampler.sample(0)[0])
    other = CurriculumSampler(CFG, sampler.labels, sampler.difficulty, seed=4)
    assert not np.array_equal(other.sample(2)[0], a)
    # A new epoch draws new normal graphs at the same schedule point (after the ramp).
    assert not np.array_equal(sampler.sample(6)[0], sampler.sample(7)[0])


def test_difficulty_orders_hard_samples():
    scores = np.array([0.1, 5.0, 0.3, 2.0, 9.0, 0.2, 7.0])
    labels = np.array([0, 0, 0, 1, 1, 1, 1])
    pct = difficulty_percentiles(scores, labels)
    # Normal graphs: a high reconstruction error looks like an attack, so it is hard.
    assert pct[:3].tolist() == pytest.approx([100 / 3, 100.0, 200 / 3])
    # Attacks: a low error looks normal, so it is hard.
    assert pct[3:].tolist() == pytest.approx([75.0, 25.0, 100.0, 50.0])
    assert np.argmax(pct[labels == 0]) == np.argmax(scores[labels == 0])
    assert np.argmax(pct[labels == 1]) == np.argmin(scores[labels == 1])
    # Early epochs (low ceiling) therefore see easy graphs of both classes.
    s = CurriculumSampler(CFG, labels, pct, 0)
    idx, _ = s.sample(0)  # ceiling 50
    assert set(idx[labels[idx] == 1].tolist()) == {4, 6}  # the two highest-error attacks
    assert 1 not in idx  # the hardest normal graph waits


def test_difficulty_with_one_class_only():
    pct = difficulty_percentiles(np.array([3.0, 1.0, 2.0]), np.zeros(3, int))
    assert pct.tolist() == pytest.approx([100.0, 100 / 3, 200 / 3])


def test_epoch_views_share_the_training_store(train_split):
    labels = train_split.labels()
    scores = np.random.default_rng(1).random(len(labels))
    s = CurriculumSampler(CurriculumConfig(), labels, difficulty_percentiles(scores, labels), 0)
    buffers = {
        name: getattr(train_split._store, name).buffer
        for name in ("x", "node_id", "edge_index", "edge_attr")
    }
    views = []
    for epoch in range(3):
        idx, _ = s.sample(epoch)
        view = train_split.subset(idx)
        views.append(view)
        assert view._store is train_split._store
        assert np.array_equal(view.indices, idx)
        assert np.array_equal(view.labels(), labels[idx])
        view.collate(np.arange(min(len(view), 16)))
    for name, buf in buffers.items():
        # Loading through a view fills the one shared buffer: nothing is copied.
        assert getattr(views[0]._store, name).buffer is buf
        assert np.shares_memory(getattr(views[2]._store, name).buffer, buf)
    # A view of a view still points at the original graphs and store.
    inner = views[0].subset([0, 1])
    assert inner._store is train_split._store
    assert inner.indices.tolist() == views[0].indices[:2].tolist()


def test_a_curriculum_stage_trains_on_views(
    pipelines, copy_artifacts, run_stage_on_demo, tiny_overrides, monkeypatch
):
    """A real gat_curriculum run: each epoch's dataset is a view on the training store."""
    store = copy_artifacts(pipelines.store, [("teacher", "vgae")])
    views: list[tuple[CachedGraphDataset, CachedGraphDataset]] = []
    real_subset = CachedGraphDataset.subset

    def spy(self: CachedGraphDataset, indices):
        view = real_subset(self, indices)
        views.append((self, view))
        return view

    monkeypatch.setattr(CachedGraphDataset, "subset", spy)
    m = run_stage_on_demo(store, "gat_curriculum", "teacher", tiny_overrides("teacher")).metrics
    epoch_views = [(base, v) for base, v in views if base.split == "train" and base._index is None]
    assert len(epoch_views) == m["epochs_run"] == 2
    for (base, view), record in zip(epoch_views, m["history"], strict=True):
        assert view._store is base._store
        assert len(view) == record["train_graphs"]
        assert len(view) == record["sampled_attack"] + record["sampled_normal"]
        assert len(view) < len(base)  # early epochs see a subset


def test_curriculum_history_of_the_teacher_run(pipelines):
    m = pipelines.metrics("teacher", "gat_curriculum")
    history = m["history"]
    assert m["stage"] == "gat_curriculum"
    assert len(history) == 3
    ratios = [h["curriculum_ratio"] for h in history]
    pcts = [h["curriculum_percentile"] for h in history]
    cfg = CurriculumConfig()
    # ramp_epochs=2 in the tiny config: start, midway, end.
    assert ratios == pytest.approx(
        [cfg.start_ratio, (cfg.start_ratio + cfg.end_ratio) / 2, cfg.end_ratio]
    )
    assert pcts == pytest.approx(
        [
            cfg.start_percentile,
            (cfg.start_percentile + cfg.end_percentile) / 2,
            cfg.end_percentile,
        ]
    )
    assert all(h["sampled_attack"] > 0 and h["sampled_normal"] > 0 for h in history)
    graphs = [h["train_graphs"] for h in history]
    assert graphs[0] < graphs[-1]
