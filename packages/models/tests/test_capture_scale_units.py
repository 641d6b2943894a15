"""``fusion.cut_units_at=capture_scale`` (canids-models 0.29.0, opt-in): under the
calibrated protocol each detector's unit in the cut fusions is its frozen cut re-expressed
in the capture's own normalisation. Calibrated z divides by the capture's MAD while the
cut is in validation's, so a detector whose clean start is quieter than validation is
magnified by the ratio, and its normal spikes can lift the fused threshold over the
attacks the other detector carries (set_01 t04's mechanism, docs/results.md)."""

from __future__ import annotations

import numpy as np
import pytest
from canids_models import ConfigError, load_config
from canids_models.calibration import MAD_TO_SIGMA, CalibrationRule
from canids_models.calibration_select import calibrate_stream
from canids_models.fusion_methods import MIN_CUT_UNIT, Normaliser, capture_scale_units
from canids_models.fusion_model import FusedScores, FusionModel, calibrated_inputs
from canids_models.scoring import SplitScores

STEP = 0.1  # s between window ends
CAL_SECONDS = 10.0
CUTS = (95.0, 2.0)  # validation cuts in validation σ: set_01's GAT and VGAE scale
QUIET = 0.3  # the GAT's spread on the new vehicle's clean start, in validation σ


def _capture(seed: int, attack: tuple[float, float] = (30.0, 40.0)) -> SplitScores:
    """One 60 s capture of a new vehicle, raw scores with validation's normalisation the
    identity: the GAT's normal traffic is three times quieter than validation's and
    spikes to 45-60 validation σ (half its cut) on one window in 20, before and after
    calibration alike; the VGAE is quiet except inside ``attack``, where it stands at 1.5
    of its cut in the capture's own scale."""
    rng = np.random.default_rng(seed)
    ends = np.arange(1, 601) * STEP
    n = len(ends)
    gat = rng.normal(0.0, QUIET, n)
    spikes = np.arange(n) % 20 == 7
    gat[spikes] = rng.uniform(45.0, 60.0, spikes.sum())
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


def test_the_unit_is_the_frozen_cut_in_the_captures_own_scale_floored():
    normalisers = (Normaliser(2.0, 0.5), Normaliser(-1.0, 2.0))
    # Raw cuts: GAT 2 + 95 x 0.5 = 49.5, VGAE -1 + 2 x 2 = 3.
    norms = (
        (np.array([1.5, 2.0, np.nan]), np.array([0.1, 0.5, np.nan])),
        (np.array([0.0, 5.0, np.nan]), np.array([1.0, 2.0, np.nan])),
    )
    g, v = capture_scale_units(CUTS, normalisers, norms)
    np.testing.assert_allclose(g[:2], [(49.5 - 1.5) / 0.1, 95.0])  # 480: five times quieter
    # A capture centred past the cut (the frozen cut flags its normal traffic) floors it.
    np.testing.assert_allclose(v[:2], [3.0, MIN_CUT_UNIT])
    assert np.isnan(g[2])
    assert np.isnan(v[2])


def test_each_windows_norm_is_its_own_captures_clean_start():
    a, b = _capture(0), _capture(1)
    both = SplitScores(
        "test_04",
        np.concatenate((a.gat, 3.0 * b.gat + 7.0)),
        np.concatenate((a.vgae, b.vgae)),
        np.zeros((1200, 15)),
        np.concatenate((a.y, b.y)),
        np.repeat([0, 1], 600),
        np.concatenate((a.window_start, b.window_start)),
        np.concatenate((a.window_end, b.window_end)),
        np.zeros(1200),
    )
    inputs = calibrated_inputs(both, 0.0, CAL_SECONDS, (1e-6, 1e-6))
    assert inputs.capture_norms is not None
    (centre_g, scale_g), _ = inputs.capture_norms
    # z = (raw - centre) / scale on every window, with each capture's own pair.
    np.testing.assert_allclose((both.gat - centre_g) / scale_g, inputs.z_gat)
    cal = both.window_end <= CAL_SECONDS
    for c in (0, 1):
        mine = both.source == c
        assert np.unique(centre_g[mine]).size == np.unique(scale_g[mine]).size == 1
        start = both.gat[mine & cal]
        assert centre_g[mine][0] == pytest.approx(np.median(start))
        mad = np.median(np.abs(start - np.median(start)))
        assert scale_g[mine][0] == pytest.approx(MAD_TO_SIGMA * mad)
    assert centre_g[600] > 6.0  # the second capture's offset of 7 is its own


def test_a_quiet_detectors_spikes_no_longer_hide_the_other_ones_attack():
    """With the validation cuts the GAT's spikes (half its cut in raw score, about 1.8
    cuts once divided by its quiet start's MAD) set cut_max's threshold above every VGAE
    attack window (1.5 of its cut): the attack is missed. With the cuts in the capture's
    scale the spikes count half a cut, as they do in raw score, and the attack is caught
    at no more false alarms than the quantile rule's α allows."""
    scores = _capture(0)
    flags, y, threshold = _calibrated("validation", scores)
    assert threshold > 1.5
    assert flags[y == 1].mean() < 0.1
    flags, y, threshold = _calibrated("capture_scale", scores)
    assert threshold < 1.5
    assert flags[y == 1].all()
    assert flags[y == 0].mean() <= 0.05


