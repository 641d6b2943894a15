"""``canids-jobs remediate`` and ``resubmit``: ranked fixes for a failed job (SLURM, local
or Ray), and a SLURM job resubmitted with one of them and its dependants."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from canids_core import CanidsError

from ._console import fail
from ._jobs_store import jobs_dirs, runs_option

if TYPE_CHECKING:
    from canids_jobs import FailedJob, History, Ledger

__all__ = ["remediate", "resubmit_cmd"]


def _failed_job(ledger: Ledger, history: History, job_id: str, runs_dir: Path) -> FailedJob:
    """A failed job to remediate: a SLURM job from the ledger (its status asked of SLURM
    now), a local or Ray stage from the history."""
    from canids_jobs import FailedJob, JobsError, failed_job, job_statuses, record_outcomes

    job = ledger.job(job_id)
    if job is None:
        event = history.failure_for_job(job_id)
        if event is not None and event["executor"] != "slurm":
            return failed_job(event, runs_dir=str(runs_dir))
        raise JobsError(
            f"job {job_id} is neither in the ledger {ledger.path} nor a local or Ray failure "
            f"in {history.path}: `canids-jobs analyze` lists the recorded failures"
        )
    (st,) = job_statuses([job])
    record_outcomes(history, [st], ledger)  # the failure a remediation will point at
    if st.outcome is None:
        raise JobsError(f"job {job_id} has not ended ({st.state}); wait, then ask again")
    if st.outcome.completed or st.outcome.cause is None:
        raise JobsError(f"job {job_id} completed: nothing to remediate")
    res: dict[str, Any] = job.resources
    return FailedJob(
        job_id=job_id,
        stage=job.stage,
        dataset=job.dataset,
        size=job.size,
        cause=st.outcome.cause,
        memory=res.get("memory"),
        walltime=res.get("walltime"),
        pipeline=job.pipeline,
        node=st.outcome.node,
        script=job.script,
    )


@click.command()
@click.argument("job_id")
@runs_option
@click.option("--json", "as_json", is_flag=True)
def remediate(job_id: str, runs_dir: Path | None, as_json: bool) -> None:
    """Ranked fixes for failed JOB_ID (SLURM, local or Ray): rules, and how often each
    worked before."""
    from canids_jobs import settings_unknown, suggest

    try:
        ledger, history = jobs_dirs(runs_dir)
        failed = _failed_job(ledger, history, job_id, ledger.path.parent.parent)
        fixes = suggest(failed, history)
        unknown = settings_unknown(failed)
    except CanidsError as exc:
        fail(exc)
    note = unknown and (
        f"note: {unknown}: these commands repeat none of the settings the job ran with; "
        "add its --config, --set, --workers and --cache-dir, or they run the preset's config"
    )
    if as_json:
        if note:  # stdout stays the fixes' JSON
            click.echo(note, err=True)
        click.echo(json.dumps([f.to_json() for f in fixes], indent=2))
        return
    where = "" if failed.executor == "slurm" else f", {failed.executor} executor"
    click.echo(f"job {job_id} ({failed.stage}{where}): {failed.cause.type}: {failed.cause.detail}")
    for n, fix in enumerate(fixes, 1):
        click.echo(f"  {n}. [{fix.fix_id}] {fix.description} ({fix.track_record})")
        if fix.command:
            click.echo(f"     {fix.command}")
    if note:
        click.echo(note)
    if failed.executor == "slurm":
        click.echo(f"apply one: canids-jobs resubmit {job_id} --apply N")
    else:
        click.echo("apply one: run its command (resubmit --apply resubmits SLURM jobs only)")


@click.command("resubmit")
@click.argument("job_id")
@click.option("--apply", "choice", type=int, required=True, help="The fix's number.")
@runs_option
def resubmit_cmd(job_id: str, choice: int, runs_dir: Path | None) -> None:
    """Resubmit failed SLURM job JOB_ID with fix N (from `remediate`), and its dependants.

    A local or Ray failure is refused with the fix's command to run instead."""
    from canids_jobs import JobsError, resubmit, suggest

    try:
        ledger, history = jobs_dirs(runs_dir)
        failed = _failed_job(ledger, history, job_id, ledger.path.parent.parent)
        fixes = suggest(failed, history)
        if not 1 <= choice <= len(fixes):
            raise JobsError(f"--apply {choice}: choose 1..{len(fixes)} (canids-jobs remediate)")
        fix = fixes[choice - 1]
        rows = resubmit(ledger, history, job_id, fix, echo=click.echo)
    except CanidsError as exc:
        fail(exc)
    click.echo(f"applied [{fix.fix_id}]; follow it with: canids-jobs status {rows[0].pipeline_id}")
