"""``canids-cache status`` and ``canids-cache clean``: what the cache holds, and freeing
what interrupted or finished builds left staged.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click
from canids_core import CanidsError, format_table, quoted_command

from ._cache_options import dataset_name, location_options, manager
from ._console import fail, human_bytes, split_order

if TYPE_CHECKING:
    from canids_data import CacheManager

__all__ = ["clean", "status"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status.")
@location_options
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Location, size, datasets, splits and counts, config and age."""
    ctx.ensure_object(dict)["json"] = as_json
    mgr = manager(ctx)
    try:
        info = mgr.status()
    except CanidsError as exc:
        fail(exc)
    if as_json:
        click.echo(json.dumps(info, indent=1))
        return
    if not info["exists"]:
        click.echo("no cache yet; build one with: canids-cache build --dataset NAME --root PATH")
        return
    click.echo(f"size on disk: {human_bytes(info['bytes'])}")
    for b in info["builds_in_progress"]:
        if b["state"] == "running":
            click.echo(
                f"build of {b['dataset']} running: {b['staged_files']} file(s) staged so far"
            )
        else:
            click.echo(
                f"interrupted build of {b['dataset']}: {b['staged_files']} file(s) staged "
                f"({human_bytes(b['bytes'])}); rerun canids-cache build to resume, or free "
                "them: "
                + quoted_command(
                    [
                        "canids-cache",
                        "clean",
                        "--dataset",
                        b["dataset"],
                        "--cache-dir",
                        info["location"],
                    ]
                )
            )
    for r in info["reclaimable"]:
        what = "an old store set aside" if r["state"] == "old store" else "staged parts"
        click.echo(
            f"reclaimable: {human_bytes(r['bytes'])} of {what} left by a finished build of "
            f"{r['dataset']} ({r['path']}): "
            + quoted_command(
                [
                    "canids-cache",
                    "clean",
                    "--dataset",
                    r["dataset"],
                    "--cache-dir",
                    info["location"],
                ]
            )
        )
    for name, d in info["datasets"].items():
        if d["state"] != "built":
            click.echo(f"{name}: {d['state']} ({d['path']})")
            continue
        cfg = d["config"]
        click.echo(
            f"{name}: built {d['built']} ({d['age_seconds'] / 3600:.1f} h ago, in "
            f"{d['build_seconds']:.1f} s), {human_bytes(d['bytes'])}, from {d['root']}"
        )
        click.echo(
            f"  config: window={cfg['window']} stride={cfg['stride']} "
            f"val_fraction={cfg['val_fraction']} skip_bad_rows={cfg['skip_bad_rows']} "
            f"digest={d['config_digest']}; vocabulary {d['vocabulary_size']} "
            f"(incl. OOV); {d['sources_used']}/{d['sources']} captures used; "
            f"{d['skipped_rows']} skipped rows"
        )
        rows = [
            [s, f"{c['graphs']:,}", f"{c['attack_graphs']:,}", f"{c['nodes']:,}", f"{c['edges']:,}"]
            for s, c in sorted(d["splits"].items(), key=lambda kv: split_order(kv[0]))
        ]
        click.echo(format_table(["split", "graphs", "attack", "nodes", "edges"], rows, indent=2))


@click.command()
@click.option(
    "--dataset",
    default=None,
    callback=dataset_name,
    help="Dataset whose staging to free (default: every dataset's).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list of what was freed.")
@location_options
@click.pass_context
def clean(ctx: click.Context, dataset: str | None, as_json: bool) -> None:
    """Free staged parts of interrupted or finished builds (never a running one's)."""
    ctx.ensure_object(dict)["json"] = as_json
    mgr = manager(ctx)
    try:
        running = [i for i in _staging(mgr, dataset) if i.state == "running"]
        removed = mgr.clean(dataset)
    except CanidsError as exc:
        fail(exc)
    if as_json:
        rows = [
            {"dataset": r.dataset, "path": str(r.path), "state": r.state, "bytes": r.bytes}
            for r in removed
        ]
        click.echo(json.dumps({"removed": rows, "running": [r.dataset for r in running]}))
        return
    for r in removed:
        click.echo(f"removed {r.path} ({r.state}, {human_bytes(r.bytes)})")
    for r in running:
        click.echo(f"kept {r.path}: a build of {r.dataset} is running")
    total = sum(r.bytes for r in removed)
    click.echo(f"freed {human_bytes(total)}" if removed else "nothing to free")


def _staging(mgr: CacheManager, dataset: str | None) -> list:
    names = (
        [dataset]
        if dataset
        else sorted(p.name for p in (mgr.cache_dir / ".staging").glob("*") if p.is_dir())
    )
    return [i for i in (mgr.staging(n) for n in names) if i is not None]
