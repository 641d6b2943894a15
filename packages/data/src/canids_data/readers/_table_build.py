"""Parsed columns of one chunk before they become a :class:`MessageTable`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..table import MessageTable

__all__ = ["Columns"]


class Columns(NamedTuple):
    timestamp: np.ndarray
    can_id: np.ndarray
    dlc: np.ndarray
    payload: np.ndarray
    label: np.ndarray | None

    def table(self, keep: np.ndarray) -> MessageTable:
        return MessageTable(
            timestamp=np.asarray(self.timestamp, np.float64)[keep],
            can_id=np.asarray(self.can_id).astype(np.uint32)[keep],
            dlc=np.asarray(self.dlc).astype(np.uint8)[keep],
            payload=np.asarray(self.payload, np.uint8)[keep],
            label=None if self.label is None else np.asarray(self.label).astype(np.uint8)[keep],
        )
