"""``calibration.guard_at``: a guarded calibration rule's floor is validation's edge (the
highest validation score the frozen cut leaves unflagged, the default since
canids-models 0.15.0) or the frozen cut itself (0.7.0-0.14.x). On validation the two flag
the same windows, so validation chooses the same rules, period and fusion with either;
they part only on scores validation never showed between its normal traffic and its
attacks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from canids_models.errors import ModelsError
from canids_models.fusion_methods import Normaliser
from canids_models.fusion_model import FusionModel
from canids_models.metrics import Threshold

DATASET = "demo"  # the session pipeline's (conftest)


def _model(guard_at: str) -> FusionModel:
    return FusionModel(
        {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)},
        "mean",
        {"mean": Threshold(50.0, "max F1 on validation", 1.0, 8.0)},
        {},
        1.0,
        guard_at=guard_at,
    )


def test_the_floor_is_the_cut_or_the_edge_under_it():
    scores = np.array([7.0, 8.0, 8.5, 21.3, 49.9, 50.0, 120.0])
    assert _model("threshold").guard_flags("mean", scores).tolist() == [
        *[False] * 5,
        True,
        True,
    ]
    assert _model("edge").guard_flags("mean", scores).tolist() == [False, False, *[True] * 5]


def test_guard_at_survives_a_checkpoint_and_an_old_one_guards_at_the_cut():
    ckpt = _model("edge").to_checkpoint()
    restored = FusionModel.from_checkpoint(ckpt)
    assert restored.guard_at == "edge"
    assert restored.thresholds["mean"].edge == 8.0
    del ckpt["guard_at"]  # saved before canids-models 0.15.0: the guard sat on the cut
    assert FusionModel.from_checkpoint(ckpt).guard_at == "threshold"


def test_an_unknown_floor_in_a_checkpoint_stops_evaluate_with_the_fix(
    pipelines, copy_artifacts, run_stage_on_demo, tiny_overrides
):
    """A floor this version does not know (a newer writer, a damaged file) must not guard
    at the cut in silence: evaluate stops, names the artifact and the commands that fit it
    again, and writes no results."""
    items = [("teacher", key) for key in ("vgae", "gat", "fusion")]
    store = copy_artifacts(pipelines.store, items)
    path = store.path(DATASET, "teacher", "fusion", "checkpoint.pt")
    ckpt = torch.load(path, weights_only=True)
    ckpt["guard_at"] = "median"
    torch.save(ckpt, path)
    with pytest.raises(ModelsError) as err:
        run_stage_on_demo(store, "evaluate", "teacher", tiny_overrides("teacher"))
    text = str(err.value)
    where = store.dir(DATASET, "teacher", "fusion")
    assert "guard_at='median' is not one of ('edge', 'threshold', 'each')" in text
    assert f"rm -r {where}, then canids-train fusion --dataset {DATASET} --size teacher" in text
    assert not store.dir(DATASET, "teacher", "results").exists()
    assert torch.load(path, weights_only=True)["guard_at"] == "median"  # left for the user


@pytest.fixture(scope="module")
def both(refit_fusion, tmp_path_factory):
    """The teacher's fusion and evaluate again under each floor, on copies of the session
    pipeline's detectors (the tiny config scores every validation window, so each is one
    the frozen thresholds were fitted on)."""
    root = tmp_path_factory.mktemp("guard_at")
    return {
        at: refit_fusion(root / at, at, f"calibration.guard_at={at}")
        for at in ("threshold", "edge")
    }


def test_validation_chooses_the_same_with_either_floor(both):
    cut, edge = both["threshold"][1], both["edge"][1]
    for key in ("method", "calibration", "calibration_seconds", "calibration_warmup"):
        assert cut[key] == edge[key], key
    assert cut["selection"]["validation_choice"] == edge["selection"]["validation_choice"]
    assert cut["thresholds"] == edge["thresholds"]
    for fit, words in ((cut, "the frozen threshold"), (edge, "validation's normal edge")):
        labels = [
            c["rule"]
            for score in fit["selection"]["scores"].values()
            for c in (score.get("calibrated") or {}).get("candidates", [])
        ]
        guarded = [label for label in labels if "never below" in label]
        assert guarded
        assert all(label.endswith(f", never below {words}") for label in guarded)
    for name, threshold in edge["thresholds"].items():
        if name != "either" and threshold["edge"] is not None:
            assert threshold["edge"] < threshold["value"]


def test_validation_rows_are_identical_and_held_out_ones_only_gain_flags(both):
    rows = {at: both[at][2]["rows"] for at in both}
    arrays = {at: both[at][3] for at in both}
    for r_cut, r_edge in zip(rows["threshold"], rows["edge"], strict=True):
        assert (r_cut["split"], r_cut["protocol"], r_cut["model"]) == (
            r_edge["split"],
            r_edge["protocol"],
            r_edge["model"],
        )
        key = f"{r_cut['split']}/{r_cut['protocol']}/{r_cut['model']}/flag"
        flags_cut, flags_edge = arrays["threshold"][key], arrays["edge"][key]
        if r_cut["split"] == "val" or r_cut["protocol"] == "frozen":
            assert r_cut["confusion"] == r_edge["confusion"], key
            np.testing.assert_array_equal(flags_cut, flags_edge)
        else:
            assert not (flags_cut & ~flags_edge).any(), key
        if r_cut["protocol"] == "calibrated" and r_cut.get("guard") and r_cut.get("guard_at"):
            assert (r_cut["guard_at"], r_edge["guard_at"]) == ("threshold", "edge")
