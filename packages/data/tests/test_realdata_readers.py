"""Readers on the real captures (``real_data_root``: ``$CANIDS_REAL_DATA`` or
``<repo>/../shared/data/real``); skipped when absent, a failure under CI (``CI`` set to
anything but ``0`` or ``false``).

Counts are those of ``shared/data/README.md``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from canids_data.readers import detect_format, read_capture
from canids_data.table import MessageTable, ReadReport
from canids_data.writers import FORMAT_EXTENSIONS, write_capture

pytestmark = pytest.mark.realdata

# capture -> (messages, attack messages)
HCRL_SA = {
    "DoS-sonata": (149_547, 32_422),
    "fuzzing-kia": (249_990, 39_812),
    "DoS-spark": (120_570, 22_587),
    "fuzzing-Spark": (65_665, 5_812),
    "malfunction-kia": (173_436, 7_401),
    "malfunction-sonata": (132_651, 15_974),
    "malfunction-spark": (79_787, 8_047),
    "attack-free-kia": (192_516, 0),
    "attack-free-sonata": (117_173, 0),
    "DoS-kia": (181_901, 33_141),
    "fuzzing-sonata": (135_670, 18_118),
}
HCRL_SA_FILES = 13
HCRL_SA_TOTAL = 1_908_595
SET_01_FILES = 9
SET_01_TOTAL = 2_054_759
# Attack-free captures that can-train-and-test ships in both training folders.
DUPLICATES = {
    "hcrl_sa": ["attack-free-kia", "attack-free-sonata"],
    "set_01": ["accessory-1", "accessory-2"],
}


def capture_name(path: Path) -> str:
    return path.stem.split("__", 1)[1]


@pytest.fixture(scope="module")
def real(real_data_root: Path) -> dict[str, dict[Path, tuple[MessageTable, ReadReport]]]:
    """Every real file read once: ``{"hcrl_sa": {path: (table, report)}, "set_01": ...}``."""
    out: dict[str, dict[Path, tuple[MessageTable, ReadReport]]] = {}
    for dataset in ("hcrl_sa", "set_01"):
        files = sorted((real_data_root / dataset).glob("*.parquet"))
        assert files, f"no parquet files in {real_data_root / dataset}"
        out[dataset] = {p: read_capture(p) for p in files}
    return out


def test_hcrl_sa_message_and_attack_counts_per_file(real):
    files = real["hcrl_sa"]
    assert len(files) == HCRL_SA_FILES
    seen = set()
    for path, (table, report) in files.items():
        name = capture_name(path)
        assert name in HCRL_SA, path.name
        seen.add(name)
        messages, attacks = HCRL_SA[name]
        assert len(table) == messages, path.name
        assert table.label is not None
        assert int(table.label.sum()) == attacks, path.name
        assert report.rows == messages
        assert report.skipped_rows == 0
        assert report.format == "parquet"
    assert seen == set(HCRL_SA)
    assert sum(len(t) for t, _ in files.values()) == HCRL_SA_TOTAL


def test_set_01_total(real):
    files = real["set_01"]
    assert len(files) == SET_01_FILES
    assert sum(len(t) for t, _ in files.values()) == SET_01_TOTAL
    for path, (table, report) in files.items():
        assert report.skipped_rows == 0, path.name
        assert table.label is not None
        attack_free = "attack_free" in path.name or "accessory" in path.name
        assert (int(table.label.sum()) == 0) == attack_free, path.name


@pytest.mark.parametrize("dataset", ["hcrl_sa", "set_01"])
def test_train_01_and_train_02_attack_free_copies_are_equal(real, dataset):
    by_name: dict[str, dict[str, MessageTable]] = {}
    for path, (table, _) in real[dataset].items():
        split = path.stem.split("__", 1)[0]
        by_name.setdefault(capture_name(path), {})[split] = table
    for name in DUPLICATES[dataset]:
        copies = by_name[name]
        assert set(copies) == {"train_01_attack_free", "train_02_with_attacks"}, name
        a, b = copies["train_01_attack_free"], copies["train_02_with_attacks"]
        assert len(a) > 100_000
        assert a.equals(b), name


def test_tables_are_well_formed(real):
    for dataset, files in real.items():
        for path, (table, report) in files.items():
            assert detect_format(path) == "parquet"
            assert table.timestamp.dtype == np.float64
            assert np.isfinite(table.timestamp).all()
            assert table.can_id.max() <= 0x7FF, path.name  # 11-bit IDs in both datasets
            assert table.dlc.max() <= 8
            # Zero padded past the DLC.
            past = np.arange(8) >= table.dlc[:, None]
            assert not table.payload[past].any(), path.name
            assert report.timestamp_inversions == int(
                np.count_nonzero(np.diff(table.timestamp) < 0)
            ), f"{dataset}/{path.name}"


def test_values_match_an_independent_decode(real):
    """The first rows of every file, decoded with pyarrow + bytes.fromhex, equal the
    vectorised reader's."""
    columns = ["timestamp", "id", "data_field", "label"]
    for files in real.values():
        for path, (table, _) in files.items():
            batch = next(pq.ParquetFile(path).iter_batches(batch_size=2_000, columns=columns))
            for r, row in enumerate(batch.to_pylist()):
                data = bytes.fromhex(row["data_field"])
                assert table.timestamp[r] == row["timestamp"]
                assert table.can_id[r] == row["id"]
                assert table.dlc[r] == len(data)
                assert table.payload[r, : len(data)].tobytes() == data
                assert table.label[r] == row["label"]


def test_real_traffic_round_trips_through_every_text_format(real, tmp_path):
    """hcrl_sa timestamps are whole microseconds, so the text formats keep them exactly."""
    path = next(p for p in real["hcrl_sa"] if capture_name(p) == "fuzzing-Spark")
    whole = real["hcrl_sa"][path][0]
    assert whole.label is not None
    first_attack = int(np.argmax(whole.label))
    table = whole.take(slice(max(first_attack - 4_000, 0), first_attack + 4_000))
    assert set(np.unique(table.dlc)) == set(range(1, 9))
    assert table.label is not None
    assert table.label.any()
    cases = [
        ("hcrl_ch", {}, True),
        ("hcrl_ch", {"pad_to_8": True}, True),
        ("hcrl_sa", {}, True),
        ("hcrl_sa", {"labelled": False, "joined_bytes": True}, False),
        ("hcrl_normal", {}, False),
        ("cantt", {}, True),
        ("candump", {}, False),
    ]
    for i, (fmt, options, labelled) in enumerate(cases):
        out = write_capture(table, tmp_path / f"{i}{FORMAT_EXTENSIONS[fmt]}", fmt, **options)
        got, report = read_capture(out, fmt)
        assert got.equals(table, check_label=labelled), (fmt, options)
        assert (got.label is None) == (not labelled)
        assert report.skipped_rows == 0
