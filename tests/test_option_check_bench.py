"""``benchmarks/option_check.py``: the option's folder sits beside the default's, holding
copies of every detector it must not train again (the teacher's, its family runs', the
student's), and finished stages are not run again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest

DATASET = "hcrl_sa"


@pytest.fixture
def oc(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("option_check")


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
    both = ("teacher", "student")
    got = oc.paired(DATASET, tmp_path / "cache", 1, tmp_path, log, option, both)
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
    oc.paired(DATASET, tmp_path / "cache", 0, tmp_path, tmp_path / "log", ("x", ["a=b"]))
    assert not (other / DATASET / "student").exists()
    assert not (tmp_path / "log").exists()


def test_a_student_only_option_copies_the_teacher_whole_and_distils_again(
    oc: ModuleType, tmp_path: Path
) -> None:
    """``--student-only --student-keeps vgae`` (a distill setting): the teacher's whole
    pipeline and its family runs are copied (none of its stages runs again), the student
    keeps the default's VGAE only, and its GAT is the option's own."""
    base = tmp_path / "runs" / f"{DATASET}-s2"
    _done(base / DATASET / "teacher", "vgae", "gat", "fusion", "results")
    _done(base / DATASET / "families" / "DoS" / DATASET / "teacher", "vgae", "gat", "fusion")
    _done(base / DATASET / "student", "vgae", "gat", "fusion", "results")
    other = tmp_path / "runs" / f"{DATASET}-fidelity-s2"
    (other / DATASET / "student" / "gat").mkdir(parents=True)
    (other / DATASET / "student" / "gat" / "DONE.json").write_text('{"key": "fidelity gat"}')
    _done(other / DATASET / "student", "fusion", "results")
    log = tmp_path / "log"
    option = ("fidelity", ["distill.select=fidelity"])
    oc.paired(DATASET, tmp_path / "cache", 2, tmp_path, log, option, ("student",), ("vgae",))
    teacher = other / DATASET / "teacher"
    assert sorted(p.name for p in teacher.iterdir()) == ["fusion", "gat", "results", "vgae"]
    family = other / DATASET / "families" / "DoS" / DATASET / "teacher"
    assert sorted(p.name for p in family.iterdir()) == ["fusion", "gat", "vgae"]  # whole
    student = other / DATASET / "student"
    assert (student / "vgae" / "DONE.json").read_text() == '{"key": "vgae"}'
    assert (student / "gat" / "DONE.json").read_text() == '{"key": "fidelity gat"}'
    assert not log.exists()


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--student", "--student-only"], "give --student or --student-only, not both"),
        (["--student-keeps", "vgae"], "--student-keeps needs --student or --student-only"),
    ],
)
def test_student_options_that_contradict_are_refused(
    oc: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    flags: list[str],
    message: str,
) -> None:
    argv = ["option_check.py", "--data", str(tmp_path), "--out", str(tmp_path / "out")]
    argv += ["--name", "x", "--set", "a=b", *flags]
    monkeypatch.setattr("sys.argv", argv)
    with pytest.raises(SystemExit) as exc:
        oc.main()
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was written
