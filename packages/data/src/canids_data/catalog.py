"""Dataset catalogue: built-in layouts, user datasets from a config file, source discovery.

Built-in datasets follow the can-train-and-test split folders (``train_01_attack_free``,
``train_02_with_attacks``, ``test_01_known_vehicle_known_attack`` …), either as folders
(``<split>/<capture>.<ext>``) or as flat files (``<split>__<capture>.parquet``).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canids_core import NAME_RULE, describe_validation_error, is_name, shown
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import CatalogError
from .readers import READER_FORMATS

__all__ = [
    "BUILTIN_DATASETS",
    "DatasetSpec",
    "SourceFile",
    "discover_sources",
    "get_dataset",
    "load_datasets_file",
    "resolve_root",
]

_TRAIN = re.compile(r"^train_\d\d_[\w\-]+$")
_TEST = re.compile(r"^test_\d\d_[\w\-]+$")
_EXTS = {".csv", ".txt", ".log", ".parquet"}


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset's captures are and how they split.

    ``format_hint`` settles ambiguous detection; ``format`` forces a reader for every file.
    ``splits`` maps a split name (``train`` or a test split) to glob patterns relative to
    the root; ``None`` means the built-in split-folder convention.
    """

    name: str
    format_hint: str | None = None
    root: Path | None = None
    format: str | None = None
    splits: dict[str, tuple[str, ...]] | None = None
    description: str = ""


BUILTIN_DATASETS: dict[str, DatasetSpec] = {
    "hcrl_ch": DatasetSpec("hcrl_ch", "hcrl_ch", description="HCRL Car-Hacking (re-split)"),
    "hcrl_sa": DatasetSpec("hcrl_sa", "hcrl_sa", description="HCRL survival analysis"),
    **{
        f"set_0{i}": DatasetSpec(f"set_0{i}", "cantt", description=f"can-train-and-test set_0{i}")
        for i in range(1, 5)
    },
    "demo": DatasetSpec("demo", None, description="embedded synthetic traffic (seeded)"),
}


@dataclass(frozen=True, order=True)
class SourceFile:
    """One capture: ``rel`` is its POSIX path relative to the dataset root."""

    rel: str
    split: str  # "train" or the test split's name
    capture: str = field(compare=False)
    path: Path = field(compare=False)


class _DatasetTable(BaseModel):
    """One ``[datasets.NAME]`` table of a datasets file."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    root: str
    format: str | None = None
    splits: dict[str, list[str]]
    description: str = ""

    @model_validator(mode="before")
    @classmethod
    def _a_table(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError("must be a table: [datasets.NAME] with root and splits")
        return data

    @field_validator("format")
    @classmethod
    def _known_format(cls, value: str | None) -> str | None:
        if value is not None and value not in READER_FORMATS:
            raise ValueError(f"must be one of {', '.join(READER_FORMATS)}")
        return value

    @field_validator("splits")
    @classmethod
    def _split_names(cls, splits: dict[str, list[str]]) -> dict[str, list[str]]:
        for split, globs in splits.items():
            if split != "train" and not _TEST.match(split):
                raise ValueError(f"split {split!r} must be 'train' or 'test_NN_name'")
            if not globs:
                raise ValueError(f"split {split!r} needs a list of glob patterns")
        if "train" not in splits:
            raise ValueError("splits need a 'train' entry")
        return splits


class _DatasetsFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    datasets: dict[str, _DatasetTable] = Field(default_factory=dict)

    @field_validator("datasets", mode="before")
    @classmethod
    def _names(cls, value: Any) -> Any:
        # Checked before the tables, so that a bad name is named even if its table is bad.
        for name in value if isinstance(value, dict) else ():
            if not is_name(name):
                raise ValueError(f"dataset name {shown(name)} is not allowed: use {NAME_RULE}")
        return value


def load_datasets_file(path: str | Path) -> dict[str, DatasetSpec]:
    """Read user datasets from a TOML file; unknown keys are refused.

    ```toml
    [datasets.mycar]
    root = "/data/mycar"          # relative paths are relative to this file
    format = "candump"            # optional: forces a reader
    [datasets.mycar.splits]
    train = ["normal/*.log", "attacks/*.log"]
    test_01_known_vehicle_known_attack = ["eval/*.log"]
    ```

    Errors name the file and the field: ``datasets.toml: datasets.mycar.splits: splits need
    a 'train' entry (got {...})``.
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path}: cannot read the datasets file ({exc})") from exc
    try:
        parsed = _DatasetsFile.model_validate(data)
    except ValidationError as exc:
        tables = data.get("datasets")
        known = {"": ["datasets"]}
        for name in tables if isinstance(tables, dict) else ():
            known[f"datasets.{name}"] = list(_DatasetTable.model_fields)
        raise CatalogError(describe_validation_error(exc, str(path), known=known)) from exc
    out: dict[str, DatasetSpec] = {}
    for name, entry in parsed.datasets.items():
        root = Path(entry.root)
        root = root if root.is_absolute() else (path.parent / root)
        splits = {split: tuple(globs) for split, globs in entry.splits.items()}
        out[name] = DatasetSpec(
            name, entry.format, root.resolve(), entry.format, splits, entry.description
        )
    return out


