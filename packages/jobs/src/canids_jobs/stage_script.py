"""One sbatch script per stage, rendered from the stage catalogue and a cluster profile.

Resources come from the catalogue, then global overrides (``--walltime --memory --cpus
--gpus``), then per-stage ones (``--stage-resources gat_curriculum:walltime=16:00:00,
mem=192G``), then the profile's limits; every value is validated. Each job gets its own
full walltime: a pipeline's time is never divided among its stages. The command is the
stage's ``canids-train`` argument list, shell-quoted word by word.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from canids_models import (
    STAGES,
    ConfigError,
    PipelinePlan,
    format_memory,
    parse_memory,
    parse_walltime,
)

from .profile import ClusterProfile

__all__ = [
    "JobResources",
    "parse_stage_resources",
    "render_stage_script",
    "resolve_resources",
    "validate_name",
]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
_KEYS = {"walltime": "walltime", "time": "walltime", "mem": "memory", "memory": "memory"}
_KEYS |= {"cpus": "cpus", "gpus": "gpus"}


@dataclass(frozen=True)
class JobResources:
    cpus: int
    gpus: int
    memory: str
    walltime: str


def validate_name(value: str, what: str) -> str:
    """Names that reach job names and paths: letters, digits, ``_ . -`` only. A dataset
    called ``x; rm -rf ~`` or ``$(id)`` is refused here, before anything is submitted."""
    if not NAME.fullmatch(value):
        raise ConfigError(
            f"{what} {value!r} cannot go into a SLURM job: use letters, digits, '_', '.', '-'"
        )
    return value


def _apply(res: JobResources, values: Mapping[str, str], where: str) -> JobResources:
    changes: dict[str, object] = {}
    for key, raw in values.items():
        field = _KEYS.get(key)
        if field is None:
            raise ConfigError(f"{where}: unknown resource {key!r}; use walltime, mem, cpus, gpus")
        if field == "walltime":
            parse_walltime(raw)
            changes[field] = raw
        elif field == "memory":
            parse_memory(raw)
            changes[field] = raw.upper()
        else:
            if not raw.isdigit():
                raise ConfigError(f"{where}: {key}={raw!r} must be a whole number")
            changes[field] = int(raw)
    return replace(res, **changes)  # type: ignore[arg-type]


def parse_stage_resources(items: Sequence[str]) -> dict[str, dict[str, str]]:
    """``STAGE:key=value,key=value`` items → {stage: {key: value}} (validated)."""
    out: dict[str, dict[str, str]] = {}
    for item in items:
        stage, sep, rest = item.partition(":")
        if not sep or stage not in STAGES:
            raise ConfigError(
                f"--stage-resources {item!r}: write STAGE:walltime=HH:MM:SS,mem=32G with a "
                f"stage of {', '.join(STAGES)}"
            )
        pairs = {}
        for pair in rest.split(","):
            key, eq, value = pair.partition("=")
            if not eq or not value:
                raise ConfigError(f"--stage-resources {item!r}: {pair!r} is not key=value")
            pairs[key.strip()] = value.strip()
        _apply(JobResources(1, 0, "1G", "00:01:00"), pairs, f"--stage-resources {item}")
        out.setdefault(stage, {}).update(pairs)
    return out


def resolve_resources(
    stage: str,
    profile: ClusterProfile,
    overrides: Mapping[str, str],
    stage_overrides: Mapping[str, Mapping[str, str]],
) -> tuple[JobResources, list[str]]:
    """The stage's resources after overrides and the profile's limits, and what the limits
    changed (said aloud by the caller)."""
    spec = STAGES[stage].resources
    res = JobResources(spec.cpus, spec.gpus, spec.memory, spec.walltime)
    res = _apply(res, overrides, "resource override")
    res = _apply(res, stage_overrides.get(stage, {}), f"--stage-resources {stage}")
    notes = []
    lim = profile.limits
    if "cpus" in lim and res.cpus > lim["cpus"]:
        notes.append(f"asks {res.cpus} CPUs, profile {profile.name} allows {lim['cpus']}")
        res = replace(res, cpus=int(lim["cpus"]))
    if "gpus" in lim and res.gpus > lim["gpus"]:
        notes.append(f"asks {res.gpus} GPU, profile {profile.name} allows {lim['gpus']}")
        res = replace(res, gpus=int(lim["gpus"]))
    if "memory" in lim and parse_memory(res.memory) > parse_memory(str(lim["memory"])):
        notes.append(f"asks {res.memory}, profile {profile.name} allows {lim['memory']}")
        res = replace(res, memory=format_memory(parse_memory(str(lim["memory"]))))
    return res, notes


def render_stage_script(
    plan: PipelinePlan,
    stage: str,
    command: Sequence[str],
    resources: JobResources,
    profile: ClusterProfile,
    out_dir: Path,
    *,
    venv: str,
    gpu_type: str | None = None,
) -> str:
    """The sbatch script of one stage job."""
    validate_name(plan.dataset, "dataset")
    name = f"canids-{plan.dataset}-{plan.size}-{stage}"
    lines = [
        "#!/usr/bin/env bash",
        f"# {stage} ({plan.size}) of pipeline {plan.pipeline.name} on {plan.dataset}: "
        "rendered by canids-submit --executor slurm",
        f"#SBATCH --job-name={name}",
        f"#SBATCH --time={resources.walltime}",
        f"#SBATCH --mem={resources.memory}",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        f"#SBATCH --cpus-per-task={resources.cpus}",
    ]
    partition = profile.partition
    if resources.gpus > 0:
        kind = profile.gpu_kind(gpu_type)
        gres = kind.gres if kind else "gpu"
        lines.append(f"#SBATCH --gres={gres}:{resources.gpus}")
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
        raise ConfigError(f"output folder {out} has characters SLURM or bash mangle")
    lines += [
        f"#SBATCH --output={out / f'{stage}-%j.out'}",
        f"#SBATCH --error={out / f'{stage}-%j.err'}",
        "set -euo pipefail",
        *(line.replace("{venv}", shlex.quote(venv)) for line in profile.setup),
        'echo "host: $(hostname -s)"',
        f'echo "job: ${{SLURM_JOB_ID}} {name}"',
        "exec " + shlex.join(command),
        "",
    ]
    return "\n".join(lines)
