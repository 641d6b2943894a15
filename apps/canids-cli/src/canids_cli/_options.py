"""The options every command shares, declared once: the same flag means the same thing,
is checked the same way (names by canids-core's one rule) and says the same default in
every ``--help``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from ._console import checked_name

__all__ = [
    "cache_dir_option",
    "dataset_option",
    "no_source_check_option",
    "run_option",
    "runs_dir_option",
    "size_option",
]

F = TypeVar("F", bound=Callable[..., Any])
SIZES = ("teacher", "student")


def dataset_option(help: str, *, required: bool = True) -> Callable[[F], F]:
    """``--dataset``: a name held to the name rule where it enters."""
    return click.option(
        "--dataset", required=required, default=None, callback=checked_name("dataset"), help=help
    )


def size_option(default: str | None = None, help: str | None = None) -> Callable[[F], F]:
    """``--size``: teacher or student; required unless a default is given."""
    return click.option(
        "--size",
        type=click.Choice(SIZES),
        required=default is None,
        default=default,
        show_default=default is not None,
        help=help,
    )


def run_option(
    help: str = "Run name: artifacts go to RUNS_DIR/RUN/DATASET/SIZE/ARTIFACT.",
) -> Callable[[F], F]:
    """``--run``: the run name (``default``), held to the name rule."""
    return click.option(
        "--run",
        "run_name",
        default="default",
        show_default=True,
        callback=checked_name("run"),
        help=help,
    )


def runs_dir_option() -> Callable[[F], F]:
    """``--runs-dir``: the artifact root."""
    return click.option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Artifact root (default: $CANIDS_RUNS_DIR, else ./runs).",
    )


def cache_dir_option(purpose: str = "") -> Callable[[F], F]:
    """``--cache-dir``: the cache folder (``purpose`` says what the command reads there)."""
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help=f"Cache folder{purpose} (default: $CANIDS_CACHE_DIR, else ./cache).",
    )


def no_source_check_option() -> Callable[[F], F]:
    """``--no-source-check``: trust the cache without reading the raw captures."""
    return click.option(
        "--no-source-check",
        is_flag=True,
        help="Trust the cache without comparing it to the raw captures (not on this node).",
    )
