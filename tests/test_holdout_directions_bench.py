"""``dataset_holdout.py --directions-file``: directions of a user's own captures, read whole
before anything is written, refused with the key and the fix where they are wrong, turned
into a datasets file canids-data reads, and judged for every variant on every direction
of the file, by the same rules the built-in directions are judged by (that last part in
``test_dataset_holdout_bench.py``, beside the figures it builds)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from canids_data.datasets_file import read_datasets_file

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
CAPTURES = (
    "set_02/train_01_attack_free__a.csv",
    "set_02/train_02_with_attacks__dos.csv",
    "set_03/train_01_attack_free__b.csv",
    "set_03/train_02_with_attacks__dos.csv",
    "set_03/train_02_with_attacks__fuzzing.csv",
)
GOOD = """
[set_02_to_set_03]
train = ["set_02/train_*.csv"]
normal = ["set_03/train_01_attack_free__b.csv"]
format = "cantt"
[set_02_to_set_03.attacks]
test_01_new_vehicle_dos = "set_03/train_02_with_attacks__dos.csv"
test_02_new_vehicle_fuzzing = "set_03/train_02_with_attacks__fuzzing.csv"
"""


@pytest.fixture
def dh(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("dataset_holdout")


@pytest.fixture
def hd(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("holdout_directions")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in CAPTURES:
        (tmp_path / "data" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "data" / name).write_text("")
    return tmp_path / "data"


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "directions.toml"
    path.write_text(text)
    return path


def test_a_directions_file_becomes_datasets_canids_reads(
    dh: ModuleType, hd: ModuleType, root: Path, tmp_path: Path
) -> None:
    directions = hd.read_directions(_file(tmp_path, GOOD), root)
    assert directions == {
        "set_02_to_set_03": {
            "train": ["set_02/train_*.csv"],
            "attacks": {
                "test_01_new_vehicle_dos": "set_03/train_02_with_attacks__dos.csv",
                "test_02_new_vehicle_fuzzing": "set_03/train_02_with_attacks__fuzzing.csv",
            },
            "normal": ["set_03/train_01_attack_free__b.csv"],
            "format": "cantt",
        }
    }
    (tmp_path / "out").mkdir()
    spec = read_datasets_file(dh.datasets_file(tmp_path / "out", root, directions))
    assert list(spec) == ["set_02_to_set_03"]
    s = spec["set_02_to_set_03"]
    assert s.format == "cantt"
    assert s.splits["train"] == ("set_02/train_*.csv",)
    assert s.splits[dh.NORMAL] == ("set_03/train_01_attack_free__b.csv",)
    assert s.splits["test_02_new_vehicle_fuzzing"] == ("set_03/train_02_with_attacks__fuzzing.csv",)


BAD = [
    ("[x\n", "cannot read the directions file"),
    ("", "names no direction: add a [NAME] table"),
    (GOOD.replace("set_02_to_set_03", "set_01_to_hcrl_sa"), "is a built-in direction, read"),
    (GOOD.replace("set_02_to_set_03", '"bad name"'), "a direction's name must be"),
    (GOOD.replace('format = "cantt"', 'model = "gat"'), "unknown keys ['model'], missing []"),
    (GOOD.replace('format = "cantt"', 'format = "csv"'), "format: 'csv' is not a reader of"),
    (GOOD.replace('normal = ["set_03/train_01_attack_free__b.csv"]', ""), "missing ['normal']"),
    (GOOD.replace("set_02/train_*.csv", "set_09/*.csv"), "'set_09/*.csv' matches no file"),
    (GOOD.replace("test_01_new_vehicle_dos", "dos"), "attacks.dos: a split's name must be"),
    (GOOD.replace("test_01_new_vehicle_dos", "test_03_new_vehicle_normal"), "(not test_03_new"),
    (GOOD.replace('__dos.csv"\ntest_02', '__dxs.csv"\ntest_02'), "no capture "),
    (GOOD.replace('normal = ["set_03', 'normal = ["../set_03'), "must be a path inside --data"),
    (GOOD.replace('train = ["set_02/', 'train = ["/set_02/'), "must be a glob inside --data"),
    (GOOD.replace('train = ["set_02/', 'train = ["set_0?/'), "both trained on and tested on"),
    (GOOD.replace('normal = ["set_03/train_01_attack_free__b.csv"]', "normal = []"), "non-empty"),
]


@pytest.mark.parametrize(("text", "error"), BAD)
def test_a_bad_directions_file_is_refused_with_its_key(
    hd: ModuleType, root: Path, tmp_path: Path, text: str, error: str
) -> None:
    path = _file(tmp_path, text)
    with pytest.raises(SystemExit) as exc:
        hd.read_directions(path, root)
    assert str(exc.value).startswith(f"{path}: ")
    assert error in str(exc.value)


def test_the_script_refuses_a_bad_file_before_it_writes_anything(
    root: Path, tmp_path: Path
) -> None:
    path = _file(tmp_path, GOOD.replace("set_02/train_*.csv", "set_09/*.csv"))
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "dataset_holdout.py"), "--data", str(root)]
        + ["--out", str(out), "--directions-file", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert f"{path}: set_02_to_set_03.train: 'set_09/*.csv' matches no file" in done.stderr
    assert not out.exists()
    wrong = subprocess.run(
        [sys.executable, str(BENCHMARKS / "dataset_holdout.py"), "--data", str(root)]
        + ["--out", str(out), "--directions-file", str(_file(tmp_path, GOOD))]
        + ["--directions", "set_01_to_hcrl_sa"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 2
    assert "--directions ['set_01_to_hcrl_sa']: not among set_02_to_set_03" in wrong.stderr
    assert not out.exists()
