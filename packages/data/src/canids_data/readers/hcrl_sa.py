"""HCRL survival-analysis text: ``timestamp,id,dlc,byte…[,R|T]``.

The FreeDriving captures have no flag column (unlabelled), and in the KIA/Spark
FreeDriving files the data bytes are one space-separated field, so commas, spaces and
tabs all separate fields here. A file is labelled or not as a whole: a row that
disagrees with the file's first row is malformed.
"""

from __future__ import annotations

import numpy as np

from ._checks import can_id_problems, timestamp_problems
from ._row_errors import RowErrors
from ._table_build import Columns
from ._text import FieldMatrix, cut_last_byte

__all__ = ["FORMAT", "parse"]

FORMAT = "hcrl_sa"
DELIMS = b", \t"
COLLAPSE = True
MAX_FIELDS = 12


def parse(fm: FieldMatrix, errors: RowErrors, state: dict[str, object]) -> Columns:
    n = len(fm)
    nf = fm.nfields
    errors.flag(nf < 3, "too few fields for timestamp,id,dlc,data… (wrong delimiter?)")
    errors.flag(_empty_field(fm), "empty field between two commas (a value is missing)")
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
    flagged = nf == 4 + dlc
    last_col = np.clip(nf - 1, 0, MAX_FIELDS - 1)
    ends_in_flag = _flag(fm, last_col, b"R") | _flag(fm, last_col, b"T")
    disagree = "DLC disagrees with the number of data bytes"
    errors.flag((nf != 3 + dlc) & ~flagged, disagree)
    if "labelled" not in state:
        # A row ending in R/T is labelled even when its DLC disagrees (one byte short).
        good = np.flatnonzero(errors.code == 0)
        first = flagged | ends_in_flag
        state["labelled"] = bool(first[good[0]]) if len(good) else bool(first[:1].any())
    labelled = bool(state["labelled"])
    if labelled:
        errors.flag(~flagged & ends_in_flag, disagree)
        errors.flag(~flagged, "row has no R/T flag although the file's first row has one")
        flag_col = np.minimum(3 + dlc, MAX_FIELDS - 1)
        is_t = _flag(fm, flag_col, b"T")
        errors.flag(~(is_t | _flag(fm, flag_col, b"R")), "unknown flag (expected R or T)")
    else:
        errors.flag(
            flagged & ends_in_flag, "row has an R/T flag although the file's first row has none"
        )
        errors.flag(flagged, disagree)
        is_t = np.zeros(n, bool)
    payload, bad_byte = fm.payload_bytes(3, dlc)
    errors.flag(bad_byte, "payload byte is not a 1-2 digit hex number")
    if not labelled:
        # Without a flag column the last field is a data byte, which a cut can shorten.
        errors.flag(cut_last_byte(fm, 3, dlc), "last data byte has one hex digit")
    return Columns(ts, can_id, dlc, payload, is_t.astype(np.uint8) if labelled else None)


def _flag(fm: FieldMatrix, col: np.ndarray, token: bytes) -> np.ndarray:
    rows = np.arange(len(fm))
    start, length = fm.start[rows, col], fm.length[rows, col]
    idx = np.minimum(start, max(len(fm.buf) - 1, 0))
    return (length == 1) & (fm.buf[idx] == token[0])


def _empty_field(fm: FieldMatrix) -> np.ndarray:
    """Rows with an empty comma-separated field before their last field.

    Runs of delimiters are collapsed here (the joined-bytes layout mixes commas and
    spaces), so ``ts,05f0,,01,00`` would silently read as DLC 1; refuse it instead. The
    one empty field allowed is the joined-bytes data field of a DLC 0 row (``,0,,R``).
    """
    n, width = fm.start.shape
    if n == 0 or width < 2:
        return np.zeros(n, bool)
    commas = np.concatenate(([0], np.cumsum(fm.buf == ord(","))))
    ends = fm.start + fm.length
    # Commas between the end of field k and the start of field k + 1.
    gap = commas[fm.start[:, 1:]] - commas[ends[:, :-1]]
    present = np.arange(1, width) < np.minimum(fm.nfields, width)[:, None]
    dlc_zero = fm.equals(2, b"0")
    allowed = np.ones((n, width - 1), np.int64)
    if width > 3:
        allowed[:, 2] += dlc_zero
    return (present & (gap > allowed)).any(axis=1)
