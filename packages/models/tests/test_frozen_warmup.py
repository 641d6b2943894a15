"""``eval.frozen_warmup``: the frozen protocol neither fits on nor scores the windows that
end in each capture's first seconds (the invariant features' warm-up), as the calibrated
protocol skips its own; what it leaves unscored is counted in the audit."""

from __future__ import annotations

import numpy as np
import pytest
from canids_models import StageContext, load_config
from canids_models.fusion_inputs import frozen_scored
from canids_models.fusion_methods import Normaliser
from canids_models.fusion_model import FusionModel
from canids_models.metrics import Threshold, fit_threshold
from canids_models.scoring import SplitScores
from canids_models.stages import run_stage
from canids_testkit import tiny_overrides as tiny

DS = "demo"
WARMUP = 2.0


@pytest.fixture(scope="module")
def warm_run(refit_fusion, tmp_path_factory):
    """The teacher's fusion and evaluate again with a frozen warm-up, on copies of the
    session pipeline's detectors."""
    root = tmp_path_factory.mktemp("frozen_warmup")
    return refit_fusion(root, "warm", f"eval.frozen_warmup={WARMUP}")


def _past(arrays: dict[str, np.ndarray], split: str) -> np.ndarray:
    return arrays[f"{split}/window_end"] - arrays[f"{split}/capture_start"] > WARMUP


def test_the_warmup_windows_are_not_scored_and_are_counted(warm_run):
    _, _, evaluate, arrays, log = warm_run
    for split in ["val", *evaluate["held_out_splits"]]:
        past = _past(arrays, split)
        y = arrays[f"{split}/y"]
        audit = evaluate["audit"][split]
        assert audit["frozen_warmup_windows"] == int((~past).sum()) > 0
        assert audit["frozen_warmup_attack_windows"] == int(y[~past].sum())
        np.testing.assert_array_equal(arrays[f"{split}/frozen/scored"], past)
        for row in evaluate["rows"]:
            if row["split"] == split and row["protocol"] == "frozen":
                assert (row["n"], row["positives"]) == (int(past.sum()), int(y[past].sum()))
    assert evaluate["frozen_warmup"] == WARMUP
    assert any("frozen warm-up:" in line for line in log)


def test_frozen_thresholds_are_fitted_past_the_warmup_only(warm_run):
    _, fusion, _, arrays, _ = warm_run
    past = _past(arrays, "val")
    y = arrays["val/y"]
    assert (fusion["frozen_fit_graphs"], fusion["frozen_fit_attack_graphs"]) == (
        int(past.sum()),
        int(y[past].sum()),
    )
    for name in ("gat", "vgae"):
        z = arrays[f"val/frozen/{name}/score"].astype(np.float64)
        refit = fit_threshold(z[past], y[past])
        assert fusion["thresholds"][name]["value"] == pytest.approx(refit.value, rel=1e-5)
        assert fusion["thresholds"][name]["val_f1"] == pytest.approx(refit.val_f1, abs=1e-6)


def test_the_results_say_the_frozen_protocol_skips_the_warmup(warm_run, pipelines):
    store, _, _, _, _ = warm_run
    text = store.path(DS, "teacher", "results", "results.md").read_text()
    assert "Frozen: the windows that end in each capture's first 2 s" in text
    plain = pipelines.metrics("teacher", "evaluate")
    assert plain["frozen_warmup"] == 0.0
    assert all(a["frozen_warmup_windows"] == 0 for a in plain["audit"].values())


def test_a_warmup_that_leaves_one_class_is_refused_before_anything_is_written(
    with_teacher_detectors, demo, tmp_path
):
    from canids_models import ModelsError

    store = with_teacher_detectors(tmp_path, "long")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    config = load_config("teacher", None, tiny("teacher", "eval.frozen_warmup=100000"))
    ctx = StageContext(DS, "teacher", config, store, demo.cache_dir, log=lambda _: None)
    with pytest.raises(ModelsError, match=r"holds 0 attack and 0 normal windows.*frozen_warmup"):
        run_stage("fusion", ctx)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_the_warmup_survives_a_checkpoint_and_an_old_one_has_none():
    model = FusionModel(
        {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)},
        "mean",
        {"gat": Threshold(1.0, "f1", 0.9)},
        {},
        1.0,
        frozen_warmup=2.5,
    )
    ckpt = model.to_checkpoint()
    assert FusionModel.from_checkpoint(ckpt).frozen_warmup == 2.5
    del ckpt["frozen_warmup"]  # saved before the key existed: every window, as then
    assert FusionModel.from_checkpoint(ckpt).frozen_warmup == 0.0


def test_frozen_scored_is_every_window_without_a_warmup(warm_run):
    _, _, _, arrays, _ = warm_run
    n = len(arrays["val/y"])
    scores = SplitScores(
        "val",
        arrays["val/frozen/gat/score"],
        arrays["val/frozen/vgae/score"],
        np.zeros((n, 1)),
        arrays["val/y"],
        arrays["val/source"],
        arrays["val/window_start"],
        arrays["val/window_end"],
        arrays["val/capture_start"],
    )
    assert frozen_scored(scores, 0.0).all()
    since = scores.window_end - scores.capture_start
    np.testing.assert_array_equal(frozen_scored(scores, 1.5), since > 1.5)
