"""``benchmarks/dataset_holdout.py``: the datasets file it writes (read back by canids-data's
own parser, so the directions are datasets canids can build), its refusal of a data folder
without the captures, the figures it reads from an evaluate run's metrics, and its adoption
rule at each edge, on the directions it is allowed to read."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from canids_data.datasets_file import read_datasets_file


@pytest.fixture
def dh(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("dataset_holdout")


@pytest.fixture
def hs(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("holdout_student")


@pytest.fixture
def hd(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("holdout_directions")


def _data(root: Path, dh: ModuleType) -> Path:
    """A data folder holding (empty) files at every path the directions name."""
    names: set[str] = set()  # every train glob matches another direction's held-out files
    for d in dh.DIRECTIONS.values():
        names |= {*d["attacks"].values(), *d["normal"]}
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


def test_datasets_file_names_every_direction_with_no_test_split(
    dh: ModuleType, tmp_path: Path
) -> None:
    root = _data(tmp_path / "real", dh)
    specs = read_datasets_file(dh.datasets_file(tmp_path, root))
    assert sorted(specs) == sorted(dh.DIRECTIONS)
    for name, spec in specs.items():
        d = dh.DIRECTIONS[name]
        assert spec.root == root.resolve()
        assert spec.splits["train"] == tuple(d["train"])
        assert spec.splits[dh.NORMAL] == tuple(d["normal"])
        for split, path in d["attacks"].items():
            assert spec.splits[split] == (path,)
        held = [p for s, paths in spec.splits.items() if s != "train" for p in paths]
        # Every held-out capture is another dataset's training capture, never a test split's.
        trained_on = d["train"][0].split("/")[0]
        assert all("/train_" in p and not p.startswith(trained_on) for p in held)


def test_datasets_file_refuses_a_folder_without_the_captures(
    dh: ModuleType, tmp_path: Path
) -> None:
    root = _data(tmp_path / "real", dh)
    (root / "set_01" / "train_02_with_attacks__DoS-2.parquet").unlink()
    with pytest.raises(SystemExit, match=r"hcrl_sa_to_set_01 needs .*DoS-2.*pass --data"):
        dh.datasets_file(tmp_path, root)
    assert not (tmp_path / "datasets.toml").exists()  # nothing half-written
    # Every train glob is checked, each one named when it matches nothing.
    mine = {"mine": {"train": ["set_01/*.parquet", "other/*.csv"], "attacks": {}, "normal": []}}
    with pytest.raises(SystemExit, match=r"mine needs \['other/\*\.csv'\]: pass --data"):
        dh.datasets_file(tmp_path, root, mine)
    assert not (tmp_path / "datasets.toml").exists()


def _row(split: str, protocol: str, model: str, f1: float, alarms: float) -> dict[str, Any]:
    return {
        "split": split,
        "protocol": protocol,
        "model": model,
        "f1": f1,
        "false_alarms_per_hour": alarms,
    }


def _metrics(dh: ModuleType, f1: float, alarms: float, pick: str = "max") -> dict[str, Any]:
    rows = [_row("val", "frozen", f"fusion:{pick}", 0.99, 0.0)]
    for protocol in ("frozen", "calibrated"):
        for model, scale in (("vgae", 0.5), ("gat", 0.25), (f"fusion:{pick}", 1.0)):
            rows.append(_row("test_01_new_vehicle_dos", protocol, model, f1 * scale, 0.0))
            rows.append(_row("test_02_new_vehicle_fuzzing", protocol, model, f1 * scale / 2, 0.0))
            rows.append(_row(dh.NORMAL, protocol, model, 0.0, alarms * scale))
    calibration = {
        pick: {"rule": "zscore", "param": 4.0, "guard": True, "seconds": 5.0, "warmup": 1}
    }
    return {"fusion_method": pick, "rows": rows, "calibration": calibration}


def test_figures_and_summary_read_the_pick_per_split(dh: ModuleType) -> None:
    fig = dh.figures(_metrics(dh, 0.8, 100.0))
    assert fig["pick"] == "max"
    assert fig["rule"] == "max: zscore 4 guarded, 5 s after 1 s"
    pick = fig["models"]["pick"]
    assert pick["calibrated f1 test_01_new_vehicle_dos"] == pytest.approx(0.8)
    assert pick["frozen f1 test_02_new_vehicle_fuzzing"] == pytest.approx(0.4)
    assert pick[f"calibrated alarms_h {dh.NORMAL}"] == pytest.approx(100.0)
    assert "cut_max" not in fig["models"]  # a model the run did not report is absent
    assert fig["models"]["vgae"]["calibrated f1 test_01_new_vehicle_dos"] == pytest.approx(0.4)
    assert not any("val" in k for m in fig["models"].values() for k in m)
    assert fig["every"]["gat"] == {
        "test_01_new_vehicle_dos": pytest.approx(0.2),
        "test_02_new_vehicle_fuzzing": pytest.approx(0.1),
    }
    either = _metrics(dh, 0.8, 100.0, pick="either")
    either["calibration"] = {
        "vgae": {"rule": "quantile", "param": 0.01, "guard": False, "seconds": 1.0, "warmup": 3},
        "gat": {"rule": "zscore", "param": 8.0, "guard": True, "seconds": 1.0, "warmup": 3},
    }
    assert dh.figures(either)["rule"] == (
        "either: vgae quantile 0.01, 1 s after 3 s; gat zscore 8 guarded, 1 s after 3 s"
    )
    summary = dh.pick_summary({"a-s0": fig, "b-s0": dh.figures(_metrics(dh, 0.4, 50.0))})
    assert summary["f1"] == pytest.approx((0.8 + 0.4 + 0.4 + 0.2) / 4)
    assert summary["alarms_h"] == pytest.approx(75.0)


@pytest.mark.parametrize(
    ("candidate", "adopted"),
    [
        ({"f1": 0.5051, "alarms_h": 150.0}, True),  # rises past 0.005, alarms at the limit
        ({"f1": 0.5050, "alarms_h": 100.0}, False),  # a rise of exactly 0.005 is not enough
        ({"f1": 0.9, "alarms_h": 150.1}, False),  # alarms grow past half
        ({"f1": 0.4, "alarms_h": 0.0}, False),  # falls
    ],
)
def test_verdict_edges(dh: ModuleType, candidate: dict[str, float], adopted: bool) -> None:
    ok, why = dh.verdict({"f1": 0.5, "alarms_h": 100.0}, candidate)
    assert ok is adopted
    assert "adopting needs more than +0.005" in why


def test_verdict_from_a_quiet_default_allows_one_alarm_per_hour(dh: ModuleType) -> None:
    assert dh.verdict({"f1": 0.5, "alarms_h": 0.0}, {"f1": 0.6, "alarms_h": 1.0})[0]
    assert not dh.verdict({"f1": 0.5, "alarms_h": 0.0}, {"f1": 0.6, "alarms_h": 1.1})[0]


def test_table_judges_a_variant_only_on_its_independent_direction(dh: ModuleType) -> None:
    good, bad = dh.figures(_metrics(dh, 0.9, 10.0)), dh.figures(_metrics(dh, 0.1, 10.0))
    variants = {
        "": {"hcrl_sa_to_set_01-s0": bad, "set_01_to_hcrl_sa-s0": good},
        # Better where it is judged, worse on the direction it was shaped on: adopted.
        "sensitive": {"hcrl_sa_to_set_01-s0": good, "set_01_to_hcrl_sa-s0": bad},
        # Better only on the direction it was shaped on: not adopted.
        "longest": {"hcrl_sa_to_set_01-s0": bad, "set_01_to_hcrl_sa-s0": good},
    }
    text = "\n".join(dh.table(variants))
    assert "sensitive, judged on hcrl_sa_to_set_01-s0 against 0.22.0's default: " in text
    assert text.count("**adopt**") == 1
    assert "longest, judged on hcrl_sa_to_set_01-s0 against 0.22.0's default" in text
    assert text.rstrip().endswith("**not adopted**")


def test_capture_units_is_judged_against_the_current_default_on_its_own_direction(
    dh: ModuleType,
) -> None:
    """0.24.0's candidate is judged against ``sensitive`` (0.23.0's default), not the
    pinned 0.22.0 baseline, and on set_01_to_hcrl_sa only; without its baseline's runs
    there is no verdict."""
    good, bad = dh.figures(_metrics(dh, 0.9, 10.0)), dh.figures(_metrics(dh, 0.1, 10.0))
    variants = {
        # 0.22.0's pinned baseline better than the candidate: it is not what is compared.
        "": {"set_01_to_hcrl_sa-s0": good, "hcrl_sa_to_set_01-s0": good},
        "sensitive": {"set_01_to_hcrl_sa-s0": bad, "hcrl_sa_to_set_01-s0": good},
        # Worse on the direction not judged, better on the judged one: adopted.
        "capture_units": {"set_01_to_hcrl_sa-s0": good, "hcrl_sa_to_set_01-s0": bad},
    }
    text = "\n".join(dh.table(variants))
    assert "capture_units, judged on set_01_to_hcrl_sa-s0 against sensitive: " in text
    assert text.rstrip().endswith("**adopt**")
    del variants["sensitive"]
    text = "\n".join(dh.table(variants))
    assert "capture_units: its baseline sensitive did not run: no verdict" in text


def test_capture_scale_is_judged_like_capture_units_and_beside_it(dh: ModuleType) -> None:
    """0.29.0's candidate: against ``sensitive`` on set_01_to_hcrl_sa only, by the same
    rule, each candidate with its own verdict in one table."""
    assert dh.BASELINES["capture_scale"] == "sensitive"
    assert dh.JUDGED_ON["capture_scale"] == ("set_01_to_hcrl_sa",)
    assert "fusion.cut_units_at=capture_scale" in dh.VARIANTS["capture_scale"]
    assert set(dh.VARIANTS["sensitive"]) < set(dh.VARIANTS["capture_scale"])
    good, bad = dh.figures(_metrics(dh, 0.9, 10.0)), dh.figures(_metrics(dh, 0.1, 10.0))
    noisy = dh.figures(_metrics(dh, 0.9, 16.0))  # 1.6 times the baseline's false alarms
    variants = {
        "": {"set_01_to_hcrl_sa-s0": good},
        "sensitive": {"set_01_to_hcrl_sa-s0": bad},
        "capture_units": {"set_01_to_hcrl_sa-s0": good},
        "capture_scale": {"set_01_to_hcrl_sa-s0": noisy},
    }
    text = "\n".join(dh.table(variants))
    units, scale = text.split("capture_scale, judged on set_01_to_hcrl_sa-s0 against sensitive: ")
    assert units.rstrip().endswith("**adopt**")
    assert scale.rstrip().endswith("**not adopted**")


def test_the_student_is_reported_against_its_teacher_per_split_and_protocol(
    dh: ModuleType,
    hs: ModuleType,
) -> None:
    teacher = dh.figures(_metrics(dh, 0.9, 10.0))
    student = dh.figures(_metrics(dh, 0.8, 30.0, pick="cut_max"))
    gaps = hs.student_gaps(teacher, student)
    # The attack splits under both protocols; no alarm figure, no validation row.
    assert sorted(gaps) == [
        f"{p} f1 test_0{i}_new_vehicle_{a}"
        for p in ("calibrated", "frozen")
        for i, a in ((1, "dos"), (2, "fuzzing"))
    ]
    assert gaps["calibrated f1 test_01_new_vehicle_dos"] == pytest.approx(-0.1)
    assert gaps["frozen f1 test_02_new_vehicle_fuzzing"] == pytest.approx(-0.05)
    close = dh.figures(_metrics(dh, 0.88, 30.0))  # 0.02 and 0.01 below: within 0.03
    lines = hs.student_lines(
        {"a-s0": teacher, "a-s1": teacher},
        {"a-s0": student, "a-s1": close},
        {"a-s0": (841_286, 36_406), "a-s1": (100, 11)},
    )
    text = "\n".join(lines)
    assert "| a-s0 | max / cut_max | calibrated test_01_new_vehicle_dos -0.100" in text
    assert "36,406 of 841,286: 4.3% |" in text
    assert "11 of 100: 11.0% (over 10%) |" in text
    # s0: the two fuzzing cells (-0.05) are out, the two DoS cells (-0.1) out; s1: all in.
    assert lines[-1].startswith("\nStudent within 0.03 F1 of its teacher: 4 of 8 cells")


def test_a_split_without_an_f1_is_not_a_student_gap(dh: ModuleType, hs: ModuleType) -> None:
    teacher = dh.figures(_metrics(dh, 0.9, 10.0))
    student = dh.figures(_metrics(dh, 0.8, 10.0))
    student["models"]["pick"]["calibrated f1 test_01_new_vehicle_dos"] = None
    assert "calibrated f1 test_01_new_vehicle_dos" not in hs.student_gaps(teacher, student)
    assert len(hs.student_gaps(teacher, student)) == 3


def _done(folder: Path, *keys: str) -> None:
    for key in keys:
        (folder / key).mkdir(parents=True)
        (folder / key / "DONE.json").write_text("{}")


def test_a_student_variant_runs_beside_the_default_with_copies_of_its_teacher(
    dh: ModuleType, hs: ModuleType, tmp_path: Path
) -> None:
    """Finished folders (every stage DONE, so nothing trains): the default student is
    read where it is; the fidelity student's folder sits beside it, named for the variant,
    and holds copies of the teacher and of the default student's VGAE."""
    run_dir, dataset = tmp_path / "runs" / "hcrl_sa_to_set_01-sensitive-s2", "hcrl_sa_to_set_01"
    _done(run_dir / dataset / "teacher", "vgae", "gat", "fusion", "results")
    _done(run_dir / dataset / "student", "vgae", "gat", "fusion", "results")
    gat_config = {"config": {"train": {"seed": 2}}}
    (run_dir / dataset / "student" / "gat" / "config.json").write_text(json.dumps(gat_config))
    (run_dir / dataset / "student" / "results" / "metrics.json").write_text('{"who": "f1"}')
    fidelity = run_dir.with_name("hcrl_sa_to_set_01-sensitive-fidelity-s2")
    _done(fidelity / dataset / "student", "gat", "fusion", "results")  # its own, finished
    (fidelity / dataset / "student" / "results" / "metrics.json").write_text('{"who": "fid"}')
    log = tmp_path / "log"
    got = hs.distil(run_dir, dataset, tmp_path / "cache", ["train.seed=2"], ["fidelity"], log)
    assert got == {"": {"who": "f1"}, "fidelity": {"who": "fid"}}
    for key in ("vgae", "gat", "fusion", "results"):
        assert (fidelity / dataset / "teacher" / key / "DONE.json").is_file()
    assert (fidelity / dataset / "student" / "vgae" / "DONE.json").is_file()
    assert not log.exists()  # nothing ran


