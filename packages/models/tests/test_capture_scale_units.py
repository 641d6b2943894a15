"""``fusion.cut_units_at=capture_scale`` (canids-models 0.29.0, opt-in): under the
calibrated protocol each detector's unit in the cut fusions is its frozen cut re-expressed
in the capture's own normalisation. Calibrated z divides by the capture's MAD while the
cut is in validation's, so a detector whose clean start is quieter than validation is
magnified by the ratio, and its normal spikes can lift the fused threshold over the
attacks the other detector carries (set_01 t04's mechanism, docs/results.md). That it
is causal and label-free, leaves the frozen protocol and the other fusions alone and
fits in the demo's pipeline is tested for both opt-ins in ``test_capture_units.py``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from canids_models import ConfigError, load_config
from canids_models.calibration import MAD_TO_SIGMA
from canids_models.fusion_inputs import calibrated_inputs
from canids_models.fusion_methods import MIN_CUT_UNIT, Normaliser, capture_scale_units
from canids_models.fusion_model import FusionModel
from canids_models.scoring import SplitScores

STEP = 0.1  # s between window ends
CAL_SECONDS = 10.0
CUTS = (95.0, 2.0)  # validation cuts in validation σ: set_01's GAT and VGAE scale
QUIET = 0.3  # the GAT's spread on the new vehicle's clean start, in validation σ


@pytest.fixture
def cm(cut_max_capture: Callable[..., Any]) -> Any:
    return cut_max_capture(CUTS, CAL_SECONDS)


def _capture(cm: Any, seed: int, attack: tuple[float, float] = (30.0, 40.0)) -> SplitScores:
    """One 60 s capture of a new vehicle, raw scores with validation's normalisation the
    identity: the GAT's normal traffic is three times quieter than validation's and
    spikes to 45-60 validation σ (half its cut) on one window in 20, before and after
    calibration alike; the VGAE is quiet except inside ``attack``, where it stands at 1.5
    of its cut in the capture's own scale."""
    return cm.new_vehicle(seed, QUIET, (45.0, 60.0), attack)


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


def test_each_windows_norm_is_its_own_captures_clean_start(cm):
    a, b = _capture(cm, 0), _capture(cm, 1)
    b.gat[:] = 3.0 * b.gat + 7.0
    both = cm.together(a, b)
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


def test_a_quiet_detectors_spikes_no_longer_hide_the_other_ones_attack(cm):
    """With the validation cuts the GAT's spikes (half its cut in raw score, about 1.8
    cuts once divided by its quiet start's MAD) set cut_max's threshold above every VGAE
    attack window (1.5 of its cut): the attack is missed. With the cuts in the capture's
    scale the spikes count half a cut, as they do in raw score, and the attack is caught
    at no more false alarms than the quantile rule's α allows."""
    scores = _capture(cm, 0)
    flags, y, threshold = cm.calibrated("validation", scores)
    assert threshold > 1.5
    assert flags[y == 1].mean() < 0.1
    flags, y, threshold = cm.calibrated("capture_scale", scores)
    assert threshold < 1.5
    assert flags[y == 1].all()
    assert flags[y == 0].mean() <= 0.05


def test_a_checkpoint_keeps_the_setting_and_its_label_says_so(cm):
    model = cm.model("capture_scale")
    assert FusionModel.from_checkpoint(model.to_checkpoint()).cut_units_at == "capture_scale"
    assert "frozen cuts in the capture's own scale" in model.calibration_label("cut_max")
    assert "capture's own scale" not in cm.model("validation").calibration_label("cut_max")


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
