"""Terminal output shared by the commands: errors with their fix, sizes, split order.

Tables are canids-core's one printer, ``canids_core.format_table``: numbers align right,
text left. ``table`` is the same function under its old name, for the commands that still
import it from here.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click
from canids_core import format_table

__all__ = ["fail", "human_bytes", "split_order", "table"]

table = format_table


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
