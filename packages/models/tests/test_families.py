"""``fusion.select=families``: each attack family of the training captures held out of a
training of both detectors, every fusion (and ``either``) scored on it, the best mean
chosen; and ``either`` itself: a window flagged where either detector flags it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from canids_models import ArtifactStore, ConfigError, ModelsError, StageContext, load_config
from canids_models.families import (
    CANDIDATES,
    attack_families,
    capture_family,
    choose_by_families,
    choosing_rule,
    require_families,
)
from canids_models.fusion_inputs import FusedScores
from canids_models.fusion_methods import EITHER, TIE_ORDERS, Normaliser
from canids_models.fusion_model import FusionModel
from canids_models.metrics import Threshold
from canids_models.stages import run_stage
from canids_models.stages.fusion_choice import period_system
from canids_testkit import tiny_overrides as tiny

DS = "demo"


@pytest.mark.parametrize(
    ("path", "family"),
    [
        ("train_02_with_attacks__DoS-2.parquet", "DoS"),
        ("train_02_with_attacks__targeted_payload_fuzzing-2.parquet", "targeted_payload_fuzzing"),
        ("train_02_with_attacks/dos-1.parquet", "dos"),
        ("train_02_with_attacks__DoS-kia.parquet", "DoS"),  # hcrl_sa: attack-vehicle
        ("train_02_with_attacks__fuzzing-Spark.parquet", "fuzzing"),
        ("Fuzzy_dataset_3.csv.gz", "Fuzzy_dataset"),
        ("gear.csv", "gear"),
    ],
)
def test_a_capture_s_family_is_its_name_without_split_number_or_extension(path, family):
    assert capture_family(path) == family


def _source(path: str, split: str, attacks: int, used: bool = True) -> dict:
    return {"path": path, "split": split, "attack_graphs": attacks, "used": used}


def test_families_are_the_training_captures_with_attack_windows():
    manifest = {
        "sources": [
            _source("test_01_known__DoS-3.parquet", "test_01_known", 40),  # a test capture
            _source("train_01_attack_free__accessory-1.parquet", "train", 0),
            _source("train_02_with_attacks__accessory-1.parquet", "train", 0, used=False),
            _source("train_02_with_attacks__DoS-1.parquet", "train", 5),
            _source("train_02_with_attacks__DoS-2.parquet", "train", 7),
            _source("train_02_with_attacks__fuzzing-1.parquet", "train", 3),
            _source("train_02_with_attacks__fuzzing-2.parquet", "train", 9, used=False),
        ]
    }
    fams = attack_families(manifest)
    assert [(f.name, f.sources, f.attack_windows) for f in fams] == [
        ("DoS", (3, 4), 12),
        ("fuzzing", (5,), 3),
    ]
    assert fams[0].captures == (
        "train_02_with_attacks__DoS-1.parquet",
        "train_02_with_attacks__DoS-2.parquet",
    )


def test_one_family_is_refused_with_what_to_do_instead():
    fams = attack_families({"sources": [_source("train__DoS-1.parquet", "train", 5)]})
    with pytest.raises(ModelsError, match=r"hold 1 \(DoS\).*fusion.select=validation"):
        require_families(fams, "set_x")
    with pytest.raises(ModelsError, match=r"hold 0 \(none\)"):
        require_families([], "set_x")


def test_the_best_mean_wins_then_validation_then_the_simpler():
    figures = {
        "DoS": {"frozen_f1": {"mean": 0.8, "max": 0.8, "either": 0.9, "dqn": 0.7}},
        "fuzzing": {"frozen_f1": {"mean": 0.9, "max": 0.9, "either": 0.9, "dqn": 1.0}},
    }
    methods = ("mean", "max", "dqn", EITHER)
    best, means = choose_by_families(figures, {"mean": 0.99, "max": 0.99}, methods)
    assert best == EITHER
    assert means == {"mean": 0.85, "max": 0.85, "dqn": 0.85, EITHER: 0.9}
    figures["DoS"]["frozen_f1"][EITHER] = 0.8  # a three-way tie at 0.85
    assert choose_by_families(figures, {"mean": 0.98, "max": 0.99}, methods)[0] == "max"
    assert choose_by_families(figures, {"mean": 0.99, "max": 0.99}, methods)[0] == "mean"
    assert CANDIDATES[-1] == EITHER  # the last on a full tie


def test_a_lead_within_the_margin_is_a_tie_that_validation_then_the_simpler_break():
    """hcrl_sa's student, seed 2, frozen warm-up 2 s (its fusion metrics, rounded): dqn
    led mean by 0.00045 with equal val F1 and the 0.8.0 rule took it; within 0.005 the
    simpler wins where validation cannot tell them apart, and validation decides where
    it can by more than the margin."""
    figures = {
        "DoS": {"frozen_f1": {"mean": 0.00266, "max": 0.0, "dqn": 0.00266, "either": 0.007958}},
        "fuzzing": {
            "frozen_f1": {"mean": 0.992606, "max": 0.953488, "dqn": 0.993513, "either": 0.904962}
        },
    }
    methods = ("mean", "max", "dqn", EITHER)
    val = {"mean": 0.998624, "max": 0.998624, "dqn": 0.998624, EITHER: 0.952756}
    means = choose_by_families(figures, val, methods)[1]
    assert means == {"mean": 0.497633, "max": 0.476744, "dqn": 0.498086, EITHER: 0.45646}
    assert choose_by_families(figures, val, methods, margin=0.0)[0] == "dqn"  # 0.8.0's rule
    assert choose_by_families(figures, val, methods, margin=0.005)[0] == "mean"
    # Among the tied, validation decides where it leads by more than the margin ...
    assert (
        choose_by_families(figures, {**val, "dqn": 0.9999, "mean": 0.99}, methods, 0.005)[0]
        == "dqn"
    )
    # ... and a val lead within the margin is a tie too: the simpler wins.
    assert choose_by_families(figures, {**val, "dqn": 0.999}, methods, 0.005)[0] == "mean"
    # A lead of exactly the margin ties; one above it wins.
    edge = {"a": {"frozen_f1": {"mean": 0.5, "max": 0.505}}}
    assert choose_by_families(edge, {}, ("mean", "max"), 0.005)[0] == "mean"
    edge["a"]["frozen_f1"]["max"] = 0.505001
    assert choose_by_families(edge, {}, ("mean", "max"), 0.005)[0] == "max"
    # A wide margin ties everything with the best: the order decides among equal vals.
    assert choose_by_families(figures, val, methods, margin=0.49)[0] == "mean"


def test_families_choose_only_when_the_method_is_not_fixed():
    assert load_config("teacher", None, ["fusion.select=families"]).fusion.select == "families"
    with pytest.raises(ConfigError, match=r"fusion\.method=mean fixes it"):
        load_config("teacher", None, ["fusion.method=mean", "fusion.select=families"])
    # The default, auto, chooses by families only where it can: a fixed method stands.
    assert load_config("teacher", None, ["fusion.method=mean"]).fusion.method == "mean"
    # A margin without the rule it belongs to would change nothing: refused, with the fix.
    with pytest.raises(ConfigError, match=r"fusion\.select=validation: set fusion\.select"):
        load_config("teacher", None, ["fusion.select=validation", "fusion.families_margin=0.01"])
    assert load_config("teacher", None, ["fusion.families_margin=0.01"]).fusion.select == "auto"
    for bad in ("-0.1", "0.5"):
        with pytest.raises(ConfigError, match=r"fusion\.families_margin"):
            load_config(
                "teacher", None, ["fusion.select=families", f"fusion.families_margin={bad}"]
            )
    fam = load_config("teacher", None, ["fusion.select=families", "fusion.families_margin=0"])
    assert fam.fusion.families_margin == 0.0


def test_either_flags_a_window_where_either_detector_flags_it():
    rng = np.random.default_rng(0)
    z_g, z_v = rng.normal(size=500), rng.normal(size=500)
    model = FusionModel(
        {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)},
        EITHER,
        {
            "gat": Threshold(1.2, "f1", 0.9),
            "vgae": Threshold(0.4, "f1", 0.9),
            EITHER: Threshold(0.0, "or", 0.9),
        },
        {},
        1.0,
    )
    inputs = FusedScores(z_g, z_v, np.zeros((500, 1)), np.ones(500, bool))
    flags = model.thresholds[EITHER].apply(model.fuse(EITHER, inputs))
    np.testing.assert_array_equal(flags, (z_g >= 1.2) | (z_v >= 0.4))
    assert 0 < flags.sum() < 500
    assert EITHER in model.methods
    del model.thresholds[EITHER]  # a model saved before 0.8.0 has no either
    assert EITHER not in model.methods


# The teacher's run takes the default, auto (the tiny config pins validation's rule for
# speed), which on the demo's three families is the families rule; the student's names it.
SELECT = {"teacher": "auto", "student": "families"}


@pytest.fixture(scope="module")
def families_run(pipelines, demo, tmp_path_factory):
    """The teacher's and the student's fusion again, with the families rule (SELECT), on
    copies of the session pipelines' detectors."""
    store = ArtifactStore(tmp_path_factory.mktemp("families") / "runs", "session")
    out = {}
    for size in ("teacher", "student"):
        _copy_detectors(pipelines.store, store, size)
        log: list[str] = []
        out[size] = (run_stage("fusion", _families_ctx(demo, store, size, log)), log)
    return store, out


