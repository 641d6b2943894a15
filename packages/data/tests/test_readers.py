"""Readers: round trips through every writer, detection, chunking, CRLF, blank lines."""

from __future__ import annotations

import sys

import canids_data.readers as readers
import canids_data.readers._text as readers_text
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from canids_data.errors import ReaderError
from canids_data.readers import READER_FORMATS, detect_format, read_capture
from canids_data.synthetic import DoS, Fuzzing, Spoofing, Vehicle, generate_capture
from canids_data.table import MessageTable
from canids_data.writers import FORMAT_EXTENSIONS, write_capture

# (writer format, writer options, reads back labelled, what detection says without a hint)
WRITES = [
    ("hcrl_ch", {}, True, "hcrl_ch"),
    ("hcrl_ch", {"pad_to_8": True}, True, "hcrl_ch"),
    # Plain labelled rows are valid car-hacking and survival-analysis text alike.
    ("hcrl_sa", {}, True, "hcrl_ch"),
    ("hcrl_sa", {"labelled": False}, False, "hcrl_sa"),
    ("hcrl_sa", {"joined_bytes": True}, True, "hcrl_sa"),
    ("hcrl_sa", {"joined_bytes": True, "labelled": False}, False, "hcrl_sa"),
    ("hcrl_normal", {}, False, "hcrl_normal"),
    ("cantt", {}, True, "cantt"),
    ("parquet", {}, True, "parquet"),
    ("candump", {}, False, "candump"),
]
WRITE_IDS = [
    f"{f}-{'-'.join(f'{k}={v}' for k, v in o.items()) or 'default'}" for f, o, *_ in WRITES
]
TEXT_WRITES = [w for w in WRITES if w[0] != "parquet"]
TEXT_IDS = [i for i, w in zip(WRITE_IDS, WRITES, strict=True) if w[0] != "parquet"]


def edge_table(labelled: bool = True) -> MessageTable:
    """DLC 0, 1, 2, 7, 8; 11-bit IDs 0x000 and 0x7FF; 29-bit IDs; both labels; uppercase
    and zero bytes; microsecond timestamps (what the text formats store)."""
    dlc = np.array([0, 2, 8, 1, 7, 8, 0, 8], np.uint8)
    payload = np.zeros((8, 8), np.uint8)
    rng = np.random.default_rng(11)
    for i, n in enumerate(dlc):
        payload[i, :n] = rng.integers(0, 256, n)
    payload[2] = [0xFF, 0x00, 0xAB, 0xCD, 0xEF, 0x10, 0x01, 0x80]
    return MessageTable(
        timestamp=np.array(
            [
                1513920375.118926,
                1513920375.118927,
                1513920375.5,
                1513920376.000001,
                1513920376.999999,
                1513920377.0,
                1513920377.25,
                1513920378.123456,
            ]
        ),
        can_id=np.array(
            [0x18DAF110, 0x05F0, 0x000, 0x7FF, 0x1FFFFFFF, 0x0316, 0x123, 0x00000800], np.uint32
        ),
        dlc=dlc,
        payload=payload,
        label=np.array([0, 1, 0, 1, 1, 0, 0, 1], np.uint8) if labelled else None,
    )


@pytest.fixture(scope="module")
def capture() -> MessageTable:
    """A synthetic capture with three kinds of attack, 29-bit fuzzing IDs included."""
    attacks = (DoS(0.2, 0.2), Fuzzing(0.8, 0.3, max_id=0x1FFFFFFF), Spoofing(1.3, 0.4))
    table = generate_capture(Vehicle.known(0), 2.0, attacks=attacks, seed=1)
    assert table.label is not None
    assert 0 < int(table.label.sum()) < len(table)
    assert (table.can_id > 0x7FF).any()
    assert set(np.unique(table.dlc)) > {8}
    return table


TABLES = ["capture", "edge"]


def get_table(kind: str, capture: MessageTable) -> MessageTable:
    return capture if kind == "capture" else edge_table()


def write(table: MessageTable, tmp_path, fmt: str, options: dict, name: str = "capture"):
    return write_capture(table, tmp_path / f"{name}{FORMAT_EXTENSIONS[fmt]}", fmt, **options)


