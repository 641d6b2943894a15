"""Per-epoch checkpoints: a killed stage resumes where it stopped with the same config, and
ignores the resume state of another config."""

from __future__ import annotations

import pytest
import torch
from canids_models import ArtifactStore

DS, SIZE = "demo", "teacher"


class KilledError(RuntimeError):
    """Stands in for SIGKILL / a SLURM timeout after some epochs."""


def kill_after(epochs: int):
    seen: list[int] = []

    def on_epoch(record: dict) -> None:
        seen.append(record["epoch"])
        if len(seen) == epochs:
            raise KilledError(f"killed after epoch {record['epoch']}")

    return on_epoch


@pytest.fixture
def gat_overrides(tiny_overrides) -> list[str]:
    return tiny_overrides(SIZE, "train.epochs=3", "train.patience=10")


@pytest.mark.parametrize("stage", ["gat", "vgae"])
def test_a_killed_stage_resumes_at_the_next_epoch(
    tmp_path, run_stage_on_demo, tiny_overrides, stage
):
    overrides = tiny_overrides(SIZE, "train.epochs=3", "train.patience=10")
    store = ArtifactStore(tmp_path / "runs")
    artifact = "gat" if stage == "gat" else "vgae"
    with pytest.raises(KilledError):
        run_stage_on_demo(store, stage, SIZE, overrides, on_epoch=kill_after(2))
    state = store.path(DS, SIZE, artifact, "train_state.pt")
    assert state.is_file()
    assert not store.is_done(DS, SIZE, artifact)
    assert not store.path(DS, SIZE, artifact, "checkpoint.pt").exists()
    saved = store.load(DS, SIZE, artifact, "train_state.pt")
    assert saved["epoch"] == 1
    assert len(saved["history"]) == 2

    log: list[str] = []
    reported: list[int] = []
    outcome = run_stage_on_demo(
        store, stage, SIZE, overrides, log=log, on_epoch=lambda r: reported.append(r["epoch"])
    )
    m = outcome.metrics
    assert m["resumed_from"] == 2
    assert any(f"resuming {artifact} ({SIZE}) at epoch 2" in line for line in log)
    assert reported == [2]  # only the missing epoch ran
    assert [h["epoch"] for h in m["history"]] == [0, 1, 2]
    assert m["epochs_run"] == 3
    # The first two epochs are the interrupted run's records.
    assert m["history"][:2] == saved["history"]
    assert store.is_done(DS, SIZE, artifact)
    assert not state.exists()  # finish drops the resume state
    saved_metrics = store.read_json(DS, SIZE, artifact, "metrics.json")
    assert saved_metrics["resumed_from"] == 2


