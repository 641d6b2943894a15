"""``calibration.guard_at=each`` (canids-models 0.30.0, opt-in): a guarded calibration
rule of ``max`` or ``cut_max`` may flag where either detector's frozen score is above that
detector's own validation edge, not only where the fused score is above the fusion's.

The mechanism it answers (docs/results.md, the hcrl_sa student's seed 2): on validation
the fused ``max``'s edge is its classifier's normal tail (8.5 σ), far above every score of
the anomaly branch's (1-3.6 σ), so a guarded ``max`` can never flag a window only the
anomaly branch sees, however far past its own edge that window is."""

from __future__ import annotations

import numpy as np
import pytest
from canids_models import ConfigError, load_config
from canids_models.calibration import CalibrationRule
from canids_models.fusion_inputs import FusedScores
from canids_models.fusion_methods import EACH_GUARDED, Normaliser
from canids_models.fusion_model import FusionModel
from canids_models.metrics import Threshold
from canids_models.scoring import SplitScores
from canids_models.stages.evaluate_calibration import calibrated_split_flags

# Validation's frozen cuts and edges (σ), shaped like the student's: the GAT's normal tail
# reaches 8.5 and sets max's edge; the VGAE's edge is 1.6.
GAT, VGAE = Threshold(9.0, "f1", 1.0, edge=8.5), Threshold(1.7, "f1", 0.9, edge=1.6)
CUTS = (9.0, 1.7)
STEP, SECONDS = 0.1, 5.0


def _model(at: str) -> FusionModel:
    rule = CalibrationRule("zscore", 8.0, SECONDS, guard=True)
    return FusionModel(
        {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)},
        "max",
        {
            "gat": GAT,
            "vgae": VGAE,
            "max": Threshold(9.0, "f1", 1.0, edge=8.5),
            "mean": Threshold(4.5, "f1", 1.0, edge=4.2),
            "cut_max": Threshold(1.0, "f1", 1.0, edge=0.95),
        },
        {m: rule for m in ("gat", "vgae", "max", "mean", "cut_max")},
        SECONDS,
        guard_at=at,
        cut_units=CUTS,
    )


def _inputs(z_gat: list[float], z_vgae: list[float]) -> FusedScores:
    n = len(z_gat)
    return FusedScores(np.array(z_gat), np.array(z_vgae), np.zeros((n, 15)), np.ones(n, bool))


def test_max_and_cut_max_are_guarded_by_each_detectors_own_edge():
    frozen = _inputs([9.0, 0.0, 8.0, 0.0, 8.6], [0.0, 2.0, 0.0, 1.0, 1.5])
    edge, each = _model("edge"), _model("each")
    for method in EACH_GUARDED:
        fused = edge.fuse(method, frozen)
        # At the fused edge: only what passes the fusion's own edge (the GAT's tail).
        assert edge.guard_flags(method, fused, frozen).tolist() == (
            edge.thresholds[method].above_edge(fused).tolist()
        )
        # Each detector past its own edge: the VGAE's 2.0 > 1.6 now passes, its 1.0 and 1.5
        # do not, and the GAT's 8.0 (under its edge 8.5) still does not.
        assert each.guard_flags(method, fused, frozen).tolist() == [
            True, True, False, False, True,
        ]  # fmt: skip
    assert edge.guard_flags("max", edge.fuse("max", frozen), frozen).tolist() == [
        True, False, False, False, True,
    ]  # fmt: skip


def test_the_other_fusions_and_the_detectors_keep_their_own_edge():
    frozen = _inputs([9.0, 0.0, 8.0, 0.0], [0.0, 2.0, 0.0, 1.0])
    edge, each = _model("edge"), _model("each")
    for method in ("mean", "gat", "vgae"):
        fused = each.fuse(method, frozen)
        np.testing.assert_array_equal(
            each.guard_flags(method, fused, frozen), edge.guard_flags(method, fused, frozen)
        )
        np.testing.assert_array_equal(
            each.guard_flags(method, fused), each.thresholds[method].above_edge(fused)
        )


def test_without_the_detectors_scores_it_refuses_rather_than_guessing():
    with pytest.raises(ValueError, match="guard_at=each guards max by each detector"):
        _model("each").guard_flags("max", np.zeros(3))


