"""``fusion.cut_units_at=capture`` (canids-models 0.24.0, opt-in): under the calibrated
protocol each detector's unit in the cut fusions is at least its capture's own
``CAPTURE_UNIT_QUANTILE`` of z over the calibration windows, so a detector whose normal
traffic on a new vehicle spikes past its validation cut cannot lift the fused threshold
over the attacks the other detector carries (set_01 t04's mechanism, docs/results.md).
What both opt-ins share (``capture`` and 0.29.0's ``capture_scale``: causal, label-free,
the frozen protocol and the other fusions untouched) is tested here for both."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from canids_models import ConfigError, load_config
from canids_models.fusion_inputs import FusedScores, calibrated_inputs
from canids_models.fusion_methods import CAPTURE_UNIT_QUANTILE, capture_cut_units
from canids_models.fusion_model import FusionModel
from canids_models.scoring import SplitScores

STEP = 0.1  # s between window ends
CAL_SECONDS = 10.0
CUTS = (95.0, 2.0)  # validation cuts in σ: set_01's GAT and VGAE scale


@pytest.fixture
def cm(cut_max_capture: Callable[..., Any]) -> Any:
    return cut_max_capture(CUTS, CAL_SECONDS)


def _capture(cm: Any, seed: int, attack: tuple[float, float] = (30.0, 40.0)) -> SplitScores:
    """One 60 s capture of a new vehicle: the GAT's normal traffic spikes to 150-200 σ on
    one window in 20 (past its 95 σ cut), before and after calibration alike; the VGAE is
    quiet except inside ``attack``, where it stands at 1.5 of its cut in the capture's own
    scale."""
    return cm.new_vehicle(seed, 1.0, (150.0, 200.0), attack)


def test_the_unit_is_the_cut_or_the_captures_quantile_whichever_is_larger():
    q = (np.array([199.0, 40.0]), np.array([0.5, np.nan]))
    g, v = capture_cut_units(CUTS, q)
    np.testing.assert_array_equal(g, [199.0, 95.0])
    assert v[0] == 2.0
    assert np.isnan(v[1])  # a capture that could not calibrate stays NaN


def test_each_captures_quantile_comes_from_its_own_calibration_windows(cm):
    a, b = _capture(cm, 0), _capture(cm, 1)
    b.gat[:] = 3.0 * b.gat
    both = cm.together(a, b)
    inputs = calibrated_inputs(both, 0.0, CAL_SECONDS, (1e-6, 1e-6))
    assert inputs.capture_quantiles is not None
    q_g, q_v = inputs.capture_quantiles
    cal = both.window_end <= CAL_SECONDS
    for c in (0, 1):
        mine = both.source == c
        expected = np.quantile(inputs.z_gat[mine & cal], CAPTURE_UNIT_QUANTILE)
        np.testing.assert_allclose(q_g[mine], expected)
        np.testing.assert_allclose(
            q_v[mine], np.quantile(inputs.z_vgae[mine & cal], CAPTURE_UNIT_QUANTILE)
        )
    assert q_g[0] > CUTS[0]  # the spikes lie past the GAT's validation cut


def test_a_detector_spiking_past_its_cut_no_longer_hides_the_other_ones_attack(cm):
    """With the validation cuts, the GAT's calibration spikes (about 2 of its cuts) set
    cut_max's threshold above every VGAE attack window (1.5 of its cut): only the GAT's
    own spikes inside the attack are flagged.
    In capture units the GAT's spikes count 1 or less and the attack is caught, at no more
    false alarms than the quantile rule's α allows on the spikes."""
    scores = _capture(cm, 0)
    flags, y, threshold = cm.calibrated("validation", scores)
    assert threshold > 1.5
    assert flags[y == 1].mean() < 0.1
    flags, y, threshold = cm.calibrated("capture", scores)
    assert threshold < 1.5
    assert flags[y == 1].all()
    assert flags[y == 0].mean() <= 0.05


OPTIONS = ("capture", "capture_scale")  # every opt-in value of fusion.cut_units_at


def _per_capture(inputs: FusedScores) -> list[np.ndarray]:
    """Every per-window array the capture units read: quantiles and (centre, scale)."""
    assert inputs.capture_quantiles is not None
    assert inputs.capture_norms is not None
    return [*inputs.capture_quantiles, *(a for pair in inputs.capture_norms for a in pair)]