def _copy_detectors(source: ArtifactStore, target: ArtifactStore, size: str) -> None:
    for key in ("gat", "vgae"):
        shutil.copytree(source.dir(DS, size, key), target.dir(DS, size, key))


def _families_ctx(demo, store: ArtifactStore, size: str, log: list[str]) -> StageContext:
    config = load_config(size, None, tiny(size, f"fusion.select={SELECT[size]}"))
    return StageContext(DS, size, config, store, demo.cache_dir, log=log.append)


def test_each_family_is_held_out_of_both_detectors_and_scored_where_it_was_left_out(
    families_run, demo
):
    store, out = families_run
    m = out["teacher"][0].metrics
    sel = m["selection"]
    fams = attack_families(demo.split("train").manifest.data)
    assert [f.name for f in fams] == ["dos", "fuzzing", "spoofing"]
    assert list(sel["families"]) == ["dos", "fuzzing", "spoofing"]
    train, val = demo.split("train"), demo.split("val")
    for fam in fams:
        fig = sel["families"][fam.name]
        held_train = np.isin(train.sources(), fam.sources)
        held_val = np.isin(val.sources(), fam.sources)
        assert fig["held_out_windows"] == held_train.sum() + held_val.sum()
        assert fig["train_windows"] == (~held_train).sum()
        assert fig["val_windows"] == (~held_val).sum()
        expected = train.labels()[held_train].sum() + val.labels()[held_val].sum()
        assert fig["attack_windows"] == expected > 0
        assert set(fig["frozen_f1"]) == set(CANDIDATES)
        # The family's run trained on the other captures only, in its own store.
        sub = ArtifactStore(store.runs_dir / "session" / DS / "families", fam.name)
        vgae = sub.read_json(DS, "teacher", "vgae", "metrics.json")
        gat_cfg = sub.read_json(DS, "teacher", "gat", "config.json")
        assert gat_cfg["stage"] == "gat_curriculum"
        assert gat_cfg["config"]["fusion"]["select"] == "validation"
        assert gat_cfg["config"]["fusion"]["families_margin"] == 0.005
        assert vgae["epochs_run"] >= 1
    val_f1 = {k: v["frozen_val_f1"] for k, v in sel["scores"].items()}
    assert sel["families_margin"] == 0.005  # the default
    assert sel["tie_order"] == list(TIE_ORDERS["alone_first"])  # the default since 0.19.0
    best, means = choose_by_families(
        sel["families"], val_f1, CANDIDATES, 0.005, TIE_ORDERS["alone_first"]
    )
    assert m["method"] == sel["method"] == best
    assert sel["family_mean_f1"] == means
    assert any("validation alone would have chosen" in line for line in out["teacher"][1])
    said = "\n".join(out["teacher"][1])
    tied = "within 0.005 of the best is a tie (frozen val F1, then the first of max, cut_max,"
    assert tied in said
    assert f"means mean {means['mean']:.3f}, max {means['max']:.3f}" in said


