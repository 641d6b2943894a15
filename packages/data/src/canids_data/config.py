"""The build configuration of a graph cache and its digest."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, fields

from .errors import CatalogError
from .feature_sets import FEATURE_SETS

__all__ = ["SCHEMA_VERSION", "VALIDATION_MODES", "BuildConfig"]

# Bump when the cache layout or the graph features change: old caches then fail verify.
# 2: per-graph window_end; validation time blocks; the feature set in the config.
# 3: row-aligned chunks keyed c.<i>.<j>, every chunk written and counted; a sealed manifest.
SCHEMA_VERSION = 3
VALIDATION_MODES = ("blocks", "tail")


@dataclass(frozen=True)
class BuildConfig:
    """Everything that changes the cache's content. Worker counts and paths do not.

    Validation (``validation="blocks"``, the default) is, per training capture: its clean
    start (the windows that end within ``val_start_seconds``, at most
    ``val_start_max_fraction`` of the capture: what a deployed detector calibrates on, so
    calibration rules can be chosen on held-out data), and
    ``val_blocks`` time blocks of ``val_fraction`` of its windows in all, drawn with
    ``val_seed``; in a capture with attacks the first block always holds attack windows.
    Every block is embargoed on both sides. ``validation="tail"`` is the old rule: the
    time tail of each capture, which on can-train-and-test holds no attack at all.
    """

    window: int = 100
    stride: int = 100
    val_fraction: float = 0.15
    skip_bad_rows: bool = False
    format: str | None = None
    features: str = "invariant"
    validation: str = "blocks"
    val_blocks: int = 3
    val_start_seconds: float = 10.0
    val_start_max_fraction: float = 0.2
    val_seed: int = 0

    def __post_init__(self) -> None:
        if self.window < 2:
            raise CatalogError(f"window must be at least 2 messages, got {self.window}")
        if self.stride < 1:
            raise CatalogError(f"stride must be at least 1 message, got {self.stride}")
        if not 0.0 <= self.val_fraction < 0.9:
            raise CatalogError(f"val_fraction must be in [0, 0.9), got {self.val_fraction}")
        if self.features not in FEATURE_SETS:
            raise CatalogError(
                f"features must be one of {', '.join(FEATURE_SETS)}, not {self.features!r}"
            )
        if self.validation not in VALIDATION_MODES:
            raise CatalogError(
                f"validation must be one of {', '.join(VALIDATION_MODES)}, not {self.validation!r}"
            )
        if self.val_blocks < 1:
            raise CatalogError(f"val_blocks must be at least 1, got {self.val_blocks}")
        if not 0.0 < self.val_start_max_fraction <= 0.5:
            raise CatalogError(
                f"val_start_max_fraction must be in (0, 0.5], got {self.val_start_max_fraction}"
            )
        if not 0.0 <= self.val_start_seconds <= 600.0:
            raise CatalogError(
                f"val_start_seconds must be in [0, 600], got {self.val_start_seconds}"
            )

    @property
    def embargo_windows(self) -> int:
        """Windows left out between train and validation so no message is in both."""
        return max(1, math.ceil(self.window / self.stride))

    @property
    def node_features(self) -> tuple[str, ...]:
        return FEATURE_SETS[self.features][0]

    @property
    def edge_features(self) -> tuple[str, ...]:
        return FEATURE_SETS[self.features][1]

    def to_json(self) -> dict[str, object]:
        return {
            **asdict(self),
            "embargo_windows": self.embargo_windows,
            "node_features": list(self.node_features),
            "edge_features": list(self.edge_features),
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
