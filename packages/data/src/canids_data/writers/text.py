"""The text formats: HCRL car-hacking, HCRL normal run, HCRL survival analysis,
can-train-and-test CSV and candump -L."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import WriterError
from ..table import MessageTable
from ._rows import Rows, require_labels, write_text

__all__ = ["write_candump", "write_cantt", "write_hcrl_ch", "write_hcrl_normal", "write_hcrl_sa"]


def _hcrl_rows(t: MessageTable, *, flags: bool, pad_to_8: bool, joined_bytes: bool) -> Rows:
    rows = Rows(len(t))
    rows.timestamp(t.timestamp)
    rows.text(",")
    rows.number(t.can_id, base=16, width=8, min_digits=4)
    rows.text(",")
    rows.number(t.dlc, width=1)
    if joined_bytes:
        rows.text(",")
        rows.payload(t.payload, t.dlc, sep=" ", sep_mode="between")
    else:
        rows.payload(t.payload, t.dlc, sep=",", sep_mode="all" if pad_to_8 else "before")
    if flags:
        assert t.label is not None
        rows.text(",")
        rows.block(
            np.where(t.label != 0, ord("T"), ord("R")).astype(np.uint8)[:, None],
            np.ones((len(t), 1), bool),
        )
    rows.text("\n")
    return rows


def write_hcrl_ch(
    table: MessageTable, path: str | os.PathLike[str], *, pad_to_8: bool = False
) -> Path:
    """HCRL Car-Hacking CSV, no header: ``ts,id(%04x),dlc,b0,...,R|T`` (T = injected).

    Rows are ragged: the flag follows the last data byte. ``pad_to_8=True`` writes
    the redistributed variant with empty fields up to eight data slots
    (``...,2,01,00,,,,,,,R``). Needs a labelled table.
    """
    require_labels(table, "hcrl_ch", path)
    return write_text(
        table, path, "", lambda t: _hcrl_rows(t, flags=True, pad_to_8=pad_to_8, joined_bytes=False)
    )


def write_hcrl_sa(
    table: MessageTable,
    path: str | os.PathLike[str],
    *,
    labelled: bool = True,
    joined_bytes: bool = False,
) -> Path:
    """HCRL survival-analysis text: the Car-Hacking row layout (ragged, flag last).

    ``labelled=False`` writes the FreeDriving layout without the flag column (labels
    are dropped); ``joined_bytes=True`` writes the data as one space-separated field
    (``ts,0130,8,a0 80 00 ff 35 80 06 12``), as the KIA and Spark FreeDriving files do.
    """
    if labelled:
        require_labels(table, "hcrl_sa", path)
    return write_text(
        table,
        path,
        "",
        lambda t: _hcrl_rows(t, flags=labelled, pad_to_8=False, joined_bytes=joined_bytes),
    )


def write_hcrl_normal(table: MessageTable, path: str | os.PathLike[str]) -> Path:
    """HCRL ``normal_run_data.txt`` lines; an unlabelled format, labels are dropped::

        Timestamp: 1479121434.850202        ID: 0350    000    DLC: 8    05 28 84 66 6d 00 00 a2

    With DLC 0 the line ends right after ``DLC: 0`` (no trailing blanks).
    """

    def render(t: MessageTable) -> Rows:
        rows = Rows(len(t))
        rows.text("Timestamp: ")
        rows.timestamp(t.timestamp)
        rows.text("        ID: ")
        rows.number(t.can_id, base=16, width=8, min_digits=4)
        rows.text("    000    DLC: ")
        rows.number(t.dlc, width=1)
        rows.text("    ", where=t.dlc > 0)
        rows.payload(t.payload, t.dlc, sep=" ", sep_mode="between")
        rows.text("\n")
        return rows

    return write_text(table, path, "", render)


def write_cantt(table: MessageTable, path: str | os.PathLike[str]) -> Path:
    """can-train-and-test CSV: header ``timestamp,arbitration_id,data_field,attack``,
    rows ``ts,id(%03x),<2*dlc lowercase hex chars>,0|1``. Needs a labelled table."""
    require_labels(table, "cantt", path)

    def render(t: MessageTable) -> Rows:
        assert t.label is not None
        rows = Rows(len(t))
        rows.timestamp(t.timestamp)
        rows.text(",")
        rows.number(t.can_id, base=16, width=8, min_digits=3)
        rows.text(",")
        rows.payload(t.payload, t.dlc)
        rows.text(",")
        rows.number(t.label != 0, width=1)
        rows.text("\n")
        return rows

    return write_text(table, path, "timestamp,arbitration_id,data_field,attack\n", render)


def write_candump(
    table: MessageTable, path: str | os.PathLike[str], *, channel: str = "can0"
) -> Path:
    """candump ``-L`` log: ``(ts) can0 123#DEADBEEF``; IDs above 0x7FF are written as
    eight hex digits (extended frames). An unlabelled format: labels are dropped."""
    if not channel or any(c.isspace() for c in channel) or not channel.isascii():
        raise WriterError(f"{path}: candump channel must be one ASCII word, got {channel!r}")

    def render(t: MessageTable) -> Rows:
        rows = Rows(len(t))
        rows.text("(")
        rows.timestamp(t.timestamp)
        rows.text(f") {channel} ")
        rows.number(
            t.can_id, base=16, width=8, upper=True, min_digits=np.where(t.can_id > 0x7FF, 8, 3)
        )
        rows.text("#")
        rows.payload(t.payload, t.dlc, upper=True)
        rows.text("\n")
        return rows

    return write_text(table, path, "", render)