def test_the_teacher_pick_student_is_judged_by_its_rule(dh: ModuleType, hs: ModuleType) -> None:
    """canids-models 0.26.0's rule, written before its runs: more cells within 0.03 of
    the teacher, the mean calibrated F1 down by at most 0.005, alarms at most 1.5x."""
    teacher = dh.figures(_metrics(dh, 0.9, 10.0))
    far = dh.figures(_metrics(dh, 0.8, 10.0))  # every cell 0.05-0.1 below: none within
    near = dh.figures(_metrics(dh, 0.89, 10.0))  # every cell within
    teachers = {"sensitive": {"a-s0": teacher, "a-s1": teacher}}
    students = {
        "sensitive": {"a-s0": far, "a-s1": near},
        "sensitive+teacher_pick": {"a-s0": near, "a-s1": near},
    }
    lines = hs.verdict_lines(teachers, students, dh.pick_summary)
    assert len(lines) == 1
    assert lines[0].startswith(
        "\nsensitive+teacher_pick, judged on a-s0, a-s1: cells within 0.03 of the teacher "
        "4 -> 8 of 8 (adopting needs more)"
    )
    assert lines[0].endswith("**adopt**")
    # As many cells within, or a fall of more than 0.005, or alarms past 1.5x: not adopted.
    same = {"within": 8, "cases": 8, "f1": 0.5, "alarms_h": 10.0}
    assert not hs.student_verdict(same, same)[0]
    fewer = {**same, "within": 7}
    assert hs.student_verdict(fewer, {**same, "f1": 0.495})[0]
    assert not hs.student_verdict(fewer, {**same, "f1": 0.4949})[0]
    assert not hs.student_verdict(fewer, {**same, "alarms_h": 15.01})[0]
    assert hs.student_verdict({**fewer, "alarms_h": 0.0}, {**same, "alarms_h": 1.0})[0]
    missing = hs.verdict_lines(
        teachers, {"sensitive+teacher_pick": {"a-s0": near}}, dh.pick_summary
    )
    assert missing == [
        "\nsensitive+teacher_pick: the default student did not run beside it: no verdict"
    ]