def get_dataset(name: str, datasets_file: str | Path | None = None) -> DatasetSpec:
    """A built-in dataset, or one from ``datasets_file`` (default ``$CANIDS_DATASETS``)."""
    datasets_file = datasets_file or os.environ.get("CANIDS_DATASETS")
    user = load_datasets_file(datasets_file) if datasets_file else {}
    if name in user:
        return user[name]
    if name in BUILTIN_DATASETS:
        return BUILTIN_DATASETS[name]
    known = sorted({*BUILTIN_DATASETS, *user})
    raise CatalogError(
        f"unknown dataset {name!r}; known: {', '.join(known)}. Describe your own in a TOML "
        "file and pass --datasets-file (or set CANIDS_DATASETS)"
    )


def resolve_root(spec: DatasetSpec, root: str | Path | None = None) -> Path:
    """The dataset root: ``root``, else the spec's, else ``$CANIDS_DATA_ROOT/<name>``."""
    if root is not None:
        return Path(root).expanduser().resolve()
    if spec.root is not None:
        return spec.root
    base = os.environ.get("CANIDS_DATA_ROOT")
    if base:
        return (Path(base).expanduser() / spec.name).resolve()
    if spec.name == "demo":
        return Path("data/demo").resolve()
    raise CatalogError(
        f"no root for dataset {spec.name!r}: pass --root PATH (the folder holding its split "
        "folders) or set CANIDS_DATA_ROOT to the folder that holds one folder per dataset"
    )


def discover_sources(spec: DatasetSpec, root: Path) -> tuple[list[SourceFile], list[str]]:
    """Captures under ``root`` (sorted) and the files that were ignored (as relative paths)."""
    if not root.is_dir():
        raise CatalogError(f"dataset root {root} is not a folder: check --root")
    sources: list[SourceFile] = []
    ignored: list[str] = []
    if spec.splits is not None:
        for split, globs in spec.splits.items():
            for pattern in globs:
                for p in sorted(root.glob(pattern)):
                    if p.is_file():
                        rel = p.relative_to(root).as_posix()
                        sources.append(SourceFile(rel, split, p.stem, p))
    else:
        for p in sorted(root.rglob("*")):
            if not p.is_file() or p.name.startswith("."):
                continue
            rel = p.relative_to(root).as_posix()
            folder, capture = _split_of(p, root)
            if p.suffix.lower() not in _EXTS or folder is None:
                ignored.append(rel)
                continue
            split = "train" if _TRAIN.match(folder) else folder
            sources.append(SourceFile(rel, split, capture, p))
    seen: dict[str, str] = {}
    for s in sources:
        if s.rel in seen and seen[s.rel] != s.split:
            raise CatalogError(f"{root / s.rel} matches both split {seen[s.rel]!r} and {s.split!r}")
        seen[s.rel] = s.split
    if not sources:
        raise CatalogError(
            f"no captures found under {root}: expected split folders like "
            "train_01_attack_free/ and test_01_known_vehicle_known_attack/ (or flat "
            "<split>__<capture>.parquet files); check --root"
        )
    if not any(s.split == "train" for s in sources):
        raise CatalogError(f"no training captures (train_NN_* folders) under {root}")
    return sorted(set(sources)), ignored


def _split_of(path: Path, root: Path) -> tuple[str | None, str]:
    parts = path.relative_to(root).parts
    if len(parts) >= 2 and (_TRAIN.match(parts[-2]) or _TEST.match(parts[-2])):
        return parts[-2], path.stem
    if "__" in path.stem:
        folder, capture = path.stem.split("__", 1)
        if _TRAIN.match(folder) or _TEST.match(folder):
            return folder, capture
    return None, path.stem