def expected(table: MessageTable, labelled: bool) -> MessageTable:
    """What reading ``table`` back gives: unlabelled formats read ``label=None``."""
    if labelled:
        return table
    return MessageTable(table.timestamp, table.can_id, table.dlc, table.payload, None)


def assert_tables_equal(got: MessageTable, want: MessageTable) -> None:
    assert len(got) == len(want)
    for name in ("timestamp", "can_id", "dlc", "payload"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype, name
        np.testing.assert_array_equal(a, b, err_msg=name)
    if want.label is None:
        assert got.label is None
    else:
        assert got.label is not None
        assert got.label.dtype == np.uint8
        np.testing.assert_array_equal(got.label, want.label, err_msg="label")
    assert got.equals(want)


def to_crlf(data: bytes) -> bytes:
    return data.replace(b"\n", b"\r\n")


# --- round trips -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", TABLES)
@pytest.mark.parametrize(("fmt", "options", "labelled", "detected"), WRITES, ids=WRITE_IDS)
def test_round_trip_and_detection_every_writer(
    tmp_path, capture, kind, fmt, options, labelled, detected
):
    table = get_table(kind, capture)
    path = write(table, tmp_path, fmt, options)
    got, report = read_capture(path, fmt)
    assert_tables_equal(got, expected(table, labelled))
    assert report.format == fmt
    assert report.path == str(path)
    assert report.rows == len(table)
    assert report.skipped_rows == 0
    assert report.skipped_examples == []
    assert report.timestamp_inversions == 0
    # Detection names the right format (plain labelled rows are ambiguous: see the hint
    # test), and reading through detection, with the hint, gives the same table.
    assert detect_format(path) == detected
    auto, _ = read_capture(path, hint="hcrl_sa" if fmt == "hcrl_sa" else None)
    assert_tables_equal(auto, expected(table, labelled))


def test_round_trip_values_are_the_written_ones(tmp_path):
    """Spot-check decoded values against the table, not only table equality."""
    got, _ = read_capture(write(edge_table(), tmp_path, "hcrl_ch", {"pad_to_8": True}), "hcrl_ch")
    assert got.timestamp[0] == 1513920375.118926
    assert got.can_id[0] == 0x18DAF110
    assert got.dlc[0] == 0
    assert not got.payload[0].any()
    assert got.can_id[4] == 0x1FFFFFFF
    assert got.payload[2].tolist() == [0xFF, 0x00, 0xAB, 0xCD, 0xEF, 0x10, 0x01, 0x80]
    assert got.label.tolist() == [0, 1, 0, 1, 1, 0, 0, 1]
    assert got.payload[1, 2:].tolist() == [0] * 6  # zero padded past the DLC


@pytest.mark.parametrize("fmt", ["hcrl_normal", "candump"])
def test_unlabelled_formats_read_label_none_even_from_labelled_tables(tmp_path, fmt):
    table = edge_table(labelled=True)
    got, _ = read_capture(write(table, tmp_path, fmt, {}), fmt)
    assert got.label is None
    assert got.equals(table, check_label=False)


def test_hcrl_sa_free_driving_from_unlabelled_table(tmp_path):
    table = edge_table(labelled=False)
    for options in ({"labelled": False}, {"labelled": False, "joined_bytes": True}):
        got, _ = read_capture(write(table, tmp_path, "hcrl_sa", options), "hcrl_sa")
        assert_tables_equal(got, table)


def test_parquet_without_label_column_reads_unlabelled(tmp_path):
    path = write(edge_table(), tmp_path, "parquet", {})
    pq.write_table(pq.read_table(path).drop_columns(["label", "source_file"]), path)
    got, _ = read_capture(path)
    assert_tables_equal(got, edge_table(labelled=False))


def test_parquet_accepts_lowercase_hex_large_string_signed_ids_and_row_groups(tmp_path):
    n = 6
    arrow = pa.table(
        {
            "timestamp": pa.array(np.arange(n) + 0.5),
            "id": pa.array([0x7FF, 1, 2, 3, 0x18DAF110, 5], pa.int64()),
            "data_field": pa.array(
                ["ab", "AbCd", "", "0102030405060708", "ff", "00"], pa.large_string()
            ),
            "label": pa.array([0, 1, 0, 0, 1, 0], pa.int32()),
        }
    )
    path = tmp_path / "x.parquet"
    pq.write_table(arrow, path, row_group_size=2)
    got, report = read_capture(path)
    assert got.can_id.tolist() == [0x7FF, 1, 2, 3, 0x18DAF110, 5]
    assert got.dlc.tolist() == [1, 2, 0, 8, 1, 1]
    assert got.payload[1, :2].tolist() == [0xAB, 0xCD]
    assert got.payload[3].tolist() == [1, 2, 3, 4, 5, 6, 7, 8]
    assert got.label.tolist() == [0, 1, 0, 0, 1, 0]
    assert report.rows == n


def test_hcrl_ch_mixed_padded_and_ragged_rows(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(
        b"1478198376.409484,05f0,2,01,00,R\n"
        b"1478198376.409485,05f0,2,01,00,,,,,,,T\n"
        b"1478198376.409486,0316,8,05,21,68,09,21,21,00,6f,R\n"
        b"1478198376.409487,0000,0,T\n"
        b"1478198376.409488,0000,0,,,,,,,,,R\n"
    )
    got, _ = read_capture(path, "hcrl_ch")
    assert got.dlc.tolist() == [2, 2, 8, 0, 0]
    assert got.label.tolist() == [0, 1, 0, 1, 0]
    assert got.payload[2].tolist() == [0x05, 0x21, 0x68, 0x09, 0x21, 0x21, 0x00, 0x6F]
    assert got.payload[1].tolist() == [1, 0, 0, 0, 0, 0, 0, 0]


def test_text_readers_accept_uppercase_and_one_digit_bytes(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"1.5,05F0,3,A,0B,FF,T\n2,7FF,1,0,R\n")
    got, _ = read_capture(path, "hcrl_ch")
    assert got.timestamp.tolist() == [1.5, 2.0]
    assert got.can_id.tolist() == [0x5F0, 0x7FF]
    assert got.payload[0, :3].tolist() == [0x0A, 0x0B, 0xFF]
    assert got.label.tolist() == [1, 0]


def test_hcrl_sa_tabs_and_runs_of_spaces_separate_fields(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"1.000001\t0130\t2\ta0  80\n2.5,0131,1,  ff\n")
    got, _ = read_capture(path, "hcrl_sa")
    assert got.label is None
    assert got.can_id.tolist() == [0x130, 0x131]
    assert got.payload[:, :2].tolist() == [[0xA0, 0x80], [0xFF, 0]]


def test_cantt_header_is_matched_ignoring_case_and_blank_lines_before_it(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\n\nTimestamp, Arbitration_ID, Data_Field, Attack\n1.0,350,0528,1\n")
    assert detect_format(path) == "cantt"
    got, report = read_capture(path)
    assert got.can_id.tolist() == [0x350]
    assert got.payload[0, :2].tolist() == [0x05, 0x28]
    assert got.label.tolist() == [1]
    assert report.rows == 1


def test_candump_remote_frames_and_rx_tx_markers(tmp_path):
    path = tmp_path / "x.log"
    path.write_bytes(b"(1.0) can0 123#R\n(2.0) vcan1 124#R3\n(3.0) can0 125#0102 R\n(4.0) 1 7FF#\n")
    got, report = read_capture(path)
    assert got.can_id.tolist() == [0x123, 0x124, 0x125, 0x7FF]
    assert got.dlc.tolist() == [0, 0, 2, 0]
    assert got.payload[2, :2].tolist() == [1, 2]
    assert report.rows == 4


# --- detection ---------------------------------------------------------------------------


def test_hint_settles_plain_labelled_rows_only(tmp_path):
    plain = write(edge_table(), tmp_path, "hcrl_sa", {}, name="plain")
    assert detect_format(plain) == "hcrl_ch"
    assert detect_format(plain, hint="hcrl_sa") == "hcrl_sa"
    assert detect_format(plain, hint="hcrl_ch") == "hcrl_ch"
    assert detect_format(plain, hint="cantt") == "hcrl_ch"  # not a candidate: ignored
    # Either reading of the ambiguous file gives the same messages.
    as_ch, ch_report = read_capture(plain)
    as_sa, sa_report = read_capture(plain, hint="hcrl_sa")
    assert (ch_report.format, sa_report.format) == ("hcrl_ch", "hcrl_sa")
    assert_tables_equal(as_ch, edge_table())
    assert_tables_equal(as_sa, edge_table())
    # A hint never overrides an unambiguous layout.
    padded = write(edge_table(), tmp_path, "hcrl_ch", {"pad_to_8": True}, name="padded")
    joined = write(edge_table(), tmp_path, "hcrl_sa", {"joined_bytes": True}, name="joined")
    free = write(edge_table(), tmp_path, "hcrl_sa", {"labelled": False}, name="free")
    assert detect_format(padded, hint="hcrl_sa") == "hcrl_ch"
    assert detect_format(joined, hint="hcrl_ch") == "hcrl_sa"
    assert detect_format(free, hint="hcrl_ch") == "hcrl_sa"


def test_detection_of_free_driving_file_starting_with_dlc_0(tmp_path):
    # edge_table's first row has DLC 0: "ts,18daf110,0" with nothing after the DLC.
    path = write(edge_table(labelled=False), tmp_path, "hcrl_sa", {"labelled": False})
    assert path.read_bytes().startswith(b"1513920375.118926,18daf110,0\n")
    assert detect_format(path) == "hcrl_sa"


def test_explicit_format_overrides_detection(tmp_path):
    path = write(edge_table(), tmp_path, "hcrl_ch", {})
    renamed = path.rename(tmp_path / "capture.parquet")  # detection would say parquet
    with pytest.raises(ReaderError, match="not a readable parquet file"):
        read_capture(renamed)
    got, report = read_capture(renamed, fmt="hcrl_ch")
    assert report.format == "hcrl_ch"
    assert_tables_equal(got, edge_table())


def test_parquet_detected_by_content_whatever_the_extension(tmp_path):
    path = write(edge_table(), tmp_path, "parquet", {})
    other = path.rename(tmp_path / "capture.csv")
    assert detect_format(other) == "parquet"
    assert_tables_equal(read_capture(other)[0], edge_table())


def test_detection_refuses_an_unknown_first_line(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"\n  id;time;data  \n1;2;3\n")
    with pytest.raises(ReaderError) as info:
        detect_format(path)
    err = info.value
    assert (err.path, err.line, err.text) == (str(path), 1, "id;time;data")
    assert "cannot detect the capture format" in err.reason
    assert all(f in str(err) for f in READER_FORMATS)


def test_unknown_format_and_missing_file(tmp_path):
    path = write(edge_table(), tmp_path, "cantt", {})
    with pytest.raises(ReaderError, match="unknown format 'xls'") as info:
        read_capture(path, fmt="xls")
    assert info.value.path == str(path)
    with pytest.raises(ReaderError, match="no such file"):
        read_capture(tmp_path / "missing.csv")
    with pytest.raises(ReaderError, match="no such file"):
        read_capture(tmp_path)


# --- chunked tokenizer -------------------------------------------------------------------


@pytest.fixture
def tiny_chunks(monkeypatch):
    """64-byte chunks; counts how many chunks the text readers tokenised."""
    monkeypatch.setattr(readers_text, "_CHUNK_BYTES", 64)
    calls = []
    real = readers.tokenize

    def counting(piece, first_line, **kwargs):
        calls.append((len(piece), first_line))
        return real(piece, first_line, **kwargs)

    monkeypatch.setattr(readers, "tokenize", counting)
    return calls


@pytest.mark.parametrize("kind", TABLES)
@pytest.mark.parametrize(("fmt", "options", "labelled", "detected"), TEXT_WRITES, ids=TEXT_IDS)
def test_chunked_reading_is_identical(
    tmp_path, capture, tiny_chunks, kind, fmt, options, labelled, detected
):
    table = get_table(kind, capture)
    if kind == "capture":
        table = table.take(slice(0, 150))
    path = write(table, tmp_path, fmt, options)
    got, report = read_capture(path, fmt)
    if fmt != "candump":  # python-can reads candump line by line, not in chunks
        assert len(tiny_chunks) >= len(table) // 2
        starts = [first for _, first in tiny_chunks]
        assert starts == sorted(starts)
        assert starts[0] == 0
    assert_tables_equal(got, expected(table, labelled))
    assert report.rows == len(table)


@pytest.mark.parametrize(
    ("fmt", "options", "bad_line", "reason"),
    [
        ("hcrl_ch", {}, b"1.0,0316,8,05,21,R", "DLC disagrees"),
        ("hcrl_sa", {"labelled": False}, b"1.0,0316,9,05", "DLC above 8"),
        ("hcrl_normal", {}, b"Timestamp: 1.0 ID: 0316 000 DLC: 1 zz", "not a 1-2 digit hex"),
        ("cantt", {}, b"1.0,316,0g,0", "not hexadecimal"),
    ],
)
def test_chunked_error_line_numbers_are_exact(
    tmp_path, capture, tiny_chunks, fmt, options, bad_line, reason
):
    table = capture.take(slice(0, 100))
    path = write(table, tmp_path, fmt, options)
    lines = path.read_bytes().splitlines(keepends=True)
    first_data = 2 if fmt == "cantt" else 1
    # Bad rows at data rows 37, 90 and 91, well past the first 64-byte chunk.
    for row in (37, 90, 91):  # ascending: each insert leaves the earlier ones in place
        lines.insert(first_data - 1 + row - 1, bad_line + b"\n")
    path.write_bytes(b"".join(lines))
    with pytest.raises(ReaderError) as info:
        read_capture(path, fmt)
    assert info.value.line == first_data + 36
    assert info.value.text == bad_line.decode()
    assert reason in info.value.reason
    got, report = read_capture(path, fmt, skip_bad_rows=True)
    assert report.skipped_rows == 3
    assert [ex[0] for ex in report.skipped_examples] == [
        first_data + 36,
        first_data + 89,
        first_data + 90,
    ]
    assert_tables_equal(got, expected(table, options.get("labelled", fmt != "hcrl_normal")))


def test_cantt_header_after_a_chunk_of_blank_lines(tmp_path, tiny_chunks):
    table = edge_table()
    path = write(table, tmp_path, "cantt", {})
    path.write_bytes(b"\n" * 200 + path.read_bytes())
    got, report = read_capture(path)
    assert tiny_chunks[0] == (64, 0)  # the first chunk holds nothing but blank lines
    assert_tables_equal(got, table)
    assert report.rows == len(table)


def test_many_bad_rows_across_chunks_are_all_counted(tmp_path, tiny_chunks):
    good = b"1.000000,0316,1,05,R\n"
    bad = b"1.000000,0316,1,zz,R\n"
    rows = [bad if i % 3 == 0 else good for i in range(60)]
    path = tmp_path / "x.csv"
    path.write_bytes(b"".join(rows))
    got, report = read_capture(path, "hcrl_ch", skip_bad_rows=True)
    assert len(tiny_chunks) > 10
    assert report.skipped_rows == 20
    assert len(got) == 40
    assert report.rows == 60
    assert [ex[0] for ex in report.skipped_examples] == [1, 4, 7, 10, 13]
    assert all(ex[1] == bad.decode().strip() for ex in report.skipped_examples)


def test_a_line_longer_than_a_chunk(tmp_path, tiny_chunks):
    table = edge_table()
    path = write(table, tmp_path, "hcrl_normal", {})
    assert max(len(x) for x in path.read_bytes().splitlines()) > 64
    got, _ = read_capture(path, "hcrl_normal")
    assert_tables_equal(got, expected(table, False))


def test_iter_chunks_cuts_after_newlines_and_counts_lines():
    raw = b"a\nbb\n\nccc\ndddddddddddddddddd\ne"
    pieces = list(readers_text.iter_chunks(raw, 4))
    assert pieces == [
        (b"a\n", 0),
        (b"bb\n\n", 1),
        (b"ccc\n", 3),
        (b"dddddddddddddddddd\n", 4),  # longer than a chunk: cut at the next newline
        (b"e", 5),
    ]
    assert list(readers_text.iter_chunks(raw, 1000)) == [(raw, 0)]
    assert list(readers_text.iter_chunks(b"", 4)) == []


# --- line endings, blank lines, order ----------------------------------------------------


@pytest.mark.parametrize(("fmt", "options", "labelled", "detected"), TEXT_WRITES, ids=TEXT_IDS)
def test_crlf_line_endings(tmp_path, fmt, options, labelled, detected):
    table = edge_table()
    path = write(table, tmp_path, fmt, options)
    path.write_bytes(to_crlf(path.read_bytes()))
    assert detect_format(path, hint="hcrl_sa" if fmt == "hcrl_sa" else None) == (
        "hcrl_sa" if fmt == "hcrl_sa" else fmt
    )
    got, report = read_capture(path, fmt)
    assert_tables_equal(got, expected(table, labelled))
    assert report.rows == len(table)


@pytest.mark.parametrize(("fmt", "options", "labelled", "detected"), TEXT_WRITES, ids=TEXT_IDS)
def test_blank_lines_are_not_rows(tmp_path, fmt, options, labelled, detected):
    table = edge_table()
    path = write(table, tmp_path, fmt, options)
    lines = path.read_bytes().splitlines(keepends=True)
    blanks = [b"\n", b"\r\n", b"   \n", b"\t\n"]
    out = [b"\n"] if fmt != "cantt" else []  # a blank first line too (not before a header)
    for i, line in enumerate(lines):
        out.append(line)
        out.append(blanks[i % len(blanks)])
    path.write_bytes(b"".join(out))
    got, report = read_capture(path, fmt)
    assert_tables_equal(got, expected(table, labelled))
    assert report.rows == len(table)
    assert report.skipped_rows == 0


@pytest.mark.parametrize(("fmt", "options", "labelled", "detected"), WRITES, ids=WRITE_IDS)
def test_non_monotonic_timestamps_are_kept_in_file_order_and_counted(
    tmp_path, fmt, options, labelled, detected
):
    table = edge_table()
    order = np.array([0, 2, 1, 3, 4, 7, 5, 6])  # three places where time goes back
    shuffled = table.take(order)
    path = write(shuffled, tmp_path, fmt, options)
    got, report = read_capture(path, fmt)
    assert_tables_equal(got, expected(shuffled, labelled))
    assert report.timestamp_inversions == int(np.count_nonzero(np.diff(shuffled.timestamp) < 0))
    assert report.timestamp_inversions == 2
    assert report.skipped_rows == 0


def test_equal_timestamps_are_not_inversions(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"1.0,0001,0,R\n1.0,0002,0,R\n0.5,0003,0,R\n")
    _, report = read_capture(path, "hcrl_ch")
    assert report.timestamp_inversions == 1


def test_last_line_without_newline_is_fine_when_complete(tmp_path):
    for fmt, options in (("hcrl_ch", {}), ("hcrl_sa", {"labelled": False}), ("hcrl_normal", {})):
        table = edge_table()
        path = write(table, tmp_path, fmt, options)
        path.write_bytes(path.read_bytes().rstrip(b"\n"))
        got, _ = read_capture(path, fmt)
        assert_tables_equal(got, expected(table, fmt == "hcrl_ch"))


def test_report_to_json(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"2.0,0001,0,R\nbad\n1.0,0002,0,T\n")
    _, report = read_capture(path, "hcrl_ch", skip_bad_rows=True)
    assert report.to_json() == {
        "format": "hcrl_ch",
        "rows": 3,
        "skipped_rows": 1,
        "skipped_examples": [
            {
                "line": 2,
                "text": "bad",
                "reason": "too few comma-separated fields for timestamp,id,dlc,data…,flag "
                "(wrong delimiter?)",
            }
        ],
        "timestamp_inversions": 1,
    }


def _python_calls(fn) -> int:
    """Python-level function calls made by ``fn()`` (C functions are not counted)."""
    calls = 0

    def count(_frame, event, _arg):
        nonlocal calls
        if event == "call":
            calls += 1

    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def test_reading_is_vectorised(tmp_path):
    """Text readers do not run Python code per line: doubling the rows leaves the number
    of Python calls flat (counted, not timed: the speed itself is a benchmark)."""
    small = generate_capture(Vehicle.known(0), 10.0, seed=2)
    big = generate_capture(Vehicle.known(0), 20.0, seed=2)
    assert len(big) > 1.8 * len(small) > 20_000
    for fmt in ("hcrl_ch", "hcrl_normal", "cantt"):
        paths = [write(t, tmp_path / name, fmt, {}) for name, t in (("s", small), ("b", big))]
        got, _ = read_capture(paths[1], fmt)
        assert len(got) == len(big)
        n_small, n_big = (_python_calls(lambda p=p, f=fmt: read_capture(p, f)) for p in paths)
        assert n_big < 1.2 * n_small + 100, (fmt, n_small, n_big)
