"""One sbatch script per stage, rendered from the stage catalogue and a cluster profile.

Resources come from the catalogue, then global overrides (``--walltime --memory --cpus
--gpus``), then per-stage ones (``--stage-resources gat_curriculum:walltime=16:00:00,
mem=192G``), then the profile's limits; every value is validated, and all of them are one
:class:`canids_core.Resources`. The catalogue and the overrides size one worker: a
data-parallel stage on N workers (``--workers N``, Ray Train inside the job) asks N times its
CPUs, GPUs and memory, and a profile that cannot give each worker its GPU is an error, not
a job that waits for GPUs forever. Each job gets its own full walltime: a pipeline's time is
never divided among its stages. The command is the stage's ``canids-train`` argument list,
shell-quoted word by word.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from canids_core import CoreError, Resources, check_name, describe_validation_error
from canids_models.catalog import STAGES
from pydantic import ValidationError

from .cluster_profile import ClusterProfile
from .errors import JobsError, ResourcesError

if TYPE_CHECKING:  # planning imports canids-data, which a status command never needs
    from canids_models import PipelinePlan

__all__ = [
    "EXEC",
    "RESOURCE_KEYS",
    "exec_line",
    "parse_stage_resources",
    "render_stage_script",
    "resolve_resources",
    "validate_name",
]

# The words a user may write (``mem`` as SLURM's flag, ``memory`` as the field).
RESOURCE_KEYS = {"walltime": "walltime", "time": "walltime", "mem": "memory", "memory": "memory"}
RESOURCE_KEYS |= {"cpus": "cpus", "gpus": "gpus"}

# How the one line that runs the stage starts: rendered here, read by remediation (the
# settings it ran with) and rewritten by resubmission (a fix's --set items).
EXEC = "exec "


def exec_line(lines: Sequence[str]) -> int | None:
    """The index of a stage script's ``exec canids-train`` line, None where it has none."""
    return next((i for i, x in enumerate(lines) if x.startswith(EXEC)), None)


def validate_name(value: str, what: str) -> str:
    """Names that reach job names and paths follow canids-core's one name rule: a dataset
    called ``x; rm -rf ~`` or ``$(id)`` is refused here, before anything is submitted."""
    return check_name(what, value)


def _apply(res: Resources, values: Mapping[str, str], where: str) -> Resources:
    changes: dict[str, object] = {}
    for key, raw in values.items():
        field = RESOURCE_KEYS.get(key)
        if field is None:
            raise ResourcesError(
                f"{where}: unknown resource {key!r}; use walltime, mem, cpus, gpus"
            )
        if field in ("cpus", "gpus"):
            try:
                changes[field] = float(raw)
            except ValueError:
                raise ResourcesError(f"{where}: {key}={raw!r} must be a whole number") from None
        else:
            changes[field] = raw
    try:
        return res.replaced(**changes)
    except CoreError as exc:  # a SLURM time or memory canids-core refused
        raise ResourcesError(f"{where}: {exc}") from exc
    except ValidationError as exc:
        raise ResourcesError(describe_validation_error(exc, where)) from exc


