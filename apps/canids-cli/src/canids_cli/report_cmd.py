"""``canids-report``: (re)build ``report.html`` of a run from its artifacts.

The evaluate stage writes the report itself; this command rebuilds it (after the report
code changed, or for a run evaluated before reports existed) from the run's
``metrics.json``, ``scores.npz``, the training stages' histories and the cache. A report
newer than the files it is drawn from is left alone unless ``--force``. The last line is
``report: PATH``.

Only click is imported at start-up: matplotlib, the models and the cache load when the
report is drawn.
"""

from __future__ import annotations

from pathlib import Path

import click
from canids_core import CanidsError

from ._console import fail
from ._options import (
    cache_dir_option,
    dataset_option,
    no_source_check_option,
    run_option,
    runs_dir_option,
    size_option,
)

__all__ = ["main"]


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@dataset_option("Dataset of the run.")
@size_option()
@run_option("Run name.")
@runs_dir_option()
@cache_dir_option(", for the graph-size profile")
@no_source_check_option()
@click.option("--force", is_flag=True, help="Rebuild even if the report is up to date.")
def main(
    dataset: str,
    size: str,
    run_name: str,
    runs_dir: Path | None,
    cache_dir: Path | None,
    no_source_check: bool,
    force: bool,
) -> None:
    """Write report.html of the run RUN, DATASET, SIZE: curves, score histograms with the
    thresholds, confusion matrices per held-out split; training curves, graph-size profile,
    parameters and the commands that reproduce it."""
    from canids_data import CanidsDataError
    from canids_models import ArtifactError, ArtifactStore, write_run_report

    try:
        store = ArtifactStore(runs_dir, run_name)
        report = store.path(dataset, size, "results", "report.html")
        sources = [
            store.path(dataset, size, "results", "metrics.json"),
            store.path(dataset, size, "results", "scores.npz"),
        ]
        missing = [str(p) for p in sources if not p.is_file()]
        if missing:
            raise ArtifactError(
                f"{', '.join(missing)} missing: the report draws the evaluate stage's results; "
                f"run `canids-train evaluate --dataset {dataset} --size {size} --run {run_name}`"
            )
        newest = max(p.stat().st_mtime for p in sources)
        if not force and report.is_file() and report.stat().st_mtime >= newest:
            click.echo("up to date (newer than the evaluate stage's results; --force rebuilds)")
        else:
            report = write_run_report(
                store,
                dataset,
                size,
                cache_dir=cache_dir,
                check_sources=not no_source_check,
                on_warning=lambda text: click.echo(f"warning: {text}", err=True),
            )
    except (CanidsError, CanidsDataError) as exc:
        fail(exc)
    click.echo(f"report: {report}")
