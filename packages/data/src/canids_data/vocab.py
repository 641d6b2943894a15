"""The CAN-ID vocabulary: built from training captures only, with an OOV index."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

__all__ = ["OOV_INDEX", "Vocabulary"]

OOV_INDEX = 0


@dataclass(frozen=True, eq=False)
class Vocabulary:
    """Sorted known CAN IDs; ID ``can_ids[i]`` has index ``i + 1`` and unknown IDs ``0``."""

    can_ids: np.ndarray  # uint32, sorted, unique

    @classmethod
    def from_ids(cls, ids: np.ndarray) -> Vocabulary:
        return cls(np.unique(np.asarray(ids, np.uint32)))

    def __len__(self) -> int:
        """Number of indices, OOV included."""
        return len(self.can_ids) + 1

    def index(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, np.uint32)
        pos = np.searchsorted(self.can_ids, ids)
        pos_c = np.minimum(pos, max(len(self.can_ids) - 1, 0))
        known = (
            (pos < len(self.can_ids)) & (self.can_ids[pos_c] == ids)
            if len(self.can_ids)
            else (np.zeros(len(ids), bool))
        )
        return np.where(known, pos + 1, OOV_INDEX).astype(np.int32)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.can_ids.astype("<u4").tobytes()).hexdigest()

    def to_json(self) -> dict[str, object]:
        return {"can_ids": self.can_ids.tolist(), "oov_index": OOV_INDEX, "digest": self.digest}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Vocabulary:
        return cls(np.asarray(data["can_ids"], np.uint32))
