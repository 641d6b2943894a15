"""What every ``canids-cache`` subcommand shares: the cache location, the dataset-name
check, the feature-set names and the split table.

Nothing here imports canids-data at module level, so that ``canids-cache --help`` answers
at once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from canids_core import format_table

from ._console import checked_name, split_order

if TYPE_CHECKING:
    from canids_data import CacheManager

# canids_data.graphs.FEATURE_SETS, spelt out so that --help does not import numpy
# (apps/canids-cli/tests/test_shared_options.py holds the two equal).
FEATURE_SET_NAMES = ("invariant", "invariant_load", "v1")

__all__ = [
    "FEATURE_SET_NAMES",
    "dataset_name",
    "location_options",
    "manager",
    "print_splits",
]

dataset_name = checked_name("dataset")


def manager(ctx: click.Context) -> CacheManager:
    from canids_data import CacheManager

    obj = ctx.ensure_object(dict)
    mgr = CacheManager(obj.get("cache_dir"), datasets_file=obj.get("datasets_file"))
    # One cache location, said by every command (to stderr when stdout is JSON).
    click.echo(f"cache: {mgr.cache_dir}", err=bool(obj.get("json")))
    return mgr


def _override(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """A subcommand's --cache-dir/--datasets-file wins over the group's."""
    if value is not None:
        ctx.ensure_object(dict)[str(param.name)] = value


def location_options(f: Callable[..., None]) -> Callable[..., None]:
    """Accept --cache-dir and --datasets-file after the subcommand too, as the fix lines
    that verify and the datasets print them (``canids-cache build --dataset D --cache-dir X``)."""
    f = click.option(
        "--datasets-file",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        callback=_override,
        help="Same as the group option of that name.",
    )(f)
    return click.option(
        "--cache-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        expose_value=False,
        callback=_override,
        help="Same as the group option of that name.",
    )(f)


def print_splits(manifest: dict) -> None:
    rows = [
        [
            name,
            f"{c['graphs']:,}",
            f"{c['attack_graphs']:,}",
            f"{c['nodes']:,}",
            f"{c['edges']:,}",
            f"{c['nodes'] / max(c['graphs'], 1):.1f}",
        ]
        for name, c in sorted(manifest.get("splits", {}).items(), key=lambda kv: split_order(kv[0]))
    ]
    click.echo(format_table(["split", "graphs", "attack", "nodes", "edges", "nodes/graph"], rows))
