"""``fusion.cut_units_at=capture`` (canids-models 0.24.0, opt-in): under the calibrated
protocol each detector's unit in the cut fusions is at least its capture's own
``CAPTURE_UNIT_QUANTILE`` of z over the calibration windows, so a detector whose normal
traffic on a new vehicle spikes past its validation cut cannot lift the fused threshold
over the attacks the other detector carries (set_01 t04's mechanism, docs/results.md)."""

from __future__ import annotations

import numpy as np
import pytest
from canids_models import ConfigError, load_config
from canids_models.calibration import MAD_TO_SIGMA, CalibrationRule
from canids_models.calibration_select import calibrate_stream
from canids_models.fusion_methods import CAPTURE_UNIT_QUANTILE, Normaliser, capture_cut_units
from canids_models.fusion_model import FusedScores, FusionModel, calibrated_inputs
from canids_models.scoring import SplitScores

STEP = 0.1  # s between window ends
CAL_SECONDS = 10.0
CUTS = (95.0, 2.0)  # validation cuts in σ: set_01's GAT and VGAE scale


def _capture(seed: int, attack: tuple[float, float] = (30.0, 40.0)) -> SplitScores:
    """One 60 s capture of a new vehicle: the GAT's normal traffic spikes to 150-200 σ on
    one window in 20 (past its 95 σ cut), before and after calibration alike; the VGAE is
    quiet except inside ``attack``, where it stands at 1.5 of its cut in the capture's own
    scale."""
    rng = np.random.default_rng(seed)
    ends = np.arange(1, 601) * STEP
    n = len(ends)
    gat = rng.normal(0.0, 1.0, n)
    spikes = np.arange(n) % 20 == 7
    gat[spikes] = rng.uniform(150.0, 200.0, spikes.sum())
    vgae = rng.normal(0.0, 1.0, n)
    y = ((ends > attack[0]) & (ends <= attack[1])).astype(np.int64)
    cal = vgae[ends <= CAL_SECONDS]
    centre = np.median(cal)
    vgae[y == 1] = centre + 1.5 * CUTS[1] * MAD_TO_SIGMA * np.median(np.abs(cal - centre))
    return SplitScores(
        "test_04",
        gat,
        vgae,
        np.zeros((n, 15)),
        y,
        np.zeros(n, np.int64),
        ends - STEP,
        ends,
        np.zeros(n),
    )


def _model(at: str) -> FusionModel:
    rule = CalibrationRule("quantile", 0.02, CAL_SECONDS)
    return FusionModel(
        {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)},
        "cut_max",
        {},
        {"cut_max": rule},
        CAL_SECONDS,
        cut_units=CUTS,
        cut_units_at=at,
    )


def _calibrated(at: str, scores: SplitScores) -> tuple[np.ndarray, np.ndarray, float]:
    """(flags on the scored windows, their labels, the capture's threshold) of cut_max."""
    model = _model(at)
    fused = model.fuse("cut_max", model.calibrated_inputs(scores))
    (stream,) = scores.streams(fused, with_labels=False)
    scored, flags, calib = calibrate_stream(stream, model.calibration["cut_max"])
    return flags, scores.y[scored], calib.threshold


def test_the_unit_is_the_cut_or_the_captures_quantile_whichever_is_larger():
    q = (np.array([199.0, 40.0]), np.array([0.5, np.nan]))
    g, v = capture_cut_units(CUTS, q)
    np.testing.assert_array_equal(g, [199.0, 95.0])
    assert v[0] == 2.0
    assert np.isnan(v[1])  # a capture that could not calibrate stays NaN


def test_each_captures_quantile_comes_from_its_own_calibration_windows():
    a, b = _capture(0), _capture(1)
    both = SplitScores(
        "test_04",
        np.concatenate((a.gat, 3.0 * b.gat)),
        np.concatenate((a.vgae, b.vgae)),
        np.zeros((1200, 15)),
        np.concatenate((a.y, b.y)),
        np.repeat([0, 1], 600),
        np.concatenate((a.window_start, b.window_start)),
        np.concatenate((a.window_end, b.window_end)),
        np.zeros(1200),
    )
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


