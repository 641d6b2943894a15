"""``benchmarks/results_tables.py``: the per-seed tables, goal lines and rerun comparison of
docs/results.md, read from run folders written through the real ``ArtifactStore`` (rows
in the evaluate stage's ``results/metrics.json`` schema, their values set by hand so that
every figure the script prints can be checked), ``benchmarks/capture_units.py``, which
prints them for two sets of runs side by side, and ``benchmarks/goal_table.py``, which
prints the goal table from the same goal reading, and ``benchmarks/technique_ablation.py``:
each technique's switch is a setting the stage accepts that moves the config off its
default (so a renamed key fails here, not an hour into an ablation), and its table, picks
and goal counts."""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from canids_models import ArtifactStore
from canids_models.config import load_config

DS = "hcrl_sa"
T1, T3 = "test_01_known_vehicle_known_attack", "test_03_known_vehicle_unknown_attack"


@pytest.fixture
def rt(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("results_tables")


def _row(
    split: str, protocol: str, model: str, f1: float | None, default: bool, dataset: str = DS
) -> dict:
    return {
        "split": split,
        "protocol": protocol,
        "model": model,
        "held_out": split != "val",
        "default": default,
        "dataset": dataset,
        "f1": f1,
        "flag_all_f1": 0.65,
        "auroc": 0.99,
        "fpr": 0.01,
    }


def write_run(
    root: Path,
    run: str,
    f1: dict[tuple[str, str, str], float | None],
    size: str = "teacher",
    guard_at: str | None = None,
    dataset: str = DS,
) -> Path:
    """A finished evaluate artifact whose default fusion is ``mean``; ``f1`` maps (split,
    protocol, model) to F1."""
    store = ArtifactStore(root, run)
    store.begin(dataset, size, "results")
    chosen = ("vgae", "gat", "fusion:mean")
    rows = [_row(s, p, m, v, m in chosen, dataset) for (s, p, m), v in f1.items()]
    rows.append(_row("val", "frozen", "fusion:mean", 0.0, True, dataset))  # not held out
    rule = {"rule": "zscore", "param": 3.0, "seconds": 7.5, "warmup": 2.0, "guard": True}
    metrics = {
        "rows": rows,
        "fusion_method": "mean",
        "parameters": {"fusion": 100, "gat": 60, "vgae": 40},
        "calibration": {"mean": rule},
    }
    if guard_at is not None:  # results of canids-models 0.15.0 and later name the floor
        metrics["guard_at"] = guard_at
    store.write_json(dataset, size, "results", "metrics.json", metrics)
    store.finish(dataset, size, "results", {"status": "ok"})
    return root / run


def figures(gat: float, vgae: float, mean: float, maximum: float) -> dict:
    out = {}
    for split in (T1, T3):
        for protocol in ("frozen", "calibrated"):
            out[(split, protocol, "gat")] = gat
            out[(split, protocol, "vgae")] = vgae
            out[(split, protocol, "fusion:mean")] = mean
            out[(split, protocol, "fusion:max")] = maximum
    return out


def test_the_table_is_mean_and_std_over_runs_of_held_out_rows_only(rt, tmp_path):
    runs = [
        write_run(tmp_path, "s0", figures(0.99, 0.80, 0.97, 0.99)),
        write_run(tmp_path, "s1", figures(0.97, 0.90, 0.93, 0.98)),
    ]
    lines = rt.table([rt.load(r, DS, "teacher") for r in runs])
    head = ["split", "protocol", "vgae", "gat", "fusion:max", "fusion:mean", "chosen"]
    assert lines[0] == "| " + " | ".join([*head, "flag-all", "chosen AUROC", "chosen FPR"]) + " |"
    body = [line for line in lines[2:] if line.startswith("| ")]
    # test_01 before test_03, frozen before calibrated; no validation row.
    assert [line.split(" | ")[:2] for line in body] == [
        ["| test_01", "frozen"],
        ["| test_01", "calibrated"],
        ["| test_03", "frozen"],
        ["| test_03", "calibrated"],
    ]
    cells = body[0].strip("| ").split(" | ")
    assert cells[2] == f"0.850 ± {statistics.stdev([0.80, 0.90]):.3f}"  # vgae
    assert cells[6] == f"**0.950 ± {statistics.stdev([0.97, 0.93]):.3f}**"  # chosen = mean
    assert cells[7:] == ["0.650 ± 0.000", "0.990 ± 0.000", "0.010 ± 0.000"]
    assert "picks: mean / mean; parameters: {'fusion': 100, 'gat': 60, 'vgae': 40}" in lines
    assert "calibration, run 1: mean zscore 3.0 on 7.5 s after 2.0 s, guarded" in lines


def test_a_guard_at_the_edge_is_named(rt, tmp_path):
    runs = [
        write_run(tmp_path, "s0", figures(0.99, 0.80, 0.97, 0.99), guard_at="edge"),
        write_run(tmp_path, "s1", figures(0.97, 0.90, 0.93, 0.98), guard_at="threshold"),
    ]
    lines = rt.table([rt.load(r, DS, "teacher") for r in runs])
    assert "calibration, run 0: mean zscore 3.0 on 7.5 s after 2.0 s, guarded at the edge" in lines
    assert "calibration, run 1: mean zscore 3.0 on 7.5 s after 2.0 s, guarded" in lines


def test_goal_lines_name_each_miss_with_its_size(rt, tmp_path):
    # The chosen fusion at 0.94: short of the calibrated goal (0.95), above hcrl_sa's frozen
    # t03 goal (0.70), and 0.05 below its better input (the GAT, 0.99) everywhere.
    teacher = write_run(tmp_path, "s0", figures(0.99, 0.80, 0.94, 0.99))
    (line_goal, line_below) = rt.goal_lines([rt.load(teacher, DS, "teacher")], None)
    assert line_goal == (
        "chosen fusion short of its F1 goal: run 0 test_01 calibrated 0.940 (goal 0.95), "
        "run 0 test_03 calibrated 0.940 (goal 0.95)"
    )
    assert line_below.count("-0.050") == 4  # every split × protocol
    # A student in the same run folder: 0.90 against its teacher's 0.94 is -0.040 (a miss).
    write_run(tmp_path, "s0", figures(0.95, 0.70, 0.90, 0.95), size="student")
    student = rt.load(teacher, DS, "student")
    lines = rt.goal_lines([student], [rt.load(teacher, DS, "teacher")])
    assert lines[-1] == "student within 0.03 of its teacher: 0 of 4"
    assert "run 0 test_01 frozen -0.040 against the teacher" in lines[1]


def test_compare_counts_identical_cells_and_names_the_ones_that_moved(rt, tmp_path):
    a = [write_run(tmp_path / "a", f"s{i}", figures(0.99, 0.80, 0.97, 0.99)) for i in (0, 1)]
    same = [write_run(tmp_path / "b", f"s{i}", figures(0.99, 0.80, 0.97, 0.99)) for i in (0, 1)]
    moved_f1 = figures(0.99, 0.80, 0.97, 0.99)
    moved_f1[(T3, "calibrated", "vgae")] = 0.75
    moved = [write_run(tmp_path / "c", "s0", moved_f1), same[1]]

    def load_all(runs):
        return [rt.load(r, DS, "teacher") for r in runs]

    lines = rt.compare(load_all(a), load_all(same))
    assert lines[-1] == (
        "identical in every pair: 20 of 20 cells; largest |ΔF1| 0.0000; "
        "picks ['mean', 'mean'] against ['mean', 'mean']"
    )
    lines = rt.compare(load_all(a), load_all(moved))
    assert "| test_03 | calibrated | vgae | 0.0500 | 1 of 2 |" in lines
    assert lines[-1].startswith("identical in every pair: 19 of 20 cells; largest |ΔF1| 0.0500")


def test_an_undefined_f1_equals_an_undefined_one_and_differs_from_a_value(rt, tmp_path):
    base = figures(0.99, 0.80, 0.97, 0.99)
    base[(T1, "frozen", "vgae")] = None  # no attack scored: F1 undefined
    other = dict(base)
    other[(T1, "frozen", "gat")] = None
    a = rt.load(write_run(tmp_path / "a", "s0", base), DS, "teacher")
    b = rt.load(write_run(tmp_path / "b", "s0", other), DS, "teacher")
    lines = rt.compare([a], [a])
    assert lines[-1].startswith("identical in every pair: 20 of 20 cells")
    lines = rt.compare([a], [b])
    assert "| test_01 | frozen | gat | 1.0000 | 0 of 1 |" in lines
    assert lines[-1].startswith("identical in every pair: 19 of 20 cells")


def test_a_missing_or_unfinished_run_stops_with_its_path_and_the_fix(rt, tmp_path):
    with pytest.raises(SystemExit, match=r"no finished evaluate stage.*detection_ablation\.py"):
        rt.load(tmp_path / "absent", DS, "teacher")
    store = ArtifactStore(tmp_path, "half")
    store.begin(DS, "teacher", "results")  # begun, never finished: no DONE record
    store.write_json(DS, "teacher", "results", "metrics.json", {"rows": []})
    with pytest.raises(SystemExit, match=re.escape(str(store.dir(DS, "teacher", "results")))):
        rt.load(tmp_path / "half", DS, "teacher")
    a = rt.load(write_run(tmp_path, "s0", figures(0.99, 0.80, 0.97, 0.99)), DS, "teacher")
    with pytest.raises(SystemExit, match="--against needs 2 run folders"):
        rt.compare([a, a], [a])


def test_below_the_better_input_is_a_miss_past_0_02_only(rt, tmp_path):
    near = rt.load(write_run(tmp_path, "near", figures(0.99, 0.80, 0.975, 0.99)), DS, "teacher")
    far = rt.load(write_run(tmp_path, "far", figures(0.99, 0.80, 0.965, 0.99)), DS, "teacher")
    assert rt.goal_lines([near], None)[1].endswith(
        "0.02, or a student more than 0.03 below its teacher: none"
    )
    assert rt.goal_lines([far], None)[1].count("-0.025") == 4


def test_the_machine_line_names_each_machine_and_its_runs(rt, tmp_path):
    f1 = {("test_01", "frozen", "fusion:mean"): 0.9}
    runs = [write_run(tmp_path, f"s{i}", f1) for i in range(3)]
    record = {
        "cpu": "AMD EPYC",
        "cpu_capability": "AVX2",
        "kernel_environment": {},
        "threads": 2,
        "torch": "2.15.0",
    }
    store = ArtifactStore(tmp_path, "s0")
    store.write_json(DS, "teacher", "results", "config.json", {"machine": record})
    pinned = {**record, "kernel_environment": {"ATEN_CPU_CAPABILITY": "avx2"}}
    store = ArtifactStore(tmp_path, "s1")
    store.write_json(DS, "teacher", "results", "config.json", {"machine": pinned})
    lines = rt.machine_lines(runs, DS, "teacher")
    assert lines == [
        "machine: AMD EPYC, torch 2.15.0 AVX2 kernels (the CPU’s own), 2 threads (runs s0)",
        "machine: AMD EPYC, torch 2.15.0 AVX2 kernels (pinned: ATEN_CPU_CAPABILITY=avx2), "
        "2 threads (runs s1)",
        "machine: not recorded (no config.json) (runs s2)",
    ]
    store = ArtifactStore(tmp_path, "s2")
    store.write_json(DS, "teacher", "results", "config.json", {"stage": "evaluate"})
    assert rt.machine_lines(runs[2:], DS, "teacher") == [
        "machine: not recorded (before canids-models 0.14.0) (runs s2)"
    ]


def test_capture_units_prints_both_sets_and_the_cells_that_differ(
    script: Callable[[str], ModuleType], tmp_path: Path
) -> None:
    """``capture_units.lines_for``: the default's and the option's tables and goal lines,
    then the cells that differ: here only the chosen fusion's calibrated t03."""
    cu = script("capture_units")
    pairs = []
    for seed, (default, capture) in enumerate(((0.766, 0.951), (0.319, 0.960))):
        runs = []
        for name, f1 in (("default", default), ("capture", capture)):
            cells = figures(gat=0.4, vgae=0.98, mean=0.99, maximum=0.4)
            cells[(T3, "calibrated", "fusion:mean")] = f1
            runs.append(write_run(tmp_path / "runs", f"{name}-s{seed}", cells))
        pairs.append((runs[0], runs[1]))
    lines, data = cu.lines_for(DS, pairs)
    text = "\n".join(lines)
    assert data["default"] == data["capture"] == ["mean", "mean"]
    default, rest = text.split("fusion.cut_units_at=capture\n")
    capture, differ = rest.split("cells that differ")
    assert "run 0 test_03 calibrated 0.766 (goal 0.95)" in default
    assert "run 1 test_03 calibrated 0.319 (goal 0.95)" in default
    assert "run 1 test_03 calibrated -0.661" in default
    assert "chosen fusion short of its F1 goal: none" in capture
    assert "| test_03 | calibrated | fusion:mean | 0.6410 | 0 of 2 |" in differ
    assert "| test_03 | calibrated | chosen | 0.6410 | 0 of 2 |" in differ
    assert "identical in every pair: 18 of 20 cells" in differ
    # The other candidate's check names its own option and keys its picks by it.
    lines, data = cu.lines_for(DS, pairs, "capture_scale")
    assert data["capture_scale"] == ["mean", "mean"]
    assert "### hcrl_sa, teacher: fusion.cut_units_at=capture_scale" in "\n".join(lines)
    assert "cells that differ (capture_scale against the default)" in "\n".join(lines)


@pytest.fixture
def gt(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("goal_table")


def test_the_goal_table_reads_each_goal_per_column(gt, tmp_path):
    """``benchmarks/goal_table.py``: one row per goal, one column per dataset and size; a
    teacher at 0.94 misses the calibrated goal on both splits and its better input (the
    GAT, 0.99) by 0.050 everywhere, meets hcrl_sa's frozen t03 goal (0.70); its student at
    0.90 is 0.040 below it everywhere (a miss: more than 0.03)."""
    run = write_run(tmp_path, "s0", figures(0.99, 0.80, 0.94, 0.99))
    write_run(tmp_path, "s0", figures(0.95, 0.70, 0.90, 0.95), size="student")
    lines = gt.table([gt.column(DS, "teacher", [run]), gt.column(DS, "student", [run])])
    assert lines[0] == "| goal | hcrl_sa teacher (mean) | hcrl_sa student (mean) |"
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in lines[2:]}
    calibrated = rows["calibrated F1 ≥ 0.95"]
    assert calibrated[0] == "**missed in 2 of 2**: seed 0 test_01 0.940, seed 0 test_03 0.940"
    frozen = rows["frozen F1 ≥ 0.80 on hcrl_sa t02 and t04, ≥ 0.70 on t03"]
    assert frozen[0] == "met (1 cell)"  # test_03 frozen 0.94 ≥ 0.70; test_01 has no goal
    inputs = rows["fusion no more than 0.02 below its better input"]
    assert inputs[0].startswith("**missed in 4 of 4**: seed 0 test_01 calibrated by 0.050")
    teacher = rows["student within 0.03 F1 of its teacher"]
    assert teacher[0] == ""  # the teacher's own column: the goal does not apply
    assert teacher[1].startswith("**missed in 4 of 4**: seed 0 test_01 calibrated by 0.040")


def test_a_set_01_column_has_no_frozen_goal_and_meets_the_rest(gt, tmp_path):
    """hcrl_sa's frozen goals do not apply to set_01: that cell is empty, not met."""
    runs = [
        write_run(tmp_path, f"s{i}", figures(0.97, 0.80, 0.98, 0.99), dataset="set_01")
        for i in (0, 1)
    ]
    head, cells = gt.column("set_01", "teacher", runs)
    assert head == "set_01 teacher (mean / mean)"
    assert cells == ["met (4 cells)", "", "met (8 cells)", ""]


def test_a_column_without_runs_or_with_a_bad_size_is_refused(gt):
    for values in (["hcrl_sa", "teacher"], ["hcrl_sa", "tutor", "runs/s0"]):
        with pytest.raises(SystemExit, match=r"give DATASET SIZE RUN \[RUN \.\.\.\], SIZE one of"):
            gt._column_arg(values)


@pytest.fixture
def ta(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("technique_ablation")


def test_each_technique_switches_off_something_the_default_has(ta):
    for name, technique in ta.TECHNIQUES.items():
        assert technique.teacher or technique.student, name
        for size in ("teacher", "student"):
            items = technique.switches(size)
            default = load_config(size).model_dump()
            changed = load_config(size, overrides=items).model_dump()
            # Every item names a key of the config, and together they move it off the
            # default: a switch that sets the default again would ablate nothing.
            assert bool(items) == (changed != default), (name, size)


def test_the_families_switch_leaves_the_student_deploying_its_teachers_pick(ta):
    # Otherwise the student column would switch two techniques off at once.
    assert ta.TECHNIQUES["families"].student == ()
    assert load_config("student").fusion.select == "teacher"
    assert ta.TECHNIQUES["teacher_pick"].teacher == ()


def test_a_teacher_technique_reaches_the_student_and_a_student_one_not_the_teacher(ta):
    # The report's columns and the runs' skips both read this: a student column for
    # every technique (a teacher's reaches it through the fusion it deploys), a teacher
    # column only where the teacher's own settings move.
    techniques = ta.TECHNIQUES
    assert all(t.reaches("student") for t in techniques.values())
    teacher_side = {n for n, t in techniques.items() if t.reaches("teacher")}
    assert teacher_side == set(techniques) - {"teacher_pick"}


def test_the_ablation_table_sets_full_beside_each_technique_off(ta, rt, tmp_path):
    full = [
        rt.load(write_run(tmp_path, f"full-s{i}", figures(0.99, 0.80, f1, 0.99)), DS, "teacher")
        for i, f1 in enumerate((0.97, 0.93))
    ]
    cut = [
        rt.load(write_run(tmp_path, f"cut-s{i}", figures(0.99, 0.80, f1, 0.99)), DS, "teacher")
        for i, f1 in enumerate((0.90, 0.90))
    ]
    lines = ta.table({"full": full, "cut": cut})
    assert lines[0] == "| split | protocol | full | cut |"
    body = [line.split(" | ") for line in lines[2:]]
    assert [b[:2] for b in body] == [
        ["| test_01", "calibrated"],
        ["| test_01", "frozen"],
        ["| test_03", "calibrated"],
        ["| test_03", "frozen"],
    ]
    assert body[0][2] == f"0.950 ± {statistics.stdev([0.97, 0.93]):.3f}"
    assert body[0][3] == "0.900 ± 0.000 |"
    assert ta.picks({"full": full, "cut": cut}) == ["- full: mean / mean", "- cut: mean / mean"]
    # Goals, per run: the chosen fusion (mean) against 0.95 on both calibrated splits and
    # against 0.70 on frozen t03 (hcrl_sa's unseen attack), and against its better input
    # (the GAT, 0.99) on all four cells: 0.97 meets all, 0.93 only t03 frozen, 0.90 too.
    assert ta.goals({"full": full, "cut": cut}, None) == [
        "- full: F1 goal 4 of 6 cells met; fusion within 0.02 of its better input 4 of 8",
        "- cut: F1 goal 2 of 6 cells met; fusion within 0.02 of its better input 0 of 8",
    ]
    assert set(ta.chosen_f1(full[0])) == {
        (s, p) for s in (T1, T3) for p in ("frozen", "calibrated")
    }


def test_the_ablation_summary_keeps_each_dataset_run_by_another_invocation(ta, tmp_path, capsys):
    # set_01's ablation takes hours and runs apart from hcrl_sa's: its report must not
    # erase hcrl_sa's entries, and a dataset run again replaces its own.
    def run(dataset: str, f1: float) -> None:
        folder = write_run(
            tmp_path, f"{dataset}-full-s0", figures(0.99, 0.8, f1, 0.99), dataset=dataset
        )
        ta.report([dataset], ["full"], [0], ["teacher"], {(dataset, "full", 0): folder}, tmp_path)

    run("hcrl_sa", 0.97)
    run("set_01", 0.91)
    run("hcrl_sa", 0.96)
    summary = json.loads((tmp_path / "technique_ablation.json").read_text())
    assert set(summary) == {"hcrl_sa/teacher", "set_01/teacher"}
    assert summary["set_01/teacher"]["full"]["seeds"] == [0]
    assert summary["set_01/teacher"]["full"]["chosen_f1"][0][f"{T1}/calibrated"] == 0.91
    assert summary["hcrl_sa/teacher"]["full"]["chosen_f1"][0][f"{T1}/calibrated"] == 0.96
    assert "## set_01, teacher (seeds 0)" in capsys.readouterr().out
    # Written whole, then moved into place: no temporary file stays beside it.
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hcrl_sa-full-s0",
        "set_01-full-s0",
        "technique_ablation.json",
    ]


def test_an_unreadable_ablation_summary_stops_the_report_and_stays_as_it_was(ta, tmp_path):
    folder = write_run(tmp_path, "hcrl_sa-full-s0", figures(0.99, 0.8, 0.97, 0.99))
    summary = tmp_path / "technique_ablation.json"
    summary.write_text('{"hcrl_sa/teacher": {"full"')  # a file cut short
    unreadable = r"technique_ablation\.json: not a summary .*move it aside"
    with pytest.raises(SystemExit, match=unreadable):
        ta.report([DS], ["full"], [0], ["teacher"], {(DS, "full", 0): folder}, tmp_path)
    assert summary.read_text() == '{"hcrl_sa/teacher": {"full"'
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hcrl_sa-full-s0",
        "technique_ablation.json",
    ]


def test_an_unreadable_ablation_summary_stops_the_script_before_any_run(ta, tmp_path, monkeypatch):
    summary = tmp_path / "technique_ablation.json"
    summary.write_text("[1, 2]")
    # --data names no capture at all: reaching a cache build or a pipeline would fail
    # with another error, so the stop below is the summary's, before any run.
    argv = ["technique_ablation.py", "--data", str(tmp_path / "absent"), "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit, match=r"technique_ablation\.json: holds a list, not a summary"):
        ta.main()
    assert summary.read_text() == "[1, 2]"
    assert [p.name for p in tmp_path.iterdir()] == ["technique_ablation.json"]
