"""can-train-and-test CSV: header ``timestamp,arbitration_id,data_field,attack``.

``data_field`` is hex with 2*DLC characters (empty for DLC 0); the DLC is its length.
"""

from __future__ import annotations

import numpy as np

from ._table_build import Columns
from ._text import FieldMatrix, RowErrors, payload_from_hex

__all__ = ["FORMAT", "HEADER", "parse"]

FORMAT = "cantt"
HEADER = b"timestamp,arbitration_id,data_field,attack"
DELIMS = b","
COLLAPSE = False
MAX_FIELDS = 4


def parse(fm: FieldMatrix, errors: RowErrors, state: dict[str, object]) -> Columns:
    n = len(fm)
    header = np.zeros(n, bool)
    if n and fm.line_no[0] == 1:
        header[0] = fm.line_text(0).strip() == HEADER.decode()
        errors.flag(~header & (np.arange(n) == 0), f"missing header line {HEADER.decode()!r}")
    errors.flag(fm.nfields != 4, "expected 4 comma-separated fields (wrong delimiter?)")
    ts, ok = fm.float(0)
    errors.flag(~ok & ~header, "timestamp is not a decimal number")
    can_id, ok = fm.hex(1, 8)
    errors.flag((~ok | (can_id > 0x1FFFFFFF)) & ~header, "arbitration_id is not a hex CAN ID")
    chars, lens = fm.chars(2, 17)
    payload, dlc, problems = payload_from_hex(chars, lens)
    for reason, mask in problems.items():
        errors.flag(mask & ~header, reason)
    attack, ok = fm.dec(3, 1)
    errors.flag((~ok | (attack > 1)) & ~header, "attack is not 0 or 1")
    # The header is not a message: drop it before the keep mask is built.
    errors.code[header] = 0
    state["drop"] = header
    return Columns(ts, can_id, dlc, payload, attack.astype(np.uint8))