def test_it_stays_causal_and_label_free():
    """Other labels on the same scores, and other scores after the calibration windows,
    leave every capture's norm and the threshold as they were."""
    base = _capture(0, attack=(30.0, 40.0))
    later = _capture(0, attack=(30.0, 55.0))
    assert later.y.sum() > base.y.sum()
    later.vgae[:] = base.vgae  # the same scores; only what is labelled differs
    n_base = calibrated_inputs(base, 0.0, CAL_SECONDS, (1e-6, 1e-6)).capture_norms
    n_later = calibrated_inputs(later, 0.0, CAL_SECONDS, (1e-6, 1e-6)).capture_norms
    assert n_base is not None
    assert n_later is not None
    for detector_base, detector_later in zip(n_base, n_later, strict=True):
        for a, b in zip(detector_base, detector_later, strict=True):
            np.testing.assert_array_equal(a, b)
    assert _calibrated("capture_scale", base)[2] == _calibrated("capture_scale", later)[2]
    tail = _capture(0)
    tail.gat[tail.window_end > CAL_SECONDS] += 500.0  # anything after calibration
    assert _calibrated("capture_scale", tail)[2] == _calibrated("capture_scale", base)[2]


def test_the_frozen_protocol_and_the_other_fusions_keep_the_validation_cuts():
    scores = _capture(0)
    rescaled, validation = _model("capture_scale"), _model("validation")
    frozen = rescaled.frozen_inputs(scores)
    assert frozen.capture_norms is None
    np.testing.assert_array_equal(
        rescaled.fuse("cut_max", frozen), validation.fuse("cut_max", frozen)
    )
    calibrated = rescaled.calibrated_inputs(scores)
    for method in ("max", "mean", "gat", "vgae"):
        np.testing.assert_array_equal(
            rescaled.fuse(method, calibrated), validation.fuse(method, calibrated)
        )
    # Inputs built without norms (saved arrays, older callers) fuse in validation units.
    bare = FusedScores(calibrated.z_gat, calibrated.z_vgae, calibrated.state, calibrated.scored)
    np.testing.assert_array_equal(
        rescaled.fuse("cut_max", bare), validation.fuse("cut_max", calibrated)
    )


def test_a_checkpoint_keeps_the_setting_and_its_label_says_so():
    model = _model("capture_scale")
    assert FusionModel.from_checkpoint(model.to_checkpoint()).cut_units_at == "capture_scale"
    assert "frozen cuts in the capture's own scale" in model.calibration_label("cut_max")
    assert "capture's own scale" not in _model("validation").calibration_label("cut_max")


def test_it_is_a_config_of_its_own():
    for size in ("teacher", "student"):
        default = load_config(size)
        rescaled = load_config(size, overrides=["fusion.cut_units_at=capture_scale"])
        assert rescaled.fusion.cut_units_at == "capture_scale"
        assert rescaled.digest != default.digest
        capture = load_config(size, overrides=["fusion.cut_units_at=capture"])
        assert rescaled.digest != capture.digest
    with pytest.raises(ConfigError, match="cut_units_at"):
        load_config("teacher", overrides=["fusion.cut_units_at=capture-scale"])


def test_the_pipeline_fits_with_it_and_says_so(refit_fusion, tmp_path):
    """The demo's fusion and evaluate stages under the option: the metrics record it, the
    cut fusions' calibration labels say it, and every frozen row and every row of a
    fusion that is not a cut fusion is the default's."""
    options = "fusion.cut_units_at=capture_scale"
    _, _, evaluate, _, _ = refit_fusion(tmp_path / "scale", "s", options)
    _, _, base, _, _ = refit_fusion(tmp_path / "validation", "v")
    assert evaluate["cut_units_at"] == "capture_scale"
    labels = {r["model"]: r.get("calibration", "") for r in evaluate["rows"]}
    assert "capture's own scale" in labels["fusion:cut_max"]
    assert "capture's own scale" not in labels["fusion:max"]
    assert evaluate["fusion_method"] == base["fusion_method"] != "cut_max"
    moved = set()
    for new, old in zip(evaluate["rows"], base["rows"], strict=True):
        assert (new["model"], new["split"]) == (old["model"], old["split"])
        if new["protocol"] == "frozen" or not new["model"].startswith("fusion:cut_"):
            assert {k: v for k, v in new.items() if k != "calibration"} == {
                k: v for k, v in old.items() if k != "calibration"
            }, new["model"]
        elif new != old:
            moved.add(new["model"])
    assert moved  # the cut fusions' calibrated rows are not the default's
