"""``fusion.vgae_false_alarm_rate``: the VGAE's frozen threshold set by the share of
validation's normal windows it may flag, not by F1 on validation's attacks; only the
VGAE's decisions (and ``either``'s) move."""

from __future__ import annotations

import numpy as np
import pytest
from canids_models import ConfigError, ModelsError, StageContext, load_config
from canids_models.metrics import binary_metrics, false_alarm_threshold
from canids_models.stages import run_stage
from canids_testkit import tiny_overrides as tiny

DS = "demo"
RATE = 0.05  # the demo's validation is small: 5 % leaves a few normal windows flagged


# ---------------------------------------------------------------- the rule by hand


def test_the_cut_flags_at_most_the_rate_of_normal_windows_midway_to_the_next_score():
    normal = np.arange(100, dtype=np.float64)  # 0 … 99
    scores = np.concatenate((normal, [150.0, 200.0]))
    y = np.concatenate((np.zeros(100), np.ones(2)))
    thr = false_alarm_threshold(scores, y, 0.01)
    assert thr.value == 98.5  # 99 flagged (1 of 100), 98 not: midway between them
    assert int((normal >= thr.value).sum()) == 1
    assert thr.val_f1 == pytest.approx(2 * 2 / (2 * 2 + 1))
    assert thr.method == "at most 0.01 of validation's normal windows flagged"
    # Below one window's worth, none is flagged: the cut goes midway to the lowest attack.
    assert false_alarm_threshold(scores, y, 0.005).value == (99.0 + 150.0) / 2


def test_a_tie_is_never_split_and_a_top_score_leaves_no_next_one():
    scores = np.array([5.0, 5.0, 5.0, 1.0, 9.0])
    y = np.array([0, 0, 0, 0, 1])
    # One of four normal windows may be flagged, but the top three tie: none is.
    thr = false_alarm_threshold(scores, y, 0.25)
    assert thr.value == 7.0
    assert not (scores[:4] >= thr.value).any()
    only_normal = np.array([3.0, 2.0, 1.0])
    thr = false_alarm_threshold(only_normal, np.zeros(3), 0.1)
    assert thr.value > 3.0
    assert thr.value == np.nextafter(3.0, np.inf)
    assert thr.val_f1 is None  # no attack in validation: no F1 to report


@pytest.mark.parametrize("rate", [0.0, 1.0, -0.1])
def test_a_rate_outside_zero_one_is_refused(rate):
    with pytest.raises(ValueError, match=r"false-alarm rate is in \(0, 1\)"):
        false_alarm_threshold(np.arange(4.0), np.zeros(4), rate)


def test_validation_without_a_normal_window_is_refused():
    with pytest.raises(ValueError, match="holds no normal window"):
        false_alarm_threshold(np.arange(4.0), np.ones(4), 0.01)


# ------------------------------------------------------------------- the config key


def test_the_key_is_unset_by_default_and_counts_in_the_digest_only_when_set():
    plain = load_config("teacher", None, [])
    assert plain.fusion.vgae_false_alarm_rate is None
    # Unset, the digest is every earlier run's: test_config_digest.py holds golden values.
    set_ = load_config("teacher", None, ["fusion.vgae_false_alarm_rate=0.01"])
    assert set_.fusion.vgae_false_alarm_rate == 0.01
    assert set_.digest != plain.digest
    assert load_config("teacher", None, ["fusion.vgae_false_alarm_rate=0.02"]).digest not in (
        set_.digest,
        plain.digest,
    )


@pytest.mark.parametrize("value", ["0", "0.5", "-0.01"])
def test_a_rate_the_config_cannot_hold_is_a_config_error(value):
    with pytest.raises(ConfigError, match="vgae_false_alarm_rate"):
        load_config("teacher", None, [f"fusion.vgae_false_alarm_rate={value}"])


# ------------------------------------------------------- the fusion stage and the report


@pytest.fixture(scope="module")
def rate_run(refit_fusion, tmp_path_factory):
    """The teacher's fusion and evaluate again with the VGAE cut at a false-alarm rate, on
    copies of the session pipeline's detectors."""
    root = tmp_path_factory.mktemp("vgae_rate")
    return refit_fusion(root, "rate", f"fusion.vgae_false_alarm_rate={RATE}")