def test_a_detector_spiking_past_its_cut_no_longer_hides_the_other_ones_attack():
    """With the validation cuts, the GAT's calibration spikes (about 2 of its cuts) set
    cut_max's threshold above every VGAE attack window (1.5 of its cut): only the GAT's
    own spikes inside the attack are flagged.
    In capture units the GAT's spikes count 1 or less and the attack is caught, at no more
    false alarms than the quantile rule's α allows on the spikes."""
    scores = _capture(0)
    flags, y, threshold = _calibrated("validation", scores)
    assert threshold > 1.5
    assert flags[y == 1].mean() < 0.1
    flags, y, threshold = _calibrated("capture", scores)
    assert threshold < 1.5
    assert flags[y == 1].all()
    assert flags[y == 0].mean() <= 0.05


def test_it_stays_causal_and_label_free():
    """Other labels on the same scores (a longer attack), and other scores after the
    calibration windows, leave every capture quantile and the threshold as they were."""
    base = _capture(0, attack=(30.0, 40.0))
    later = _capture(0, attack=(30.0, 55.0))
    assert later.y.sum() > base.y.sum()
    later.vgae[:] = base.vgae  # the same scores; only what is labelled differs
    q_base = calibrated_inputs(base, 0.0, CAL_SECONDS, (1e-6, 1e-6)).capture_quantiles
    q_later = calibrated_inputs(later, 0.0, CAL_SECONDS, (1e-6, 1e-6)).capture_quantiles
    assert q_base is not None
    assert q_later is not None
    for a, b in zip(q_base, q_later, strict=True):
        np.testing.assert_array_equal(a, b)
    assert _calibrated("capture", base)[2] == _calibrated("capture", later)[2]
    tail = _capture(0)
    tail.gat[tail.window_end > CAL_SECONDS] += 500.0  # anything after calibration
    assert _calibrated("capture", tail)[2] == _calibrated("capture", base)[2]


def test_the_frozen_protocol_and_the_other_fusions_keep_the_validation_cuts():
    scores = _capture(0)
    capture, validation = _model("capture"), _model("validation")
    frozen = capture.frozen_inputs(scores)
    assert frozen.capture_quantiles is None
    np.testing.assert_array_equal(
        capture.fuse("cut_max", frozen), validation.fuse("cut_max", frozen)
    )
    calibrated = capture.calibrated_inputs(scores)
    for method in ("max", "mean", "gat", "vgae"):
        np.testing.assert_array_equal(
            capture.fuse(method, calibrated), validation.fuse(method, calibrated)
        )
    # Inputs built without quantiles (saved arrays, older callers) fuse in validation units.
    bare = FusedScores(calibrated.z_gat, calibrated.z_vgae, calibrated.state, calibrated.scored)
    np.testing.assert_array_equal(
        capture.fuse("cut_max", bare), validation.fuse("cut_max", calibrated)
    )


def test_a_checkpoint_keeps_the_setting_and_refuses_an_unknown_one():
    ckpt = _model("capture").to_checkpoint()
    assert FusionModel.from_checkpoint(ckpt).cut_units_at == "capture"
    default = _model("validation").to_checkpoint()
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


def test_the_pipeline_fits_with_it_and_says_so(refit_fusion, tmp_path):
    """The demo's fusion and evaluate stages under the option: the checkpoint and metrics
    record it, the cut fusions' calibration labels say it, and every frozen row and every
    row of a fusion that is not a cut fusion is the default's."""
    _, _, evaluate, _, _ = refit_fusion(tmp_path / "capture", "c", "fusion.cut_units_at=capture")
    _, _, base, _, _ = refit_fusion(tmp_path / "validation", "v")
    assert evaluate["cut_units_at"] == "capture"
    assert base["cut_units_at"] == "validation"
    labels = {r["model"]: r.get("calibration", "") for r in evaluate["rows"]}
    assert "capture's 0.98 quantile" in labels["fusion:cut_max"]
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
