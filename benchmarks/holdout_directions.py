"""Directions of your own for ``dataset_holdout.py --directions-file``: the same judges, on
labelled captures nobody here has read.

Every candidate this project could not adopt honestly was refused, or left unjudged,
because the only directions it has (set_01 and hcrl_sa, held out by dataset) had been
read while the candidate was shaped (docs/results.md). A researcher with other captures
(can-train-and-test's set_02-set_04, another car-hacking capture) can run the judges,
whose rules were fixed before any of their runs, on directions nobody shaped anything on.
A directions file is TOML, one table per direction, paths relative to ``--data``::

    [set_02_to_set_03]
    train = ["set_02/train_*.parquet"]        # globs: the training vehicle's captures
    normal = ["set_03/train_01_attack_free__accessory-1.parquet"]   # attack-free captures
    # format = "cantt"                        # optional: a reader of canids-data
    [set_02_to_set_03.attacks]                # split name -> one attack capture
    test_01_new_vehicle_dos = "set_03/train_02_with_attacks__DoS-1.parquet"

Every direction of a file is judged for every variant (:func:`judged_everywhere`): none
was read here. The built-in directions' names are refused, so that a file cannot pass a
read direction off as an unread one, and so is a capture that a direction both trains on
and tests on. Nothing is written before the whole file is checked."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from canids_core import NAME_RULE, is_name
from canids_data import is_test_split
from canids_data.readers import READER_FORMATS
from holdout_variants import DIRECTIONS, NORMAL

__all__ = ["KEYS", "judged_everywhere", "read_directions"]

KEYS = ("train", "attacks", "normal", "format")


def _fail(path: Path, where: str, problem: str) -> SystemExit:
    return SystemExit(f"{path}: {where}: {problem} (see benchmarks/holdout_directions.py)")


def _strings(path: Path, where: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise _fail(path, where, "needs a non-empty list of paths")
    return list(value)


def _file(path: Path, where: str, root: Path, value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(path, where, f"needs one path, got {value!r}")
    if Path(value).is_absolute() or ".." in Path(value).parts:
        raise _fail(path, where, f"{value!r} must be a path inside --data ({root})")
    if not (root / value).is_file():
        raise _fail(path, where, f"no capture {root / value}: check the path or --data")
    return value


def _direction(path: Path, name: str, table: Any, root: Path) -> dict[str, Any]:
    if not is_name(name):
        raise _fail(path, name, f"a direction's name must be {NAME_RULE}")
    if name in DIRECTIONS:
        raise _fail(
            path,
            name,
            "is a built-in direction, read while the candidates were shaped: "
            "run it without --directions-file, or give yours another name",
        )
    if not isinstance(table, dict):
        raise _fail(path, name, "must be a table with train, attacks and normal")
    unknown = sorted(set(table) - set(KEYS))
    missing = [k for k in KEYS[:3] if k not in table]
    if unknown or missing:
        raise _fail(path, name, f"unknown keys {unknown}, missing {missing}: use {KEYS}")
    train = _strings(path, f"{name}.train", table["train"])
    seen: set[Path] = set()
    for glob in train:
        if Path(glob).is_absolute() or ".." in Path(glob).parts:
            raise _fail(path, f"{name}.train", f"{glob!r} must be a glob inside --data ({root})")
        found = sorted(p.resolve() for p in root.glob(glob) if p.is_file())
        if not found:
            raise _fail(path, f"{name}.train", f"{glob!r} matches no file under {root}")
        seen.update(found)
    attacks = table["attacks"]
    if not isinstance(attacks, dict) or not attacks:
        raise _fail(path, f"{name}.attacks", "needs a table: split name -> attack capture")
    for split, capture in attacks.items():
        if not is_test_split(split) or split == NORMAL:
            raise _fail(
                path,
                f"{name}.attacks.{split}",
                f"a split's name must be test_NN_name (not {NORMAL}, the attack-free split)",
            )
        _file(path, f"{name}.attacks.{split}", root, capture)
    normal = [
        _file(path, f"{name}.normal", root, p)
        for p in _strings(path, f"{name}.normal", table["normal"])
    ]
    shared = sorted(p for p in [*attacks.values(), *normal] if (root / p).resolve() in seen)
    if shared:
        raise _fail(path, name, f"{shared} both trained on and tested on: hold them out")
    out: dict[str, Any] = {"train": train, "attacks": dict(attacks), "normal": normal}
    if "format" in table:
        if table["format"] not in READER_FORMATS:
            raise _fail(
                path,
                f"{name}.format",
                f"{table['format']!r} is not a reader of canids-data: use one of "
                f"{', '.join(READER_FORMATS)}, or leave it out to detect each file's format",
            )
        out["format"] = table["format"]
    return out


def read_directions(path: Path, root: Path) -> dict[str, dict[str, Any]]:
    """The directions of ``path`` in :data:`holdout_variants.DIRECTIONS`' shape, every
    capture checked under ``root``; raises ``SystemExit`` naming the file, the key and
    the fix."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SystemExit(f"{path}: cannot read the directions file ({exc})") from exc
    if not data:
        raise _fail(path, "the file", "names no direction: add a [NAME] table")
    return {name: _direction(path, name, table, root) for name, table in data.items()}


def judged_everywhere(
    names: list[str], variants: list[str], students: list[str]
) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[tuple[str, ...], ...]]]:
    """For a directions file: every teacher variant judged on all of ``names``, and every
    student variant on one group of every run (``holdout_student.JUDGED``'s shape)."""
    return {v: tuple(names) for v in variants}, {s: ((),) for s in students}
