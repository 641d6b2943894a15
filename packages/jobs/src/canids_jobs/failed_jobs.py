"""A failed stage as remediation sees it, on any executor, and the command that reruns it.

A SLURM job is read from the ledger (its resources, script, pipeline); a local or Ray
stage has no ledger row, so it is read from the failure history, which keeps the
:class:`canids_core.StageResult` the failure was classified from.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from canids_core import StageResult
from canids_models.artifacts import ArtifactStore
from canids_models.catalog import PIPELINES, STAGES

from .classification import Classification
from .errors import JobsError

__all__ = ["FailedJob", "failed_job", "rerun_command", "submitted_settings"]


@dataclass(frozen=True)
class FailedJob:
    """What a suggestion needs to know of the job; resources default to the catalogue's."""

    job_id: str
    stage: str
    dataset: str
    size: str
    cause: Classification
    memory: str | None = None  # SLURM --mem the job had
    walltime: str | None = None  # SLURM --time the job had
    budget: int | None = None  # batching.budget in effect
    pipeline: str | None = None  # the pipeline it belonged to, when known
    node: str | None = None
    executor: str = "slurm"  # slurm | local | ray: how a rerun is started
    run: str = "default"
    runs_dir: str | None = None  # where its artifacts are (local and Ray reruns name it)


def failed_job(event: Mapping[str, Any], *, runs_dir: str | None = None) -> FailedJob:
    """A local or Ray failure from its history event (``History.failure_for_job``)."""
    if event.get("result") is None:
        raise JobsError(
            f"job {event['job_id']} ({event.get('executor')}) has no stage result in the "
            "history: it was recorded before canids-jobs 0.2; rerun its pipeline"
        )
    result = StageResult.from_json(event["result"])
    if result.failure is None:
        raise JobsError(f"job {event['job_id']}: its recorded stage result has no failure class")
    return FailedJob(
        job_id=str(event["job_id"]),
        stage=result.stage,
        dataset=result.dataset,
        size=result.size,
        cause=Classification.from_failure(result.failure),
        pipeline=result.pipeline,
        node=result.node,
        executor=result.executor,
        run=result.run,
        runs_dir=runs_dir,
    )


# The canids-train arguments that make a stage's config (the rest name places and logs).
_SETTINGS = ("--config", "--set", "--workers")


def submitted_settings(job: FailedJob) -> list[str]:
    """The ``--config``, ``--set`` and ``--workers`` arguments a local or Ray stage ran
    with, from its pipeline's run record (the ``canids-train`` command of the entry with
    the job's id). Empty for a SLURM job (its script is resubmitted as it was) and where
    the record no longer holds the job (the pipeline was submitted again since)."""
    if job.executor == "slurm" or job.pipeline is None or job.runs_dir is None:
        return []
    path = ArtifactStore(job.runs_dir, job.run).pipeline_record(job.dataset, job.pipeline, job.size)
    if not path.is_file():
        return []
    try:
        stages = json.loads(path.read_text()).get("stages", [])
    except (OSError, ValueError) as exc:
        raise JobsError(f"{path}: the pipeline's run record cannot be read ({exc})") from exc
    command = next((s.get("command") for s in stages if s.get("job_id") == job.job_id), None)
    if not command:
        return []
    words, settings, i = shlex.split(command), [], 0
    while i < len(words) - 1:
        if words[i] in _SETTINGS:
            settings += words[i : i + 2]
            i += 2
        else:
            i += 1
    return settings


def rerun_command(
    job: FailedJob, stage: str, resources: Mapping[str, str], config: Mapping[str, str]
) -> str:
    """``canids-submit`` from ``stage`` on the job's executor when its pipeline is known,
    else ``canids-train``. SLURM resources go to ``--stage-resources``; Ray takes
    ``--memory``; the local executor takes none (its rules never ask for any). A local or
    Ray rerun repeats the settings the stage ran with (:func:`submitted_settings`), the
    fix's ``config`` after them, so that it wins and the rest of the config stays."""
    sets = [
        *submitted_settings(job),
        *(a for k, v in config.items() for a in ("--set", f"{k}={v}")),
    ]
    where = []
    if job.executor != "slurm":  # the ledger knows a SLURM job's runs; a person needs these
        if job.run != "default":
            where += ["--run", job.run]
        if job.runs_dir is not None:
            where += ["--runs-dir", job.runs_dir]
    if job.pipeline in PIPELINES:
        args = ["canids-submit", "pipeline", job.pipeline, "--dataset", job.dataset]
        args += ["--size", job.size, "--executor", job.executor, "--from-stage", stage, *where]
        if resources and job.executor == "slurm":
            spec = ",".join(f"{'mem' if k == 'memory' else k}={v}" for k, v in resources.items())
            args += ["--stage-resources", f"{stage}:{spec}"]
        elif "memory" in resources and job.executor == "ray":
            args += ["--memory", resources["memory"]]
        return shlex.join(args + sets)
    args = ["canids-train", stage, "--dataset", job.dataset, "--size", job.size, *where]
    return shlex.join(args + sets)


def producer(job: FailedJob, cmd: str) -> tuple[str, str]:
    """The stage that makes a missing artifact, and its command. Of several producers
    (``gat`` or ``gat_curriculum``) preflight names the last; the job's pipeline, when
    known, says which one it really uses."""
    words = shlex.split(cmd)
    named = words[1] if len(words) > 1 and words[1] in STAGES else None
    if named is None:
        return job.stage, rerun_command(job, job.stage, {}, {})
    if job.pipeline in PIPELINES:
        key = STAGES[named].produces
        for name in PIPELINES[job.pipeline].stages:
            if STAGES[name].produces == key and name != named:
                return name, shlex.join([words[0], name, *words[2:]])
    return named, cmd
