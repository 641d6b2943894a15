"""Readers on malformed input: an error naming file, line, text and reason, or (with
``skip_bad_rows``) an exact count of skipped rows while every good row survives."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from canids_data.errors import ReaderError
from canids_data.readers import detect_format, read_capture
from canids_data.table import MessageTable
from canids_data.writers import FORMAT_EXTENSIONS, write_capture

GOOD = MessageTable(
    timestamp=np.array([1478198376.409484, 1479121434.850202, 1513920375.118926, 1513920376.5]),
    can_id=np.array([0x05F0, 0x0350, 0x18DAF110, 0x0316], np.uint32),
    dlc=np.array([2, 8, 0, 5], np.uint8),
    payload=np.array(
        [
            [0x01, 0x00, 0, 0, 0, 0, 0, 0],
            [0x05, 0x28, 0x84, 0x66, 0x6D, 0x00, 0x00, 0xA2],
            [0, 0, 0, 0, 0, 0, 0, 0],
            [0xDE, 0xAD, 0xBE, 0xEF, 0x01, 0, 0, 0],
        ],
        np.uint8,
    ),
    label=np.array([0, 1, 0, 1], np.uint8),
)

# variant -> (format, writer options, labelled when read back)
VARIANTS = {
    "hcrl_ch": ("hcrl_ch", {}, True),
    "hcrl_ch_padded": ("hcrl_ch", {"pad_to_8": True}, True),
    "hcrl_sa": ("hcrl_sa", {}, True),
    "hcrl_sa_free": ("hcrl_sa", {"labelled": False}, False),
    "hcrl_sa_joined": ("hcrl_sa", {"labelled": False, "joined_bytes": True}, False),
    "hcrl_sa_joined_flag": ("hcrl_sa", {"joined_bytes": True}, True),
    "hcrl_normal": ("hcrl_normal", {}, False),
    "cantt": ("cantt", {}, True),
    "candump": ("candump", {}, False),
}
TS = b"1478198377.000000"
NORMAL = b"Timestamp: " + TS + b"        ID: "  # hcrl_normal line up to the ID


def normal_line(can_id: bytes, dlc: bytes, data: bytes) -> bytes:
    return NORMAL + can_id + b"    000    DLC: " + dlc + (b"    " + data if data else b"")


def good_expected(variant: str, table: MessageTable = GOOD) -> MessageTable:
    if VARIANTS[variant][2]:
        return table
    return MessageTable(table.timestamp, table.can_id, table.dlc, table.payload, None)


_GOOD_LINES: dict[str, tuple[list[bytes], list[bytes]]] = {}


def good_file(tmp_path, variant: str) -> tuple[list[bytes], list[bytes]]:
    """The good table written as ``variant``: (header lines, row lines), with newlines."""
    if variant not in _GOOD_LINES:
        _GOOD_LINES[variant] = _write_good(tmp_path, variant)
    header, rows = _GOOD_LINES[variant]
    return list(header), list(rows)


def _write_good(tmp_path, variant: str) -> tuple[list[bytes], list[bytes]]:
    fmt, options, _ = VARIANTS[variant]
    path = write_capture(GOOD, tmp_path / f"good{FORMAT_EXTENSIONS[fmt]}", fmt, **options)
    lines = path.read_bytes().splitlines(keepends=True)
    path.unlink()
    n_header = 1 if fmt == "cantt" else 0
    assert len(lines) - n_header == len(GOOD)
    return lines[:n_header], lines[n_header:]


def with_bad_line(tmp_path, variant: str, bad: bytes, at: int = 2) -> tuple[object, int]:
    """Good rows with ``bad`` inserted after the first ``at`` rows; (path, its line number)."""
    header, rows = good_file(tmp_path, variant)
    path = tmp_path / f"capture{FORMAT_EXTENSIONS[VARIANTS[variant][0]]}"
    path.write_bytes(b"".join([*header, *rows[:at], bad + b"\n", *rows[at:]]))
    return path, len(header) + at + 1


def assert_tables_equal(got: MessageTable, want: MessageTable) -> None:
    assert len(got) == len(want)
    np.testing.assert_array_equal(got.timestamp, want.timestamp)
    np.testing.assert_array_equal(got.can_id, want.can_id)
    np.testing.assert_array_equal(got.dlc, want.dlc)
    np.testing.assert_array_equal(got.payload, want.payload)
    if want.label is None:
        assert got.label is None
    else:
        np.testing.assert_array_equal(got.label, want.label)


def assert_row_error(path, fmt, line: int, text: str, reason: str, want: MessageTable) -> None:
    """Default: a ReaderError naming path, line, text, reason. Skipping: exactly one row
    skipped, with those details, and every good row read with exact values."""
    with pytest.raises(ReaderError) as info:
        read_capture(path, fmt)
    err = info.value
    assert type(err) is ReaderError
    assert err.path == str(path)
    assert err.line == line
    assert err.text == text
    assert reason in err.reason, err.reason
    message = str(err)
    assert message.startswith(f"{path}:{line}: {err.reason}")
    assert f"offending text: {text[:117]!r}"[:100] in message
    assert "--skip-bad-rows" in message

    got, report = read_capture(path, fmt, skip_bad_rows=True)
    assert report.skipped_rows == 1
    assert report.skipped_examples == [(line, text[:120], err.reason)]
    assert report.rows == len(want) + 1
    assert_tables_equal(got, want)


# --- one malformed row, every class, every text format --------------------------------------

ROW_CASES = [
    # wrong delimiter
    ("delimiter", "hcrl_ch", TS + b";05f0;2;01;00;R", "wrong delimiter"),
    ("delimiter-tab", "hcrl_ch", TS + b"\t05f0\t2\t01\t00\tR", "wrong delimiter"),
    ("delimiter", "hcrl_ch_padded", TS + b";05f0;2;01;00;;;;;;;R", "wrong delimiter"),
    ("delimiter", "hcrl_sa", TS + b";05f0;2;01;00;R", "wrong delimiter"),
    ("delimiter", "hcrl_sa_free", TS + b";05f0;2;01;00", "wrong delimiter"),
    ("delimiter", "hcrl_sa_joined", TS + b";05f0;2;01 00", "wrong delimiter"),
    ("delimiter", "hcrl_sa_joined_flag", TS + b";05f0;2;01 00;R", "wrong delimiter"),
    (
        "delimiter",
        "hcrl_normal",
        b"Timestamp:," + TS + b",ID:,05f0,000,DLC:,2,01,00",
        "wrong format or delimiter",
    ),
    (
        "delimiter-semicolon",
        "hcrl_normal",
        b"Timestamp:;" + TS + b";ID:;05f0;000;DLC:;2;01;00",
        "wrong format or delimiter",
    ),
    ("delimiter", "cantt", TS + b";5f0;0100;0", "wrong delimiter"),
    ("delimiter-tab", "cantt", TS + b"\t5f0\t0100\t0", "wrong delimiter"),
    ("delimiter", "candump", b"(" + TS + b");can0;5F0#0100", "not a candump -L line"),
    # non-hex payload
    ("non-hex", "hcrl_ch", TS + b",05f0,2,0g,00,R", "not a 1-2 digit hex"),
    ("non-hex", "hcrl_ch_padded", TS + b",05f0,2,0g,00,,,,,,,R", "not a 1-2 digit hex"),
    ("non-hex", "hcrl_sa", TS + b",05f0,2,0g,00,R", "not a 1-2 digit hex"),
    ("non-hex", "hcrl_sa_free", TS + b",05f0,2,0g,00", "not a 1-2 digit hex"),
    ("non-hex", "hcrl_sa_joined", TS + b",05f0,2,0g 00", "not a 1-2 digit hex"),
    ("non-hex", "hcrl_sa_joined_flag", TS + b",05f0,2,0g 00,T", "not a 1-2 digit hex"),
    ("non-hex", "hcrl_normal", normal_line(b"05f0", b"2", b"0g 00"), "not a 1-2 digit hex"),
    ("non-hex", "cantt", TS + b",5f0,0g00,0", "payload is not hexadecimal"),
    ("non-hex", "candump", b"(" + TS + b") can0 5F0#0G00", "payload is not hexadecimal"),
    # odd hex length (a 3-digit byte where bytes are fields)
    ("odd-hex", "hcrl_ch", TS + b",05f0,2,001,00,R", "not a 1-2 digit hex"),
    ("odd-hex", "hcrl_ch_padded", TS + b",05f0,2,001,00,,,,,,,R", "not a 1-2 digit hex"),
    ("odd-hex", "hcrl_sa", TS + b",05f0,2,001,00,R", "not a 1-2 digit hex"),
    ("odd-hex", "hcrl_sa_free", TS + b",05f0,2,001,00", "not a 1-2 digit hex"),
    ("odd-hex", "hcrl_sa_joined", TS + b",05f0,2,001 00", "not a 1-2 digit hex"),
    ("odd-hex", "hcrl_sa_joined_flag", TS + b",05f0,2,001 00,R", "not a 1-2 digit hex"),
    ("odd-hex", "hcrl_normal", normal_line(b"05f0", b"2", b"001 00"), "not a 1-2 digit hex"),
    ("odd-hex", "cantt", TS + b",5f0,01000,0", "odd number of hex digits"),
    ("odd-hex", "candump", b"(" + TS + b") can0 5F0#01000", "odd number of hex digits"),
    # DLC above 8 (or a payload of more than 8 bytes where the DLC is implicit)
    ("dlc>8", "hcrl_ch", TS + b",05f0,9,01,02,03,04,05,06,07,08,09,R", "DLC above 8"),
    ("dlc>8-8bytes", "hcrl_ch", TS + b",05f0,9,01,02,03,04,05,06,07,08,R", "DLC above 8"),
    ("dlc>8", "hcrl_ch_padded", TS + b",05f0,12,01,02,03,04,05,06,07,08,R", "DLC above 8"),
    ("dlc>8", "hcrl_sa", TS + b",05f0,9,01,02,03,04,05,06,07,08,09,R", "DLC above 8"),
    ("dlc>8", "hcrl_sa_free", TS + b",05f0,9,01,02,03,04,05,06,07,08,09", "DLC above 8"),
    ("dlc>8", "hcrl_sa_joined", TS + b",05f0,9,01 02 03 04 05 06 07 08 09", "DLC above 8"),
    ("dlc>8", "hcrl_sa_joined_flag", TS + b",05f0,9,01 02 03 04 05 06 07 08 09,R", "DLC above 8"),
    (
        "dlc>8",
        "hcrl_normal",
        normal_line(b"05f0", b"9", b"01 02 03 04 05 06 07 08 09"),
        "DLC above 8",
    ),
    ("dlc>8", "cantt", TS + b",5f0,010203040506070809,0", "longer than 8 bytes"),
    ("dlc>8", "candump", b"(" + TS + b") can0 5F0#010203040506070809", "longer than 8 bytes"),
    # DLC disagreeing with the number of data bytes (one short, one extra)
    ("dlc-short", "hcrl_ch", TS + b",0350,8,05,28,84,66,6d,00,00,T", "DLC disagrees"),
    ("dlc-long", "hcrl_ch", TS + b",05f0,2,01,00,00,R", "DLC disagrees"),
    ("dlc-long", "hcrl_ch_padded", TS + b",05f0,2,01,00,00,,,,,,R", "DLC disagrees"),
    ("dlc-gap", "hcrl_ch_padded", TS + b",05f0,2,01,00,,05,,,,,R", "DLC disagrees"),
    ("dlc-short", "hcrl_sa", TS + b",0350,8,05,28,84,66,6d,00,00,T", "DLC disagrees"),
    ("dlc-long", "hcrl_sa", TS + b",05f0,2,01,00,00,R", "DLC disagrees"),
    ("dlc-short", "hcrl_sa_free", TS + b",0350,8,05,28,84,66,6d,00,00", "DLC disagrees"),
    ("dlc-long", "hcrl_sa_free", TS + b",05f0,2,01,00,00", "DLC disagrees"),
    ("dlc-short", "hcrl_sa_joined", TS + b",0350,8,05 28 84 66 6d 00 00", "DLC disagrees"),
    ("dlc-long", "hcrl_sa_joined_flag", TS + b",05f0,2,01 00 00,R", "DLC disagrees"),
    (
        "dlc-short",
        "hcrl_normal",
        normal_line(b"0350", b"8", b"05 28 84 66 6d 00 00"),
        "DLC disagrees",
    ),
    ("dlc-long", "hcrl_normal", normal_line(b"05f0", b"2", b"01 00 00"), "DLC disagrees"),
    ("dlc-zero", "hcrl_normal", normal_line(b"05f0", b"0", b"01"), "DLC disagrees"),
    # unknown flag
    ("flag", "hcrl_ch", TS + b",05f0,2,01,00,X", "unknown flag"),
    ("flag-lower", "hcrl_ch", TS + b",05f0,2,01,00,t", "unknown flag"),
    ("flag", "hcrl_ch_padded", TS + b",05f0,2,01,00,,,,,,,X", "unknown flag"),
    ("flag", "hcrl_sa", TS + b",05f0,2,01,00,X", "unknown flag"),
    ("flag", "hcrl_sa_joined_flag", TS + b",05f0,2,01 00,RT", "unknown flag"),
    ("flag", "cantt", TS + b",5f0,0100,2", "attack is not 0 or 1"),
    ("flag-text", "cantt", TS + b",5f0,0100,yes", "attack is not 0 or 1"),
    ("flag-empty", "cantt", TS + b",5f0,0100,", "attack is not 0 or 1"),
    # a flag where the file has none, none where it has one
    ("flag-missing", "hcrl_sa", TS + b",05f0,2,01,00", "no R/T flag"),
    ("flag-extra", "hcrl_sa_free", TS + b",05f0,2,01,00,R", "R/T flag although"),
    ("flag-extra", "hcrl_sa_joined", TS + b",05f0,2,01 00,T", "R/T flag although"),
    # CAN ID, timestamp, DLC field
    ("id", "hcrl_ch", TS + b",05g0,2,01,00,R", "CAN ID is not a hex number"),
    ("id-30bit", "hcrl_ch", TS + b",2fffffff,0,R", "wider than 29 bits"),
    ("id-9digits", "hcrl_sa", TS + b",000000350,0,R", "more than 8 hex digits"),
    ("id", "hcrl_normal", normal_line(b"05g0", b"0", b""), "CAN ID is not a hex number"),
    ("id", "cantt", TS + b",5g0,0100,0", "CAN ID is not a hex number"),
    ("id-30bit", "candump", b"(" + TS + b") can0 40000123#00", "wider than 29 bits"),
    ("timestamp", "hcrl_ch", b"1478198377.0.1,05f0,2,01,00,R", "timestamp is not a decimal"),
    ("timestamp-neg", "hcrl_sa", b"-1478198377.5,05f0,2,01,00,R", "timestamp is negative"),
    ("timestamp-exp", "cantt", b"1.4e9,5f0,0100,0", "timestamp is not a decimal"),
    (
        "timestamp",
        "hcrl_normal",
        b"Timestamp: 14781983x7.0        ID: 05f0    000    DLC: 0",
        "timestamp is not a decimal",
    ),
    ("timestamp", "candump", b"(yesterday) can0 5F0#0100", "timestamp is not a decimal"),
    ("dlc-field", "hcrl_ch", TS + b",05f0,x,01,00,R", "DLC is not a decimal"),
    ("dlc-field", "hcrl_sa_free", TS + b",05f0,,01,00", "empty field"),  # not DLC 1
    ("empty-byte", "hcrl_sa", TS + b",05f0,2,01,,00,R", "empty field"),
    ("empty-id", "hcrl_sa", TS + b",,2,01,00,R", "empty field"),
    ("dlc-field", "hcrl_normal", normal_line(b"05f0", b"two", b"01 00"), "DLC is not a decimal"),
    # candump-only: CAN FD and error frames
    ("can-fd", "candump", b"(" + TS + b") can0 5F0##10100", "CAN FD frame"),
    ("error-frame", "candump", b"(" + TS + b") can0 20000080#0000000000000000", "error frame"),
    ("no-frame", "candump", b"(" + TS + b") can0 5F00100", "not a candump -L line"),
    # garbage lines (long ones too: fields wider than the parsers' fixed-width columns)
    ("garbage", "hcrl_ch", b"hello world", "wrong delimiter"),
    ("garbage-long", "hcrl_ch", b"x" * 300, "wrong delimiter"),
    ("garbage-long", "hcrl_sa", b"y" * 300, "too few fields"),
    ("garbage-long", "cantt", b"z" * 300, "expected 4 comma-separated fields"),
    ("timestamp-long", "hcrl_ch", TS + b"0" * 30 + b",05f0,2,01,00,R", "timestamp is not"),
    ("timestamp-long", "cantt", TS + b"1" * 30 + b",5f0,0100,0", "timestamp is not"),
    ("garbage", "hcrl_normal", b"hello world", "wrong format"),
    ("garbage", "cantt", b"hello,world", "expected 4 comma-separated fields"),
    ("garbage", "candump", b"hello world", "not a candump -L line"),
]


@pytest.mark.parametrize(
    ("variant", "bad", "reason"),
    [pytest.param(v, b, r, id=f"{c}-{v}") for c, v, b, r in ROW_CASES],
)
def test_malformed_row(tmp_path, variant, bad, reason):
    path, line = with_bad_line(tmp_path, variant, bad)
    fmt = VARIANTS[variant][0]
    assert_row_error(path, fmt, line, bad.decode(), reason, good_expected(variant))


def test_every_class_is_covered_for_every_variant_where_it_applies():
    covered: dict[str, set[str]] = {}
    for case, variant, _, _ in ROW_CASES:
        covered.setdefault(case.split("-")[0], set()).add(variant)
    text = set(VARIANTS)
    assert covered["delimiter"] == text
    assert covered["non"] == text  # non-hex
    assert covered["odd"] == text
    assert covered["dlc>8"] == text
    assert covered["dlc"] >= text - {"cantt", "candump"}  # both have no DLC field
    assert covered["flag"] >= text - {"hcrl_sa_free", "hcrl_sa_joined", "hcrl_normal", "candump"}


def test_bad_first_row_of_a_labelled_survival_file(tmp_path):
    """The first row decides labelled or not; a bad first row does not decide it."""
    _, rows = good_file(tmp_path, "hcrl_sa")
    path = tmp_path / "x.txt"
    path.write_bytes(b"garbage\n" + b"".join(rows))
    assert_row_error(path, "hcrl_sa", 1, "garbage", "too few fields", GOOD)


def test_cantt_missing_header(tmp_path):
    _, rows = good_file(tmp_path, "cantt")
    path = tmp_path / "x.csv"
    path.write_bytes(b"".join(rows))
    with pytest.raises(ReaderError, match="cannot detect the capture format"):
        detect_format(path)  # cantt is recognised by its header only
    with pytest.raises(ReaderError) as info:
        read_capture(path, "cantt")
    err = info.value
    assert (err.path, err.line, err.text) == (str(path), 1, rows[0].decode().strip())
    assert "missing header line 'timestamp,arbitration_id,data_field,attack'" in err.reason
    # Skipping counts the header-less first line; the other rows are read.
    got, report = read_capture(path, "cantt", skip_bad_rows=True)
    assert report.skipped_rows == 1
    assert_tables_equal(got, GOOD.take(slice(1, None)))


def test_many_bad_rows_are_counted_with_the_first_five_as_examples(tmp_path):
    _, rows = good_file(tmp_path, "hcrl_ch")
    bad = [
        TS + b";05f0;2;01;00;R",
        TS + b",05f0,2,0g,00,R",
        TS + b",05f0,2,001,00,R",
        TS + b",05f0,9,01,02,03,04,05,06,07,08,09,R",
        TS + b",05f0,2,01,00,00,R",
        TS + b",05f0,2,01,00,X",
        b"\x00\x01garbage",
    ]
    lines = [rows[0], bad[0], bad[1], rows[1], bad[2], bad[3], rows[2], bad[4], bad[5]]
    lines += [bad[6], rows[3]]
    path = tmp_path / "x.csv"
    path.write_bytes(b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines))
    got, report = read_capture(path, "hcrl_ch", skip_bad_rows=True)
    assert report.skipped_rows == 7
    assert report.rows == 11
    assert [(ln, text) for ln, text, _ in report.skipped_examples] == [
        (2, bad[0].decode()),
        (3, bad[1].decode()),
        (5, bad[2].decode()),
        (6, bad[3].decode()),
        (8, bad[4].decode()),
    ]
    reasons = [r for _, _, r in report.skipped_examples]
    assert "wrong delimiter" in reasons[0]
    assert "hex" in reasons[1] and "hex" in reasons[2]  # noqa: PT018
    assert reasons[3] == "DLC above 8"
    assert reasons[4] == "DLC disagrees with the number of data bytes"
    assert_tables_equal(got, GOOD)
    # Without skipping, the first bad row is the error.
    with pytest.raises(ReaderError) as info:
        read_capture(path, "hcrl_ch")
    assert info.value.line == 2


def test_whole_file_in_the_wrong_delimiter(tmp_path):
    _, rows = good_file(tmp_path, "hcrl_ch")
    path = tmp_path / "x.csv"
    path.write_bytes(b"".join(rows).replace(b",", b";"))
    with pytest.raises(ReaderError, match="cannot detect the capture format") as info:
        read_capture(path)
    assert info.value.line == 1
    with pytest.raises(ReaderError, match="wrong delimiter") as info:
        read_capture(path, "hcrl_ch")
    assert info.value.line == 1
    got, report = read_capture(path, "hcrl_ch", skip_bad_rows=True)
    assert len(got) == 0
    assert report.skipped_rows == len(GOOD)


# --- truncated last line -------------------------------------------------------------------

TRUNCATED = {
    "hcrl_ch": TS + b",0350,8,05,28",
    "hcrl_ch_padded": TS + b",05f0,2,01,00,,,",
    "hcrl_sa": TS + b",0350,8,05,28,84,66,6d,00,00,a2",
    "hcrl_sa_free": TS + b",0350,8,05,28,84,66,6d,00,00,a",
    "hcrl_sa_joined": TS + b",0350,8,05 28 84 66 6d 00 00 a",
    "hcrl_sa_joined_flag": TS + b",0350,8,05 28 84 66 6d 00 00 a2,",
    "hcrl_normal": normal_line(b"0350", b"8", b"05 28 84 66 6d 00 00 a"),
    "cantt": TS + b",350,052884666d00",
    "candump": b"(" + TS + b") can0 350#052884666D0000A",
}


@pytest.mark.parametrize("cut_in", ["payload", "timestamp"])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_truncated_last_line(tmp_path, variant, cut_in):
    assert set(TRUNCATED) == set(VARIANTS)
    cut = TRUNCATED[variant] if cut_in == "payload" else TS[:9]
    header, rows = good_file(tmp_path, variant)
    path = tmp_path / f"cut{FORMAT_EXTENSIONS[VARIANTS[variant][0]]}"
    path.write_bytes(b"".join([*header, *rows, cut]))  # no final newline
    fmt = VARIANTS[variant][0]
    line = len(header) + len(rows) + 1
    assert_row_error(path, fmt, line, cut.decode(), "truncated last line", good_expected(variant))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_complete_last_line_without_newline_is_not_truncated(tmp_path, variant):
    header, rows = good_file(tmp_path, variant)
    path = tmp_path / f"x{FORMAT_EXTENSIONS[VARIANTS[variant][0]]}"
    path.write_bytes(b"".join([*header, *rows]).rstrip(b"\n"))
    got, report = read_capture(path, VARIANTS[variant][0])
    assert_tables_equal(got, good_expected(variant))
    assert report.skipped_rows == 0


# --- empty files and binary garbage -----------------------------------------------------------

WHOLE_FILE_VARIANTS = [*VARIANTS]


@pytest.mark.parametrize("content", [b"", b"\n\n  \n\t\r\n"], ids=["zero-bytes", "blank-lines"])
@pytest.mark.parametrize("variant", WHOLE_FILE_VARIANTS)
def test_empty_file(tmp_path, variant, content):
    fmt = VARIANTS[variant][0]
    path = tmp_path / f"empty{FORMAT_EXTENSIONS[fmt]}"
    path.write_bytes(content)
    for kwargs in ({"fmt": fmt}, {"fmt": fmt, "skip_bad_rows": True}, {}):
        with pytest.raises(ReaderError, match="empty file: no CAN messages") as info:
            read_capture(path, **kwargs)
        assert info.value.path == str(path)
        assert info.value.line is None


def test_cantt_header_only(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"timestamp,arbitration_id,data_field,attack\n\n")
    with pytest.raises(ReaderError, match=r"no CAN messages \(only a header"):
        read_capture(path)


def _garbage(seed: int, n: int = 200) -> bytes:
    """Seeded random bytes with no line breaks (one line of binary junk)."""
    raw = np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8)
    raw = raw[(raw != 10) & (raw != 13)].tobytes()
    assert any(b < 32 for b in raw)
    return raw


@pytest.mark.parametrize(
    "junk",
    [b"\x00\x00\x00\x00\x01\x02", _garbage(1), b"PK\x03\x04\x14\x00\x06\x00"],
    ids=["nul", "random", "zip"],
)
@pytest.mark.parametrize("variant", WHOLE_FILE_VARIANTS)
def test_binary_garbage_at_file_start_is_a_whole_file_error(tmp_path, variant, junk):
    header, rows = good_file(tmp_path, variant)
    fmt = VARIANTS[variant][0]
    path = tmp_path / f"junk{FORMAT_EXTENSIONS[fmt]}"
    path.write_bytes(junk + b"\n" + b"".join([*header, *rows]))
    for kwargs in ({"fmt": fmt}, {"fmt": fmt, "skip_bad_rows": True}, {}):
        with pytest.raises(ReaderError, match="binary data") as info:
            read_capture(path, **kwargs)
        assert info.value.path == str(path)
        assert info.value.line is None


@pytest.mark.parametrize(
    "junk",
    [b"\x00\x01\x02\xff\xfe garbage \x7f", _garbage(2)],
    ids=["nul", "random"],
)
@pytest.mark.parametrize("variant", WHOLE_FILE_VARIANTS)
def test_binary_garbage_line_in_the_middle_is_that_lines_error(tmp_path, variant, junk):
    path, line = with_bad_line(tmp_path, variant, junk, at=3)
    fmt = VARIANTS[variant][0]
    text = junk.decode("utf-8", "backslashreplace")
    assert_row_error(path, fmt, line, text, "", good_expected(variant))
    # Detection looks at the start only, which is fine here.
    hint = "hcrl_sa" if fmt == "hcrl_sa" else None
    assert detect_format(path, hint=hint) == fmt


# --- timestamps going backwards are not errors -----------------------------------------------


@pytest.mark.parametrize("variant", [*VARIANTS, "parquet"])
def test_non_monotonic_timestamps_are_counted_not_skipped(tmp_path, variant):
    fmt, options, labelled = VARIANTS.get(variant, ("parquet", {}, True))
    table = GOOD.take(np.array([1, 0, 3, 2]))  # back in time twice
    path = write_capture(table, tmp_path / f"x{FORMAT_EXTENSIONS[fmt]}", fmt, **options)
    for skip in (False, True):
        got, report = read_capture(path, fmt, skip_bad_rows=skip)
        assert report.timestamp_inversions == 2
        assert report.skipped_rows == 0
        np.testing.assert_array_equal(got.timestamp, table.timestamp)  # file order kept
        np.testing.assert_array_equal(got.can_id, table.can_id)
        if labelled:
            np.testing.assert_array_equal(got.label, table.label)


# --- parquet ------------------------------------------------------------------------------------


def good_arrow() -> dict[str, pa.Array]:
    return {
        "timestamp": pa.array(GOOD.timestamp),
        "id": pa.array(GOOD.can_id, pa.uint32()),
        "data_field": pa.array(["0100", "052884666D0000A2", "", "DEADBEEF01"]),
        "label": pa.array(GOOD.label, pa.uint8()),
        "source_file": pa.array(["x/y.csv"] * 4),
    }


def with_bad_parquet_row(tmp_path, **bad) -> tuple[object, int]:
    """GOOD plus one row (inserted third) whose columns default to a good row's."""
    cols = {k: v.to_pylist() for k, v in good_arrow().items()}
    row = {"timestamp": 1478198377.0, "id": 0x123, "data_field": "00", "label": 0}
    row["source_file"] = "x/y.csv"
    row.update(bad)
    types = {k: v.type for k, v in good_arrow().items()}
    for key, value in bad.items():
        if isinstance(value, float) and key in ("id", "label"):
            types[key] = pa.float64()
        if isinstance(value, int) and key == "id" and value < 0:
            types[key] = pa.int64()
    for key in cols:
        cols[key].insert(2, row[key])
    arrow = pa.table({k: pa.array(v, types[k]) for k, v in cols.items()})
    path = tmp_path / "bad.parquet"
    pq.write_table(arrow, path)
    return path, 3


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        pytest.param(
            {"data_field": None}, "payload (column data_field) is null", id="null-data_field"
        ),
        pytest.param({"data_field": "010"}, "odd number of hex digits", id="odd-hex"),
        pytest.param({"data_field": "0g"}, "not hexadecimal", id="non-hex"),
        pytest.param({"data_field": "01 02"}, "whitespace between its hex digits", id="space"),
        pytest.param({"data_field": "01" * 9}, "longer than 8 bytes", id="dlc>8"),
        pytest.param({"label": 2}, "label is null or not 0/1", id="label-2"),
        pytest.param({"label": None}, "label is null or not 0/1", id="label-null"),
        pytest.param({"label": float("nan")}, "label is null or not 0/1", id="label-nan"),
        pytest.param({"label": 0.5}, "label is null or not 0/1", id="label-fraction"),
        pytest.param({"timestamp": None}, "timestamp is null", id="ts-null"),
        pytest.param({"timestamp": float("inf")}, "timestamp is not finite", id="ts-inf"),
        pytest.param({"id": 0x20000000}, "wider than 29 bits", id="id-30bit"),
        pytest.param({"id": -1}, "CAN ID (column id) is negative", id="id-negative"),
        pytest.param({"id": 12.5}, "is not a whole number", id="id-fraction"),
        pytest.param({"id": None}, "CAN ID (column id) is null", id="id-null"),
    ],
)
def test_parquet_bad_row(tmp_path, bad, reason):
    path, line = with_bad_parquet_row(tmp_path, **bad)
    with pytest.raises(ReaderError) as info:
        read_capture(path)
    err = info.value
    assert type(err) is ReaderError
    assert (err.path, err.line) == (str(path), line)
    assert reason in err.reason
    assert f"row {line}" in err.reason
    for key, value in bad.items():
        assert f"'{key}': {value!r}" in err.text
    got, report = read_capture(path, skip_bad_rows=True)
    assert report.skipped_rows == 1
    assert report.rows == len(GOOD) + 1
    # The raised reason names the row; the example carries the row as its line number.
    assert report.skipped_examples == [(line, err.text, err.reason.removeprefix(f"row {line}: "))]
    assert_tables_equal(got, GOOD)


