"""End to end on the tiny demo: the teacher pipeline (vgae, gat_curriculum, fusion,
evaluate), then the student distilled from it, run stage by stage as canids-train runs
them; fusion never loses to its inputs on validation; evaluation is per held-out split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from canids_data import CacheError
from canids_models import ArtifactStore, Threshold, load_config
from canids_models.fusion_agent import FusionPolicy
from canids_models.nn import QNetwork
from canids_models.stages import fusion as fusion_stage

DS = "demo"
METRIC_COLUMNS = ("f1", "precision", "recall", "accuracy", "auroc", "mcc", "fpr")


def _stage_artifact(stage: str) -> str:
    return {"gat_curriculum": "gat", "evaluate": "results"}.get(stage, stage)


def test_every_stage_published_a_done_artifact(pipelines):
    store = pipelines.store
    for (size, stage), outcome in pipelines.outcomes.items():
        key = _stage_artifact(stage)
        assert outcome.artifact == key
        assert store.is_done(DS, size, key), (size, stage)
        assert all(Path(p).is_file() for p in outcome.paths.values())
        assert Path(outcome.paths["done"]) == store.path(DS, size, key, "DONE.json")
        done = store.done_record(DS, size, key)
        assert done["stage"] == stage
        # No resume state is left behind by a finished stage.
        assert not store.path(DS, size, key, "train_state.pt").exists()
        config = store.read_json(DS, size, key, "config.json")
        assert config["stage"] == stage
        assert config["config"]["size"] == size
        # The recorded config is a config file that reloads to the same digest.
        recorded = load_config(size, outcome.paths["config"])
        assert recorded.digest == done["config_digest"]


def test_training_logs_every_epoch(pipelines):
    m = pipelines.metrics("teacher", "vgae")
    assert m["epochs_run"] == len(m["history"]) == 2
    log = pipelines.logs[("teacher", "vgae")]
    for epoch in range(2):
        assert sum(line.startswith(f"[vgae/teacher] epoch {epoch}:") for line in log) == 1
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in m["history"])


def test_checkpoints_carry_their_thresholds_and_sizes(pipelines):
    store = pipelines.store
    for size in ("teacher", "student"):
        for key in ("gat", "vgae"):
            ckpt = store.load(DS, size, key)
            assert ckpt["kind"] == key
            assert Threshold.from_json(ckpt["threshold"]).method
            assert (
                ckpt["parameters"]
                == pipelines.metrics(
                    size, "gat_curriculum" if (size, key) == ("teacher", "gat") else key
                )["parameters"]
            )
    assert store.load(DS, "student", "gat")["hparams"]["hidden"] == 4
    assert store.load(DS, "teacher", "gat")["hparams"]["hidden"] == 8
    t = pipelines.metrics("teacher", "evaluate")["parameters"]
    s = pipelines.metrics("student", "evaluate")["parameters"]
    assert all(s[k] < t[k] for k in ("gat", "vgae", "fusion"))


@pytest.mark.parametrize("size", ["teacher", "student"])
def test_fusion_is_never_worse_than_its_better_input_on_validation(pipelines, size):
    m = pipelines.metrics(size, "fusion")
    inputs = {k: m["val_f1"][k] for k in ("gat", "vgae")}
    best = max(v for v in inputs.values() if v is not None)
    assert m["threshold"]["val_f1"] >= best - 1e-12
    dqn = m["val_f1"]["fusion_dqn"]
    if dqn is not None and dqn >= best:
        assert m["fallback"] is None
    else:
        assert m["fallback"] is not None
        assert m["fallback"]["alpha"] in (0.0, 1.0)
    assert sum(m["alpha_counts"]) == m["val_graphs"]
    assert 0.0 <= m["alpha_mean"] <= 1.0


def _ratio(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


@pytest.mark.parametrize("size", ["teacher", "student"])
def test_results_name_every_split_and_only_val_is_not_held_out(pipelines, demo, size):
    store = pipelines.store
    m = pipelines.metrics(size, "evaluate")
    test_splits = sorted(s for s in demo.split("train").manifest.splits if s.startswith("test_"))
    assert len(test_splits) == 4
    assert m["held_out_splits"] == test_splits
    rows = m["rows"]
    assert [(r["split"], r["model"]) for r in rows] == [
        (s, model) for s in ["val", *test_splits] for model in ("vgae", "gat", "fusion")
    ]
    for r in rows:
        assert r["held_out"] is (r["split"] != "val")
        assert (r["dataset"], r["size"]) == (DS, size)
        ds = demo.split(r["split"])
        assert r["n"] == len(ds)
        assert r["positives"] == int(ds.labels().sum())
        assert r["threshold"] == m["thresholds"][r["model"]]["value"]
        # Every metric is the value its confusion matrix gives (None only where its
        # denominator is empty), so an all-undefined row cannot pass.
        c = r["confusion"]
        tp, fp, tn, fn = c["tp"], c["fp"], c["tn"], c["fn"]
        assert (tp + fp + tn + fn, tp + fn) == (r["n"], r["positives"])
        expected = {
            "f1": _ratio(2 * tp, 2 * tp + fp + fn),
            "precision": _ratio(tp, tp + fp),
            "recall": _ratio(tp, tp + fn),
            "accuracy": _ratio(tp + tn, r["n"]),
            "fpr": _ratio(fp, fp + tn),
            "mcc": _ratio(
                tp * tn - fp * fn, ((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)) ** 0.5
            ),
        }
        for k, value in expected.items():
            assert r[k] == (None if value is None else pytest.approx(value)), (r["split"], k)
        # The demo's splits all hold both classes: these metrics must exist there.
        assert 0 < r["positives"] < r["n"], r["split"]
        for k in ("f1", "recall", "accuracy", "fpr", "auroc"):
            assert r[k] is not None, (r["split"], r["model"], k)
        assert 0.0 <= r["auroc"] <= 1.0
    # Thresholds were fitted on validation and frozen: they are the checkpoints' own.
    assert m["thresholds"]["gat"] == store.load(DS, size, "gat")["threshold"]
    assert m["thresholds"]["vgae"] == store.load(DS, size, "vgae")["threshold"]
    assert m["thresholds"]["fusion"] == store.load(DS, size, "fusion")["threshold"]

    table = store.path(DS, size, "results", "results.md").read_text()
    lines = [ln for ln in table.splitlines() if ln.startswith("| ")][1:]  # minus the header
    assert len(lines) == len(rows)
    named = {ln.split("|")[1].strip() for ln in lines}
    assert named == {*test_splits, "val (validation, not held out)"}
    assert f"Held-out results: {DS} ({size})" in table
    for ln, r in zip(lines, rows, strict=True):
        cells = [c.strip() for c in ln.strip("|").split("|")]
        assert cells[1] == r["model"]
        assert cells[3] == str(r["n"])
        shown = dict(zip(METRIC_COLUMNS, cells[5:], strict=True))
        for k, cell in shown.items():  # undefined is written as such, never as 0
            assert cell == ("undefined" if r[k] is None else f"{r[k]:.3f}"), (k, cell)


def test_student_distils_from_the_teacher(pipelines):
    store = pipelines.store
    for stage in ("vgae", "gat"):
        m = pipelines.metrics("student", stage)
        assert m["distilled_from"] == "teacher"
        assert store.read_json(DS, "student", stage, "config.json")["distill_from"] == "teacher"
    for stage in ("vgae", "gat_curriculum"):
        assert pipelines.metrics("teacher", stage)["distilled_from"] is None
    assert pipelines.metrics("student", "gat")["stage"] == "gat"


def test_distilling_fusion_is_refused(pipelines, copy_artifacts, make_ctx, tiny_overrides):
    from canids_models import ConfigError
    from canids_models.stages import run_stage

    store = copy_artifacts(pipelines.store, [("student", "vgae"), ("student", "gat")])
    ctx = make_ctx(store, "student", tiny_overrides("student"), distill_from="teacher")
    with pytest.raises(ConfigError, match="stage fusion does not distil: drop --distill-from"):
        run_stage("fusion", ctx)
    assert not store.dir(DS, "student", "fusion").exists()


def test_fusion_falls_back_when_the_dqn_is_worse(
    pipelines, copy_artifacts, run_stage_on_demo, make_ctx, tiny_overrides, monkeypatch
):
    """A DQN that picks the worse input for every graph: fusion records the fallback and
    uses the better input alone, so its validation F1 is that input's."""
    store = copy_artifacts(pipelines.store, [("teacher", "vgae"), ("teacher", "gat")])
    real_outputs = fusion_stage.collect_outputs

    def outputs(*args, **kwargs):
        out = real_outputs(*args, **kwargs)
        y = out["y"]
        rng = np.random.default_rng(0)
        out["gat_logit"] = np.where(y == 1, 4.0, -4.0).astype(np.float32)  # a perfect GAT
        out["vgae_score"] = rng.random(len(y)).astype(np.float32)  # a useless VGAE
        return out

    def adversary(states, p_gat, s_vgae, labels, cfg, seed):
        # alpha = 1 takes the GAT: low fused scores for attacks, high ones for normals.
        alpha = np.where(labels == 1, p_gat < s_vgae, p_gat > s_vgae).astype(np.float32)

        class Worst(FusionPolicy):
            def alphas(self, s: np.ndarray) -> np.ndarray:
                assert len(s) == len(alpha)
                return alpha

        return Worst(QNetwork(states.shape[1], cfg.hidden), states.mean(0), states.std(0)), []

    monkeypatch.setattr(fusion_stage, "collect_outputs", outputs)
    monkeypatch.setattr(fusion_stage, "train_dqn", adversary)
    log: list[str] = []
    m = run_stage_on_demo(store, "fusion", "teacher", tiny_overrides("teacher"), log=log).metrics
    assert m["val_f1"]["gat"] == 1.0
    assert m["val_f1"]["fusion_dqn"] < 1.0
    assert m["fallback"]["alpha"] == 1.0
    assert "< gat F1 1.0" in m["fallback"]["reason"]
    assert any("using gat alone (alpha=1.0)" in line for line in log)
    assert m["threshold"]["val_f1"] == 1.0
    ckpt = store.load(DS, "teacher", "fusion")
    assert ckpt["constant_alpha"] == 1.0
    # The saved fusion scores graphs as the GAT alone.
    model = fusion_stage.load_fusion(make_ctx(store, "teacher", tiny_overrides("teacher")))
    fake = {
        "gat_logit": np.array([-2.0, 3.0]),
        "vgae_score": np.array([5.0, 0.1]),
    }
    scores, alpha = model.scores(fake)
    assert alpha.tolist() == [1.0, 1.0]
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-fake["gat_logit"])))


