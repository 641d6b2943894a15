"""``benchmarks/distill_select.py``: its judge (the student's gap to the teacher on the
held-out attack families, read from the fusion stages' metrics) and its adoption rule,
on run folders whose metrics are set by hand so that every figure can be checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

DS = "set_01"


@pytest.fixture
def ds(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("distill_select")


def _write(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def _run(root: Path, name: str, student: dict, teacher: dict, val_f1: float, epoch: int) -> Path:
    run = root / name
    for size, fams in (("student", student), ("teacher", teacher)):
        families = {f: {"frozen_f1": f1} for f, f1 in fams.items()}
        _write(run / DS / size / "fusion" / "metrics.json", {"selection": {"families": families}})
    _write(
        run / DS / "student" / "gat" / "metrics.json",
        {"val": {"f1": val_f1}, "best_epoch": epoch, "selected_by": "val_fidelity"},
    )
    return run


def test_the_gap_is_the_mean_absolute_difference_over_families_and_candidates(ds, tmp_path):
    teacher = {"dos": {"mean": 0.9, "max": 0.5}, "fuzzy": {"mean": 0.2, "max": 1.0}}
    student = {"dos": {"mean": 0.8, "max": 0.7}, "fuzzy": {"mean": 0.2, "max": 0.6}}
    got = ds.judge(_run(tmp_path, "r", student, teacher, 0.99, 7), DS)
    assert got["gap"] == pytest.approx((0.1 + 0.2 + 0.0 + 0.4) / 4)
    assert (got["val_f1"], got["epoch"], got["by"]) == (0.99, 7, "val_fidelity")


def test_a_run_without_the_families_rule_has_no_judge(ds, tmp_path):
    run = _run(tmp_path, "r", {"dos": {"mean": 1.0}}, {"dos": {"mean": 1.0}}, 0.9, 1)
    _write(run / DS / "student" / "fusion" / "metrics.json", {"selection": {"method": "mean"}})
    with pytest.raises(SystemExit, match="without the families rule has no judge"):
        ds.judge(run, DS)


@pytest.mark.parametrize(
    ("gaps", "f1s", "adopt"),
    [
        (((0.10, 0.09), (0.10, 0.09)), ((0.99, 0.99), (0.99, 0.99)), True),  # 0.01 closer
        (((0.10, 0.096), (0.10, 0.096)), ((0.99, 0.99), (0.99, 0.99)), False),  # 0.004: no
        (((0.10, 0.05), (0.10, 0.05)), ((0.99, 0.98), (0.99, 0.98)), False),  # F1 fell 0.01
        (((0.10, 0.10), (0.10, 0.08)), ((0.99, 0.99), (0.99, 0.99)), True),  # mean 0.01
    ],
)
def test_the_rule_adopts_only_a_closer_student_that_keeps_validation(ds, gaps, f1s, adopt):
    pairs = [
        tuple({"gap": g, "val_f1": f} for g, f in zip(gap, f1, strict=True))
        for gap, f1 in zip(gaps, f1s, strict=True)
    ]
    lines = ds.verdict(pairs)
    assert lines[1].startswith("rule: adopt fidelity" if adopt else "rule: fidelity stays opt-in")
    assert f"over {len(pairs)} runs" in lines[0]


def test_a_baseline_without_the_families_rule_is_refused_before_anything_runs(
    ds, tmp_path, monkeypatch
):
    """The current student (fusion.select=teacher) runs no families rule: the script says
    so at once, before copying a detector or training a stage."""
    run = _run(tmp_path, "set_01-s0", {"dos": {"mean": 1.0}}, {"dos": {"mean": 1.0}}, 0.9, 1)
    _write(run / DS / "student" / "fusion" / "metrics.json", {"selection": {"method": "max"}})
    out = tmp_path / "out"
    argv = ["distill_select.py", "--dataset", DS, "--runs", str(run)]
    argv += ["--cache-dir", str(tmp_path / "cache"), "--out", str(out)]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit, match="without the families rule has no judge"):
        ds.main()
    assert not (out / "runs").exists()  # nothing copied
    assert not (out / "distill_select.log").exists()  # nothing ran
