"""HCRL ``normal_run_data.txt``: ``Timestamp: <t>  ID: <hex>  000  DLC: <n>  <bytes…>``.

Whitespace-separated and unlabelled: every message is normal traffic.
"""

from __future__ import annotations

import numpy as np

from ._checks import can_id_problems, timestamp_problems
from ._row_errors import RowErrors
from ._table_build import Columns
from ._text import FieldMatrix, cut_last_byte

__all__ = ["FORMAT", "parse"]

FORMAT = "hcrl_normal"
DELIMS = b" \t"
COLLAPSE = True
MAX_FIELDS = 15


def parse(fm: FieldMatrix, errors: RowErrors, state: dict[str, object]) -> Columns:
    shape_ok = fm.equals(0, b"Timestamp:") & fm.equals(2, b"ID:") & fm.equals(5, b"DLC:")
    errors.flag(~shape_ok, "not a 'Timestamp: … ID: … DLC: …' line (wrong format or delimiter?)")
    ts, ok = fm.float(1)
    errors.flag_all(timestamp_problems(ts, ok))
    can_id, ok = fm.hex(3, 8)
    errors.flag_all(can_id_problems(can_id, ok, fm.digits(3)))
    dlc, ok = fm.dec(6, 2)
    errors.flag(~ok, "DLC is not a decimal number")
    errors.flag(dlc > 8, "DLC above 8")
    dlc = np.minimum(dlc, 8)
    errors.flag(fm.nfields != 7 + dlc, "DLC disagrees with the number of data bytes")
    payload, bad_byte = fm.payload_bytes(7, dlc)
    errors.flag(bad_byte, "payload byte is not a 1-2 digit hex number")
    errors.flag(cut_last_byte(fm, 7, dlc), "last data byte has one hex digit")
    return Columns(ts, can_id, dlc, payload, None)