def _val(dh: ModuleType, f1: float, val_f1: float) -> dict[str, Any]:
    """A run's figures whose deployed fusion scores ``val_f1`` on validation, calibrated."""
    metrics = _metrics(dh, f1, 10.0)
    metrics["rows"].append(_row("val", "calibrated", "fusion:max", val_f1, 0.0))
    return dh.figures(metrics)


def test_the_fidelity_student_is_judged_on_its_unread_direction_and_on_both(
    dh: ModuleType,
    hs: ModuleType,
) -> None:
    """The rule written on 2026-12-07 before its runs: teacher_pick's three conditions and
    validation's calibrated F1 down by at most 0.005, on hcrl_sa_to_set_01 alone and on
    both directions together; adopted only where both groups pass."""
    teacher = dh.figures(_metrics(dh, 0.9, 10.0))
    runs = ("hcrl_sa_to_set_01-s0", "set_01_to_hcrl_sa-s0")
    teachers = {"sensitive": dict.fromkeys(runs, teacher)}
    far, near = _val(dh, 0.8, 0.99), _val(dh, 0.89, 0.99)
    students = {
        "sensitive": dict.fromkeys(runs, far),
        "sensitive+fidelity": dict.fromkeys(runs, near),
    }
    lines = hs.verdict_lines(teachers, students, dh.pick_summary)
    assert [line.split(":")[0] for line in lines] == [
        "\nsensitive+fidelity, judged on hcrl_sa_to_set_01-s0",
        "\nsensitive+fidelity, judged on hcrl_sa_to_set_01-s0, set_01_to_hcrl_sa-s0",
        "\nsensitive+fidelity, every group of its rule",
    ]
    assert "cells within 0.03 of the teacher 0 -> 4 of 4" in lines[0]
    assert "validation's calibrated F1 0.9900 -> 0.9900 (+0.0000; at most -0.005)" in lines[0]
    assert [line.rsplit("**", 2)[1] for line in lines] == ["holds", "holds", "adopt"]
    # The unread direction alone fails on validation: not adopted, whatever both show.
    worse = {**students["sensitive+fidelity"], runs[0]: _val(dh, 0.89, 0.9849)}
    lines = hs.verdict_lines(teachers, {**students, "sensitive+fidelity": worse}, dh.pick_summary)
    assert [line.rsplit("**", 2)[1] for line in lines] == ["fails", "holds", "not adopted"]
    assert "(-0.0051; at most -0.005)" in lines[0]
    # A run without validation's row cannot pass its rule.
    same = {"within": 4, "cases": 8, "f1": 0.5, "alarms_h": 10.0, "val_f1": 0.99}
    ok, why = hs.student_verdict(same, {**same, "within": 5, "val_f1": None}, validation=True)
    assert not ok
    assert why.endswith("validation's calibrated F1 missing (the rule needs it)")
    assert hs.student_verdict(same, {**same, "within": 5, "val_f1": 0.985}, validation=True)[0]
    # Without the unread direction there is no verdict.
    alone = {k: {runs[1]: v[runs[1]]} for k, v in students.items()}
    lines = hs.verdict_lines(teachers, alone, dh.pick_summary)
    assert lines == ["\nsensitive+fidelity: no run of hcrl_sa_to_set_01 beside it: no verdict"]


