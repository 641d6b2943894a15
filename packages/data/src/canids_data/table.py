"""The columnar message table every reader yields and every writer takes."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["MessageTable", "ReadReport"]


@dataclass(frozen=True, eq=False)
class MessageTable:
    """CAN messages of one capture, in file order.

    Columns: ``timestamp`` float64 seconds, ``can_id`` uint32, ``dlc`` uint8,
    ``payload`` uint8 ``[n, 8]`` zero-padded past ``dlc``, ``label`` uint8
    (1 = injected) or ``None`` for unlabelled captures.
    """

    timestamp: np.ndarray
    can_id: np.ndarray
    dlc: np.ndarray
    payload: np.ndarray
    label: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.timestamp)
        checks = {
            "timestamp": (self.timestamp, np.float64, (n,)),
            "can_id": (self.can_id, np.uint32, (n,)),
            "dlc": (self.dlc, np.uint8, (n,)),
            "payload": (self.payload, np.uint8, (n, 8)),
        }
        if self.label is not None:
            checks["label"] = (self.label, np.uint8, (n,))
        for name, (arr, dtype, shape) in checks.items():
            if not isinstance(arr, np.ndarray) or arr.dtype != dtype or arr.shape != shape:
                got = (getattr(arr, "dtype", type(arr)), getattr(arr, "shape", None))
                raise TypeError(
                    f"MessageTable.{name}: expected {np.dtype(dtype)} {shape}, got {got}"
                )
        if n and int(self.dlc.max()) > 8:
            raise ValueError("MessageTable.dlc: values above 8 (classic CAN carries 0-8 bytes)")

    def __len__(self) -> int:
        return len(self.timestamp)

    @property
    def labelled(self) -> bool:
        return self.label is not None

    @classmethod
    def empty(cls, labelled: bool = True) -> MessageTable:
        return cls(
            timestamp=np.empty(0, np.float64),
            can_id=np.empty(0, np.uint32),
            dlc=np.empty(0, np.uint8),
            payload=np.empty((0, 8), np.uint8),
            label=np.empty(0, np.uint8) if labelled else None,
        )

    def take(self, index: np.ndarray | slice) -> MessageTable:
        """Rows selected by a boolean mask, an index array or a slice."""
        return MessageTable(
            timestamp=self.timestamp[index],
            can_id=self.can_id[index],
            dlc=self.dlc[index],
            payload=self.payload[index],
            label=None if self.label is None else self.label[index],
        )

    def labels_or_zeros(self) -> np.ndarray:
        """Labels, with an unlabelled capture read as all-normal."""
        return self.label if self.label is not None else np.zeros(len(self), np.uint8)

    def equals(self, other: MessageTable, *, check_label: bool = True) -> bool:
        same = (
            len(self) == len(other)
            and np.array_equal(self.timestamp, other.timestamp)
            and np.array_equal(self.can_id, other.can_id)
            and np.array_equal(self.dlc, other.dlc)
            and np.array_equal(self.payload, other.payload)
        )
        if not same or not check_label:
            return same
        if (self.label is None) != (other.label is None):
            return False
        return self.label is None or np.array_equal(self.label, other.label)

    @classmethod
    def concat(cls, tables: list[MessageTable]) -> MessageTable:
        if not tables:
            return cls.empty()
        labelled = all(t.label is not None for t in tables)
        return cls(
            timestamp=np.concatenate([t.timestamp for t in tables]),
            can_id=np.concatenate([t.can_id for t in tables]),
            dlc=np.concatenate([t.dlc for t in tables]),
            payload=np.concatenate([t.payload for t in tables]),
            label=np.concatenate([t.labels_or_zeros() for t in tables]) if labelled else None,
        )


@dataclass
class ReadReport:
    """What reading one file found besides the messages: nothing is dropped unseen."""

    path: str
    format: str
    rows: int = 0
    skipped_rows: int = 0
    skipped_examples: list[tuple[int, str, str]] = field(default_factory=list)
    timestamp_inversions: int = 0

    def skip(self, line: int, text: str, reason: str) -> None:
        self.skipped_rows += 1
        if len(self.skipped_examples) < 5:
            self.skipped_examples.append((line, text[:120], reason))

    def to_json(self) -> dict[str, object]:
        return {
            "format": self.format,
            "rows": self.rows,
            "skipped_rows": self.skipped_rows,
            "skipped_examples": [
                {"line": ln, "text": t, "reason": r} for ln, t, r in self.skipped_examples
            ],
            "timestamp_inversions": self.timestamp_inversions,
        }
