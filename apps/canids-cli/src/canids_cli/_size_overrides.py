"""``canids-submit pipeline --set SIZE:SECTION.KEY=VALUE``: an override for one size's
stages only. A plain ``--set`` item goes to every stage of every pipeline; with a size
prefix it goes to the stages of that size's pipelines, after the shared items (so it wins
where both set one key). ``teacher student`` submitted together could not differ in a
setting before: ``fusion.select=teacher`` is refused by the teacher, and a student that
chooses its own fusion (``student:fusion.select=auto``) needed a second submission.

A prefix is the text before the first ``:`` where that text holds no ``.`` and no ``=``
(a value may hold a colon: ``train.x=a:b`` has no prefix).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from typing import Any

from ._options import SIZES

__all__ = ["SizeOverrides", "split_size_overrides"]


class SizeOverrides:
    """The ``--set`` items of one submission: those for every size and those per size."""

    def __init__(self, shared: list[str], per_size: dict[str, list[str]]) -> None:
        self.shared = shared
        self.per_size = per_size

    def for_size(self, size: str) -> list[str]:
        """Every item a stage of ``size`` gets, in the order it applies them."""
        return [*self.shared, *self.per_size.get(size, [])]

    def check_planned(self, planned: Collection[str]) -> None:
        """A prefix naming a size no planned pipeline has would change nothing: refused."""
        unused = sorted(set(self.per_size) - set(planned))
        if unused:
            items = [f"{s}:{item}" for s in unused for item in self.per_size[s]]
            raise ValueError(
                f"--set {' '.join(items)}: no {' or '.join(unused)} pipeline is planned "
                f"(planned: {', '.join(sorted(set(planned)))}); drop the item or add a "
                f"pipeline of that size (e.g. canids-submit pipeline teacher student)"
            )

    def stage_args(
        self, base: Callable[[Any, str], Sequence[str]] | None
    ) -> Callable[[Any, str], Sequence[str]] | None:
        """``stage_args`` of the executors: ``base``'s, then the plan's size's items."""
        if not self.per_size:
            return base
        per_size = self.per_size

        def args(plan: Any, stage: str) -> list[str]:
            own = [a for item in per_size.get(plan.size, []) for a in ("--set", item)]
            return [*(base(plan, stage) if base is not None else ()), *own]

        return args


def split_size_overrides(items: Sequence[str]) -> SizeOverrides:
    """The items for every size and those a ``SIZE:`` prefix names; an unknown prefix is
    refused with the sizes there are."""
    shared: list[str] = []
    per_size: dict[str, list[str]] = {}
    for item in items:
        head, colon, rest = item.partition(":")
        if not colon or "." in head or "=" in head:
            shared.append(item)
            continue
        if head not in SIZES:
            raise ValueError(
                f"--set {item}: {head!r} is not a size; prefix an item with one of "
                f"{', '.join(SIZES)} (--set student:fusion.select=auto) or give "
                "SECTION.KEY=VALUE for every size"
            )
        if not rest:
            raise ValueError(f"--set {item}: nothing after {head}:; give {head}:SECTION.KEY=VALUE")
        per_size.setdefault(head, []).append(rest)
    return SizeOverrides(shared, per_size)
