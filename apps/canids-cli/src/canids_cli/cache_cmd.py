"""``canids-cache build|verify|status|clean``: the only way a graph cache comes to exist.

canids-data (numpy, zarr, the readers) is imported inside each command, not here, so that
``canids-cache --help`` answers at once.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
from canids_core import CanidsError, format_table, quoted_command

from ._console import checked_name, fail, human_bytes, split_order
from ._progress import ProgressDisplay

# canids_data.graphs.FEATURE_SETS, spelt out so that --help does not import numpy
# (apps/canids-cli/tests/test_shared_options.py holds the two equal).
FEATURE_SET_NAMES = ("invariant", "invariant_load", "v1")

if TYPE_CHECKING:
    from canids_data import CacheManager

__all__ = ["main"]


def _manager(ctx: click.Context) -> CacheManager:
    from canids_data import CacheManager

    obj = ctx.ensure_object(dict)
    mgr = CacheManager(obj.get("cache_dir"), datasets_file=obj.get("datasets_file"))
    # One cache location, said by every command (to stderr when stdout is JSON).
    click.echo(f"cache: {mgr.cache_dir}", err=bool(obj.get("json")))
    return mgr


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Cache folder (default: $CANIDS_CACHE_DIR, else ./cache).",
)
@click.option(
    "--datasets-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="TOML file describing your own datasets (default: $CANIDS_DATASETS).",
)
@click.pass_context
def main(ctx: click.Context, cache_dir: Path | None, datasets_file: Path | None) -> None:
    """Build, verify and describe the graph cache that training reads."""
    ctx.ensure_object(dict).update(cache_dir=cache_dir, datasets_file=datasets_file)


def _override(ctx: click.Context, param: click.Parameter, value: Path | None) -> None:
    """A subcommand's --cache-dir/--datasets-file wins over the group's."""
    if value is not None:
        ctx.ensure_object(dict)[str(param.name)] = value


def _location_options(f: Callable[..., None]) -> Callable[..., None]:
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


_dataset_name = checked_name("dataset")


@main.command()
@click.option(
    "--dataset",
    required=True,
    callback=_dataset_name,
    help="hcrl_ch, hcrl_sa, set_01..set_04, demo, or yours.",
)
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder holding the dataset's split folders, or a folder holding one folder per "
    "dataset (default: $CANIDS_DATA_ROOT/<dataset>).",
)
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True)
@click.option("--window", type=click.IntRange(2), default=100, show_default=True)
@click.option("--stride", type=click.IntRange(1), default=100, show_default=True)
@click.option(
    "--val-fraction",
    type=click.FloatRange(0.0, 0.9, max_open=True),
    default=0.15,
    show_default=True,
    help="Share of each training capture held out for validation, in time blocks.",
)
@click.option(
    "--features",
    type=click.Choice(FEATURE_SET_NAMES),
    default="invariant",
    show_default=True,
    help="Node features: vehicle-invariant (timing per ID's own period, payload change, "
    "ID age), invariant_load (the same and the window's bus load against the capture's "
    "start) or v1 (payload bytes, in-window timing).",
)
@click.option(
    "--validation",
    type=click.Choice(["blocks", "tail"]),
    default="blocks",
    show_default=True,
    help="blocks: each training capture's clean start plus seeded time blocks, one with "
    "attacks where the capture has any; tail: each capture's time tail (old rule).",
)
@click.option("--val-blocks", type=click.IntRange(1), default=3, show_default=True)
@click.option(
    "--val-start-seconds",
    type=click.FloatRange(0.0, 600.0),
    default=10.0,
    show_default=True,
    help="Clean start of each training capture kept in validation (what calibration rules "
    "are chosen on); at most a fifth of a capture.",
)
@click.option("--val-seed", type=int, default=0, show_default=True, help="Seed of the blocks.")
@click.option(
    "--skip-bad-rows", is_flag=True, help="Skip malformed rows (counted in the manifest)."
)
@click.option(
    "--max-skipped-fraction",
    type=click.FloatRange(0.0, 1.0),
    default=0.01,
    show_default=True,
    help="With --skip-bad-rows: a file whose skipped rows exceed this share fails the build.",
)
@click.option("--format", "fmt", default=None, help="Force a reader instead of detection.")
@click.option("--force", is_flag=True, help="Rebuild even if the cache verifies.")
@click.option(
    "--clean-staging",
    is_flag=True,
    help="Free an interrupted build's staged parts first and start afresh (no resume).",
)
@click.option(
    "--no-space-check",
    is_flag=True,
    help="Skip the free-space estimate checked before the build starts.",
)
@click.option(
    "--quiet",
    is_flag=True,
    help="No progress bar on a terminal: one line per file, as in a batch job.",
)
@click.option(
    "--seed",
    type=int,
    default=0,
    show_default=True,
    help="Seed of the generated captures (dataset 'demo' only).",
)
@_location_options
@click.pass_context
def build(
    ctx: click.Context,
    dataset: str,
    root: Path | None,
    workers: int,
    window: int,
    stride: int,
    val_fraction: float,
    features: str,
    validation: str,
    val_blocks: int,
    val_start_seconds: float,
    val_seed: int,
    skip_bad_rows: bool,
    max_skipped_fraction: float,
    fmt: str | None,
    force: bool,
    clean_staging: bool,
    no_space_check: bool,
    quiet: bool,
    seed: int,
) -> None:
    """Read every capture, build graphs, write the Zarr cache and its manifest."""
    from canids_data import BuildConfig, get_dataset, resolve_root

    mgr = _manager(ctx)
    try:
        config = BuildConfig(
            window=window,
            stride=stride,
            val_fraction=val_fraction,
            skip_bad_rows=skip_bad_rows,
            format=fmt,
            features=features,
            validation=validation,
            val_blocks=val_blocks,
            val_start_seconds=val_start_seconds,
            val_seed=val_seed,
        )
        spec = get_dataset(dataset, mgr.datasets_file)
        data_root = resolve_root(spec, root)
        if dataset == "demo" and not any(data_root.glob("*/*")):
            from canids_data.synthetic import write_demo_dataset

            files = write_demo_dataset(data_root, seed=seed)
            click.echo(f"generated {len(files)} demo captures (seed {seed}) in {data_root}")
        if not force and not clean_staging:
            report = mgr.verify(dataset, config=config, root=data_root)
            if report.ok:
                click.echo(
                    f"{dataset}: up to date at {report.store} (quick verify ok); --force rebuilds"
                )
                _print_splits(report.manifest.data if report.manifest else {})
                # Staged parts left by a finished build (killed before its cleanup) hold
                # nothing to resume: free them now rather than keep the disk full.
                for gone in mgr.clean(dataset, only_finished=True):
                    click.echo(
                        f"removed {human_bytes(gone.bytes)} left by an earlier build ({gone.path})"
                    )
                return
        click.echo(f"building {dataset} from {data_root} with {workers} worker(s)")
        display = ProgressDisplay(quiet=quiet)
        try:
            result = mgr.build(
                dataset,
                data_root,
                config,
                workers=workers,
                progress=display.on_file,
                max_skipped_fraction=max_skipped_fraction,
                check_space=not no_space_check,
                clean_staging=clean_staging,
            )
        finally:
            display.close()
    except CanidsError as exc:
        fail(exc)
    m = result.manifest
    if result.cleaned_bytes:
        click.echo(f"freed {human_bytes(result.cleaned_bytes)} of staging left by an earlier build")
    click.echo(
        f"built {dataset} from {result.root} in {result.seconds:.2f} s: "
        f"{result.messages:,} messages ({result.messages_per_second / 1e6:.2f} M messages/s), "
        f"{result.resumed_files} file(s) resumed from an interrupted build"
    )
    _print_splits(m)
    for d in m.get("dedup", []):
        click.echo(
            f"duplicate training capture(s) {', '.join(d['dropped'])}: same messages as "
            f"{d['kept']}, used once"
        )
    skipped = m.get("skipped_rows", {})
    if skipped:
        click.echo(
            f"skipped {sum(skipped.values()):,} malformed row(s) in {len(skipped)} file(s) "
            "(listed in manifest.json)"
        )
    click.echo(
        f"vocabulary: {len(m['vocabulary']['can_ids'])} CAN IDs + OOV; "
        f"store: {result.store} ({human_bytes(mgr.size_on_disk(dataset))})"
    )


def _print_splits(manifest: dict) -> None:
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


@main.command()
@click.option(
    "--dataset",
    default=None,
    callback=_dataset_name,
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
@_location_options
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
    mgr = _manager(ctx)
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
            _print_splits(m)
            continue
        click.echo(f"{r.dataset}: {r.status} ({mode} verify) at {r.store}")
        for p in r.problems[:20]:
            click.echo(f"  - [{p.status}] {p.where}: {p.detail}")
        if len(r.problems) > 20:
            click.echo(f"  … {len(r.problems) - 20} more")
        click.echo(f"  fix: {r.fix}")
    sys.exit(worst.exit_code)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable status.")
@_location_options
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Location, size, datasets, splits and counts, config and age."""
    ctx.ensure_object(dict)["json"] = as_json
    mgr = _manager(ctx)
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


@main.command()
@click.option(
    "--dataset",
    default=None,
    callback=_dataset_name,
    help="Dataset whose staging to free (default: every dataset's).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable list of what was freed.")
@_location_options
@click.pass_context
def clean(ctx: click.Context, dataset: str | None, as_json: bool) -> None:
    """Free staged parts of interrupted or finished builds (never a running one's)."""
    ctx.ensure_object(dict)["json"] = as_json
    mgr = _manager(ctx)
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
