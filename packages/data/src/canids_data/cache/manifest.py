"""``manifest.json``: the cache's commit marker, written last and atomically."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import SCHEMA_VERSION, BuildConfig
from ..errors import CacheError
from ..vocab import Vocabulary

__all__ = ["MANIFEST_NAME", "Manifest", "load_manifest"]

MANIFEST_NAME = "manifest.json"
_REQUIRED = (
    "schema_version",
    "dataset",
    "root",
    "config",
    "config_digest",
    "vocabulary",
    "sources",
    "splits",
    "arrays",
    "build",
)


class Manifest:
    """Read access to a manifest's fields (the JSON stays the source of truth)."""

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.data = data
        self.path = path

    @property
    def dataset(self) -> str:
        return str(self.data["dataset"])

    @property
    def root(self) -> Path:
        return Path(self.data["root"])

    @property
    def config(self) -> BuildConfig:
        return BuildConfig.from_json(self.data["config"])

    @property
    def config_digest(self) -> str:
        return str(self.data["config_digest"])

    @property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary.from_json(self.data["vocabulary"])

    @property
    def splits(self) -> dict[str, dict[str, int]]:
        return self.data["splits"]

    @property
    def sources(self) -> list[dict[str, Any]]:
        return self.data["sources"]

    @property
    def arrays(self) -> dict[str, dict[str, Any]]:
        return self.data["arrays"]

    @property
    def ignored_files(self) -> list[str]:
        return list(self.data.get("ignored_files", []))


def load_manifest(store: Path, dataset: str) -> Manifest:
    """Parse and sanity-check ``store/manifest.json``; problems raise :class:`CacheError`."""
    path = store / MANIFEST_NAME
    fix = f"canids-cache build --dataset {dataset} --force"
    if not path.is_file():
        raise CacheError(
            f"{path} is missing: the cache at {store} is incomplete", status="incomplete", fix=fix
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CacheError(f"{path} is unreadable ({exc})", status="corrupt", fix=fix) from exc
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise CacheError(f"{path} lacks {missing}", status="corrupt", fix=fix)
    if data["schema_version"] != SCHEMA_VERSION:
        raise CacheError(
            f"{path} has schema version {data['schema_version']}, this canids-data reads "
            f"{SCHEMA_VERSION}",
            status="config_mismatch",
            fix=fix,
        )
    return Manifest(data, path)