def test_a_teacher_pick_student_copies_both_of_the_default_student_s_detectors(
    dh: ModuleType, hs: ModuleType, tmp_path: Path
) -> None:
    run_dir, dataset = tmp_path / "runs" / "set_01_to_hcrl_sa-sensitive-s1", "set_01_to_hcrl_sa"
    _done(run_dir / dataset / "teacher", "vgae", "gat", "fusion", "results")
    _done(run_dir / dataset / "student", "vgae", "gat", "fusion", "results")
    gat_config = {"config": {"train": {"seed": 1}}, "distill_from": "teacher"}
    (run_dir / dataset / "student" / "gat" / "config.json").write_text(json.dumps(gat_config))
    (run_dir / dataset / "student" / "results" / "metrics.json").write_text('{"who": "f1"}')
    pick = run_dir.with_name("set_01_to_hcrl_sa-sensitive-teacher_pick-s1")
    _done(pick / dataset / "student", "fusion", "results")  # its own, finished
    (pick / dataset / "student" / "results" / "metrics.json").write_text('{"who": "pick"}')
    got = hs.distil(
        run_dir, dataset, tmp_path / "cache", ["train.seed=1"], ["teacher_pick"], tmp_path / "log"
    )
    assert got == {"": {"who": "f1"}, "teacher_pick": {"who": "pick"}}
    for key in ("vgae", "gat"):  # copies: the same detectors, only the fusion differs
        copied = pick / dataset / "student" / key / "DONE.json"
        assert copied.is_file()
    assert (
        json.loads((pick / dataset / "student" / "gat" / "config.json").read_text()) == gat_config
    )


