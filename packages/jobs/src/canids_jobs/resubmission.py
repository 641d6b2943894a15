"""Resubmitting a failed stage with a fix, and its dependants after it.

The jobs come back from their own scripts: the failed one with the fix applied (new
``--mem``/``--time`` lines, extra ``--set`` items on its ``canids-train`` line), its
dependants unchanged but chained to the new ids. The fix is recorded as a remediation
of the job's failure; when ``canids-jobs status`` later sees the new job end, the
remediation's outcome (and so the fix's success count) is set.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from canids_core import CoreError, atomic_write_text, parse_memory, parse_slurm_time

from .errors import JobsError, ResourcesError
from .history import History
from .ledger import Ledger, LedgerJob
from .remediate import Suggestion
from .slurm import sbatch
from .stage_script import EXEC, exec_line

__all__ = ["apply_fix", "downstream", "resubmit"]


def downstream(jobs: list[LedgerJob], start: str) -> list[LedgerJob]:
    """``start`` and every job that (transitively) waits for it, in submission order."""
    chosen = {start}
    for job in jobs:  # submission order: parents come before their children
        if any(p in chosen for p in job.parents):
            chosen.add(job.job_id)
    return [j for j in jobs if j.job_id in chosen]


def apply_fix(script: str, resources: Mapping[str, str], config: Mapping[str, str]) -> str:
    """``script`` with ``resources`` (memory, walltime) and ``config`` (``--set``) applied."""
    lines = script.splitlines()
    for key, value in resources.items():
        if key in ("memory", "walltime"):
            try:
                parse_memory(value) if key == "memory" else parse_slurm_time(value)
            except CoreError as exc:
                raise ResourcesError(f"fix resource {key}={value!r}: {exc}") from exc
        if key == "memory":
            lines = [
                f"#SBATCH --mem={value}" if x.startswith("#SBATCH --mem=") else x for x in lines
            ]
        elif key == "walltime":
            lines = [
                f"#SBATCH --time={value}" if x.startswith("#SBATCH --time=") else x for x in lines
            ]
        elif key == "exclude":
            if not re.fullmatch(r"[A-Za-z0-9_.,\[\]-]+", value):
                raise JobsError(f"exclude {value!r} is not a SLURM node list")
            at = max(i for i, x in enumerate(lines) if x.startswith("#SBATCH"))
            lines.insert(at + 1, f"#SBATCH --exclude={value}")
        else:
            raise JobsError(f"cannot apply resource {key!r} to a job script")
    if config:
        at = exec_line(lines)
        if at is None:
            raise JobsError("the job script has no exec canids-train line to add --set to")
        words = shlex.split(lines[at][len(EXEC) :])
        for key, value in config.items():
            words += ["--set", f"{key}={value}"]
        lines[at] = EXEC + shlex.join(words)
    return "\n".join(lines) + "\n"


def resubmit(
    ledger: Ledger,
    history: History,
    job_id: str,
    fix: Suggestion,
    *,
    env: Mapping[str, str] | None = None,
    echo: Callable[[str], None] = lambda _line: None,
) -> list[LedgerJob]:
    failed = ledger.job(job_id)
    event = history.failure_for_job(job_id)
    if failed is None and event is not None and event["executor"] != "slurm":
        # A local or Ray stage has no script to resubmit; its fix is a command to run.
        raise JobsError(
            f"job {job_id} ran on the {event['executor']} executor: resubmit --apply "
            f"resubmits SLURM jobs only; run the fix's command instead: {fix.command}"
        )
    if failed is None:
        raise JobsError(f"job {job_id} is not in the ledger {ledger.path}")
    if event is None:
        raise JobsError(
            f"job {job_id} has no recorded failure: run `canids-jobs status "
            f"{failed.pipeline_id}` once it has ended, then resubmit"
        )
    if fix.stage != failed.stage:
        raise JobsError(
            f"fix {fix.fix_id} reruns stage {fix.stage}, not {failed.stage}: run its "
            f"command instead: {fix.command}"
        )
    chain = downstream(ledger.jobs(failed.pipeline_id), job_id)
    new_ids: dict[str, str] = {}
    out: list[LedgerJob] = []
    for old in chain:
        text = Path(old.script).read_text()
        if old.job_id == job_id:
            text = apply_fix(text, fix.resources, fix.config)
        path = Path(old.script).with_name(f"{old.stage}.resubmit-{old.job_id}.sbatch")
        atomic_write_text(path, text)
        parents = [new_ids[p] for p in old.parents if p in new_ids]
        new_id = sbatch(path, dependency_ids=parents, kill_on_invalid_dep=True, env=env)
        new_ids[old.job_id] = new_id
        row = replace(
            old,
            job_id=new_id,
            script=str(path),
            submitted_at=time.time(),
            parents=tuple(parents),
            resubmit_of=old.job_id,
            remediation_id=None,
        )
        ledger.add(row)
        out.append(row)
        echo(f"resubmitted {old.stage} (was {old.job_id}) as job {new_id}")
    rid = history.record_remediation(
        int(event["id"]),
        fix.fix_id,
        {"stage": fix.stage, "resources": fix.resources, "config": fix.config},
        new_job_id=new_ids[job_id],
    )
    ledger.set_remediation(new_ids[job_id], rid)
    return out
