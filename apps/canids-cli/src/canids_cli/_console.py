"""Terminal output shared by the commands: errors with their fix, sizes, split order.

Tables are canids-core's one printer, ``canids_core.format_table``: numbers align right,
text left. ``table`` is the same function under its old name, for the commands that still
import it from here.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click
from canids_core import format_table

__all__ = ["checked_name", "fail", "human_bytes", "split_order", "table"]

table = format_table


def checked_name(kind: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback that holds a ``kind`` name (dataset, run) to canids-core's one name
    rule where it enters: a name becomes a folder, a job name and a word of printed fix
    lines, so ``x; rm -rf ~`` or a 5,000-character name is a usage error here."""
    from canids_core import NAME_RULE, is_name, shown

    def check(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is not None and not is_name(value):
            raise click.BadParameter(f"{kind} name {shown(value)} is not allowed: use {NAME_RULE}")
        return value

    return check


def fail(exc: Exception, code: int = 1) -> NoReturn:
    """Print an error (its message already names what, where and the fix) and exit."""
    click.echo(f"error: {exc}", err=True)
    sys.exit(code)


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def split_order(name: str) -> tuple[int, str]:
    """Sort key for split names: train, val, then the test splits by name."""
    return ({"train": 0, "val": 1}.get(name, 2), name)
