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
    is_test_split,
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


# --- one dataset per folder, globs inside the root -------------------------------------


def _capture(root: Path, rel: str, make_table, seed: int = 0) -> Path:
    from canids_data.writers import write_capture

    return write_capture(make_table(300, seed), root / rel, "parquet")


def test_a_root_holding_the_datasets_folder_builds_from_that_folder_only(
    tmp_path, make_table
) -> None:
    from canids_data import resolve_root

    base = tmp_path / "real"
    _capture(base, "demo/train_01_attack_free__a.parquet", make_table, 1)
    _capture(base, "demo/test_01_known_vehicle_known_attack__b.parquet", make_table, 2)
    _capture(base, "other/train_01_attack_free__c.parquet", make_table, 3)
    spec = get_dataset("demo")
    root = resolve_root(spec, base)
    assert root == (base / "demo").resolve()
    sources, _ = discover_sources(spec, root)
    assert [s.rel for s in sources] == [
        "test_01_known_vehicle_known_attack__b.parquet",
        "train_01_attack_free__a.parquet",
    ]


def test_captures_spanning_several_dataset_folders_are_refused(tmp_path, make_table) -> None:
    base = tmp_path / "pool"
    _capture(base, "set_a/train_01_attack_free__a.parquet", make_table, 1)
    _capture(base, "set_a/train_01_attack_free__b.parquet", make_table, 2)
    _capture(base, "set_b/train_01_attack_free/c.parquet", make_table, 3)
    with pytest.raises(CatalogError) as err:
        discover_sources(get_dataset("demo"), base)
    msg = str(err.value)
    assert f"the captures under {base} span 2 dataset folders: set_a (2 captures), set_b (1 " in msg
    assert "canids does not pool datasets" in msg
    assert "--datasets-file" in msg
    # Split folders at the root and a copy in a sub-folder: pooled too, so refused.
    _capture(base, "train_01_attack_free/d.parquet", make_table, 4)
    with pytest.raises(CatalogError, match=r"span 3 dataset folders: \. \(1 captures\)"):
        discover_sources(get_dataset("demo"), base)


@pytest.mark.realdata
def test_the_real_data_root_builds_each_dataset_from_its_own_folder(real_data_root) -> None:
    """``--root ../shared/data/real``: hcrl_sa from its 13 files (1,908,595 messages), not
    22 files of hcrl_sa and set_01 pooled (3,963,354)."""
    from canids_data import resolve_root

    for name, files in (("hcrl_sa", 13), ("set_01", 9)):
        spec = get_dataset(name)
        root = resolve_root(spec, real_data_root)
        assert root == (real_data_root / name).resolve()
        sources, _ = discover_sources(spec, root)
        assert len(sources) == files
    with pytest.raises(CatalogError, match=r"span 2 dataset folders: hcrl_sa .*set_01"):
        discover_sources(get_dataset("hcrl_sa"), real_data_root)


def _toml(tmp_path: Path, root: str, train: str) -> Path:
    return write(
        tmp_path,
        f'[datasets.mycar]\nroot = "{root}"\n[datasets.mycar.splits]\ntrain = ["{train}"]\n',
    )


def test_an_absolute_glob_inside_the_root_works(tmp_path, make_table) -> None:
    root = tmp_path / "cap"
    _capture(root, "normal/a.parquet", make_table)
    spec = load_datasets_file(_toml(tmp_path, str(root), f"{root}/normal/*.parquet"))["mycar"]
    assert spec.splits == {"train": ("normal/*.parquet",)}
    sources, _ = discover_sources(spec, root.resolve())
    assert [s.rel for s in sources] == ["normal/a.parquet"]


@pytest.mark.parametrize(
    ("glob", "reason"),
    [
        ("/etc/*.csv", "glob is outside the dataset root"),
        ("../outside/*.csv", "glob leaves the dataset root"),
        ("normal/../../outside/*.csv", "glob leaves the dataset root"),
    ],
)
def test_globs_that_leave_the_root_are_refused(tmp_path, glob, reason) -> None:
    root = tmp_path / "cap"
    root.mkdir()
    path = _toml(tmp_path, str(root), glob)
    with pytest.raises(CatalogError) as err:
        load_datasets_file(path)
    assert str(err.value).startswith(f"{path}: datasets.mycar.splits.train: {reason}")
    assert f"(got {glob!r})" in str(err.value)


def test_a_symlink_out_of_the_root_is_refused(tmp_path, make_table) -> None:
    outside = _capture(tmp_path / "elsewhere", "x.parquet", make_table)
    root = tmp_path / "cap"
    (root / "normal").mkdir(parents=True)
    (root / "normal" / "x.parquet").symlink_to(outside)
    spec = load_datasets_file(_toml(tmp_path, str(root), "normal/*.parquet"))["mycar"]
    with pytest.raises(CatalogError, match="outside the dataset root"):
        discover_sources(spec, root.resolve())


@pytest.mark.parametrize(
    ("name", "is_test"),
    [
        ("test_01_known_vehicle_known_attack", True),
        ("test_03_new-vehicle_normal", True),
        ("train", False),
        ("train_01_attack_free", False),
        ("test_1_short_number", False),
        ("test_01_", False),
        ("test_01_bad name", False),
        ("val", False),
    ],
)
def test_test_split_names(name: str, is_test: bool) -> None:
    """The one rule for a test split's name: the datasets file and benchmarks/ share it."""
    assert is_test_split(name) is is_test
