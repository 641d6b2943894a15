"""``benchmarks/holdout_both.py``: the rule written before ``guard_each``'s runs judges the
teacher and the student together, at each of its edges, on the directions and runs both
sizes and the baseline have; ``dataset_holdout.py`` wires the variant to it and reads the
validation row the rule needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture
def dh(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("dataset_holdout")


@pytest.fixture
def hb(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("holdout_both")


def _row(split: str, protocol: str, model: str, f1: float | None, alarms: float) -> dict[str, Any]:
    return {"split": split, "protocol": protocol, "model": model, "f1": f1,
            "false_alarms_per_hour": alarms}  # fmt: skip


def _fig(dh: ModuleType, dos: float, fuzzing: float, alarms: float, val: float) -> Any:
    """A run's figures whose pick (max) has these calibrated F1s and false alarms."""
    rows = [
        _row("val", "frozen", "fusion:max", 0.2, 0.0),  # the frozen row is not the rule's
        _row("val", "calibrated", "fusion:max", val, 0.0),
        _row("val", "calibrated", "gat", 0.1, 0.0),  # nor another model's
    ]
    for protocol in ("frozen", "calibrated"):
        rows += [
            _row("test_01_new_vehicle_dos", protocol, "fusion:max", dos, 0.0),
            _row("test_02_new_vehicle_fuzzing", protocol, "fusion:max", fuzzing, 0.0),
            _row(dh.NORMAL, protocol, "fusion:max", None, alarms),
        ]
    rule = {"rule": "zscore", "param": 8.0, "guard": True, "seconds": 5.0, "warmup": 3.0}
    calibration = {"max": rule}
    return dh.figures({"fusion_method": "max", "rows": rows, "calibration": calibration})


def test_figures_read_the_picks_calibrated_validation_f1(dh: ModuleType) -> None:
    fig = _fig(dh, 0.9, 0.8, 10.0, 0.97)
    assert fig["val_f1"] == pytest.approx(0.97)
    assert not any("val" in k for k in fig["models"]["pick"])  # not a held-out cell


def _summaries(hb: ModuleType, dh: ModuleType, **change: Any) -> tuple[Any, Any]:
    """Baseline and candidate summaries per size: the baseline's cells 0.5, alarms 100 per
    hour, validation 0.95; the candidate's as ``change`` says (teacher_*, student_*)."""
    base = {s: hb.size_summary({"a-s0": _fig(dh, 0.5, 0.5, 100.0, 0.95)}) for s in hb.SIZES}
    cand = {}
    for size in hb.SIZES:
        f1 = change.get(f"{size}_f1", 0.5)
        alarms = change.get(f"{size}_alarms", 100.0)
        cand[size] = hb.size_summary({"a-s0": _fig(dh, f1, f1, alarms, change.get(
            f"{size}_val", 0.95))})  # fmt: skip
    return base, cand


@pytest.mark.parametrize(
    ("change", "adopted"),
    [
        ({"student_f1": 0.52}, True),  # pooled +0.01, the teacher unchanged
        ({"student_f1": 0.51}, False),  # pooled +0.005 is not more than 0.005
        ({"student_f1": 0.6, "teacher_f1": 0.494}, False),  # the teacher falls past 0.005
        ({"student_f1": 0.6, "teacher_f1": 0.495}, True),  # exactly 0.005: allowed
        ({"student_f1": 0.6, "student_alarms": 150.1}, False),  # alarms past 1.5x
        ({"student_f1": 0.6, "teacher_alarms": 150.0}, True),  # at the limit
        ({"student_f1": 0.6, "teacher_val": 0.944}, False),  # the known vehicle pays
        ({"student_f1": 0.6, "student_val": 0.945}, True),
    ],
)
def test_the_rule_at_each_edge(
    hb: ModuleType, dh: ModuleType, change: dict[str, float], adopted: bool
) -> None:
    base, cand = _summaries(hb, dh, **change)
    ok, lines = hb.both_verdict(base, cand)
    assert ok is adopted, lines
    assert lines[0].startswith("- teacher: mean calibrated F1 over 2 attack cells 0.500 -> ")
    assert lines[-1].startswith("- both sizes: mean calibrated F1 over 4 attack cells 0.500 -> ")


def test_a_missing_validation_row_fails_the_size(hb: ModuleType, dh: ModuleType) -> None:
    base, cand = _summaries(hb, dh, student_f1=0.9)
    cand["teacher"]["val_f1"] = None
    ok, lines = hb.both_verdict(base, cand)
    assert not ok
    assert "validation's calibrated F1 missing (the rule needs it): fails" in lines[0]


def test_the_variant_is_judged_on_both_sizes_and_directions(hb: ModuleType, dh: ModuleType) -> None:
    assert dh.BASELINES["guard_each"] == "sensitive"
    assert set(dh.JUDGED_ON["guard_each"]) == set(dh.DIRECTIONS)
    assert "calibration.guard_at=each" in dh.VARIANTS["guard_each"]
    assert set(dh.VARIANTS["sensitive"]) < set(dh.VARIANTS["guard_each"])
    assert dh.STUDENT_FROM["guard_each"] == "sensitive"
    low, high = _fig(dh, 0.5, 0.5, 10.0, 0.95), _fig(dh, 0.7, 0.7, 10.0, 0.95)
    runs = ("set_01_to_hcrl_sa-s0", "hcrl_sa_to_set_01-s0")
    teachers = {
        "sensitive": dict.fromkeys(runs, low),
        "guard_each": dict.fromkeys(runs, low),
    }
    # The student of seed 1 has no baseline beside it: that run is not compared.
    students = {
        "sensitive": dict.fromkeys(runs, low),
        "guard_each": {**dict.fromkeys(runs, high), "hcrl_sa_to_set_01-s1": low},
    }
    text = "\n".join(hb.both_lines(teachers, students, dh.JUDGED_ON, dh.BASELINES))
    assert f"judged on {', '.join(sorted(runs))}:" in text
    assert "- student: mean calibrated F1 over 4 attack cells 0.500 -> 0.700" in text
    assert "- both sizes: mean calibrated F1 over 8 attack cells 0.500 -> 0.600" in text
    assert text.endswith("guard_each: **adopt**")
    # The teacher-only table names where its verdict is instead of giving one.
    table = "\n".join(dh.table(teachers))
    assert "guard_each: judged on the teacher and the student together, below" in table
    assert "guard_each, judged on" not in table
    del students["sensitive"]
    text = "\n".join(hb.both_lines(teachers, students, dh.JUDGED_ON, dh.BASELINES))
    assert text == "\nguard_each: no run with its baseline sensitive and both sizes: no verdict"


def test_its_students_need_their_source_variant_beside_it(
    dh: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """The candidate's students copy the ``sensitive`` students' detectors: asked for
    without that variant, the script refuses before it writes or trains anything."""
    out = tmp_path / "out"
    argv = ["dataset_holdout.py", "--data", str(tmp_path), "--out", str(out)]
    monkeypatch.setattr("sys.argv", [*argv, "--variants", "guard_each", "--student"])
    with pytest.raises(SystemExit) as exc:
        dh.main()
    assert exc.value.code == 2
    assert "--student with variant guard_each needs variant sensitive" in capsys.readouterr().err
    assert not out.exists()
