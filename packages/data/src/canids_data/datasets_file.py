"""The datasets file: your own datasets, described in TOML and validated as a whole.

```toml
[datasets.mycar]
root = "/data/mycar"          # relative paths are relative to this file
format = "candump"            # optional: forces a reader
[datasets.mycar.splits]
train = ["normal/*.log", "attacks/*.log"]
test_01_known_vehicle_known_attack = ["eval/*.log"]
```

It is a frozen pydantic model with unknown keys refused, imported only when a datasets
file is read (pydantic costs a command that builds a built-in dataset ~0.1 s).
"""

from __future__ import annotations

import tomllib
from pathlib import Path, PurePath
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

from .catalog import DatasetSpec, is_test_split
from .errors import CatalogError
from .readers import READER_FORMATS

__all__ = ["read_datasets_file"]


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
            if split != "train" and not is_test_split(split):
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


def read_datasets_file(path: str | Path) -> dict[str, DatasetSpec]:
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
        root = (root if root.is_absolute() else (path.parent / root)).resolve()
        splits = {
            split: tuple(_inside(path, name, split, root, g) for g in globs)
            for split, globs in entry.splits.items()
        }
        out[name] = DatasetSpec(name, entry.format, root, entry.format, splits, entry.description)
    return out


def _inside(path: Path, name: str, split: str, root: Path, pattern: str) -> str:
    """A split's glob, relative to the dataset root and inside it.

    An absolute glob under the root is made relative to it (it then reads the same
    files); one elsewhere, or one that climbs out with ``..``, is refused: a dataset is
    read from its own root only.
    """
    where = f"{path}: datasets.{name}.splits.{split}"
    glob = PurePath(pattern)
    if glob.is_absolute():
        try:
            glob = glob.relative_to(root)
        except ValueError:
            raise CatalogError(
                f"{where}: glob is outside the dataset root {root}; write it relative to "
                f"the root (got {pattern!r})"
            ) from None
    if ".." in glob.parts:
        raise CatalogError(
            f"{where}: glob leaves the dataset root {root} with '..'; move the root up "
            f"instead (got {pattern!r})"
        )
    if not glob.parts:
        raise CatalogError(f"{where}: glob matches the root itself (got {pattern!r})")
    return glob.as_posix()
