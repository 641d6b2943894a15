"""``canids-profile``: graph-size profile of cache splits and the batching it calls for.

canids-batching (torch) and canids-data are imported when the command runs, not here, so
that ``canids-profile --help`` answers at once.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click
from canids_core import CanidsError, atomic_write_text, format_table

from ._console import fail, split_order
from ._options import (
    cache_dir_option,
    dataset_option,
    no_source_check_option,
)

if TYPE_CHECKING:
    from canids_batching import Profile

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@dataset_option("Dataset whose cache to profile.")
@click.option(
    "--split",
    "splits",
    multiple=True,
    help="Split(s) to profile (repeatable; default: every split in the cache).",
)
@cache_dir_option()
@click.option(
    "--target-graphs",
    type=click.IntRange(1),
    default=64,
    show_default=True,
    help="Graphs an average batch should hold (sets the suggested start value).",
)
@no_source_check_option()
@click.option(
    "--json",
    "json_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the profile(s) as JSON to this file.",
)
@click.option(
    "--plot",
    "plot_out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write a PNG histogram (one file per split: NAME-<split>.png when several).",
)
def main(
    dataset: str,
    splits: tuple[str, ...],
    cache_dir: Path | None,
    target_graphs: int,
    no_source_check: bool,
    json_out: Path | None,
    plot_out: Path | None,
) -> None:
    """Profile node and edge counts per graph from the cache's pointer arrays (no graph is
    built) and recommend a fixed batch size or a node/edge budget."""
    # canids-batching is installable alone and cannot subclass CanidsError: both are caught.
    from canids_batching import BatchingError, plot_profile, profile_sizes
    from canids_data import CacheManager

    mgr = CacheManager(cache_dir)
    click.echo(f"cache: {mgr.cache_dir}")
    profiles: dict[str, Profile] = {}
    try:
        if not splits:
            report = mgr.verify(dataset, check_sources=not no_source_check)
            report.raise_for_status()
            assert report.manifest is not None
            splits = tuple(sorted(report.manifest.splits, key=split_order))
        for split in splits:
            sizes = mgr.sizes(dataset, split, check_sources=not no_source_check)
            profiles[split] = profile_sizes(
                sizes.nodes,
                sizes.edges,
                sizes.bytes_per_graph,
                name=f"{dataset}/{split}",
                node_feature_dim=sizes.node_feature_dim,
                edge_feature_dim=sizes.edge_feature_dim,
                target_graphs=target_graphs,
            )
        if plot_out is not None:
            for split, prof in profiles.items():
                out = (
                    plot_out
                    if len(profiles) == 1
                    else plot_out.with_name(f"{plot_out.stem}-{split}{plot_out.suffix or '.png'}")
                )
                plot_profile(prof, out)
                click.echo(f"histogram: {out}")
    except (CanidsError, BatchingError, ImportError) as exc:
        fail(exc)
    rows = []
    for split, p in profiles.items():
        rows.append(
            [
                split,
                f"{p.nodes.count:,}",
                f"{p.nodes.mean:.1f}",
                f"{p.nodes.min}-{p.nodes.max}",
                f"{p.nodes.p95:.0f}",
                f"{p.nodes_cv:.2f}",
                f"{p.edges.mean:.1f}",
                f"{p.edges.min}-{p.edges.max}",
                f"{p.edges_cv:.2f}",
                f"{p.bytes_per_graph or 0:,.0f}",
            ]
        )
    click.echo(
        format_table(
            ["split", "graphs", "nodes", "range", "p95", "cv", "edges", "range", "cv", "B/graph"],
            rows,
        )
    )
    for split, p in profiles.items():
        r = p.recommendation
        what = (
            f"batch_size={r.value}" if r.strategy == "batch_size" else f"{r.key} budget {r.value}"
        )
        click.echo(f"{split}: {what} ({r.reason})")
    if json_out is not None:
        payload = {s: json.loads(p.to_json()) for s, p in profiles.items()}
        # Atomic: a batch-size search or a job may read the profile while it is written.
        atomic_write_text(
            json_out,
            json.dumps(payload if len(payload) > 1 else next(iter(payload.values())), indent=1)
            + "\n",
        )
        click.echo(f"profile: {json_out}")
