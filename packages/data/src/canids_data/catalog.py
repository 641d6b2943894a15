"""Dataset catalogue: built-in layouts, user datasets from a config file, source discovery.

Built-in datasets follow the can-train-and-test split folders (``train_01_attack_free``,
``train_02_with_attacks``, ``test_01_known_vehicle_known_attack`` …), either as folders
(``<split>/<capture>.<ext>``) or as flat files (``<split>__<capture>.parquet``).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CatalogError

__all__ = [
    "BUILTIN_DATASETS",
    "DatasetSpec",
    "SourceFile",
    "discover_sources",
    "get_dataset",
    "is_test_split",
    "load_datasets_file",
    "resolve_root",
]

_TRAIN = re.compile(r"^train_\d\d_[\w\-]+$")
_TEST = re.compile(r"^test_\d\d_[\w\-]+$")
_EXTS = {".csv", ".txt", ".log", ".parquet"}


def is_test_split(name: str) -> bool:
    """Whether ``name`` is a test split's name, ``test_NN_name`` (the can-train-and-test
    folder convention; ``train`` is the only other split a dataset holds)."""
    return _TEST.match(name) is not None


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


def load_datasets_file(path: str | Path) -> dict[str, DatasetSpec]:
    """Read user datasets from a TOML file (see :mod:`canids_data.datasets_file`)."""
    from .datasets_file import read_datasets_file

    return read_datasets_file(path)


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
    """The dataset root: ``root``, else the spec's, else ``$CANIDS_DATA_ROOT/<name>``.

    A built-in dataset given a ``root`` that holds a folder named for it, and no split
    folders of its own, is read from that folder: ``--root data/real`` with
    ``data/real/hcrl_sa/`` builds hcrl_sa from ``data/real/hcrl_sa`` only.
    """
    if root is not None:
        chosen = Path(root).expanduser().resolve()
        nested = chosen / spec.name
        if spec.splits is None and nested.is_dir() and not _holds_splits(chosen):
            return nested
        return chosen
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


def _holds_splits(folder: Path) -> bool:
    """Whether ``folder`` itself holds split folders or flat ``<split>__<capture>`` files."""
    try:
        entries = list(folder.iterdir())
    except OSError:
        return False
    for entry in entries:
        name = entry.name if entry.is_dir() else entry.stem.split("__", 1)[0]
        if _TRAIN.match(name) or _TEST.match(name):
            return True
    return False


def discover_sources(spec: DatasetSpec, root: Path) -> tuple[list[SourceFile], list[str]]:
    """Captures under ``root`` (sorted) and the files that were ignored (as relative paths).

    Built-in layout: every capture must sit in one dataset folder (split folders or flat
    split files directly under it). Captures found in several folders (``hcrl_sa/`` and
    ``set_01/`` under one root) are refused, never pooled: public sets share captures,
    so pooling can put one set's test capture into another's training data. A datasets
    file pools on purpose, by naming the globs; its globs stay inside its root.
    """
    if not root.is_dir():
        raise CatalogError(f"dataset root {root} is not a folder: check --root")
    sources: list[SourceFile] = []
    ignored: list[str] = []
    if spec.splits is not None:
        real_root = root.resolve()
        for split, globs in spec.splits.items():
            for pattern in globs:
                for p in sorted(_glob(root, pattern, spec.name)):
                    if not p.is_file():
                        continue
                    if not p.resolve().is_relative_to(real_root):
                        raise CatalogError(
                            f"{p} (matched by {pattern!r} of dataset {spec.name}) resolves to "
                            f"{p.resolve()}, outside the dataset root {root}: captures must be "
                            "inside it (copy the file in, or move the root up)"
                        )
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
        _one_dataset_folder(spec, root, sources)
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


def _glob(root: Path, pattern: str, dataset: str) -> list[Path]:
    # Checked when the datasets file is read too; a spec built in code gets the same rule.
    parts = Path(pattern).parts
    if Path(pattern).is_absolute() or ".." in parts:
        raise CatalogError(
            f"dataset {dataset}: glob {pattern!r} leaves the dataset root {root}: write it "
            "relative to the root, inside it"
        )
    return list(root.glob(pattern))


def _dataset_folder(src: SourceFile) -> str:
    """The folder a capture's split lives in, relative to the root ('' for the root)."""
    parts = Path(src.rel).parts
    folder_layout = len(parts) >= 2 and (_TRAIN.match(parts[-2]) or _TEST.match(parts[-2]))
    return "/".join(parts[:-2] if folder_layout else parts[:-1])


def _one_dataset_folder(spec: DatasetSpec, root: Path, sources: list[SourceFile]) -> None:
    counts = Counter(_dataset_folder(s) for s in sources)
    if len(counts) <= 1:
        return
    listed = ", ".join(f"{f or '.'} ({n} captures)" for f, n in sorted(counts.items()))
    nested = next((f for f in counts if f == spec.name), None)
    hint = (
        f"build {spec.name} from its own folder: --root {root / nested}"
        if nested
        else "pass --root with one dataset's folder"
    )
    raise CatalogError(
        f"the captures under {root} span {len(counts)} dataset folders: {listed}. canids "
        f"does not pool datasets: {hint}, or name the captures to pool in a datasets file "
        "(--datasets-file)"
    )


def _split_of(path: Path, root: Path) -> tuple[str | None, str]:
    parts = path.relative_to(root).parts
    if len(parts) >= 2 and (_TRAIN.match(parts[-2]) or _TEST.match(parts[-2])):
        return parts[-2], path.stem
    if "__" in path.stem:
        folder, capture = path.stem.split("__", 1)
        if _TRAIN.match(folder) or _TEST.match(folder):
            return folder, capture
    return None, path.stem
