"""can-train-and-test CSV: header ``timestamp,arbitration_id,data_field,attack``.

``data_field`` is hex with 2*DLC characters (empty for DLC 0); the DLC is its length.
"""

from __future__ import annotations

import numpy as np

from ._checks import can_id_problems, hex_payload, timestamp_problems
from ._row_errors import RowErrors
from ._table_build import Columns
from ._text import FieldMatrix

__all__ = ["FORMAT", "HEADER", "is_header", "parse"]

FORMAT = "cantt"
HEADER = b"timestamp,arbitration_id,data_field,attack"
DELIMS = b","
COLLAPSE = False
MAX_FIELDS = 4


def is_header(line: bytes) -> bool:
    """``line`` is the header, up to letter case and blanks."""
    return line.lower().replace(b" ", b"").replace(b"\t", b"").strip() == HEADER


def parse(fm: FieldMatrix, errors: RowErrors, state: dict[str, object]) -> Columns:
    n = len(fm)
    header = np.zeros(n, bool)
    # The first non-blank line of the file (blank lines before it are allowed, and the
    # chunk holding it need not be the first) is the header; case and blanks are
    # ignored there, as detection ignores them.
    if n and not state.get("header_checked"):
        state["header_checked"] = True
        header[0] = is_header(fm.line_text(0).encode("utf-8", "backslashreplace"))
        errors.flag(~header & (np.arange(n) == 0), f"missing header line {HEADER.decode()!r}")
    errors.flag(fm.nfields != 4, "expected 4 comma-separated fields (wrong delimiter?)")
    ts, ok = fm.float(0)
    errors.flag_all(timestamp_problems(ts, ok), only=~header)
    can_id, ok = fm.hex(1, 8)
    errors.flag_all(can_id_problems(can_id, ok, fm.digits(1)), only=~header)
    payload, dlc, problems = hex_payload(fm.buf, *fm.span(2))
    errors.flag_all(problems, only=~header)
    attack, ok = fm.dec(3, 1)
    errors.flag((~ok | (attack > 1)) & ~header, "attack is not 0 or 1")
    # The header is not a message: drop it before the keep mask is built.
    errors.code[header] = 0
    state["drop"] = header
    return Columns(ts, can_id, dlc, payload, attack.astype(np.uint8))