def test_the_held_out_runs_leave_the_fit_as_validation_s_own(families_run, pipelines):
    """Everything but the choice is what the same fusion stage fits choosing on
    validation: the held-out runs do not move its thresholds or DQN, nor its calibration
    rules where the pick's own period is validation's choice's (since canids-models
    0.20.0 the pick calibrates on its own: ``fusion.period_of``)."""
    _, out = families_run
    for size in ("teacher", "student"):
        m, plain = out[size][0].metrics, pipelines.metrics(size, "fusion")
        sel = m["selection"]
        assert sel["validation_choice"] == plain["method"]
        assert m["thresholds"] == plain["thresholds"]
        assert m["dqn_history"] == plain["dqn_history"]
        assert m["thresholds"][EITHER]["value"] == 0.0
        assert sel["period_of"] == "pick"
        assert sel["period_system"] == period_system(
            "pick", sel["method"], sel["validation_choice"], sel["systems"]
        )
        own = sel["systems"][sel["period_system"]]
        theirs = sel["systems"][period_system("validation", "", plain["method"], sel["systems"])]
        if (own["warmup"], own["seconds"]) == (theirs["warmup"], theirs["seconds"]):
            assert m["calibration"] == plain["calibration"]
        for rule in m["calibration"].values():
            assert (rule["warmup"], rule["seconds"]) == (own["warmup"], own["seconds"])


