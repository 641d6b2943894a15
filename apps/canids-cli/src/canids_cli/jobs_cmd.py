"""``canids-jobs``: what really completed, why stages failed, and fixes that learn.

SLURM jobs come from the ledger; local and Ray stages (run by ``canids-submit``) are in
the same failure history, so ``analyze`` and ``remediate`` cover every executor. The
ledger and the history live in ``<runs dir>/jobs/``.

``status``, ``list``, ``analyze`` and ``--help`` import the ledger, SLURM and history code
only (never torch, torch_geometric, zarr or ray): each command imports what it uses.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import click
from canids_core import CanidsError, format_table

from ._console import fail
from ._jobs_store import jobs_dirs, latest_attempts, runs_option
from .jobs_fixes import remediate, resubmit_cmd

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Jobs of canids pipelines: status, parse, report, analyze, remediate, resubmit, cancel.

    SLURM jobs come from the ledger; analyze and remediate also cover local and Ray
    stages run by canids-submit.
    """


@main.command("list")
@runs_option
def list_cmd(runs_dir: Path | None) -> None:
    """Pipelines in the ledger, oldest first."""
    try:
        ledger, _ = jobs_dirs(runs_dir)
        for pid in ledger.pipelines():
            jobs = ledger.jobs(pid)
            click.echo(f"{pid}  {len(jobs)} jobs  {', '.join(j.stage for j in jobs)}")
    except CanidsError as exc:
        fail(exc)


@main.command()
@click.argument("pipeline", required=False)
@runs_option
@click.option("--json", "as_json", is_flag=True)
def status(pipeline: str | None, runs_dir: Path | None, as_json: bool) -> None:
    """Per job and per stage: what SLURM, the result line and the artifacts say."""
    from canids_jobs import JobsError, job_statuses, record_outcomes, summarize

    try:
        ledger, history = jobs_dirs(runs_dir)
        ids = ledger.pipelines()
        if not ids:
            raise JobsError(f"the ledger {ledger.path} is empty: nothing was submitted")
        pid = pipeline or ids[-1]
        jobs = latest_attempts(ledger.jobs(pid))
        if not jobs:
            raise JobsError(f"pipeline {pid} is not in {ledger.path}; known: {', '.join(ids)}")
        statuses = job_statuses(jobs)
        resolved = record_outcomes(history, statuses, ledger)
    except CanidsError as exc:
        fail(exc)
    summary = summarize(s.outcome for s in statuses if s.outcome is not None)
    if as_json:
        click.echo(
            json.dumps(
                {"pipeline_id": pid, "jobs": [s.to_json() for s in statuses]}
                | {"summary": summary.to_json()},
                indent=2,
                default=str,
            )
        )
        return
    rows = []
    for s in statuses:
        o = s.outcome
        verdict = "running" if o is None else "completed" if o.completed else "not completed"
        cause = "" if o is None or o.cause is None else str(o.cause.type)
        source = s.record.source if s.record else "output file"
        rows.append([s.job.job_id, s.job.stage, f"{s.state} ({source})", verdict, cause])
    click.echo(f"pipeline {pid}")
    click.echo(format_table(["job", "stage", "SLURM state", "verdict", "cause"], rows))
    click.echo(summary.table())
    if resolved:
        click.echo(f"closed {resolved} remediation(s): see canids-jobs analyze")


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@runs_option
@click.option("--since", default=None, help="Ledger mode: jobs submitted since (YYYY-MM-DD).")
@click.option("--artifacts-root", default=None, help="Folder mode: the runs folder to check.")
@click.option("--json", "as_json", is_flag=True)
def parse(
    folder: Path | None,
    runs_dir: Path | None,
    since: str | None,
    artifacts_root: str | None,
    as_json: bool,
) -> None:
    """Completion figures from a FOLDER of SLURM outputs, or from the ledger."""
    from canids_jobs import JobsError, job_statuses, parse_folder, record_outcomes, summarize

    try:
        if folder is not None:
            summary = parse_folder(folder, artifacts_root=artifacts_root)
        else:
            ledger, history = jobs_dirs(runs_dir)
            try:
                start = dt.datetime.fromisoformat(since).timestamp() if since else 0.0
            except ValueError as exc:
                raise JobsError(f"--since {since!r}: write a date, YYYY-MM-DD") from exc
            statuses = job_statuses(latest_attempts(ledger.jobs(since=start)))
            record_outcomes(history, statuses, ledger)
            summary = summarize(s.outcome for s in statuses if s.outcome is not None)
    except CanidsError as exc:
        fail(exc)
    click.echo(json.dumps(summary.to_json(), indent=2) if as_json else summary.table())


