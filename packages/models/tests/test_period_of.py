"""Whose shared calibration period a run calibrates on (``fusion.period_of``, canids-models
0.20.0): ``pick``, the default, the deployed fusion's own (the families rule's pick where
that rule chose); ``validation``, validation's own choice whichever fusion was deployed
(0.13.0-0.19.0)."""

import pytest
from canids_models import load_config
from canids_models.fusion_methods import EITHER
from canids_models.stages.fusion_choice import PERIOD_OF, period_system

SYSTEMS = ("mean", "max", "logistic", "dqn", "cut_mean", "cut_max")


def test_the_pick_calibrates_on_its_own_period():
    # The families rule deployed cut_max; validation ranked logistic first.
    assert period_system("pick", "cut_max", "logistic", SYSTEMS) == "cut_max"
    assert period_system("validation", "cut_max", "logistic", SYSTEMS) == "logistic"
    # Where both rules agree the two settings are the same rule.
    for period_of in PERIOD_OF:
        assert period_system(period_of, "max", "max", SYSTEMS) == "max"


def test_either_takes_validation_s_first_score_fusion_then_mean():
    """``either`` has no fused score and so no system of its own."""
    for period_of in PERIOD_OF:
        assert period_system(period_of, EITHER, "dqn", SYSTEMS) == "dqn"
        assert period_system(period_of, EITHER, EITHER, SYSTEMS) == "mean"


def test_an_unknown_setting_and_an_empty_set_of_systems_are_refused():
    with pytest.raises(ValueError, match=r"one of \['pick', 'validation'\]'s, not 'best'"):
        period_system("best", "max", "max", SYSTEMS)
    with pytest.raises(ValueError, match="no score fusion among the systems"):
        period_system("pick", EITHER, EITHER, ("max",))
    with pytest.raises(ValueError, match="period_of"):
        load_config("teacher", overrides=["fusion.period_of=best"])


def test_the_config_default_is_the_pick():
    assert load_config("teacher").fusion.period_of == "pick"
    assert load_config("student").fusion.period_of == "pick"


def test_the_fusion_stage_calibrates_on_the_period_of_the_setting(refit_fusion, tmp_path_factory):
    """The demo teacher's fusion and evaluate stages under both settings, on the same
    detectors: each records whose period it took, that system's period is the one every
    score calibrates on, and evaluate calibrates there."""
    root = tmp_path_factory.mktemp("period_of")
    for period_of in PERIOD_OF:
        _, fusion, evaluate, _, log = refit_fusion(
            root / period_of, period_of, f"fusion.period_of={period_of}"
        )
        sel = fusion["selection"]
        assert sel["period_of"] == period_of
        whose = f"{sel['period_system']}'s, fusion.period_of={period_of}"
        said = f"{sel['period']['score']:.3f}; {whose})"
        assert said in "\n".join(log)
        chosen = sel["validation_choice"] if period_of == "validation" else sel["method"]
        expected = period_system(period_of, sel["method"], sel["validation_choice"], SYSTEMS)
        assert sel["period_system"] == expected
        if chosen != EITHER:
            assert sel["period_system"] == chosen
        system = sel["systems"][sel["period_system"]]
        period = (system["warmup"], system["seconds"])
        assert (sel["period"]["warmup"], sel["period"]["seconds"]) == period
        for name in ("gat", "vgae", *SYSTEMS):
            rule = sel["scores"][name]["calibrated"]["rule"]
            assert (rule["warmup"], rule["seconds"]) == period
        if sel["method"] != EITHER:
            assert (evaluate["calibration_warmup"], evaluate["calibration_seconds"]) == period