def test_a_student_s_family_runs_distil_from_the_teacher_s_family_runs(families_run):
    store, out = families_run
    for fam in ("dos", "fuzzing", "spoofing"):
        sub = ArtifactStore(store.runs_dir / "session" / DS / "families", fam)
        cfg = sub.read_json(DS, "student", "gat", "config.json")
        assert cfg["distill_from"] == "teacher"
        assert cfg["stage"] == "gat"
        assert sub.is_done(DS, "teacher", "gat")
    assert out["student"][0].metrics["selection"]["select"] == "families"
    assert out["student"][0].metrics["selection"]["rule"] == "families"


def test_the_default_auto_takes_the_families_rule_and_says_why(families_run):
    """auto on the demo's three families is the families rule, to the figures; the
    metrics and the log say which rule chose and why."""
    _, out = families_run
    outcome, log = out["teacher"]
    sel = outcome.metrics["selection"]
    assert (sel["select"], sel["rule"]) == ("auto", "families")
    why = (
        "fusion.select=auto; the training captures hold 3 attack families (dos, fuzzing, spoofing)"
    )
    assert sel["rule_reason"] == why
    assert f"fusion: choosing by families ({why})" in log
    assert f"  chosen by the families rule: {why}" in "\n".join(log)
    assert load_config("teacher").fusion.select == "auto"


def _families(*names: str) -> list:
    return attack_families(
        {"sources": [_source(f"train__{n}-1.parquet", "train", 5) for n in names]}
    )


_TWO = "the training captures hold 2 attack families (DoS, fuzzing)"
_NEEDS_TWO = "and holding one out needs two"


@pytest.mark.parametrize(
    ("sets", "names", "rule", "why"),
    [
        ((), ("DoS", "fuzzing"), "families", f"auto; {_TWO}"),
        ((), ("DoS",), "validation",
         f"auto; the training captures hold 1 attack family (DoS), {_NEEDS_TWO}"),
        ((), (), "validation",
         f"auto; the training captures hold 0 attack families (none), {_NEEDS_TWO}"),
        (("fusion.method=mean",), ("DoS", "fuzzing"), "validation",
         "auto, but fusion.method=mean fixes it"),
        (("fusion.select=validation",), ("DoS", "fuzzing"), "validation", "validation"),
        (("fusion.select=families",), ("DoS", "fuzzing"), "families", f"families; {_TWO}"),
    ],
)  # fmt: skip
def test_the_rule_that_chooses_and_why(sets, names, rule, why):
    fusion = load_config("teacher", None, list(sets)).fusion
    assert choosing_rule(fusion, _families(*names), "set_x") == (rule, f"fusion.select={why}")
    assert fusion.holds_out_families(len(names)) == (rule == "families")


def test_the_results_say_which_rule_chose():
    """The results table and report read ``FusionModel.chosen_by``: auto names the rule it
    took and, where it fell back on validation, why; older metrics (no ``rule``) read as
    before."""
    model = FusionModel(
        {"gat": Normaliser(0.0, 1.0), "vgae": Normaliser(0.0, 1.0)}, "mean", {}, {}, 1.0
    )
    why = (
        "fusion.select=auto; the training captures hold 1 attack family (DoS), and holding "
        "one out needs two"
    )
    model.selection = {
        "configured": "auto",
        "select": "auto",
        "rule": "validation",
        "rule_reason": why,
    }
    assert model.chosen_by == f"chosen on validation ({why})"
    families = {
        "configured": "auto",
        "rule": "families",
        "families_margin": 0.005,
        "validation_choice": "mean",
    }
    said = (
        "chosen on the held-out attack families of the training captures, means within "
        "0.005 tie; validation alone chose mean"
    )
    for select in ("auto", "families"):
        model.selection = {**families, "select": select}
        assert model.chosen_by == said
    model.selection = {
        "configured": "auto",
        "select": "families",
        "validation_choice": "max",
    }  # 0.16.0
    assert model.chosen_by.endswith("training captures; validation alone chose max")
    model.selection = {"configured": "auto", "select": "validation"}
    assert model.chosen_by == "chosen on validation"
    model.selection = {"configured": "cut_max", "select": "auto", "rule": "validation"}
    assert model.chosen_by == "set by fusion.method"