def parse_stage_resources(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """``STAGE:key=value,key=value`` items → {stage: {key: value}} (validated)."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        stage, sep, rest = item.partition(":")
        if not sep or stage not in STAGES:
            raise ResourcesError(
                f"--stage-resources {item!r}: write STAGE:walltime=HH:MM:SS,mem=32G with a "
                f"stage of {', '.join(STAGES)}"
            )
        pairs = {}
        for pair in rest.split(","):
            key, eq, value = pair.partition("=")
            if not eq or not value:
                raise ResourcesError(f"--stage-resources {item!r}: {pair!r} is not key=value")
            pairs[key.strip()] = value.strip()
        _apply(STAGES[stage].resources, pairs, f"--stage-resources {item}")
        out.setdefault(stage, {}).update(pairs)
    return out


def resolve_resources(
    stage: str,
    profile: ClusterProfile,
    overrides: Mapping[str, str],
    stage_overrides: Mapping[str, Mapping[str, str]],
    workers: int = 1,
) -> tuple[Resources, list[str]]:
    """The stage's resources after overrides, ``workers`` and the profile's limits, and
    what the workers and the limits changed (said aloud by the caller). Fractional CPUs or
    GPUs are refused here: SLURM allocates whole ones (Ray takes fractions)."""
    if workers < 1:
        raise ResourcesError(f"--workers {workers}: a stage runs on at least 1 worker")
    spec = STAGES[stage]
    res = _apply(spec.resources, overrides, "resource override")
    res = _apply(res, stage_overrides.get(stage, {}), f"--stage-resources {stage}")
    try:
        res.slurm_fields()
    except CoreError as exc:
        raise ResourcesError(f"stage {stage}: {exc}") from exc
    notes = []
    if workers > 1 and spec.data_parallel:
        one = res
        res = res.replaced(
            cpus=one.cpus * workers, gpus=one.gpus * workers, memory=one.memory * workers
        )
        notes.append(
            f"{workers} data-parallel workers of {one.cpus:g} CPU, {one.gpus:g} GPU, "
            f"{one.slurm_memory}: asks {res.cpus:g} CPU, {res.gpus:g} GPU, {res.slurm_memory}"
        )
    elif workers > 1:
        notes.append(f"runs on 1 worker, not {workers}: {spec.single_worker_reason}")
    lim = profile.limits
    # A profile without GPUs caps them to 0 below (the stage trains on CPU); one with fewer
    # GPUs than workers would leave Ray Train waiting for the missing ones.
    if workers > 1 and spec.data_parallel and lim.gpus and 0 < lim.gpus < res.gpus:
        per_worker = res.gpus / workers
        raise ResourcesError(
            f"stage {stage} on {workers} workers needs {res.gpus:g} GPUs ({per_worker:g} per "
            f"worker) and profile {profile.name} allows {lim.gpus} per job: pass --workers "
            f"{max(1, int(lim.gpus // per_worker))}, or span nodes with "
            "slurm/ray-cluster.sbatch (docs/orchestrate.md)"
        )
    if lim.cpus is not None and res.cpus > lim.cpus:
        notes.append(f"asks {res.cpus:g} CPUs, profile {profile.name} allows {lim.cpus}")
        res = res.replaced(cpus=lim.cpus)
    if lim.gpus is not None and res.gpus > lim.gpus:
        notes.append(f"asks {res.gpus:g} GPU, profile {profile.name} allows {lim.gpus}")
        res = res.replaced(gpus=lim.gpus)
    if lim.memory is not None and res.memory > lim.memory:
        allowed = res.replaced(memory=lim.memory)
        notes.append(
            f"asks {res.slurm_memory}, profile {profile.name} allows {allowed.slurm_memory}"
        )
        res = allowed
    return res, notes


def render_stage_script(
    plan: PipelinePlan,
    stage: str,
    command: Sequence[str],
    resources: Resources,
    profile: ClusterProfile,
    out_dir: Path,
    *,
    venv: str,
    gpu_type: str | None = None,
) -> str:
    """The sbatch script of one stage job."""
    validate_name(plan.dataset, "dataset")
    name = f"canids-{plan.dataset}-{plan.size}-{stage}"
    slurm = resources.slurm_fields()
    lines = [
        "#!/usr/bin/env bash",
        f"# {stage} ({plan.size}) of pipeline {plan.pipeline.name} on {plan.dataset}: "
        "rendered by canids-submit --executor slurm",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --time={slurm['walltime']}",
        f"#SBATCH --mem={slurm['memory']}",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={slurm['cpus']}",
    ]
    partition = profile.partition
    if resources.gpus > 0:
        kind = profile.gpu_kind(gpu_type)
        gres = kind.gres if kind else "gpu"
        lines.append(f"#SBATCH --gres={gres}:{slurm['gpus']}")
        partition = kind.partition if kind else partition
    for flag, value in (
        ("partition", partition),
        ("account", profile.account),
        ("qos", profile.qos),
    ):
        if value:
            lines.append(f"#SBATCH --{flag}={value}")
    out = out_dir.resolve()
    if any(c in str(out) for c in "\n\"'$`\\ "):
        raise JobsError(f"output folder {out} has characters SLURM or bash mangle")
    lines += [
        f"#SBATCH --output={out / f'{stage}-%j.out'}",
        f"#SBATCH --error={out / f'{stage}-%j.err'}",
        "set -euo pipefail",
        *(line.replace("{venv}", shlex.quote(venv)) for line in profile.setup.lines),
        'echo "host: $(hostname -s)"',
        f'echo "job: ${{SLURM_JOB_ID}} {name}"',
        EXEC + shlex.join(command),
        "",
    ]
    return "\n".join(lines)
