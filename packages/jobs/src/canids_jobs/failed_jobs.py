"""A failed stage as remediation sees it, on any executor, and the command that reruns it.

A SLURM job is read from the ledger (its resources, script, pipeline); a local or Ray
stage has no ledger row, so it is read from the failure history, which keeps the
:class:`canids_core.StageResult` the failure was classified from.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canids_core import StageResult
from canids_models.artifacts import ArtifactStore
from canids_models.catalog import PIPELINES, STAGES

from .classification import Classification
from .errors import JobsError
from .stage_script import EXEC, exec_line

__all__ = [
    "FailedJob",
    "failed_job",
    "option_values",
    "rerun_command",
    "settings_unknown",
    "submitted_settings",
]


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
    script: str | None = None  # a SLURM job's sbatch script, from the ledger


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


# The canids-train arguments a rerun repeats: those that make the stage's config, and the
# cache it read (a rerun without it reads $CANIDS_CACHE_DIR or ./cache). The runs folder
# and run name are the job's own fields; the rest name logs.
_SETTINGS = ("--config", "--set", "--workers", "--cache-dir")


def _recorded_command(job: FailedJob) -> tuple[str | None, str | None]:
    """The ``canids-train`` command the job ran: a SLURM job's from its script's ``exec``
    line, a local or Ray stage's from its pipeline's run record; or why there is none
    (None, None: nothing to look up, a SLURM job of no known script or a stage of no known
    pipeline)."""
    if job.executor == "slurm":
        return _script_command(job.script) if job.script is not None else (None, None)
    if job.pipeline is None or job.runs_dir is None:
        return None, None
    path = ArtifactStore(job.runs_dir, job.run).pipeline_record(job.dataset, job.pipeline, job.size)
    if not path.is_file():
        return None, f"there is no run record {path}"
    try:
        stages = json.loads(path.read_text()).get("stages", [])
    except (OSError, ValueError) as exc:
        raise JobsError(f"{path}: the pipeline's run record cannot be read ({exc})") from exc
    command = next((s.get("command") for s in stages if s.get("job_id") == job.job_id), None)
    if not command:
        return None, (
            f"the run record {path} no longer holds job {job.job_id} (the pipeline was "
            "submitted again since)"
        )
    return command, None


def _script_command(script: str) -> tuple[str | None, str | None]:
    path = Path(script)
    if not path.is_file():
        return None, f"the job script {path} is gone"
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise JobsError(f"{path}: the job script cannot be read ({exc})") from exc
    at = exec_line(lines)
    if at is None:
        return None, f"the job script {path} has no exec canids-train line"
    return lines[at][len(EXEC) :], None


def submitted_settings(job: FailedJob) -> list[str]:
    """The ``--config``, ``--set``, ``--workers`` and ``--cache-dir`` arguments the job's
    stage ran with: a SLURM job's from its script (the ledger's), a local or Ray stage's
    from its pipeline's run record (the ``canids-train`` command of the entry with the
    job's id). Empty where neither is known, or the record no longer holds the job
    (:func:`settings_unknown` says why)."""
    command, _ = _recorded_command(job)
    if not command:
        return []
    return [word for pair in option_values(shlex.split(command), _SETTINGS) for word in pair]


def option_values(words: Sequence[str], flags: Collection[str]) -> list[tuple[str, str]]:
    """``(flag, value)`` of each of ``flags`` in a command's ``words``, in order (a value
    is never read as a flag)."""
    pairs, i = [], 0
    while i < len(words) - 1:
        if words[i] in flags:
            pairs.append((words[i], words[i + 1]))
            i += 2
        else:
            i += 1
    return pairs


def settings_unknown(job: FailedJob) -> str | None:
    """Why a rerun command cannot repeat the settings the job ran with (its pipeline's run
    record or its SLURM script is gone, or the record was overwritten), or None when it
    can or there is nothing to look up."""
    return _recorded_command(job)[1]


def rerun_command(
    job: FailedJob, stage: str, resources: Mapping[str, str], config: Mapping[str, str]
) -> str:
    """``canids-submit`` from ``stage`` on the job's executor when its pipeline is known,
    else ``canids-train``. SLURM resources go to ``--stage-resources``; Ray takes
    ``--memory``; the local executor takes none (its rules never ask for any). The rerun
    repeats the settings the stage ran with (:func:`submitted_settings`), the fix's
    ``config`` after them, so that it wins and the rest of the config stays."""
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
