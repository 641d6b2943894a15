"""Both protocols on the trained demo pipeline: what may and may not move a threshold,
what is scored, the loud refusal of a validation without attacks, and runs that repeat
to the last digit."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from canids_data import BuildConfig, CacheManager
from canids_models import ArtifactStore, ModelsError, StageContext, load_config
from canids_models.calibration import CalibrationRule, calibration_phases
from canids_models.stages import run_stage
from canids_models.stages.evaluate import evaluate_split
from canids_models.stages.fusion import load_fusion, scores_of
from canids_models.stages.results_table import format_results_table

DS = "demo"
SPLIT = "test_02_unknown_vehicle_known_attack"


@pytest.fixture(scope="module")
def trained(pipelines, demo, tiny_overrides):
    ctx = StageContext(
        DS,
        "teacher",
        load_config("teacher", None, tiny_overrides("teacher")),
        pipelines.store,
        demo.cache_dir,
        log=lambda _line: None,
    )
    fusion = load_fusion(ctx)
    models = ("vgae", "gat", *(f"fusion:{m}" for m in fusion.methods))
    return fusion, scores_of(ctx, SPLIT), models


def _thresholds(rows):
    return [
        (r["protocol"], r["model"], r.get("threshold"), r.get("capture_thresholds")) for r in rows
    ]


def test_permuted_test_labels_give_identical_thresholds(trained):
    fusion, scores, models = trained
    rows, _ = evaluate_split(fusion, scores, models)
    permuted = dataclasses.replace(scores, y=np.random.default_rng(0).permutation(scores.y))
    rows_p, _ = evaluate_split(fusion, permuted, models)
    assert _thresholds(rows) == _thresholds(rows_p)
    assert all(r["capture_thresholds"] for r in rows if r["protocol"] == "calibrated")


def test_either_flags_what_either_detector_flags_under_both_protocols(trained):
    fusion, scores, models = trained
    arrays: dict[str, np.ndarray] = {}
    rows, _ = evaluate_split(fusion, scores, models, arrays)
    for protocol in ("frozen", "calibrated"):
        key = f"{SPLIT}/{protocol}"
        either = arrays[f"{key}/fusion:either/flag"]
        gat, vgae = arrays[f"{key}/gat/flag"], arrays[f"{key}/vgae/flag"]
        np.testing.assert_array_equal(either, gat | vgae)
        # Its score is the margin past the nearer detector's own threshold: 0 is the line
        # (a window a guard holds back sits on it, unflagged).
        score = arrays[f"{key}/fusion:either/score"]
        quiet = arrays[f"{key}/scored"] & ~either
        assert (score[either] >= 0).all()
        assert (score[quiet] <= 0).all()
    (row,) = [r for r in rows if r["protocol"] == "calibrated" and r["model"] == "fusion:either"]
    assert row["calibration"].startswith("either detector's own: gat ")
    with pytest.raises(ValueError, match="list both before it"):
        evaluate_split(fusion, scores, ("gat", "fusion:either"))


def test_attacks_appended_after_the_calibration_leave_its_threshold(trained):
    """Online and causal: a flood of high scores after every capture's clean start moves
    nothing that calibration set."""
    fusion, scores, models = trained
    rows, audit = evaluate_split(fusion, scores, models)
    n = len(scores)
    extra = 50
    longer = dataclasses.replace(
        scores,
        gat=np.concatenate((scores.gat, np.full(extra, 40.0))),
        vgae=np.concatenate((scores.vgae, np.full(extra, 9.0))),
        state=np.concatenate((scores.state, np.repeat(scores.state[:1], extra, 0))),
        y=np.concatenate((scores.y, np.ones(extra, scores.y.dtype))),
        source=np.concatenate((scores.source, np.full(extra, scores.source[-1]))),
        window_start=np.concatenate(
            (scores.window_start, scores.window_end.max() + np.arange(extra))
        ),
        window_end=np.concatenate(
            (scores.window_end, scores.window_end.max() + 1 + np.arange(extra))
        ),
        capture_start=np.concatenate(
            (scores.capture_start, np.full(extra, scores.capture_start[-1]))
        ),
    )
    rows_l, audit_l = evaluate_split(fusion, longer, models)
    assert audit_l["clean_start_frozen_alarms"] == audit["clean_start_frozen_alarms"]
    cal = [r for r in rows if r["protocol"] == "calibrated"]
    cal_l = [r for r in rows_l if r["protocol"] == "calibrated"]
    assert [r["capture_thresholds"] for r in cal] == [r["capture_thresholds"] for r in cal_l]
    assert all(r["n"] + extra == rl["n"] for r, rl in zip(cal, cal_l, strict=True))
    assert len(longer) == n + extra


def _floor(fusion, model: str, arrays: dict, at: str) -> np.ndarray:
    """Where a guard at ``at`` lets ``model`` flag: its frozen score past the frozen cut, or
    past the highest validation score that cut left unflagged."""
    frozen = arrays[f"{SPLIT}/frozen/{model}/flag"]
    if at == "threshold":
        return frozen
    threshold = fusion.thresholds[model.split(":", 1)[-1]]
    if threshold.edge is None:
        # Validation left no score under the cut (the tiny GAT's best F1 flags every
        # window): nothing says a score is normal, so the edge guard holds nothing back.
        assert threshold.val_f1 is not None
        return np.ones_like(frozen)
    assert threshold.edge < threshold.value
    return arrays[f"{SPLIT}/frozen/{model}/score"] > threshold.edge


@pytest.mark.parametrize(
    ("at", "words"),
    [("threshold", "the frozen threshold"), ("edge", "validation's normal edge")],
)
def test_a_guarded_calibration_flags_what_both_protocols_flag(trained, at, words):
    """Guarded, every scorer's calibrated flags are its unguarded calibrated flags where
    its frozen score passes the guard's floor (the frozen cut, or validation's edge under
    it), with the same per-capture thresholds; the audit and the scored windows do not
    move."""
    fusion, scores, models = trained
    plain = dataclasses.replace(
        fusion,
        calibration={k: dataclasses.replace(r, guard=False) for k, r in fusion.calibration.items()},
    )
    guarded = dataclasses.replace(
        fusion,
        calibration={k: dataclasses.replace(r, guard=True) for k, r in fusion.calibration.items()},
        guard_at=at,
    )
    arrays_p: dict = {}
    arrays_g: dict = {}
    rows_p, audit_p = evaluate_split(plain, scores, models, arrays_p)
    rows_g, audit_g = evaluate_split(guarded, scores, models, arrays_g)
    assert audit_p == audit_g
    narrower = 0
    # Score by score; ``either`` ORs two guarded decisions (its own test is above).
    for model in (m for m in models if m != "fusion:either"):
        key = f"{SPLIT}/{{}}/{model}/flag"
        cal_p, cal_g = arrays_p[key.format("calibrated")], arrays_g[key.format("calibrated")]
        floor = _floor(fusion, model, arrays_p, at)
        np.testing.assert_array_equal(cal_g, cal_p & floor)
        narrower += int((cal_p & ~floor).sum())
        # What reports draw: a window is on the flagged side of its threshold exactly when
        # it is flagged; one the guard holds back sits at or under its threshold.
        scored = arrays_g[f"{SPLIT}/calibrated/scored"]
        drawn = f"{SPLIT}/calibrated/{model}/"
        margin = (arrays_g[drawn + "score"] - arrays_g[drawn + "threshold"])[scored]
        assert (margin[~floor[scored]] <= 0).all()
        clear = ~np.isclose(margin, 0.0, rtol=0, atol=1e-5)
        np.testing.assert_array_equal((margin > 0)[clear], cal_g[scored][clear])
    assert narrower > 0  # the demo's calibrated thresholds flag some window the guard holds
    for rp, rg in zip(rows_p, rows_g, strict=True):
        assert (rp["model"], rp["protocol"], rp["n"]) == (rg["model"], rg["protocol"], rg["n"])
        if rp["protocol"] == "calibrated":
            assert rp["capture_thresholds"] == rg["capture_thresholds"]
            assert (rp["guard"], rg["guard"]) == (False, True)
            assert rg["calibration"].endswith(f", never below {words}")
            assert rg["confusion"]["fp"] <= rp["confusion"]["fp"]
            if rp["model"] != "fusion:either":
                assert (rp.get("guard_at"), rg["guard_at"]) == (None, at)


def test_the_edge_guard_lets_through_what_the_cut_guard_does_and_more(trained):
    """Validation's edge lies under the frozen cut, so the edge guard holds back a subset
    of what the cut guard holds back: every window the 0.7.0-0.14.x guard flags is
    flagged (what lies between them: ``test_metrics.py``)."""
    fusion, scores, models = trained
    rules = {k: dataclasses.replace(r, guard=True) for k, r in fusion.calibration.items()}
    out = {}
    for at in ("threshold", "edge"):
        arrays: dict = {}
        evaluate_split(
            dataclasses.replace(fusion, calibration=rules, guard_at=at), scores, models, arrays
        )
        out[at] = arrays
    for model in models:
        key = f"{SPLIT}/calibrated/{model}/flag"
        cut, edge = out["threshold"][key], out["edge"][key]
        assert not (cut & ~edge).any()


def test_clean_start_alarms_show_a_shifted_capture_without_a_label(trained):
    """The share of each capture's calibration windows that the frozen thresholds flag:
    read without labels, from those windows only; a capture whose normal traffic all
    scores higher (a new vehicle, for the VGAE) shows it, and no other capture moves."""
    fusion, scores, models = trained
    _, audit = evaluate_split(fusion, scores, models)
    shares = audit["clean_start_frozen_alarms"]
    captures = scores.captures()
    assert set(shares) == set(models)
    assert all(set(s) == {str(int(scores.source[i[0]])) for i in captures} for s in shares.values())
    assert all(0.0 <= v <= 1.0 for s in shares.values() for v in s.values())

    permuted = dataclasses.replace(scores, y=np.random.default_rng(1).permutation(scores.y))
    assert evaluate_split(fusion, permuted, models)[1]["clean_start_frozen_alarms"] == shares

    first = captures[0]
    shifted_vgae = scores.vgae.copy()
    shifted_vgae[first] += 50.0  # far above any frozen VGAE threshold (raw log-distance units)
    _, audit_s = evaluate_split(fusion, dataclasses.replace(scores, vgae=shifted_vgae), models)
    moved = audit_s["clean_start_frozen_alarms"]
    key = str(int(scores.source[first[0]]))
    assert moved["vgae"][key] == 1.0
    assert moved["gat"] == shares["gat"]
    for model in models:
        assert {k: v for k, v in moved[model].items() if k != key} == {
            k: v for k, v in shares[model].items() if k != key
        }

    table = format_results_table(
        [{**r, "parameters": 1} for r in evaluate_split(fusion, scores, models)[0]],
        DS,
        "teacher",
        audits={SPLIT: audit_s},
    )
    assert "- clean start: share of a capture's unlabeled calibration windows" in table
    assert f"  - {SPLIT}: vgae 1.00, gat " in table


def test_calibration_windows_are_not_scored_and_are_audited(trained):
    fusion, scores, models = trained
    rows, audit = evaluate_split(fusion, scores, models)
    cal = scores.window_end <= scores.capture_start + fusion.warmup + fusion.seconds
    for r in rows:
        assert r["n"] == (len(scores) if r["protocol"] == "frozen" else int((~cal).sum()))
    assert audit["calibration_windows"] == int(cal.sum())
    assert audit["captures_with_attack_in_calibration"] == int(bool(scores.y[cal].any()))


def test_a_split_without_attack_windows_is_not_scorable_by_labels(trained):
    """A suppression capture's removed frames carry no label: its windows are all normal.
    Every model says so the same way: F1 and recall undefined, false alarms reported."""
    fusion, scores, models = trained
    quiet = dataclasses.replace(scores, y=np.zeros_like(scores.y))
    rows, _ = evaluate_split(fusion, quiet, models)
    for r in rows:
        assert r["note"].startswith("not scorable by window labels")
        assert "suppression" in r["note"]
        assert r["f1"] is None
        assert r["recall"] is None
        assert r["auroc"] is None
        assert r["fpr"] is not None
        assert r["false_alarms_per_hour"] is not None
    table = format_results_table([{**r, "parameters": 1} for r in rows], "demo", "teacher")
    assert "not scorable by window labels" in table


@pytest.fixture(scope="module")
def one_class_demo(demo, tmp_path_factory):
    """can-train-and-test's shape: every training attack in the first half of its capture
    and validation = each capture's time tail, so validation holds no attack at all."""
    import shutil

    from canids_data.synthetic import Vehicle, generate_capture
    from canids_data.synthetic.attacks import DoS
    from canids_data.writers import write_capture

    base = tmp_path_factory.mktemp("one_class")
    root = base / "root"
    for folder in demo.root.iterdir():
        if folder.name != "train_02_with_attacks":
            shutil.copytree(folder, root / folder.name)
    early = generate_capture(Vehicle.known(0), 2.2, attacks=(DoS(0.4, 0.4),), seed=9)
    write_capture(early, root / "train_02_with_attacks" / "dos-early.parquet", "parquet")
    cfg = BuildConfig(validation="tail", val_start_seconds=0.0)
    m = CacheManager(base / "cache").build(DS, root, cfg, workers=1).manifest
    assert m["splits"]["val"]["attack_graphs"] == 0 < m["splits"]["train"]["attack_graphs"]
    return base / "cache"