@pytest.mark.parametrize("at", OPTIONS)
def test_it_stays_causal_and_label_free(cm, at):
    """Other labels on the same scores (a longer attack), and other scores after the
    calibration windows, leave every capture's quantiles and norms and the threshold as
    they were (each option reads one of them)."""
    base = _capture(cm, 0, attack=(30.0, 40.0))
    later = _capture(cm, 0, attack=(30.0, 55.0))
    assert later.y.sum() > base.y.sum()
    later.vgae[:] = base.vgae  # the same scores; only what is labelled differs
    a_base = _per_capture(calibrated_inputs(base, 0.0, CAL_SECONDS, (1e-6, 1e-6)))
    a_later = _per_capture(calibrated_inputs(later, 0.0, CAL_SECONDS, (1e-6, 1e-6)))
    for a, b in zip(a_base, a_later, strict=True):
        np.testing.assert_array_equal(a, b)
    assert cm.calibrated(at, base)[2] == cm.calibrated(at, later)[2]
    tail = _capture(cm, 0)
    tail.gat[tail.window_end > CAL_SECONDS] += 500.0  # anything after calibration
    assert cm.calibrated(at, tail)[2] == cm.calibrated(at, base)[2]


@pytest.mark.parametrize("at", OPTIONS)
def test_the_frozen_protocol_and_the_other_fusions_keep_the_validation_cuts(cm, at):
    scores = _capture(cm, 0)
    option, validation = cm.model(at), cm.model("validation")
    frozen = option.frozen_inputs(scores)
    assert frozen.capture_quantiles is None
    assert frozen.capture_norms is None
    np.testing.assert_array_equal(
        option.fuse("cut_max", frozen), validation.fuse("cut_max", frozen)
    )
    calibrated = option.calibrated_inputs(scores)
    assert not np.array_equal(
        option.fuse("cut_max", calibrated), validation.fuse("cut_max", calibrated)
    )
    for method in ("max", "mean", "gat", "vgae"):
        np.testing.assert_array_equal(
            option.fuse(method, calibrated), validation.fuse(method, calibrated)
        )
    # Inputs built without them (saved arrays, older callers) fuse in validation units.
    bare = FusedScores(calibrated.z_gat, calibrated.z_vgae, calibrated.state, calibrated.scored)
    np.testing.assert_array_equal(
        option.fuse("cut_max", bare), validation.fuse("cut_max", calibrated)
    )


def test_a_checkpoint_keeps_the_setting_and_refuses_an_unknown_one(cm):
    ckpt = cm.model("capture").to_checkpoint()
    assert FusionModel.from_checkpoint(ckpt).cut_units_at == "capture"
    default = cm.model("validation").to_checkpoint()
    assert "cut_units_at" not in default  # saved as canids-models 0.23.0 saved it
    assert FusionModel.from_checkpoint(default).cut_units_at == "validation"
    ckpt["cut_units_at"] = "median"
    with pytest.raises(ValueError, match=r"cut_units_at='median' is not one of"):
        FusionModel.from_checkpoint(ckpt)


def test_the_default_keeps_its_digest_and_capture_is_a_new_config():
    for size in ("teacher", "student"):
        default = load_config(size)
        same = load_config(size, overrides=["fusion.cut_units_at=validation"])
        assert same.digest == default.digest
        capture = load_config(size, overrides=["fusion.cut_units_at=capture"])
        assert capture.digest != default.digest
    with pytest.raises(ConfigError, match="cut_units_at"):
        load_config("teacher", overrides=["fusion.cut_units_at=median"])


# What each option's calibration label adds to a cut fusion's.
LABELS = {"capture": "capture's 0.98 quantile", "capture_scale": "frozen cuts in the capture's"}


@pytest.mark.parametrize("at", OPTIONS)
def test_the_pipeline_fits_with_it_and_says_so(refit_fusion, tmp_path, at):
    """The demo's fusion and evaluate stages under the option: the checkpoint and metrics
    record it, the cut fusions' calibration labels say it, and every frozen row and every
    row of a fusion that is not a cut fusion is the default's."""
    _, _, evaluate, _, _ = refit_fusion(tmp_path / at, at, f"fusion.cut_units_at={at}")
    _, _, base, _, _ = refit_fusion(tmp_path / "validation", "v")
    assert evaluate["cut_units_at"] == at
    assert base["cut_units_at"] == "validation"
    labels = {r["model"]: r.get("calibration", "") for r in evaluate["rows"]}
    assert LABELS[at] in labels["fusion:cut_max"]
    assert "capture's" not in labels["fusion:max"]
    assert evaluate["fusion_method"] == base["fusion_method"] != "cut_max"
    moved = set()
    for new, old in zip(evaluate["rows"], base["rows"], strict=True):
        assert (new["model"], new["split"]) == (old["model"], old["split"])
        if new["protocol"] == "frozen" or not new["model"].startswith("fusion:cut_"):
            # The pick is not a cut fusion, so its period, and every other rule, stays.
            assert {k: v for k, v in new.items() if k != "calibration"} == {
                k: v for k, v in old.items() if k != "calibration"
            }, new["model"]
        elif new != old:
            moved.add(new["model"])
    assert moved  # the cut fusions' calibrated rows are not the default's
