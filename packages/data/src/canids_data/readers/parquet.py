"""The normalized parquet layout: ``timestamp,id,data_field,label,source_file``.

``data_field`` is hex, 2 characters per byte, 0 to 8 bytes. It is decoded straight
from Arrow's offset and data buffers, so no Python string is made per message.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import ReaderError
from ..table import MessageTable, ReadReport
from ._checks import can_id_problems, hex_payload, timestamp_problems

__all__ = ["FORMAT", "read"]

FORMAT = "parquet"
_REQUIRED = ("timestamp", "id", "data_field")


def read(path: Path, *, skip_bad_rows: bool) -> tuple[MessageTable, ReadReport]:
    report = ReadReport(str(path), FORMAT)
    try:
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise ReaderError(
            str(path),
            f"not a readable parquet file ({exc})",
            hint="check the file is a complete parquet file",
        ) from exc
    missing = [c for c in _REQUIRED if c not in schema.names]
    if missing:
        raise ReaderError(
            str(path),
            f"parquet file lacks column(s) {missing}; expected "
            "timestamp,id,data_field[,label,source_file]",
            hint="write it in the normalized layout or pass another --format",
        )
    try:
        return _read(path, schema, skip_bad_rows, report)
    except _ColumnTypeError as exc:
        raise ReaderError(
            str(path), str(exc), hint="write it in the normalized layout or pass another --format"
        ) from None


class _ColumnTypeError(Exception):
    """A column has a type the normalized layout does not allow (the caller adds the path)."""


def _read(
    path: Path, schema: pa.Schema, skip_bad_rows: bool, report: ReadReport
) -> tuple[MessageTable, ReadReport]:
    cols = [*_REQUIRED, *(["label"] if "label" in schema.names else [])]
    # ParquetFile.read skips the dataset machinery that read_table starts (~1 s per process).
    table = pq.ParquetFile(path).read(columns=cols, use_threads=False)
    n = table.num_rows
    report.rows = n
    if n == 0:
        raise ReaderError(
            str(path), "empty file: no CAN messages", hint="remove the file from the dataset folder"
        )
    bad: dict[str, np.ndarray] = {}
    ts, ts_null = _numeric(table, "timestamp", np.float64)
    bad["timestamp is null"] = ts_null
    bad.update(timestamp_problems(ts, ~ts_null))
    can_id, id_bad = _numeric(table, "id", np.int64)
    id_null = _nulls(table.column("id").combine_chunks())
    bad["CAN ID (column id) is null"] = id_null
    bad["CAN ID (column id) is not a whole number"] = id_bad & ~id_null
    bad["CAN ID (column id) is negative"] = ~id_bad & (can_id < 0)
    bad.update(can_id_problems(can_id, ~id_bad & (can_id >= 0)))
    buf, start, end, df_null = _string_spans(table.column("data_field"))
    payload, dlc, problems = hex_payload(buf, start, end)
    bad["payload (column data_field) is null"] = df_null
    bad.update(problems)
    label = None
    if "label" in cols:
        lab, lab_null = _numeric(table, "label", np.int64)
        bad["label is null or not 0/1"] = lab_null | (lab < 0) | (lab > 1)
        label = np.clip(lab, 0, 1).astype(np.uint8)
    code = np.zeros(n, np.int16)
    reasons = [""]
    for reason, mask in bad.items():
        hit = mask & (code == 0)
        if hit.any():
            reasons.append(reason)
            code[hit] = len(reasons) - 1
    rows = np.flatnonzero(code)
    if len(rows):

        def text(r: int) -> str:
            return str({c: table.column(c)[r].as_py() for c in cols})

        if not skip_bad_rows:
            r = int(rows[0])
            raise ReaderError(
                str(path), f"row {r + 1}: {reasons[code[r]]}", line=r + 1, text=text(r)
            )
        for r in rows[:5]:
            report.skip(int(r) + 1, text(int(r)), reasons[code[r]])
        report.skipped_rows += len(rows) - min(len(rows), 5)
    keep = code == 0
    out = MessageTable(
        timestamp=ts[keep].astype(np.float64),
        can_id=can_id[keep].astype(np.uint32),
        dlc=dlc[keep],
        payload=payload[keep],
        label=None if label is None else label[keep],
    )
    return out, report


def _numeric(table: pa.Table, name: str, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    col = table.column(name).combine_chunks()
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        raise _ColumnTypeError(f"column {name!r} has type {col.type}, expected a number")
    # Straight from the buffers: pyarrow.compute's first call costs ~1.5 s per process.
    values = np.frombuffer(col.buffers()[1], col.type.to_pandas_dtype())
    values = values[col.offset : col.offset + len(col)]
    if values.dtype.kind == "u" and np.dtype(dtype).kind == "i":
        values = np.minimum(values, np.uint64(2**62))  # a huge unsigned ID stays huge
    invalid = _nulls(col)
    if pa.types.is_floating(col.type) and np.dtype(dtype).kind in "iu":
        # A float where an integer belongs (id, label) must hold a whole number: NaN,
        # infinities and fractions are bad rows, never cast (silently) to some integer.
        whole = np.isfinite(values) & (values == np.round(values))
        whole &= np.abs(values) < 2.0**62
        invalid = invalid | ~whole
        values = np.where(whole, values, 0)
    return values.astype(dtype), invalid


def _nulls(col: pa.Array) -> np.ndarray:
    if not col.null_count:
        return np.zeros(len(col), bool)
    bits = np.unpackbits(np.frombuffer(col.buffers()[0], np.uint8), bitorder="little")
    return bits[col.offset : col.offset + len(col)] == 0


def _string_spans(
    column: pa.ChunkedArray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A string column as (bytes, start, end, null): each value is ``bytes[start:end]``,
    straight from Arrow's buffers (no Python string per row; pyarrow.compute's first
    call would cost ~1.5 s per process)."""
    arr = column.combine_chunks()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if not pa.types.is_string(arr.type):
        raise _ColumnTypeError(f"column 'data_field' has type {arr.type}, expected string")
    null = _nulls(arr)
    off = _offsets(arr)
    data_buf = arr.buffers()[2]
    data = np.frombuffer(data_buf, np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    end = np.where(null, off[:-1], off[1:])
    return data, off[:-1], end, null


def _offsets(arr: pa.Array) -> np.ndarray:
    raw = np.frombuffer(arr.buffers()[1], np.int32)
    return raw[arr.offset : arr.offset + len(arr) + 1].astype(np.int64)
