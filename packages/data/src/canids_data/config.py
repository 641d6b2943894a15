"""The build configuration of a graph cache and its digest."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields

from .errors import CatalogError
from .graphs import EDGE_FEATURES, NODE_FEATURES

__all__ = ["SCHEMA_VERSION", "BuildConfig"]

# Bump when the cache layout or the graph features change: old caches then fail verify.
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class BuildConfig:
    """Everything that changes the cache's content. Worker counts and paths do not."""

    window: int = 100
    stride: int = 100
    val_fraction: float = 0.15
    skip_bad_rows: bool = False
    format: str | None = None

    def __post_init__(self) -> None:
        if self.window < 2:
            raise CatalogError(f"window must be at least 2 messages, got {self.window}")
        if self.stride < 1:
            raise CatalogError(f"stride must be at least 1 message, got {self.stride}")
        if not 0.0 <= self.val_fraction < 0.9:
            raise CatalogError(f"val_fraction must be in [0, 0.9), got {self.val_fraction}")

    @property
    def embargo_windows(self) -> int:
        """Windows left out between train and validation so no message is in both."""
        return max(1, math.ceil(self.window / self.stride))

    def to_json(self) -> dict[str, object]:
        return {
            **asdict(self),
            "embargo_windows": self.embargo_windows,
            "node_features": list(NODE_FEATURES),
            "edge_features": list(EDGE_FEATURES),
            "schema_version": SCHEMA_VERSION,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> BuildConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})  # type: ignore[arg-type]

    @property
    def digest(self) -> str:
        blob = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()
