"""``canids-cache build|verify|status|clean``: the only way a graph cache comes to exist.

canids-data (numpy, zarr, the readers) is imported inside each command, not here, so that
``canids-cache --help`` answers at once.
"""

from __future__ import annotations

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
from ._console import fail, human_bytes
from ._progress import ProgressDisplay
from .cache_space_cmd import clean, status
from .cache_verify_cmd import verify

__all__ = ["FEATURE_SET_NAMES", "main"]


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


@main.command()
@click.option(
    "--dataset",
    required=True,
    callback=dataset_name,
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
@location_options
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

    mgr = manager(ctx)
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
                print_splits(report.manifest.data if report.manifest else {})
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
    print_splits(m)
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


for _command in (verify, status, clean):
    main.add_command(_command)
