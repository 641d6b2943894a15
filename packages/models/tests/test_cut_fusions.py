"""The cut fusions (canids-models 0.16.0): each detector's score in units of its own frozen
F1 cut, so that the two weigh the same at their decision boundaries. Fitted beside the
MAD-σ fusions and ranked after them; ``fusion.cut_fusions=false`` is 0.15.0's set."""

from __future__ import annotations

import numpy as np
import pytest
from canids_models.fusion_inputs import FusedScores
from canids_models.fusion_methods import (
    CUT_FUSIONS,
    MIN_CUT_UNIT,
    Normaliser,
    cut_units,
    simple_fusion,
)
from canids_models.fusion_model import FusionModel
from canids_models.metrics import Threshold


def test_units_are_the_cuts_floored_at_one_sigma():
    assert cut_units(104.97, 1.9465) == (104.97, 1.9465)
    assert cut_units(0.4, -2.0) == (MIN_CUT_UNIT, MIN_CUT_UNIT) == (1.0, 1.0)


def test_an_attack_only_the_weaker_detector_sees_crosses_in_cut_units():
    """set_01 seed 0's validation: the GAT's cut at 105 σ, the VGAE's at 1.95 σ, and a
    normal window with a GAT score of 87.6 σ sets the MAD-σ mean's edge at 45. A window
    the VGAE puts at 16 σ (8 of its cuts) and the GAT at its median stays under that
    edge in MAD-σ units and lies far above the normal window in cut units."""
    units = cut_units(105.0, 1.95)
    normal = (np.array([87.6]), np.array([2.4]))
    vgae_only = (np.array([0.0]), np.array([16.0]))
    mean = simple_fusion("mean", *vgae_only)[0]
    assert mean == 8.0 < simple_fusion("mean", *normal)[0] == 45.0
    cut_mean = {
        k: simple_fusion("cut_mean", *v, units=units)[0]
        for k, v in (("normal", normal), ("vgae_only", vgae_only))
    }
    assert cut_mean["normal"] == pytest.approx((87.6 / 105 + 2.4 / 1.95) / 2)
    assert cut_mean["vgae_only"] == pytest.approx(16 / 1.95 / 2)
    assert cut_mean["vgae_only"] > 3 * cut_mean["normal"]
    z_gat, z_vgae = np.array([210.0, 0.0, 52.5]), np.array([0.0, 3.9, 0.975])
    np.testing.assert_allclose(simple_fusion("cut_max", z_gat, z_vgae, units=units), [2, 2, 0.5])
    with pytest.raises(ValueError, match="cut_mean fusion needs each detector's cut unit"):
        simple_fusion("cut_mean", z_gat, z_vgae)


def _model(units: tuple[float, float] | None) -> FusionModel:
    return FusionModel(
        {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)},
        "mean",
        {"mean": Threshold(1.0, "max F1 on validation", 1.0)},
        {},
        1.0,
        cut_units=units,
    )


def test_a_checkpoint_keeps_the_units_and_an_old_one_has_no_cut_fusion():
    ckpt = _model((105.0, 1.95)).to_checkpoint()
    restored = FusionModel.from_checkpoint(ckpt)
    assert restored.cut_units == (105.0, 1.95)
    assert restored.methods == ("mean", "max", "logistic", *CUT_FUSIONS)  # no DQN fitted
    inputs = FusedScores(np.array([105.0]), np.array([3.9]), np.zeros((1, 0)), np.ones(1, bool))
    assert restored.fuse("cut_max", inputs).tolist() == [2.0]
    del ckpt["cut_units"]  # saved before canids-models 0.16.0
    old = FusionModel.from_checkpoint(ckpt)
    assert old.cut_units is None
    assert not set(CUT_FUSIONS) & set(old.methods)


def test_the_pipeline_fits_them_on_the_f1_cuts_and_reports_them(pipelines):
    for size in ("teacher", "student"):
        m = pipelines.metrics(size, "fusion")
        cuts = (m["thresholds"]["gat"]["value"], m["thresholds"]["vgae"]["value"])
        ckpt = pipelines.store.load("demo", size, "fusion")
        assert tuple(ckpt["cut_units"]) == cut_units(*cuts)
        for name in CUT_FUSIONS:
            assert m["thresholds"][name]["method"] == "max F1 on validation"
            assert m["selection"]["scores"][name]["calibrated"]["rule"]["rule"]
        models = {r["model"] for r in pipelines.metrics(size, "evaluate")["rows"]}
        assert {f"fusion:{name}" for name in CUT_FUSIONS} <= models


@pytest.fixture(scope="module")
def with_and_without(refit_fusion, tmp_path_factory):
    root = tmp_path_factory.mktemp("cut_fusions")
    return {
        "with": refit_fusion(root / "with", "with"),
        "without": refit_fusion(root / "without", "without", "fusion.cut_fusions=false"),
    }


def test_without_them_every_other_fit_and_row_is_the_same(with_and_without):
    """Adding candidates ranked last moves nothing else: the other fusions' thresholds,
    calibration rules and every row of theirs are identical (the demo's pick is not a cut
    fusion, checked), and ``false`` fits, reports and saves none of them."""
    fusion = {k: v[1] for k, v in with_and_without.items()}
    rows = {k: v[2]["rows"] for k, v in with_and_without.items()}
    assert fusion["with"]["method"] == fusion["without"]["method"]
    assert fusion["with"]["method"] not in CUT_FUSIONS
    for name, t in fusion["without"]["thresholds"].items():
        assert fusion["with"]["thresholds"][name] == t, name
    assert {k: v for k, v in fusion["with"]["calibration"].items() if k not in CUT_FUSIONS} == (
        fusion["without"]["calibration"]
    )
    assert not set(CUT_FUSIONS) & set(fusion["without"]["thresholds"])
    store = with_and_without["without"][0]
    assert "cut_units" not in store.load("demo", "teacher", "fusion")
    kept = [r for r in rows["with"] if r["model"].removeprefix("fusion:") not in CUT_FUSIONS]
    assert kept == rows["without"]


def test_a_cut_fusion_set_by_name_is_the_default_everywhere(refit_fusion, tmp_path):
    _, fusion, evaluate, arrays, _ = refit_fusion(tmp_path, "forced", "fusion.method=cut_max")
    assert fusion["method"] == "cut_max"
    assert fusion["selection"]["configured"] == "cut_max"
    assert evaluate["fusion_method"] == "cut_max"
    defaults = {r["model"] for r in evaluate["rows"] if r["default"]}
    assert defaults == {"vgae", "gat", "fusion:cut_max"}
    # Its calibrated rule is its own, at the period of the run.
    rule = fusion["calibration"]["cut_max"]
    assert (rule["warmup"], rule["seconds"]) == (
        fusion["calibration_warmup"],
        fusion["calibration_seconds"],
    )
    assert "val/calibrated/fusion:cut_max/flag" in arrays
