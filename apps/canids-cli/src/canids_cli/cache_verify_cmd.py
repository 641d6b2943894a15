"""``canids-cache verify``: check a cache against its sources and the config expected.

Exit codes name what is wrong (canids_data.EXIT_CODES) so that a job script can branch
on them without parsing text.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click
from canids_core import CanidsError

from ._cache_options import (
    FEATURE_SET_NAMES,
    dataset_name,
    location_options,
    manager,
    print_splits,
)
from ._console import fail

__all__ = ["verify"]


@click.command()
@click.option(
    "--dataset",
    default=None,
    callback=dataset_name,
    help="Dataset to verify (default: every one in the cache).",
)
@click.option("--full", is_flag=True, help="Also hash every source and every array.")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where the captures are now, if they moved since the build.",
)
@click.option(
    "--window",
    type=click.IntRange(2),
    default=None,
    help="Expected window (with --stride/--val-fraction: check the build config).",
)
@click.option("--stride", type=click.IntRange(1), default=None)
@click.option("--val-fraction", type=click.FloatRange(0.0, 0.9, max_open=True), default=None)
@click.option(
    "--features",
    type=click.Choice(FEATURE_SET_NAMES),
    default=None,
    help="Expected feature set (a cache built with another is a config mismatch).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@location_options
@click.pass_context
def verify(
    ctx: click.Context,
    dataset: str | None,
    full: bool,
    root: Path | None,
    window: int | None,
    stride: int | None,
    val_fraction: float | None,
    features: str | None,
    as_json: bool,
) -> None:
    """Check a cache; exit 0 ok, 10 missing, 11 incomplete, 12 stale, 13 config, 14 corrupt."""
    from canids_data import EXIT_CODES, BuildConfig, CacheError, VerifyStatus
    from canids_data.cache.manifest import load_manifest

    ctx.ensure_object(dict)["json"] = as_json
    mgr = manager(ctx)
    names = [dataset] if dataset else mgr.datasets()
    if not names:
        click.echo(
            "no cache here; build one with: canids-cache build --dataset NAME --root PATH", err=True
        )
        if as_json:  # a machine reader gets JSON on stdout in every case: no reports
            click.echo("[]")
        sys.exit(EXIT_CODES[VerifyStatus.MISSING])
    given = {
        k: v
        for k, v in (
            ("window", window),
            ("stride", stride),
            ("val_fraction", val_fraction),
            ("features", features),
        )
        if v is not None
    }
    reports = []
    try:
        for name in names:
            # Only the options given are checked; the rest of the expected config is the
            # built one (else --window 50 on a --window 50 --stride 50 cache would report
            # stride, and a --skip-bad-rows cache would always mismatch).
            config = None
            if given:
                try:
                    built = load_manifest(mgr.path(name), name).config
                except CacheError:
                    built = BuildConfig()  # verify says what is wrong with the manifest
                config = dataclasses.replace(built, **given)
            reports.append(mgr.verify(name, full=full, config=config, root=root))
    except CanidsError as exc:
        fail(exc)
    worst = max(reports, key=lambda r: r.exit_code)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in reports], indent=1))
        sys.exit(worst.exit_code)
    for r in reports:
        mode = "full" if full else "quick"
        for note in r.notes:
            click.echo(f"{r.dataset}: note: {note}")
        if r.ok:
            m = r.manifest.data if r.manifest else {}
            click.echo(f"{r.dataset}: ok ({mode} verify) at {r.store}")
            print_splits(m)
            continue
        click.echo(f"{r.dataset}: {r.status} ({mode} verify) at {r.store}")
        for p in r.problems[:20]:
            click.echo(f"  - [{p.status}] {p.where}: {p.detail}")
        if len(r.problems) > 20:
            click.echo(f"  … {len(r.problems) - 20} more")
        click.echo(f"  fix: {r.fix}")
    sys.exit(worst.exit_code)
