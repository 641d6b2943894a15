"""Ranked fixes for a failed job: rules that know each failure type, ranked by how often
each fix worked before for that type (Laplace-smoothed, so an untried fix is 1/2 and one
that worked 3 of 4 times is 4/6).

Each suggestion carries the concrete overrides a resubmitter applies — SLURM resources
(``memory``, ``walltime``, ``exclude``) and stage config (``--set section.key=value``) —
the stage to (re)run from, and the command line for a person. A local or Ray failure gets
the fixes its executor can apply (no SLURM memory or walltime on a laptop) and a
``canids-submit --executor local|ray`` command.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from canids_core import format_memory, format_slurm_time, parse_memory, parse_slurm_time
from canids_models.catalog import PIPELINES, STAGES
from canids_models.config import BatchingConfig

from .failed_jobs import FailedJob, failed_job, option_values, producer, rerun_command
from .history import History
from .rules import FailureType

__all__ = ["FailedJob", "Suggestion", "failed_job", "suggest"]


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


def _rules(job: FailedJob) -> list[Suggestion]:
    kind, stage, facts = job.cause.type, job.stage, job.cause.facts
    spec = STAGES[stage].resources if stage in STAGES else None
    slurm = job.executor == "slurm"
    out: list[Suggestion] = []
    # On this machine there is no memory to ask for: a smaller batch is the fix.
    local_oom = kind == FailureType.HOST_OOM and job.executor == "local"
    if kind == FailureType.CUDA_OOM or local_oom:
        budget = job.budget or BatchingConfig().budget
        config = {"batching.budget": str(max(1, budget // 2))}
        memory = "host memory of this machine" if local_oom else "GPU memory"
        out.append(
            Suggestion(
                "halve-budget",
                f"halve the batching node budget ({budget} → "
                f"{config['batching.budget']}) so each batch needs about half "
                f"the {memory}",
                rerun_command(job, stage, {}, config),
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
        had = job.memory or (spec.slurm_memory if spec else "16G")
        had = had + "M" if had.isdigit() else had  # SLURM reads a bare number as megabytes
        resources = {"memory": format_memory(parse_memory(had) * 2)}
        out.append(
            Suggestion(
                "double-memory",
                f"double the job's memory ({had} → {resources['memory']})",
                rerun_command(job, stage, resources, {}),
                stage,
                resources=resources,
            )
        )
    elif kind == FailureType.TIMEOUT and job.executor == "slurm":
        had = job.walltime or (spec.slurm_time if spec else "02:00:00")
        resources = {"walltime": format_slurm_time(_seconds(had) * 3 // 2)}
        out.append(
            Suggestion(
                "extend-walltime",
                f"walltime ×1.5 ({had} → {resources['walltime']}) and restart from {stage}",
                rerun_command(job, stage, resources, {}),
                stage,
                resources=resources,
            )
        )
    elif kind == FailureType.MISSING_UPSTREAM_ARTIFACT:
        # One per missing artifact: preflight names every one with the command that makes it.
        for cmd in facts.get("commands", "").splitlines() or [""]:
            maker, command = producer(job, cmd)
            out.append(
                Suggestion(
                    "run-producer",
                    f"run {maker}, which makes the missing artifact, then {stage}",
                    command,
                    maker,
                )
            )
    elif kind == FailureType.UPSTREAM_ARTIFACT_OF_ANOTHER_LINEAGE:
        out += _remake_inputs(job, facts)
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
    elif kind in (FailureType.NODE_FAIL, FailureType.GPU_RUNTIME) and job.node and slurm:
        resources = {"exclude": job.node}
        out.append(
            Suggestion(
                "exclude-node",
                f"rerun {stage} away from {job.node}",
                rerun_command(job, stage, resources, {}),
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
                rerun_command(job, stage, {}, {}),
                stage,
            )
        )
    if not out:  # python_exception, unknown, a refusal naming no fix: a person reads it
        where = job.cause.facts.get("last_frame") or job.cause.evidence_line
        out.append(
            Suggestion("investigate", f"no automatic fix for {kind}: read {where}", "", stage)
        )
    return out


def _remake_inputs(job: FailedJob, facts: Mapping[str, str]) -> list[Suggestion]:
    """One fix per refused input (none where the log names no command): make it again as
    the failed stage's run describes it, from its producer on, where the job's pipeline is
    known (so every artifact made from it is made again too), else the refusal's own
    ``canids-train`` command."""
    out = []
    for cmd in facts.get("commands", "").splitlines():
        maker, command = producer(job, cmd)
        options = option_values(shlex.split(command), ("--size", "--set"))
        size = next((v for flag, v in options if flag == "--size"), job.size)
        config = dict(v.split("=", 1) for flag, v in options if flag == "--set" and "=" in v)
        if job.pipeline in PIPELINES and size == job.size:
            command = rerun_command(job, maker, {}, config)
        else:  # another size's artifact (a student's teacher) is not in the job's pipeline
            config = {}
        out.append(
            Suggestion(
                "remake-input",
                f"make {STAGES[maker].produces} ({size}) again from {maker} on, as this "
                f"run describes it, then {job.stage}",
                command,
                maker,
                config=config,
            )
        )
    if out and facts.get("adopt"):  # the other way round: a person's choice, not a rerun
        first = out[0]
        out[0] = dataclasses.replace(
            first,
            description=f"{first.description} (or rerun {job.stage} and what follows it "
            f"with the values {facts.get('artifact')} was made under: {facts['adopt']})",
        )
    return out  # none where the log names no command: the rules' "investigate" follows


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
                rerun_command(job, stage, res, cfg),
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


def _seconds(text: str) -> int:
    seconds = parse_slurm_time(text)
    assert seconds is not None  # a job's --time is finite
    return seconds


def _with(s: Suggestion, succeeded: int, attempts: int) -> Suggestion:
    return dataclasses.replace(s, succeeded=succeeded, attempts=attempts)
