"""The same battery of hostile values in every field of every reader, and the same answer.

Each value (NaN, infinity, negative, huge, empty, whitespace, unicode, a NUL byte, and a
few more) goes into one field of one row of an otherwise good capture, for every
format and every field it has: timestamp, CAN ID, payload, DLC, label. Whatever the
reader, the property is the same:

* a :class:`ReaderError` (nothing else: no ``ValueError`` from a parser, no
  ``UnicodeError``, and never a silently accepted row), naming the file and the line;
* for a value with a meaning (NaN, infinity, negative, huge, unicode digits, NUL), a
  reason that names the field: the same class of error from each reader;
* with ``skip_bad_rows``, exactly that row skipped and counted, every other row exact.

An empty or blank payload is not hostile where the payload is one hex string (cantt,
candump, parquet): it is a frame with DLC 0, and is read as one.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from canids_data.errors import ReaderError
from canids_data.readers import read_capture
from canids_data.table import MessageTable
from canids_data.writers import write_capture

GOOD = MessageTable(
    timestamp=np.array([1478198376.25, 1478198376.5, 1478198377.0, 1478198377.75]),
    can_id=np.array([0x05F0, 0x0350, 0x18DAF110, 0x0316], np.uint32),
    dlc=np.full(4, 2, np.uint8),
    payload=np.array(
        [[1, 2] + [0] * 6, [3, 4] + [0] * 6, [5, 6] + [0] * 6, [7, 8] + [0] * 6], np.uint8
    ),
    label=np.array([0, 1, 0, 1], np.uint8),
)
BAD_ROW = 2  # 0-based row that gets the hostile value

# value name → the text put in the field
TEXT_VALUES = {
    "nan": "nan",
    "NaN": "NaN",
    "inf": "inf",
    "-inf": "-inf",
    "negative": "-1",
    "huge": "9" * 40,
    "exponent": "1e400",
    "empty": "",
    "whitespace": " ",
    "tab": "\t",
    "unicode-digits": "\uff11\uff12",
    "unicode-letter": "\u00e9",
    "nul": "\x00",
    "hex-prefix": "0x10",
}
MEANINGFUL = {"nan", "NaN", "inf", "-inf", "negative", "huge", "exponent", "unicode-digits", "nul"}
# field → words one of which the reason names, whichever reader read it
FIELD_WORDS = {
    "timestamp": ("timestamp",),
    "can_id": ("CAN ID",),
    "payload": ("payload", "hex", "DLC", "byte"),
    "dlc": ("DLC",),
    "label": ("flag", "attack", "label"),
}
# format → (file extension, fields it has as tokens, whether labelled)
TEXT_FORMATS = {
    "hcrl_ch": (".csv", ("timestamp", "can_id", "dlc", "payload", "label")),
    "hcrl_sa": (".txt", ("timestamp", "can_id", "dlc", "payload", "label")),
    "hcrl_normal": (".txt", ("timestamp", "can_id", "dlc", "payload")),
    "cantt": (".csv", ("timestamp", "can_id", "payload", "label")),
    "candump": (".log", ("timestamp", "can_id", "payload")),
}
HEX_STRING_PAYLOAD = {"cantt", "candump"}


def _expected(fmt: str) -> MessageTable:
    keep = np.arange(len(GOOD)) != BAD_ROW
    labelled = fmt in ("hcrl_ch", "hcrl_sa", "cantt", "parquet")
    t = GOOD.take(keep)
    return t if labelled else MessageTable(t.timestamp, t.can_id, t.dlc, t.payload, None)


def _replace(fmt: str, line: str, field: str, value: str) -> str:
    """``line`` of format ``fmt`` with ``field`` set to ``value``."""
    if fmt == "candump":
        ts, iface, frame = line.split()
        can_id, data = frame.split("#", 1)
        parts = {"timestamp": ts[1:-1], "can_id": can_id, "payload": data}
        parts[field] = value
        return f"({parts['timestamp']}) {iface} {parts['can_id']}#{parts['payload']}"
    if fmt == "hcrl_normal":
        tokens = line.split()
        index = {"timestamp": 1, "can_id": 3, "dlc": 6, "payload": 7}[field]
        tokens[index] = value
        return "    ".join(tokens)
    tokens = line.split(",")
    index = {"timestamp": 0, "can_id": 1, "dlc": 2, "payload": 3 if fmt != "cantt" else 2}
    index["label"] = len(tokens) - 1
    tokens[index[field]] = value
    return ",".join(tokens)


def _cases() -> list:
    out = []
    for fmt, (_, fields) in TEXT_FORMATS.items():
        for field in fields:
            for name in TEXT_VALUES:
                valid_empty = (
                    field == "payload"
                    and fmt in HEX_STRING_PAYLOAD
                    and name in ("empty", "whitespace", "tab")
                )
                # "1e400" is also a hex number: a valid ID (0x1E400).
                valid_hex = field == "can_id" and name == "exponent"
                if not (valid_empty or valid_hex):
                    out.append(pytest.param(fmt, field, name, id=f"{fmt}-{field}-{name}"))
    return out


def _assert_refused(path, fmt: str, line: int, field: str, name: str) -> None:
    with pytest.raises(ReaderError) as info:
        read_capture(path, fmt)
    err = info.value
    assert type(err) is ReaderError
    assert (err.path, err.line) == (str(path), line)
    if name in MEANINGFUL:
        assert any(word in err.reason for word in FIELD_WORDS[field]), err.reason
    got, report = read_capture(path, fmt, skip_bad_rows=True)
    assert report.skipped_rows == 1
    assert report.skipped_examples[0][0] == line
    want = _expected(fmt)
    assert len(got) == len(want)
    for col in ("timestamp", "can_id", "dlc", "payload"):
        np.testing.assert_array_equal(getattr(got, col), getattr(want, col), err_msg=col)
    assert (got.label is None) == (want.label is None)
    if want.label is not None:
        np.testing.assert_array_equal(got.label, want.label)


@pytest.mark.parametrize(("fmt", "field", "name"), _cases())
def test_a_hostile_value_in_a_text_capture(tmp_path, fmt, field, name) -> None:
    ext, _ = TEXT_FORMATS[fmt]
    table = GOOD if fmt in ("hcrl_ch", "hcrl_sa", "cantt") else _expected("candump")
    if table is not GOOD:
        table = MessageTable(GOOD.timestamp, GOOD.can_id, GOOD.dlc, GOOD.payload, None)
    path = write_capture(table, tmp_path / f"good{ext}", fmt)
    lines = path.read_text().splitlines()
    at = BAD_ROW + (1 if fmt == "cantt" else 0)  # the cantt header comes first
    lines[at] = _replace(fmt, lines[at], field, TEXT_VALUES[name])
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    _assert_refused(path, fmt, at + 1, field, name)


# --- parquet: the same battery in typed columns ---------------------------------------

NUMERIC_VALUES = {
    "nan": float("nan"),
    "inf": math.inf,
    "-inf": -math.inf,
    "negative": -1.0,
    "huge": 1e300,
    "null": None,
}
STRING_VALUES = {
    "huge": "ab" * 40,
    "unicode-digits": "\uff11\uff12",
    "unicode-letter": "\u00e9\u00e9",
    "nul": "\x00\x00",
    "inner-space": "01 02",
    "hex-prefix": "0x10",
    "null": None,
}


def _parquet(tmp_path, column: str, value: object) -> object:
    cols = {
        "timestamp": GOOD.timestamp.tolist(),
        "id": GOOD.can_id.astype(np.int64).tolist(),
        "data_field": [bytes(p[:2]).hex() for p in GOOD.payload],
        "label": GOOD.label.astype(np.int64).tolist(),
    }
    cols[column][BAD_ROW] = value
    float_cols = {"timestamp"} | ({column} if isinstance(value, float) else set())
    types = {
        k: pa.float64() if k in float_cols else pa.string() if k == "data_field" else pa.int64()
        for k in cols
    }
    path = tmp_path / "x.parquet"
    pq.write_table(pa.table({k: pa.array(v, types[k]) for k, v in cols.items()}), path)
    return path


@pytest.mark.parametrize(
    ("column", "field", "name"),
    [
        pytest.param(c, f, n, id=f"{c}-{n}")
        for c, f in (("timestamp", "timestamp"), ("id", "can_id"), ("label", "label"))
        for n in NUMERIC_VALUES
    ]
    + [pytest.param("data_field", "payload", n, id=f"data_field-{n}") for n in STRING_VALUES],
)
def test_a_hostile_value_in_a_parquet_capture(tmp_path, column, field, name) -> None:
    values = STRING_VALUES if column == "data_field" else NUMERIC_VALUES
    path = _parquet(tmp_path, column, values[name])
    _assert_refused(path, "parquet", BAD_ROW + 1, field, name if name != "null" else "nan")


@pytest.mark.parametrize("fmt", [*TEXT_FORMATS, "parquet"])
def test_the_largest_29_bit_id_is_read_and_the_next_is_refused(tmp_path, fmt) -> None:
    """Decision: a CAN ID is its numeric value up to 1FFFFFFF (29-bit extended IDs are
    read like 11-bit ones); 20000000 and above are refused as wider than 29 bits."""
    labelled = fmt in ("hcrl_ch", "hcrl_sa", "cantt", "parquet")
    ids = np.array([0x1FFFFFFF, 0x100, 0x7FF, 0x18DAF110], np.uint32)
    table = MessageTable(
        GOOD.timestamp, ids, GOOD.dlc, GOOD.payload, GOOD.label if labelled else None
    )
    ext = TEXT_FORMATS[fmt][0] if fmt in TEXT_FORMATS else ".parquet"
    path = write_capture(table, tmp_path / f"ok{ext}", fmt)
    got, _ = read_capture(path, fmt)
    np.testing.assert_array_equal(got.can_id, ids)
    too_wide = MessageTable(
        GOOD.timestamp,
        np.array([0x20000000, 0x100, 0x7FF, 0x18DAF110], np.uint32),
        GOOD.dlc,
        GOOD.payload,
        GOOD.label if labelled else None,
    )
    path = write_capture(too_wide, tmp_path / f"wide{ext}", fmt)
    with pytest.raises(ReaderError, match="CAN ID is wider than 29 bits"):
        read_capture(path, fmt)


def test_candump_reads_an_extended_frame_by_its_value(tmp_path) -> None:
    """``100#`` (standard) and ``00000100#`` (extended) are one ID to canids; an ID with
    the error-frame bit, ``3FFFFFFF``, is refused as wider than 29 bits, not as an error
    frame (that is what ``2xxxxxxx`` means in a candump log, said in the same reason)."""
    path = tmp_path / "x.log"
    path.write_text(
        "(1.000000) can0 100#0102\n(1.100000) can0 00000100#0304\n(1.2) can0 1FFFFFFF#\n"
    )
    got, _ = read_capture(path)
    np.testing.assert_array_equal(got.can_id, [0x100, 0x100, 0x1FFFFFFF])
    path.write_text("(1.000000) can0 100#0102\n(1.100000) can0 3FFFFFFF#0304\n")
    with pytest.raises(ReaderError) as err:
        read_capture(path)
    assert err.value.line == 2
    assert err.value.reason.startswith("CAN ID is wider than 29 bits")
    assert "error frames with bit 29 set" in err.value.reason


@pytest.mark.parametrize("fmt", ["cantt", "hcrl_ch"])
def test_whitespace_around_a_field_is_trimmed_not_read(tmp_path, fmt) -> None:
    """A can-train-and-test payload padded with a tab (``'614008F208E870DE\\t'``, in a
    public fuzzing capture) is 8 bytes, not 'longer than 8 bytes'."""
    table = MessageTable(
        GOOD.timestamp[:2],
        GOOD.can_id[:2],
        np.array([8, 2], np.uint8),
        np.array(
            [[0x61, 0x40, 0x08, 0xF2, 0x08, 0xE8, 0x70, 0xDE], [3, 4, 0, 0, 0, 0, 0, 0]], np.uint8
        ),
        np.array([1, 0], np.uint8),
    )
    path = write_capture(table, tmp_path / "x.csv", fmt)
    lines = path.read_text().splitlines()
    at = 1 if fmt == "cantt" else 0
    lines[at] = " " + lines[at].replace(",", " ,\t").replace("DE", "DE\t").replace("de", "de\t")
    path.write_text("\n".join(lines) + "\n")
    got, report = read_capture(path, fmt)
    assert report.skipped_rows == 0
    np.testing.assert_array_equal(got.payload, table.payload)
    np.testing.assert_array_equal(got.can_id, table.can_id)
    # Whitespace inside the digits is not padding: said as such.
    lines[at] = lines[at].replace("61", "6 1", 1) if fmt == "cantt" else lines[at]
    if fmt == "cantt":
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(ReaderError, match="payload has whitespace between its hex digits"):
            read_capture(path, fmt)
