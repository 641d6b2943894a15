"""Ranked fixes for a failed job: rules that know each failure type, ranked by how often
each fix worked before for that type (Laplace-smoothed, so an untried fix is 1/2 and one
that worked 3 of 4 times is 4/6).

Each suggestion carries the concrete overrides a resubmitter applies — SLURM resources
(``memory``, ``walltime``, ``exclude``) and stage config (``--set section.key=value``) —
the stage to (re)run from, and the command line for a person.
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from typing import Any

from canids_models.catalog import PIPELINES, STAGES
from canids_models.config import BatchingConfig
from canids_models.resources import format_memory, format_walltime, parse_memory, parse_walltime

from .classify import Classification
from .history import History
from .rules import FailureType

__all__ = ["FailedJob", "Suggestion", "suggest"]


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


@dataclass(frozen=True)
class Suggestion:
    fix_id: str
    description: str
    command: str
    stage: str  # the stage to (re)run; its dependants follow when resubmitted as a pipeline
    resources: dict[str, str] = field(default_factory=dict)
    config: dict[str, str] = field(default_factory=dict)  # --set section.key=value
    source: str = "rule"  # rule | history
    succeeded: int = 0
    attempts: int = 0

    @property
    def score(self) -> float:
        """Laplace-smoothed success rate: (k + 1) / (n + 2)."""
        return (self.succeeded + 1) / (self.attempts + 2)

    @property
    def track_record(self) -> str:
        if not self.attempts:
            return "never tried"
        return f"succeeded {self.succeeded} of {self.attempts}"

    @property
    def params(self) -> dict[str, Any]:
        """What the history stores with an attempt of this fix."""
        return {"stage": self.stage, "resources": self.resources, "config": self.config}

    def to_json(self) -> dict[str, Any]:
        return {
            "fix_id": self.fix_id,
            "description": self.description,
            "command": self.command,
            **self.params,
            "source": self.source,
            "succeeded": self.succeeded,
            "attempts": self.attempts,
            "score": round(self.score, 4),
            "track_record": self.track_record,
        }


def _rerun(job: FailedJob, stage: str, resources: dict[str, str], config: dict[str, str]) -> str:
    """``canids-submit`` from ``stage`` when the pipeline is known, else ``canids-train``."""
    sets = [a for k, v in config.items() for a in ("--set", f"{k}={v}")]
    if job.pipeline in PIPELINES:
        args = ["canids-submit", "pipeline", job.pipeline, "--dataset", job.dataset]
        args += ["--size", job.size, "--executor", "slurm", "--from-stage", stage]
        if resources:
            spec = ",".join(f"{'mem' if k == 'memory' else k}={v}" for k, v in resources.items())
            args += ["--stage-resources", f"{stage}:{spec}"]
        return shlex.join(args + sets)
    args = ["canids-train", stage, "--dataset", job.dataset, "--size", job.size]
    return shlex.join(args + sets)


def _rules(job: FailedJob) -> list[Suggestion]:
    kind, stage, facts = job.cause.type, job.stage, job.cause.facts
    spec = STAGES[stage].resources if stage in STAGES else None
    out: list[Suggestion] = []
    if kind == FailureType.CUDA_OOM:
        budget = job.budget or BatchingConfig().budget
        config = {"batching.budget": str(max(1, budget // 2))}
        out.append(
            Suggestion(
                "halve-budget",
                f"halve the batching node budget ({budget} → "
                f"{config['batching.budget']}) so each batch needs about half "
                "the GPU memory",
                _rerun(job, stage, {}, config),
                stage,
                config=config,
            )
        )
        cmd = shlex.join(["canids-profile", "--dataset", job.dataset])
        out.append(
            Suggestion(
                "profile-budget",
                "profile the cache's graph sizes and rerun with "
                "the budget canids-profile recommends",
                cmd,
                stage,
            )
        )
    elif kind == FailureType.HOST_OOM:
        had = job.memory or (spec.memory if spec else "16G")
        had = had + "M" if had.isdigit() else had  # SLURM reads a bare number as megabytes
        resources = {"memory": format_memory(parse_memory(had) * 2)}
        out.append(
            Suggestion(
                "double-memory",
                f"double the job's memory ({had} → {resources['memory']})",
                _rerun(job, stage, resources, {}),
                stage,
                resources=resources,
            )
        )
    elif kind == FailureType.TIMEOUT:
        had = job.walltime or (spec.walltime if spec else "02:00:00")
        resources = {"walltime": format_walltime(parse_walltime(had) * 3 // 2)}
        out.append(
            Suggestion(
                "extend-walltime",
                f"walltime ×1.5 ({had} → {resources['walltime']}) and restart from {stage}",
                _rerun(job, stage, resources, {}),
                stage,
                resources=resources,
            )
        )
    elif kind == FailureType.MISSING_UPSTREAM_ARTIFACT:
        # One per missing artifact: preflight names every one with the command that makes it.
        for cmd in facts.get("commands", "").splitlines() or [""]:
            producer, command = _producer(job, cmd)
            out.append(
                Suggestion(
                    "run-producer",
                    f"run {producer}, which makes the missing artifact, then {stage}",
                    command,
                    producer,
                )
            )
    elif kind == FailureType.MISSING_OR_STALE_CACHE:
        cmd = facts.get("command") or shlex.join(
            ["canids-cache", "build", "--dataset", job.dataset]
        )
        out.append(
            Suggestion(
                "build-cache",
                f"(re)build the graph cache of {job.dataset} "
                f"({facts.get('status', 'missing or stale')}), then rerun {stage}",
                cmd,
                stage,
            )
        )
    elif kind in (FailureType.NODE_FAIL, FailureType.GPU_RUNTIME) and job.node:
        resources = {"exclude": job.node}
        out.append(
            Suggestion(
                "exclude-node",
                f"rerun {stage} away from {job.node}",
                _rerun(job, stage, resources, {}),
                stage,
                resources=resources,
            )
        )
    if kind in (
        FailureType.NODE_FAIL,
        FailureType.PREEMPTED,
        FailureType.GPU_RUNTIME,
        FailureType.CANCELLED,
        FailureType.DEPENDENCY_NEVER_SATISFIED,
        FailureType.NO_STAGE_RESULT,
        FailureType.ARTIFACTS_MISSING,
    ):
        out.append(
            Suggestion(
                "resubmit",
                f"resubmit {stage} unchanged (once its parents are "
                "done, for a dependency never satisfied)",
                _rerun(job, stage, {}, {}),
                stage,
            )
        )
    if not out:  # python_exception, unknown: a person has to read it
        where = job.cause.facts.get("last_frame") or job.cause.evidence_line
        out.append(
            Suggestion("investigate", f"no automatic fix for {kind}: read {where}", "", stage)
        )
    return out


def _producer(job: FailedJob, cmd: str) -> tuple[str, str]:
    """The stage that makes a missing artifact, and its command. Of several producers
    (``gat`` or ``gat_curriculum``) preflight names the last; the job's pipeline, when
    known, says which one it really uses."""
    words = shlex.split(cmd)
    named = words[1] if len(words) > 1 and words[1] in STAGES else None
    if named is None:
        return job.stage, _rerun(job, job.stage, {}, {})
    if job.pipeline in PIPELINES:
        key = STAGES[named].produces
        for name in PIPELINES[job.pipeline].stages:
            if STAGES[name].produces == key and name != named:
                return name, shlex.join([words[0], name, *words[2:]])
    return named, cmd


def suggest(job: FailedJob, history: History | None = None) -> list[Suggestion]:
    """Rule suggestions for ``job``'s failure, plus fixes the history tried on this failure
    type, best first: by smoothed past success, then the rules' own order."""
    rules = _rules(job)
    stats = {s.fix_id: s for s in history.fix_stats(str(job.cause.type))} if history else {}
    ranked = []
    for s in rules:
        st = stats.pop(s.fix_id, None)
        ranked.append(s if st is None else _with(s, st.succeeded, st.attempts))
    for fix_id, st in stats.items():  # fixes someone applied that no rule knows
        assert history is not None
        params = history.last_params(str(job.cause.type), fix_id)
        stage = str(params.get("stage") or job.stage)
        res, cfg = dict(params.get("resources", {})), dict(params.get("config", {}))
        ranked.append(
            Suggestion(
                fix_id,
                f"fix {fix_id!r} from the history (last parameters)",
                _rerun(job, stage, res, cfg),
                stage,
                res,
                cfg,
                "history",
                st.succeeded,
                st.attempts,
            )
        )
    order = {id(s): i for i, s in enumerate(ranked)}
    return sorted(ranked, key=lambda s: (-s.score, order[id(s)]))


def _with(s: Suggestion, succeeded: int, attempts: int) -> Suggestion:
    return dataclasses.replace(s, succeeded=succeeded, attempts=attempts)
