"""HCRL survival-analysis text: ``timestamp,id,dlc,byte…[,R|T]``.

The FreeDriving captures have no flag column (unlabelled), and in the KIA/Spark
FreeDriving files the data bytes are one space-separated field, so commas, spaces and
tabs all separate fields here. A file is labelled or not as a whole: a row that
disagrees with the file's first row is malformed.
"""

from __future__ import annotations

import numpy as np

from ._table_build import Columns
from ._text import FieldMatrix, RowErrors

__all__ = ["FORMAT", "parse"]

FORMAT = "hcrl_sa"
DELIMS = b", \t"
COLLAPSE = True
MAX_FIELDS = 12


def parse(fm: FieldMatrix, errors: RowErrors, state: dict[str, object]) -> Columns:
    n = len(fm)
    nf = fm.nfields
    errors.flag(nf < 3, "too few fields for timestamp,id,dlc,data… (wrong delimiter?)")
    errors.flag(nf > MAX_FIELDS, f"more than {MAX_FIELDS} fields")
    ts, ok = fm.float(0)
    errors.flag(~ok, "timestamp is not a decimal number")
    can_id, ok = fm.hex(1, 8)
    errors.flag(~ok | (can_id > 0x1FFFFFFF), "CAN ID is not a hex number of at most 29 bits")
    dlc, ok = fm.dec(2, 2)
    errors.flag(~ok, "DLC is not a decimal number")
    errors.flag(dlc > 8, "DLC above 8")
    dlc = np.minimum(dlc, 8)
    flagged = nf == 4 + dlc
    errors.flag((nf != 3 + dlc) & ~flagged, "DLC disagrees with the number of data bytes")
    if "labelled" not in state:
        good = np.flatnonzero(errors.code == 0)
        state["labelled"] = bool(flagged[good[0]]) if len(good) else bool(flagged[:1].any())
    labelled = bool(state["labelled"])
    if labelled:
        errors.flag(~flagged, "row has no R/T flag although the file's first row has one")
        flag_col = np.minimum(3 + dlc, MAX_FIELDS - 1)
        is_t = _flag(fm, flag_col, b"T")
        errors.flag(~(is_t | _flag(fm, flag_col, b"R")), "unknown flag (expected R or T)")
    else:
        errors.flag(flagged, "row has an extra field although the file's first row has no flag")
        is_t = np.zeros(n, bool)
    payload = np.zeros((n, 8), np.uint8)
    bad_byte = np.zeros(n, bool)
    for j in range(8):
        val, ok = fm.hex(3 + j, 2)
        used = j < dlc
        bad_byte |= used & ~ok
        payload[:, j] = np.where(used & ok, val, 0)
    errors.flag(bad_byte, "payload byte is not a 1-2 digit hex number")
    return Columns(ts, can_id, dlc, payload, is_t.astype(np.uint8) if labelled else None)


def _flag(fm: FieldMatrix, col: np.ndarray, token: bytes) -> np.ndarray:
    rows = np.arange(len(fm))
    start, length = fm.start[rows, col], fm.length[rows, col]
    idx = np.minimum(start, max(len(fm.buf) - 1, 0))
    return (length == 1) & (fm.buf[idx] == token[0])