def test_families_by_name_on_one_family_is_refused_and_auto_is_not():
    fusion = load_config("teacher", None, ["fusion.select=families"]).fusion
    with pytest.raises(ModelsError, match=r"hold 1 \(DoS\).*fusion.select=validation \(or auto"):
        choosing_rule(fusion, _families("DoS"), "set_x")


def test_a_student_without_the_teacher_s_family_runs_is_refused(pipelines, demo, tmp_path):
    store = ArtifactStore(tmp_path / "runs", "lone")
    _copy_detectors(pipelines.store, store, "student")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(ModelsError, match=r"run the teacher pipeline with --set fusion\.select"):
        run_stage("fusion", _families_ctx(demo, store, "student", []))
    # Refused before anything was trained or written.
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_results_and_report_say_the_families_chose(families_run, demo):
    store, out = families_run
    config = load_config("teacher", None, tiny("teacher", f"fusion.select={SELECT['teacher']}"))
    ctx = StageContext(DS, "teacher", config, store, demo.cache_dir, log=lambda _line: None)
    metrics = run_stage("evaluate", ctx).metrics
    chosen = out["teacher"][0].metrics["selection"]
    assert chosen["families_margin"] == 0.005
    said = (
        "chosen on the held-out attack families of the training captures, means within "
        f"0.005 tie; validation alone chose {chosen['validation_choice']}"
    )
    assert metrics["fusion_chosen_by"] == said
    assert metrics["fusion_method"] == chosen["method"]
    results = store.dir(DS, "teacher", "results")
    assert f"Fusion: {chosen['method']} ({said})" in (results / "results.md").read_text()
    assert said in (results / "report.html").read_text()
    rows = {(r["split"], r["protocol"], r["model"]) for r in metrics["rows"]}
    assert ("val", "frozen", "fusion:either") in rows


def test_each_detector_alone_is_scored_on_every_held_out_family_and_never_chosen(
    families_run, demo
):
    """Beside the candidates, each family's figures hold each detector alone at its own
    frozen cut, and the stage reports their means against the pick's; the pick is still
    a fusion (or ``either``)."""
    from canids_models.families import ALONE, detector_means

    _, out = families_run
    for size in ("teacher", "student"):
        outcome, log = out[size]
        sel = outcome.metrics["selection"]
        figures = sel["families"]
        for fig in figures.values():
            assert set(fig["detector_f1"]) == set(ALONE)
            assert all(0.0 <= v <= 1.0 for v in fig["detector_f1"].values())
            assert not set(fig["frozen_f1"]) & set(ALONE)
        means = sel["family_detector_mean_f1"]
        for name in ALONE:
            per_family = [fig["detector_f1"][name] for fig in figures.values()]
            assert means[name] == pytest.approx(float(np.mean(per_family)), abs=1e-6)
        assert means == detector_means(figures)
        assert sel["method"] not in ALONE
        said = "\n".join(log)
        assert "each detector alone (reported, never chosen): means gat " in said
        pick = sel["family_mean_f1"][sel["method"]]
        assert f"; {sel['method']}'s {pick:.3f} " in said
    # Figures written before 0.25.0 hold no detector alone: nothing to report.
    assert detector_means({"dos": {"frozen_f1": {"mean": 0.5}}}) == {}


@pytest.mark.parametrize(
    ("pick", "said"),
    [
        (0.9, "mean's 0.900 is 0.100 above the better detector's"),
        (0.7, "mean's 0.700 is 0.100 below the better detector's"),
        (0.8002, "mean's 0.800 equals the better detector's"),
    ],
)
def test_the_pick_is_set_against_the_better_detector_alone(pick, said):
    from canids_models.stages.fusion_lines import selection_lines

    selection = {
        "method": "mean",
        "criterion": "families",
        "families": {"dos": {"frozen_f1": {"mean": pick}, "attack_windows": 3}},
        "family_mean_f1": {"mean": pick},
        "family_detector_mean_f1": {"gat": 0.6, "vgae": 0.8},
        "families_margin": 0.005,
        "validation_choice": "max",
        "scores": {},
    }
    text = selection_lines(selection)
    assert (
        f"each detector alone (reported, never chosen): means gat 0.600, vgae 0.800; {said}" in text
    )