def _capture(seed: int) -> SplitScores:
    """60 s of one capture: the GAT's normal traffic spreads 1 σ and spikes to 5 σ (under
    its own edge) on one window in 20; the VGAE spreads 0.5 σ. From 30 s to 40 s an attack
    the classifier never saw: the GAT stays normal, the VGAE stands at 7 σ."""
    rng = np.random.default_rng(seed)
    ends = np.arange(1, 601) * STEP
    n = len(ends)
    gat = rng.normal(0.0, 1.0, n)
    gat[np.arange(n) % 20 == 7] = 5.0
    vgae = rng.normal(0.0, 0.5, n)
    y = ((ends > 30.0) & (ends <= 40.0)).astype(np.int64)
    vgae[y == 1] = 7.0
    zeros = np.zeros(n)
    return SplitScores(
        "test_03", gat, vgae, np.zeros((n, 15)), y, zeros.astype(np.int64), ends - STEP, ends,
        zeros,
    )  # fmt: skip


# The recall of the calibrated fusion at the fused edge and at each detector's. In cut
# units the VGAE's 7 σ is 4.1 of its cuts, past cut_max's fused edge (0.95) already: there
# the fused edge held nothing back, and each detector's holds nothing back either.
RECALL = {"max": {"edge": 0.0, "each": 1.0}, "cut_max": {"edge": 1.0, "each": 1.0}}


@pytest.mark.parametrize("method", EACH_GUARDED)
def test_an_attack_only_the_anomaly_branch_sees_is_caught_and_normal_traffic_held(method):
    scores = _capture(0)
    recall, false_alarms = {}, {}
    for at in ("edge", "each"):
        model = _model(at)
        frozen = model.frozen_inputs(scores)
        guard = model.guard_flags(method, model.fuse(method, frozen), frozen)
        fused = model.fuse(method, model.calibrated_inputs(scores))
        flags, _ = calibrated_split_flags(model, method, scores, fused, guard)
        scored = scores.window_end > SECONDS
        recall[at] = flags[scored & (scores.y == 1)].mean()
        false_alarms[at] = flags[scored & (scores.y == 0)].sum()
    assert recall == RECALL[method]
    assert false_alarms == {"edge": 0, "each": 0}


def test_a_checkpoint_keeps_it_and_the_labels_say_it():
    model = _model("each")
    assert FusionModel.from_checkpoint(model.to_checkpoint()).guard_at == "each"
    assert "each detector's own" in model.calibration_label("max")
    assert "each detector's own" not in model.calibration_label("mean")
    assert "each detector's own" not in _model("edge").calibration_label("max")


def test_it_is_a_config_of_its_own():
    for size in ("teacher", "student"):
        default = load_config(size)
        each = load_config(size, overrides=["calibration.guard_at=each"])
        assert each.calibration.guard_at == "each"
        assert each.digest != default.digest
    with pytest.raises(ConfigError, match="guard_at"):
        load_config("teacher", overrides=["calibration.guard_at=every"])


def test_the_pipeline_fits_with_it_and_its_frozen_rows_do_not_move(refit_fusion, tmp_path):
    """The demo's fusion and evaluate stages under the option, every rule guarded, on
    copies of the session's detectors: the metrics and the labels of max and cut_max say
    it; a guard only ever gates the calibrated protocol, so every frozen row is the
    default's."""
    on = "calibration.guard=on"  # the tiny demo's validation chooses no guard by itself
    each = "calibration.guard_at=each"
    _, fusion, evaluate, _, _ = refit_fusion(tmp_path / "each", "e", on, each)
    _, _, base, _, _ = refit_fusion(tmp_path / "edge", "d", on)
    assert evaluate["guard_at"] == "each"
    assert base["guard_at"] == "edge"
    frozen = [(r["model"], r["split"], r["f1"]) for r in base["rows"] if r["protocol"] == "frozen"]
    assert frozen == [
        (r["model"], r["split"], r["f1"]) for r in evaluate["rows"] if r["protocol"] == "frozen"
    ]
    guarded = set()
    for row in evaluate["rows"]:
        label = row.get("calibration", "")
        if "never below" in label:
            guarded.add(row["model"])
        if row["protocol"] == "calibrated" and "never below" in label:
            # Only the fusions that flag by either detector alone say each detector's own.
            each = row["model"].removeprefix("fusion:") in EACH_GUARDED
            assert ("each detector's own" in label) is each, (row["model"], label)
    assert guarded & {"fusion:max", "fusion:cut_max"}, guarded
    assert fusion["guard_at"] == "each"  # the fusion stage's record names the floor too