@pytest.mark.parametrize("stage", ["gat", "vgae"])
def test_resume_gives_the_uninterrupted_result(tmp_path, run_stage_on_demo, gat_overrides, stage):
    """On CPU, model, optimizer and RNG state travel and batches and negatives are seeded
    per epoch, so a resumed run is the same run."""
    straight = ArtifactStore(tmp_path / "a")
    resumed = ArtifactStore(tmp_path / "b")
    m1 = run_stage_on_demo(straight, stage, SIZE, gat_overrides).metrics
    with pytest.raises(KilledError):
        run_stage_on_demo(resumed, stage, SIZE, gat_overrides, on_epoch=kill_after(1))
    m2 = run_stage_on_demo(resumed, stage, SIZE, gat_overrides).metrics
    assert m2["resumed_from"] == 1
    assert m1["resumed_from"] is None

    def strip(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert strip(m2["history"]) == strip(m1["history"])
    # The straight GAT keeps its best epoch's validation outputs; the resumed one, whose
    # best epoch may have run before the kill, scores validation again: the same figures.
    assert m2["val"] == m1["val"]
    assert m2["threshold"] == m1["threshold"]
    a = straight.load(DS, SIZE, stage)["state_dict"]
    b = resumed.load(DS, SIZE, stage)["state_dict"]
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_another_config_ignores_the_stale_state(tmp_path, run_stage_on_demo, gat_overrides):
    store = ArtifactStore(tmp_path / "runs")
    # A finished run, then a rerun with another config that is killed: the old DONE
    # record is gone (begin removed it), so nothing takes the half-written artifact.
    run_stage_on_demo(store, "gat", SIZE, gat_overrides)
    assert store.is_done(DS, SIZE, "gat")
    with pytest.raises(KilledError):
        run_stage_on_demo(
            store, "gat", SIZE, [*gat_overrides, "train.seed=1"], on_epoch=kill_after(2)
        )
    assert not store.is_done(DS, SIZE, "gat")
    assert store.path(DS, SIZE, "gat", "train_state.pt").is_file()

    log: list[str] = []
    other = [*gat_overrides, "train.lr=0.002"]
    m = run_stage_on_demo(store, "gat", SIZE, other, log=log).metrics
    assert m["resumed_from"] is None
    assert [h["epoch"] for h in m["history"]] == [0, 1, 2]
    assert any("ignoring" in line and "another config" in line for line in log)
    done = store.done_record(DS, SIZE, "gat")
    from canids_models import load_config

    assert done["config_digest"] == load_config(SIZE, None, other).digest


def test_a_run_killed_after_its_early_stop_is_not_trained_further(
    tmp_path, run_stage_on_demo, tiny_overrides
):
    """lr≈0: validation F1 never improves, so patience=1 stops after epoch 1. A kill right
    after that epoch was saved must not buy the run another epoch on resume."""
    overrides = tiny_overrides(SIZE, "train.epochs=5", "train.patience=1", "train.lr=1e-12")
    straight = run_stage_on_demo(ArtifactStore(tmp_path / "a"), "gat", SIZE, overrides).metrics
    assert straight["stopped_early"] is True
    assert straight["epochs_run"] == 2
    store = ArtifactStore(tmp_path / "b")
    with pytest.raises(KilledError):
        run_stage_on_demo(store, "gat", SIZE, overrides, on_epoch=kill_after(2))
    reported: list[int] = []
    resumed = run_stage_on_demo(
        store, "gat", SIZE, overrides, on_epoch=lambda r: reported.append(r["epoch"])
    ).metrics
    assert reported == []
    assert resumed["resumed_from"] == 2
    assert resumed["stopped_early"] is True
    assert resumed["epochs_run"] == 2
    assert resumed["best_epoch"] == straight["best_epoch"] == 0


def test_the_gat_s_validation_figures_are_those_of_the_weights_it_keeps(
    tmp_path, run_stage_on_demo, make_ctx, tiny_overrides
):
    """The GAT's val metrics and threshold come from its best epoch's validation outputs,
    not a scoring after training; they equal a fresh scoring of the published GAT, here
    where the best epoch is not the last."""
    from canids_models.metrics import binary_metrics, fit_threshold
    from canids_models.outputs import collect_outputs, gat_probability

    store = ArtifactStore(tmp_path / "runs")
    overrides = tiny_overrides(SIZE, "train.epochs=4", "train.patience=10", "train.lr=0.05")
    m = run_stage_on_demo(store, "gat", SIZE, overrides).metrics
    assert m["epochs_run"] == 4
    assert m["best_epoch"] < 3  # later epochs changed the weights the GAT does not keep
    ctx = make_ctx(store, SIZE, overrides)
    gat = ctx.load_model("gat")
    out = collect_outputs(gat, None, ctx.split("val"), ctx.config.batching, ctx.device)
    p = gat_probability(out)
    threshold = fit_threshold(p, out["y"], one_class=ctx.config.eval.one_class_fit)
    assert m["threshold"] == threshold.to_json()
    assert m["val"] == binary_metrics(out["y"], threshold.apply(p), p)
    assert m["best_val_f1"] == (m["val"]["f1"] or 0.0)
