"""``manifest.json``: the cache's commit marker, written last and atomically, and sealed.

The manifest holds a digest of its own content (every key but the digest, as canonical
JSON), so an edit (a message count, a graph count, ``config.window``) is found by the
quick verify that opens every dataset; and the config digest is recomputed from the
config it records, so the two cannot disagree unnoticed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from canids_core import atomic_write_json, quoted_command

from ..config import SCHEMA_VERSION, BuildConfig
from ..errors import CacheError, CatalogError
from ..vocab import Vocabulary

__all__ = [
    "DIGEST_KEY",
    "MANIFEST_NAME",
    "Manifest",
    "load_manifest",
    "manifest_digest",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
DIGEST_KEY = "manifest_digest"
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
    DIGEST_KEY,
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


def manifest_digest(data: dict[str, Any]) -> str:
    """sha256 of the manifest's content without its digest, as canonical JSON."""
    body = {k: v for k, v in data.items() if k != DIGEST_KEY}
    blob = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def write_manifest(store: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Seal ``data`` with its digest and write it atomically (sorted keys, one-space
    indent: the manifest's layout since schema 1); returns what was written."""
    sealed = {**data, DIGEST_KEY: manifest_digest(data)}
    atomic_write_json(store / MANIFEST_NAME, sealed, indent=1)
    return sealed


def load_manifest(store: Path, dataset: str, *, fix: str | None = None) -> Manifest:
    """Parse and check ``store/manifest.json``; problems raise :class:`CacheError`."""
    path = store / MANIFEST_NAME
    fix = fix or quoted_command(["canids-cache", "build", "--dataset", dataset, "--force"])
    if not path.is_file():
        raise CacheError(
            f"{path} is missing: the cache at {store} is incomplete", status="incomplete", fix=fix
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CacheError(f"{path} is unreadable ({exc})", status="corrupt", fix=fix) from exc
    if not isinstance(data, dict):
        raise CacheError(f"{path} is not a JSON object", status="corrupt", fix=fix)
    if data.get("schema_version") != SCHEMA_VERSION:
        raise CacheError(
            f"{path} has schema version {data.get('schema_version')!r}, this canids-data "
            f"reads {SCHEMA_VERSION}",
            status="config_mismatch",
            fix=fix,
        )
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        raise CacheError(f"{path} lacks {missing}", status="corrupt", fix=fix)
    if data[DIGEST_KEY] != manifest_digest(data):
        raise CacheError(
            f"{path} was changed after the build: its content no longer matches its digest "
            "(counts, config or checksums cannot be trusted)",
            status="corrupt",
            fix=fix,
        )
    try:
        config = BuildConfig.from_json(data["config"])
    except (CatalogError, TypeError, ValueError) as exc:
        raise CacheError(f"{path}: config is not valid ({exc})", status="corrupt", fix=fix) from exc
    if config.digest != data["config_digest"] or config.to_json() != data["config"]:
        raise CacheError(
            f"{path}: config_digest does not match the config it records",
            status="corrupt",
            fix=fix,
        )
    return Manifest(data, path)