def test_stage_refuses_a_missing_cache(tmp_path, make_ctx, tiny_overrides, demo):
    from canids_models.stages import run_stage

    store = ArtifactStore(tmp_path / "runs")
    ctx = make_ctx(store, "teacher", tiny_overrides("teacher"))
    ctx.cache_dir = tmp_path / "nowhere"
    with pytest.raises(CacheError) as err:
        run_stage("gat", ctx)
    assert "canids-cache build --dataset demo" in err.value.fix
    assert not store.runs_dir.exists()


@pytest.mark.parametrize("size", ["teacher", "student"])
def test_a_checkpoint_reproduces_its_validation_metrics(pipelines, demo, size):
    """Rebuilt from its checkpoint with its frozen threshold, the GAT scores validation as
    the stage reported."""
    from canids_models import BatchingConfig, binary_metrics
    from canids_models.checkpoints import load_model
    from canids_models.outputs import collect_outputs

    store = pipelines.store
    ckpt = store.load(DS, size, "gat")
    model = load_model(
        store, DS, size, "gat", vocab_digest=ckpt["vocab_digest"], device=torch.device("cpu")
    )
    assert not model.training
    out = collect_outputs(model, None, demo.split("val"), BatchingConfig(), torch.device("cpu"))
    p = 1 / (1 + np.exp(-np.clip(out["gat_logit"], -30, 30)))
    m = binary_metrics(out["y"], Threshold.from_json(ckpt["threshold"]).apply(p), p)
    stage = "gat_curriculum" if size == "teacher" else "gat"
    assert m == pipelines.metrics(size, stage)["val"]