def test_parquet_many_bad_rows_counted(tmp_path):
    cols = {k: v.to_pylist() for k, v in good_arrow().items()}
    n_bad = 9
    cols["timestamp"] += [2e9 + i for i in range(n_bad)]
    cols["id"] += [1] * n_bad
    cols["data_field"] += ["0"] * n_bad
    cols["label"] += [0] * n_bad
    cols["source_file"] += ["x"] * n_bad
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table(cols), path)
    got, report = read_capture(path, skip_bad_rows=True)
    assert report.skipped_rows == n_bad
    assert [ex[0] for ex in report.skipped_examples] == [5, 6, 7, 8, 9]
    assert {ex[2] for ex in report.skipped_examples} == {"odd number of hex digits in the payload"}
    assert report.rows == len(GOOD) + n_bad
    assert_tables_equal(got, GOOD)


@pytest.mark.parametrize("missing", [["id"], ["data_field"], ["timestamp", "id"]])
def test_parquet_missing_column(tmp_path, missing):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({k: v for k, v in good_arrow().items() if k not in missing}), path)
    with pytest.raises(ReaderError) as info:
        read_capture(path, skip_bad_rows=True)
    err = info.value
    assert (err.path, err.line) == (str(path), None)
    assert f"lacks column(s) {missing}" in err.reason