def test_the_vgae_cut_is_the_rate_rule_on_validation(rate_run):
    _, fusion, _, arrays, _ = rate_run
    z = arrays["val/frozen/vgae/score"].astype(np.float64)
    y = arrays["val/y"].astype(bool)
    refit = false_alarm_threshold(z, y, RATE)
    assert fusion["thresholds"]["vgae"]["value"] == pytest.approx(refit.value, rel=1e-5)
    assert fusion["thresholds"]["vgae"]["method"] == refit.method
    flagged = int((z[~y] >= fusion["thresholds"]["vgae"]["value"]).sum())
    assert flagged <= int(np.floor(RATE * (~y).sum()))
    cut = fusion["selection"]["vgae_cut"]
    # What each cut recalls of validation's attacks, beside it (a rate cut's loss shows).
    assert cut["val_recall"] == pytest.approx((z[y] >= cut["value"]).mean(), abs=1e-9)
    assert cut["f1_cut_val_recall"] == pytest.approx((z[y] >= cut["f1_cut"]).mean(), abs=1e-9)
    assert cut["false_alarm_rate"] == RATE
    assert cut["value"] == fusion["thresholds"]["vgae"]["value"]


def test_only_the_vgae_and_either_decisions_move(rate_run, pipelines):
    _, fusion, _, _, _ = rate_run
    plain = pipelines.metrics("teacher", "fusion")
    assert plain["selection"]["vgae_cut"]["false_alarm_rate"] is None
    # The F1 cut it replaced is the plain run's, and every other threshold is the same.
    assert fusion["selection"]["vgae_cut"]["f1_cut"] == pytest.approx(
        plain["thresholds"]["vgae"]["value"], rel=1e-6
    )
    for name in ("gat", "mean", "max", "logistic", "dqn"):
        assert fusion["thresholds"][name]["value"] == pytest.approx(
            plain["thresholds"][name]["value"], rel=1e-6
        ), name
    assert fusion["thresholds"]["vgae"]["value"] != plain["thresholds"]["vgae"]["value"]


def test_either_flags_with_the_rate_cut_and_the_report_says_so(rate_run):
    store, fusion, evaluate, arrays, log = rate_run
    for split in ["val", *evaluate["held_out_splits"]]:
        y = arrays[f"{split}/y"].astype(bool)
        gat = arrays[f"{split}/frozen/gat/score"] >= fusion["thresholds"]["gat"]["value"]
        vgae = arrays[f"{split}/frozen/vgae/score"] >= fusion["thresholds"]["vgae"]["value"]
        np.testing.assert_array_equal(arrays[f"{split}/frozen/fusion:either/flag"], gat | vgae)
        row = next(
            r
            for r in evaluate["rows"]
            if (r["split"], r["protocol"], r["model"]) == (split, "frozen", "fusion:either")
        )
        assert row["f1"] == binary_metrics(y, gat | vgae)["f1"]
    text = store.path(DS, "teacher", "results", "results.md").read_text()
    assert f"VGAE: its frozen threshold flags at most {RATE:g} of validation's normal" in text
    recall = fusion["selection"]["vgae_cut"]["val_recall"]
    assert f"It recalls {recall:.3f} of validation's attacks; the max-F1 cut would" in text
    assert any("fusion.vgae_false_alarm_rate" in line for line in log)
    assert evaluate["vgae_false_alarm_rate"] == RATE
    html = store.path(DS, "teacher", "results", "report.html").read_text()
    assert "windows (fusion.vgae_false_alarm_rate), not max F1." in html


def test_a_validation_of_attacks_only_is_refused_before_anything_is_written(
    with_teacher_detectors, demo, tmp_path
):
    """With an anomaly-only fit the stage would run on one class; with no normal window
    there is no false-alarm rate to measure, and the error says so and writes nothing."""
    store = with_teacher_detectors(tmp_path, "attacks")
    config = load_config("teacher", None, tiny("teacher", f"fusion.vgae_false_alarm_rate={RATE}"))
    ctx = StageContext(DS, "teacher", config, store, demo.cache_dir, log=lambda _: None)
    val = ctx.split("val")
    attacks = val.subset(val.labels() == 1)
    ctx = StageContext(
        DS,
        "teacher",
        config.model_copy(update={"eval": config.eval.model_copy(update={"one_class_fit": True})}),
        store,
        demo.cache_dir,
        log=lambda _: None,
        _splits={"val": attacks, "train": ctx.split("train")},
    )
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ModelsError, match="no normal window"):
        run_stage("fusion", ctx)
    assert not store.is_done(DS, "teacher", "fusion")
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
