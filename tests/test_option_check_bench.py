"""``benchmarks/option_check.py``: the option's folder sits beside the default's, holding
copies of every detector it must not train again (the teacher's, its family runs', the
student's), and finished stages are not run again."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
DATASET = "hcrl_sa"


@pytest.fixture
def oc(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports its sibling scripts
    return importlib.import_module("option_check")


def _done(folder: Path, *keys: str) -> None:
    for key in keys:
        (folder / key).mkdir(parents=True)
        (folder / key / "DONE.json").write_text(f'{{"key": "{key}"}}')


def test_the_option_runs_on_copies_of_every_detector(oc: ModuleType, tmp_path: Path) -> None:
    base = tmp_path / "runs" / f"{DATASET}-s1"
    _done(base / DATASET / "teacher", "vgae", "gat", "fusion", "results")
    _done(base / DATASET / "families" / "DoS" / DATASET / "teacher", "vgae", "gat", "fusion")
    _done(base / DATASET / "student", "vgae", "gat", "fusion", "results")
    other = tmp_path / "runs" / f"{DATASET}-guard_each-s1"
    for size in ("teacher", "student"):  # the option's own stages, finished
        _done(other / DATASET / size, "fusion", "results")
    log = tmp_path / "log"
    option = ("guard_each", ["calibration.guard_at=each"])
    got = oc.paired(DATASET, tmp_path / "cache", 1, tmp_path, log, option, True)
    assert got == (base, other)
    for size in ("teacher", "student"):
        for key in ("vgae", "gat"):
            assert (other / DATASET / size / key / "DONE.json").read_text() == (
                f'{{"key": "{key}"}}'
            )
    family = other / DATASET / "families" / "DoS" / DATASET / "teacher"
    assert sorted(p.name for p in family.iterdir()) == ["gat", "vgae"]  # refit, not copied
    assert not log.exists()  # nothing ran


def test_without_the_student_its_folder_holds_no_student(oc: ModuleType, tmp_path: Path) -> None:
    base = tmp_path / "runs" / f"{DATASET}-s0"
    _done(base / DATASET / "teacher", "vgae", "gat", "fusion", "results")
    other = tmp_path / "runs" / f"{DATASET}-x-s0"
    _done(other / DATASET / "teacher", "fusion", "results")
    oc.paired(DATASET, tmp_path / "cache", 0, tmp_path, tmp_path / "log", ("x", ["a=b"]), False)
    assert not (other / DATASET / "student").exists()
    assert not (tmp_path / "log").exists()