@pytest.mark.parametrize(
    ("column", "values", "reason"),
    [
        ("id", pa.array(["5f0", "350", "18daf110", "316"]), "column 'id' has type string"),
        ("timestamp", pa.array(["1", "2", "3", "4"]), "column 'timestamp' has type string"),
        ("data_field", pa.array([1, 2, 3, 4]), "column 'data_field' has type int64"),
    ],
)
def test_parquet_wrong_column_type_names_the_file(tmp_path, column, values, reason):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({**good_arrow(), column: values}), path)
    with pytest.raises(ReaderError) as info:
        read_capture(path, skip_bad_rows=True)
    assert info.value.path == str(path)
    assert reason in info.value.reason


def test_parquet_with_no_rows_is_empty(tmp_path):
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({k: v[:0] for k, v in good_arrow().items()}), path)
    with pytest.raises(ReaderError, match="empty file: no CAN messages") as info:
        read_capture(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize("content", ["zero", "text", "random", "truncated"])
def test_not_a_parquet_file(tmp_path, content):
    good = tmp_path / "good.parquet"
    pq.write_table(pa.table(good_arrow()), good)
    data = {
        "zero": b"",
        "text": b"1478198376.409484,05f0,2,01,00,R\n",
        "random": _garbage(3),
        "truncated": good.read_bytes()[: good.stat().st_size // 2],
    }[content]
    path = tmp_path / "x.parquet"
    path.write_bytes(data)
    with pytest.raises(ReaderError, match="not a readable parquet file") as info:
        read_capture(path)
    assert (info.value.path, info.value.line) == (str(path), None)


# --- candump specifics ---------------------------------------------------------------------


def test_candump_garbage_with_invalid_utf8_names_its_own_line(tmp_path):
    _, rows = good_file(tmp_path, "candump")
    path = tmp_path / "x.log"
    path.write_bytes(b"".join([*rows[:3], b"\xff\xfe\xfd not utf-8\n", rows[3]]))
    assert_row_error(
        path,
        "candump",
        4,
        "\\xff\\xfe\\xfd not utf-8",
        "not a candump -L line",
        good_expected("candump"),
    )


def test_candump_error_is_not_wrapped_in_a_python_can_error(tmp_path):
    path, _ = with_bad_line(tmp_path, "candump", b"(" + TS + b") can0 5F0##10100")
    with pytest.raises(ReaderError) as info:
        read_capture(path, "candump")
    assert info.value.reason == "CAN FD frame: canids reads classic CAN (at most 8 data bytes)"
    assert str(info.value).count("offending text") == 1


def test_candump_crlf_and_blank_lines_count_as_no_rows(tmp_path):
    _, rows = good_file(tmp_path, "candump")
    path = tmp_path / "x.log"
    path.write_bytes(b"\r\n".join(r.rstrip(b"\n") for r in rows) + b"\r\n\r\n   \r\n")
    got, report = read_capture(path)
    assert_tables_equal(got, good_expected("candump"))
    assert report.rows == len(GOOD)
