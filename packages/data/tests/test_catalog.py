"""The datasets file (``--datasets-file`` / ``$CANIDS_DATASETS``): user datasets read from
TOML, their captures found by glob, and every refusal in the canids config error format
(``file: field.path: what (got value)``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from canids_data import (
    BUILTIN_DATASETS,
    READER_FORMATS,
    CatalogError,
    discover_sources,
    get_dataset,
    load_datasets_file,
)

GOOD = """
[datasets.mycar]
root = "captures"
format = "candump"
description = "our test vehicle"
[datasets.mycar.splits]
train = ["normal/*.log", "attacks/*.log"]
test_01_known_vehicle_known_attack = ["eval/*.log"]

[datasets."fleet.v2"]
root = "/data/fleet"
[datasets."fleet.v2".splits]
train = ["*.parquet"]
"""


def write(tmp_path: Path, text: str, name: str = "datasets.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_datasets_file_is_read(tmp_path):
    path = write(tmp_path, GOOD)
    specs = load_datasets_file(path)
    assert list(specs) == ["mycar", "fleet.v2"]  # the common name rule allows '.'
    car = specs["mycar"]
    assert car.name == "mycar"
    assert car.root == (tmp_path / "captures").resolve()  # relative to the file
    assert (car.format, car.format_hint) == ("candump", "candump")
    assert car.description == "our test vehicle"
    assert car.splits == {
        "train": ("normal/*.log", "attacks/*.log"),
        "test_01_known_vehicle_known_attack": ("eval/*.log",),
    }
    fleet = specs["fleet.v2"]
    assert fleet.root == Path("/data/fleet")
    assert (fleet.format, fleet.description) == (None, "")
    assert fleet.splits == {"train": ("*.parquet",)}


def test_its_captures_are_found_by_glob(tmp_path):
    path = write(tmp_path, GOOD)
    root = tmp_path / "captures"
    for rel in ("normal/a.log", "attacks/b.log", "eval/c.log", "notes/readme.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("(0.0) can0 123#00\n")
    spec = load_datasets_file(path)["mycar"]
    sources, ignored = discover_sources(spec, root)
    assert [(s.rel, s.split, s.capture) for s in sources] == [
        ("attacks/b.log", "train", "b"),
        ("eval/c.log", "test_01_known_vehicle_known_attack", "c"),
        ("normal/a.log", "train", "a"),
    ]
    assert ignored == []


def test_get_dataset_reads_the_file_from_the_environment(tmp_path, monkeypatch):
    path = write(tmp_path, GOOD)
    monkeypatch.setenv("CANIDS_DATASETS", str(path))
    assert get_dataset("mycar").root == (tmp_path / "captures").resolve()
    assert get_dataset("demo") is BUILTIN_DATASETS["demo"]
    with pytest.raises(CatalogError) as err:
        get_dataset("othercar")
    assert "unknown dataset 'othercar'; known: demo, fleet.v2, hcrl_ch" in str(err.value)
    assert "--datasets-file" in str(err.value)


def test_an_empty_file_has_no_datasets(tmp_path):
    assert load_datasets_file(write(tmp_path, "")) == {}


TABLE = '[datasets.mycar]\nroot = "r"\n[datasets.mycar.splits]\ntrain = ["*.log"]\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            TABLE + "[other]\nx = 1\n",
            "other: unknown key; known: datasets",
        ),
        (
            TABLE.replace('root = "r"', 'root = "r"\nroots = "s"'),
            "datasets.mycar.roots: unknown key; known: root, format, splits, description",
        ),
        (
            TABLE.replace('root = "r"\n', ""),
            "datasets.mycar.root: missing (required)",
        ),
        (
            '[datasets.mycar]\nroot = "r"\n',
            "datasets.mycar.splits: missing (required)",
        ),
        (
            TABLE.replace('root = "r"', "root = 3"),
            "datasets.mycar.root: input should be a valid string (got 3)",
        ),
        (
            TABLE.replace('root = "r"', 'root = "r"\nformat = "pcap"'),
            f"datasets.mycar.format: must be one of {', '.join(READER_FORMATS)} (got 'pcap')",
        ),
        (
            TABLE.replace("train =", "test_01_x = ['a']\ntraining ="),
            "datasets.mycar.splits: split 'training' must be 'train' or 'test_NN_name' "
            "(got {'test_01_x': ['a'], 'training': ['*.log']})",
        ),
        (
            TABLE.replace("train =", "test_01_x ="),
            "datasets.mycar.splits: splits need a 'train' entry (got {'test_01_x': ['*.log']})",
        ),
        (
            TABLE.replace('["*.log"]', "[]"),
            "datasets.mycar.splits: split 'train' needs a list of glob patterns "
            "(got {'train': []})",
        ),
        # A string is not a list of globs (it was once read as one glob per character).
        (
            TABLE.replace('["*.log"]', '"*.log"'),
            "datasets.mycar.splits.train: input should be a valid list (got '*.log')",
        ),
        (
            TABLE.replace('["*.log"]', '["*.log", 3]'),
            "datasets.mycar.splits.train[1]: input should be a valid string (got 3)",
        ),
        (
            '[datasets]\nmycar = "r"\n',
            "datasets.mycar: must be a table: [datasets.NAME] with root and splits (got 'r')",
        ),
        (
            'datasets = "mycar"\n',
            "datasets: input should be a valid dictionary (got 'mycar')",
        ),
        (
            TABLE.replace("datasets.mycar", 'datasets."my car"'),
            "datasets: dataset name 'my car' is not allowed: use 1 to 64 characters: letters, "
            "digits, '_', '-' and '.', starting with a letter or digit",
        ),
        (
            TABLE.replace("datasets.mycar", 'datasets."-car"'),
            "datasets: dataset name '-car' is not allowed",
        ),
        (
            TABLE.replace("datasets.mycar", f"datasets.{'a' * 65}"),
            f"datasets: dataset name '{'a' * 65}' is not allowed",
        ),
    ],
)
def test_refusals_name_the_file_and_the_field(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(CatalogError) as err:
        load_datasets_file(path)
    assert str(err.value).startswith(f"{path}: {message}"), str(err.value)


def test_every_problem_is_listed(tmp_path):
    path = write(tmp_path, TABLE.replace('root = "r"', 'root = 3\nformat = "pcap"'))
    with pytest.raises(CatalogError) as err:
        load_datasets_file(path)
    lines = str(err.value).splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "datasets.mycar.root",
        "datasets.mycar.format",
    ]


@pytest.mark.parametrize(
    ("name", "content"),
    [("broken.toml", "[datasets.mycar\nroot = 1"), ("binary.toml", None), ("missing.toml", "")],
)
def test_unreadable_files(tmp_path, name, content):
    path = tmp_path / name
    if name == "binary.toml":
        path.write_bytes(b"\xff\xfe\x00bad")
    elif name != "missing.toml":
        path.write_text(content)
    with pytest.raises(CatalogError) as err:
        load_datasets_file(path)
    assert str(err.value).startswith(f"{path}: cannot read the datasets file (")
