"""The normalized parquet layout (``timestamp,id,data_field,label,source_file``)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from canids_core import atomic_file

from ..table import MessageTable
from ._rows import Rows, require_labels

__all__ = ["write_parquet"]


def write_parquet(
    table: MessageTable, path: str | os.PathLike[str], *, source_file: str | None = None
) -> Path:
    """Normalized parquet: ``timestamp`` float64, ``id`` uint32, ``data_field`` string
    (uppercase hex, 2*dlc chars), ``label`` uint8, ``source_file`` string (default
    ``<parent folder>/<stem>.csv``). Needs a labelled table."""
    label = require_labels(table, "parquet", path)
    p = Path(path)
    source = source_file if source_file is not None else f"{p.parent.name}/{p.stem}.csv"
    n = len(table)
    rows = Rows(n)
    rows.payload(table.payload, table.dlc, upper=True)
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(table.dlc.astype(np.int32) * 2, out=offsets[1:])
    data_field = pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(rows.build()))
    arrow = pa.table(
        {
            "timestamp": pa.array(table.timestamp, pa.float64()),
            "id": pa.array(table.can_id, pa.uint32()),
            "data_field": data_field,
            "label": pa.array(label, pa.uint8()),
            "source_file": pa.repeat(pa.scalar(source, pa.string()), n),
        }
    )
    with atomic_file(p) as f:
        pq.write_table(arrow, f, compression="zstd")
    return p