@main.command("report")
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@runs_option
@click.option(
    "--pipeline",
    "pipelines",
    multiple=True,
    help="Ledger mode: this pipeline id (repeatable; default: every pipeline).",
)
@click.option("--since", default=None, help="Ledger mode: jobs submitted since (YYYY-MM-DD).")
@click.option("--artifacts-root", default=None, help="Folder mode: the runs folder to check.")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the page (default: FOLDER/report.html, or RUNS/jobs/report.html).",
)
def report_cmd(
    folder: Path | None,
    runs_dir: Path | None,
    pipelines: tuple[str, ...],
    since: str | None,
    artifacts_root: str | None,
    output: Path | None,
) -> None:
    """An HTML page of a set of submissions: jobs over time per stage, started vs completed
    per stage, failure classes and the remediations taken. From a FOLDER of SLURM outputs,
    or from the ledger (with SLURM's times)."""
    from canids_core import atomic_write_text
    from canids_jobs import (
        JobsError,
        folder_resubmissions,
        job_statuses,
        ledger_resubmissions,
        parse_folder,
        record_outcomes,
        render_jobs_report,
        summarize,
    )

    try:
        if folder is not None:
            summary = parse_folder(folder, artifacts_root=artifacts_root)
            if not summary.jobs:
                raise JobsError(f"{folder} holds no .out/.err file of a job: nothing to report")
            text = render_jobs_report(
                summary,
                title=f"canids jobs: {folder.resolve().name}",
                source=f"{len(summary.jobs)} jobs from the output files in {folder.resolve()}",
                resubmissions=folder_resubmissions(summary),
            )
            target = output or folder / "report.html"
        else:
            ledger, history = jobs_dirs(runs_dir)
            try:
                start = dt.datetime.fromisoformat(since).timestamp() if since else 0.0
            except ValueError as exc:
                raise JobsError(f"--since {since!r}: write a date, YYYY-MM-DD") from exc
            jobs = [
                j for j in ledger.jobs(since=start) if not pipelines or j.pipeline_id in pipelines
            ]
            if not jobs:
                raise JobsError(
                    f"no job in the ledger {ledger.path} matches (pipelines: "
                    f"{', '.join(ledger.pipelines()) or 'none'}); see canids-jobs list"
                )
            statuses = job_statuses(jobs)
            record_outcomes(history, statuses, ledger)
            ended = {s.job.job_id: s.outcome for s in statuses if s.outcome is not None}
            latest = {j.job_id for j in latest_attempts(jobs)}
            summary = summarize(o for k, o in ended.items() if k in latest)
            ids = sorted({j.pipeline_id for j in jobs})
            text = render_jobs_report(
                summary,
                title="canids jobs: " + (ids[0] if len(ids) == 1 else f"{len(ids)} submissions"),
                source=f"{len(jobs)} jobs of the ledger {ledger.path} ({len(ended)} ended)",
                submitted_at={j.job_id: j.submitted_at for j in jobs},
                resubmissions=ledger_resubmissions(jobs, ended, history.remediations()),
                attempts=list(ended.values()),
            )
            target = output or ledger.path.parent / "report.html"
        path = atomic_write_text(target, text)
    except CanidsError as exc:
        fail(exc)
    t = summary.total
    click.echo(
        f"{t.submitted} jobs: {t.started} started, {t.completed} completed "
        f"({'n/a' if t.rate is None else f'{100 * t.rate:.1f} %'})"
    )
    click.echo(f"report: {path}")


@main.command("analyze")
@runs_option
@click.option("--days", type=float, default=7.0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def analyze_cmd(runs_dir: Path | None, days: float, as_json: bool) -> None:
    """Failures by type, stage, dataset, executor, node and hour; hot nodes; repeats.

    Local and Ray stages run by canids-submit are counted beside SLURM jobs."""
    from canids_jobs import analyze

    try:
        _, history = jobs_dirs(runs_dir)
        result = analyze(history, days)
    except CanidsError as exc:
        fail(exc)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else result.report())


@main.command()
@click.argument("pipeline")
@runs_option
def cancel(pipeline: str, runs_dir: Path | None) -> None:
    """scancel every job of PIPELINE that the ledger holds (also a half-submitted chain)."""
    from canids_jobs import JobsError, scancel

    try:
        ledger, _ = jobs_dirs(runs_dir)
        jobs = ledger.jobs(pipeline)
        if not jobs:
            raise JobsError(f"pipeline {pipeline} has no jobs in {ledger.path}")
        scancel([j.job_id for j in jobs])
    except CanidsError as exc:
        fail(exc)
    click.echo(f"cancelled {len(jobs)} job(s) of {pipeline}: {' '.join(j.job_id for j in jobs)}")


main.add_command(remediate)
main.add_command(resubmit_cmd)


if __name__ == "__main__":
    sys.exit(main())
