"""The attack families of a cache's training captures, and which rule chooses the default
fusion: what ``canids-submit`` reads to plan a fusion stage's held-out runs, importable
without torch (the families rule's runs are :mod:`canids_models.families`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import FusionConfig
from .errors import ModelsError

__all__ = [
    "AttackFamily",
    "attack_families",
    "capture_family",
    "choosing_rule",
    "require_families",
]

_NUMBERED = re.compile(r"^(?P<family>.+?)_\d+$")


@dataclass(frozen=True)
class AttackFamily:
    name: str
    sources: tuple[int, ...]  # indices into the manifest's sources
    captures: tuple[str, ...]  # their file names
    attack_windows: int


def capture_family(path: str) -> str:
    """The family of a capture file: its name without split prefix and extension, up to
    its first ``-`` (what follows names the drive: ``DoS-2``, hcrl_sa's ``DoS-kia``), or
    without a trailing ``_<number>`` where it has no ``-``."""
    name = Path(path).name.split(".", 1)[0]
    capture = name.split("__", 1)[1] if "__" in name else name
    if "-" in capture.strip("-"):
        return capture.strip("-").split("-", 1)[0]
    m = _NUMBERED.match(capture)
    return m["family"] if m else capture


def attack_families(manifest: dict[str, Any]) -> list[AttackFamily]:
    """The attack families of a cache's training captures (those holding attack windows),
    in name order."""
    groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for i, src in enumerate(manifest["sources"]):
        if src["split"] == "train" and src.get("used", True) and src.get("attack_graphs", 0):
            groups.setdefault(capture_family(src["path"]), []).append((i, src))
    return [
        AttackFamily(
            name,
            tuple(i for i, _ in members),
            tuple(Path(s["path"]).name for _, s in members),
            sum(int(s["attack_graphs"]) for _, s in members),
        )
        for name, members in sorted(groups.items())
    ]


def require_families(families: list[AttackFamily], dataset: str) -> None:
    """Holding one family out leaves the fusion one other to be fitted on: two at least."""
    if len(families) < 2:
        named = ", ".join(f.name for f in families) or "none"
        raise ModelsError(
            f"{dataset}: fusion.select=families holds out one attack family at a time and "
            f"needs two in the training captures; they hold {len(families)} ({named}). "
            "Choose on validation instead: --set fusion.select=validation (or auto, which "
            "does so where fewer than two families are held)"
        )


def choosing_rule(
    fusion: FusionConfig, families: list[AttackFamily], dataset: str
) -> tuple[str, str]:
    """The rule that chooses the default fusion, ``families``, ``validation`` or ``teacher``,
    and why: the run records both, so that ``fusion.select=auto`` never chooses unseen. Raises where
    ``fusion.select=families`` finds fewer than two families."""
    held = f"{len(families)} attack famil{'y' if len(families) == 1 else 'ies'}"
    named = f"{held} ({', '.join(f.name for f in families) or 'none'})"
    if fusion.select == "families":
        require_families(families, dataset)
        return "families", f"fusion.select=families; the training captures hold {named}"
    if fusion.select == "validation":
        return "validation", "fusion.select=validation"
    if fusion.select == "teacher":
        return "teacher", (
            f"fusion.select=teacher: the student deploys its teacher's fusion (the training "
            f"captures hold {named}; no held-out family run of the student's)"
        )
    if fusion.method != "auto":
        return "validation", f"fusion.select=auto, but fusion.method={fusion.method} fixes it"
    if fusion.holds_out_families(len(families)):
        return "families", f"fusion.select=auto; the training captures hold {named}"
    return "validation", (
        f"fusion.select=auto; the training captures hold {named}, and holding one out needs two"
    )
