"""HCRL Car-Hacking CSV: ``timestamp,id(hex),dlc,byte…,R|T`` with ragged rows.

With DLC < 8 the flag follows the last data byte (``1478198376.409484,05f0,2,01,00,R``);
some redistributed copies pad the data to 8 fields with empty ones, so the flag is taken
from the last non-empty field and the fields in between must be empty.
"""

from __future__ import annotations

import numpy as np

from ._checks import can_id_problems, timestamp_problems
from ._row_errors import RowErrors
from ._table_build import Columns
from ._text import FieldMatrix

__all__ = ["FORMAT", "parse"]

FORMAT = "hcrl_ch"
DELIMS = b","
COLLAPSE = False
MAX_FIELDS = 12


def parse(fm: FieldMatrix, errors: RowErrors, state: dict[str, object]) -> Columns:
    nf = fm.nfields
    errors.flag(
        nf < 4, "too few comma-separated fields for timestamp,id,dlc,data…,flag (wrong delimiter?)"
    )
    ts, ok = fm.float(0)
    errors.flag_all(timestamp_problems(ts, ok))
    can_id, ok = fm.hex(1, 8)
    errors.flag_all(can_id_problems(can_id, ok, fm.digits(1)))
    dlc, ok = fm.dec(2, 2)
    errors.flag(~ok, "DLC is not a decimal number")
    errors.flag(dlc > 8, "DLC above 8")
    # After the DLC checks, so a row with DLC 9 and 9 bytes is refused for its DLC.
    errors.flag(nf > MAX_FIELDS, f"more than {MAX_FIELDS} fields")
    dlc = np.minimum(dlc, 8)
    nonempty = fm.length > 0
    last = MAX_FIELDS - 1 - np.argmax(nonempty[:, ::-1], axis=1)
    flag_r = _token_at(fm, last, b"R")
    flag_t = _token_at(fm, last, b"T")
    cols = np.arange(MAX_FIELDS)
    data_slot = (cols >= 3) & (cols < 3 + dlc[:, None])
    between = (cols >= 3 + dlc[:, None]) & (cols < last[:, None])
    count_ok = (nonempty | ~data_slot).all(axis=1) & ~(nonempty & between).any(axis=1)
    errors.flag(last < 3 + dlc, "DLC disagrees with the number of data bytes")
    errors.flag(~(flag_r | flag_t), "unknown flag (expected R for normal or T for injected)")
    errors.flag(~count_ok, "DLC disagrees with the number of data bytes")
    payload, bad_byte = fm.payload_bytes(3, dlc)
    errors.flag(bad_byte, "payload byte is not a 1-2 digit hex number")
    return Columns(ts, can_id, dlc, payload, flag_t.astype(np.uint8))


def _token_at(fm: FieldMatrix, col: np.ndarray, token: bytes) -> np.ndarray:
    rows = np.arange(len(fm))
    start = fm.start[rows, col]
    length = fm.length[rows, col]
    want = np.frombuffer(token, np.uint8)
    idx = np.minimum(start[:, None] + np.arange(len(token)), max(len(fm.buf) - 1, 0))
    return (length == len(token)) & (fm.buf[idx] == want).all(axis=1)
