"""``distill.select``: which epoch a distilled GAT keeps (canids-models 0.22.0).

``f1`` (the default, every earlier version's rule) keeps the first epoch with the best
validation F1; ``fidelity`` keeps the epoch whose soft labels on validation are closest to
its teacher's. Both record each epoch's ``val_kl``; a run without a teacher is unaffected.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from canids_models import ArtifactStore, ConfigError, load_config
from canids_models.distill import soft_label_kl
from canids_models.outputs import collect_outputs

DS = "demo"
EPOCHS = "train.epochs=4"


def _kl_of_saved_student(ctx) -> float:
    """KL(teacher ‖ student) on validation for the GAT the stage published."""
    val = ctx.split("val")
    cfg = ctx.config
    student = ctx.load_model("gat").eval()
    teacher = ctx.load_model("gat", "teacher").eval()
    with torch.no_grad():
        s = collect_outputs(student, None, val, cfg.batching, ctx.device)["gat_logit"]
        t = collect_outputs(teacher, None, val, cfg.batching, ctx.device)["gat_logit"]
    return float(soft_label_kl(torch.from_numpy(s), torch.from_numpy(t), cfg.distill.temperature))


@pytest.mark.parametrize(("select", "key"), [("fidelity", "val_kl"), ("f1", "val_f1")])
def test_the_distilled_gat_keeps_the_epoch_its_rule_names(
    select, key, pipelines, copy_artifacts, make_ctx, tiny_overrides
):
    from canids_models.stages import run_stage

    store = copy_artifacts(pipelines.store, [("teacher", "gat")])
    overrides = tiny_overrides("student", EPOCHS, f"distill.select={select}")
    ctx = make_ctx(store, "student", overrides, distill_from="teacher")
    m = run_stage("gat", ctx).metrics
    history = m["history"]
    assert len(history) == 4
    kls = np.array([h["val_kl"] for h in history])
    assert (kls >= 0).all()
    assert all(h["val_fidelity"] == -h["val_kl"] for h in history)
    # The first best: the lowest KL, or the highest F1.
    values = kls if key == "val_kl" else -np.array([h["val_f1"] for h in history])
    best = int(np.argmin(values))
    assert m["best_epoch"] == best
    assert m["selected_by"] == ("val_fidelity" if select == "fidelity" else "val_f1")
    assert m["best_val_f1"] == history[best]["val_f1"]
    # The published weights are that epoch's, not the last one's.
    assert _kl_of_saved_student(ctx) == pytest.approx(history[best]["val_kl"], rel=1e-5)
    assert (
        store.read_json(DS, "student", "gat", "config.json")["config"]["distill"]["select"]
        == select
    )


def test_fidelity_without_a_teacher_selects_by_f1(run_stage_on_demo, tmp_path, tiny_overrides):
    """A teacher has nothing to be faithful to: the setting leaves its GAT's rule alone,
    and its metrics say which rule kept the epoch."""
    store = ArtifactStore(tmp_path / "runs", "t")
    overrides = tiny_overrides("teacher", "distill.select=fidelity")
    m = run_stage_on_demo(store, "gat", "teacher", overrides).metrics
    assert m["selected_by"] == "val_f1"
    assert all("val_kl" not in h for h in m["history"])
    f1 = [h["val_f1"] for h in m["history"]]
    assert m["best_epoch"] == int(np.argmax(f1))
    assert m["best_val_f1"] == max(f1)


def test_distill_select_values_and_digest():
    default = load_config("student")
    assert default.distill.select == "f1"
    assert load_config("student", overrides=["distill.select=f1"]).digest == default.digest
    fid = load_config("student", overrides=["distill.select=fidelity"])
    assert fid.distill.select == "fidelity"
    assert fid.digest != default.digest
    refused = r"distill\.select: must be one of 'f1' or 'fidelity' \(got 'loss'\)"
    with pytest.raises(ConfigError, match=refused):
        load_config("student", overrides=["distill.select=loss"])


class KilledError(RuntimeError):
    """Stands in for SIGKILL / a SLURM timeout after an epoch."""


def test_a_killed_student_resumes_to_the_same_kept_epoch(
    pipelines, copy_artifacts, run_stage_on_demo, tiny_overrides
):
    """The resume state carries the best KL so far: a resumed run keeps the epoch and the
    weights the uninterrupted run keeps."""
    overrides = tiny_overrides("student", EPOCHS, "train.patience=10", "distill.select=fidelity")
    straight = copy_artifacts(pipelines.store, [("teacher", "gat")])
    m1 = run_stage_on_demo(straight, "gat", "student", overrides, distill_from="teacher").metrics
    resumed = ArtifactStore(straight.runs_dir.parent / "resumed" / "runs", straight.run)
    shutil.copytree(pipelines.store.dir(DS, "teacher", "gat"), resumed.dir(DS, "teacher", "gat"))

    def kill(record: dict) -> None:
        if record["epoch"] == 1:
            raise KilledError("killed after epoch 1")

    with pytest.raises(KilledError):
        run_stage_on_demo(
            resumed, "gat", "student", overrides, distill_from="teacher", on_epoch=kill
        )
    m2 = run_stage_on_demo(resumed, "gat", "student", overrides, distill_from="teacher").metrics
    assert m2["resumed_from"] == 2

    def strip(history: list[dict]) -> list[dict]:
        return [{k: v for k, v in h.items() if k != "seconds"} for h in history]

    assert strip(m2["history"]) == strip(m1["history"])
    assert (m2["best_epoch"], m2["selected_by"]) == (m1["best_epoch"], "val_fidelity")
    a = straight.load(DS, "student", "gat")["state_dict"]
    b = resumed.load(DS, "student", "gat")["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