def test_validation_without_attacks_fails_loudly_unless_asked(
    one_class_demo, tiny_overrides, tmp_path
):
    store = ArtifactStore(tmp_path / "runs", "one")

    def ctx(*extra):
        # Tail validation holds no clean start to choose a calibration rule on: fix one.
        fixed = ("calibration.rule=zscore", "calibration.param=4", "calibration.seconds=0.2")
        sets = (*tiny_overrides("teacher"), *fixed, *extra)
        return StageContext(
            DS,
            "teacher",
            load_config("teacher", None, sets),
            store,
            one_class_demo,
            log=lambda _line: None,
        )

    with pytest.raises(ModelsError) as err:
        run_stage("gat", ctx())
    text = str(err.value)
    assert "validation holds 0 attack and" in text
    assert "--validation blocks" in text
    assert "eval.one_class_fit=true" in text
    assert not store.path(DS, "teacher", "gat", "train_state.pt").exists()
    # Opting in by name trains (the detectors on this cache: a stage reads no detector
    # made on another build of it, canids_models.lineage).
    run_stage("vgae", ctx("eval.one_class_fit=true"))
    run_stage("gat", ctx("eval.one_class_fit=true"))
    # The fusion stage refuses a blind fit too, before it writes.
    with pytest.raises(ModelsError, match="validation holds 0 attack"):
        run_stage("fusion", ctx())
    assert not store.is_done(DS, "teacher", "fusion")
    # Every threshold says how it was fitted.
    outcome = run_stage("fusion", ctx("eval.one_class_fit=true"))
    assert "no attack in validation" in outcome.metrics["thresholds"]["gat"]["method"]
    # Tail validation holds no capture start: evaluate scores it frozen only, says why,
    # and still runs both protocols on every held-out split.
    lines: list[str] = []
    ev = ctx("eval.one_class_fit=true")
    ev = dataclasses.replace(ev, log=lines.append)
    metrics = run_stage("evaluate", ev).metrics
    protocols = {(r["split"], r["protocol"]) for r in metrics["rows"]}
    assert {p for s, p in protocols if s == "val"} == {"frozen"}
    held_out = metrics["held_out_splits"]
    assert held_out
    assert all((s, "calibrated") in protocols for s in held_out)
    why = metrics["audit"]["val"]["calibrated"]
    assert re.match(r"[1-9]\d* of \d+ captures of val have no window in their first", why)
    assert "time tail holds no capture start" in why
    assert any(why in line for line in lines)
    assert store.is_done(DS, "teacher", "results")


