"""Terminal output shared by the commands: errors with their fix, tables, sizes."""

from __future__ import annotations

import sys
from typing import NoReturn

import click

__all__ = ["fail", "human_bytes", "split_order", "table"]


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


def table(header: list[str], rows: list[list[str]], indent: int = 0) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    pad = " " * indent

    def line(r: list[str]) -> str:
        first = str(r[0]).ljust(widths[0])
        rest = [str(c).rjust(w) for c, w in zip(r[1:], widths[1:], strict=True)]
        return pad + "  ".join([first, *rest])

    return "\n".join(
        [line(header), pad + "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
    )


def split_order(name: str) -> tuple[int, str]:
    """Sort key for split names: train, val, then the test splits by name."""
    return ({"train": 0, "val": 1}.get(name, 2), name)