def test_every_variant_is_judged_on_every_direction_of_a_file(
    dh: ModuleType, hs: ModuleType, hd: ModuleType
) -> None:
    """The built-in capture_scale is judged on set_01_to_hcrl_sa only; a file's directions
    were read by nobody here, so every one of them judges every variant, teacher and
    student, by the same rules."""
    names = ["set_02_to_set_03", "set_03_to_set_04"]
    judged_on, judged = hd.judged_everywhere(names, ["sensitive", "capture_scale"], ["fidelity"])
    assert judged_on == {"sensitive": tuple(names), "capture_scale": tuple(names)}
    assert judged == {"fidelity": ((),)}
    good, bad = dh.figures(_metrics(dh, 0.9, 10.0)), dh.figures(_metrics(dh, 0.1, 10.0))
    runs = [f"{n}-s{s}" for n in names for s in (0, 1)]
    variants = {"": dict.fromkeys(runs, bad), "sensitive": dict.fromkeys(runs, bad)}
    variants["capture_scale"] = dict.fromkeys(runs, good)
    text = "\n".join(dh.table(variants, judged_on))
    assert f"capture_scale, judged on {', '.join(sorted(runs))} against sensitive" in text
    assert text.rstrip().endswith("**adopt**")
    teacher = dh.figures(_metrics(dh, 0.9, 10.0))
    students = {
        "sensitive": dict.fromkeys(runs, _val(dh, 0.8, 0.99)),
        "sensitive+fidelity": dict.fromkeys(runs, _val(dh, 0.89, 0.99)),
    }
    lines = hs.verdict_lines(
        {"sensitive": dict.fromkeys(runs, teacher)}, students, dh.pick_summary, judged
    )
    assert len(lines) == 1
    assert lines[0].startswith(f"\nsensitive+fidelity, judged on {', '.join(sorted(runs))}: ")
    assert "validation's calibrated F1 0.9900 -> 0.9900" in lines[0]
    assert lines[0].endswith("**adopt**")