def test_the_same_stage_twice_gives_identical_metrics(demo, tiny_overrides, tmp_path):
    """Same data, config and seed on one machine: every metric and every epoch's record
    matches to the last digit (deterministic algorithms, seeded generators, 1 thread)."""
    runs = []
    for name in ("a", "b"):
        store = ArtifactStore(tmp_path / name, "same")
        ctx = StageContext(
            DS,
            "teacher",
            load_config("teacher", None, tiny_overrides("teacher")),
            store,
            demo.cache_dir,
            log=lambda _line: None,
        )
        metrics = run_stage("vgae", ctx).metrics
        runs.append({k: v for k, v in metrics.items() if k != "history"})
        runs[-1]["history"] = [
            {k: v for k, v in h.items() if k != "seconds"} for h in metrics["history"]
        ]
    assert runs[0] == runs[1]


def test_a_rule_that_asks_for_more_windows_than_a_capture_has_is_reported(trained):
    """Every calibrated row says how few windows a capture calibrated on and on how many
    captures its α could not be honoured; the results table names those rows."""
    fusion, scores, models = trained
    period = (fusion.warmup, fusion.seconds)
    _, cal, _ = calibration_phases(scores.window_end, scores.capture_start, period[1], period[0])
    per_capture = [int(cal[idx].sum()) for idx in scores.captures()]
    rules = {
        k: CalibrationRule("quantile", 0.001, period[1], r.scale_floor, period[0])
        for k, r in fusion.calibration.items()
    }
    rows, _ = evaluate_split(dataclasses.replace(fusion, calibration=rules), scores, models)
    asked = [r for r in rows if r["protocol"] == "calibrated" and r["model"] != "fusion:either"]
    assert asked
    assert all(r["calibration_windows_min"] == min(per_capture) for r in asked)
    # 1/(n-1) > 0.001 for every capture of fewer than 1,001 windows.
    expected = sum(n < 1001 for n in per_capture)
    assert expected > 0
    assert all(r["saturated_captures"] == expected for r in asked)
    table = format_results_table([{**r, "parameters": 1} for r in asked], DS, "teacher")
    assert f"- calibration {SPLIT}, gat: quantile α=0.001" in table
    assert f"asks for more than {min(per_capture)} calibration windows can say" in table
    zscore = {k: dataclasses.replace(r, rule="zscore", param=3.0) for k, r in rules.items()}
    rows_z, _ = evaluate_split(dataclasses.replace(fusion, calibration=zscore), scores, models)
    assert all(r.get("saturated_captures", 0) == 0 for r in rows_z)
    table_z = format_results_table([{**r, "parameters": 1} for r in rows_z], DS, "teacher")
    assert "asks for more" not in table_z
