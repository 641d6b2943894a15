"""Rendering ``ray-cluster.sbatch`` (a Ray cluster in one SLURM allocation) with values.

Every value is validated by canids-core's rules (the job name by the one name rule,
account and partition as SLURM values, CPUs, GPUs, memory and walltime as one
:class:`canids_core.Resources` per node), and the entry command is shell-quoted word by
word: a dataset named ``x; rm -rf ~`` reaches the script as one inert argument.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from canids_core import (
    CoreError,
    Resources,
    check_name,
    check_slurm_value,
    describe_validation_error,
)
from pydantic import ValidationError

from .errors import RayJobSpecError

__all__ = ["TEMPLATE", "RayJobSpec", "render_ray_job"]

TEMPLATE = resources.files("canids_orchestrate.slurm_templates") / "ray-cluster.sbatch"
_PATH = re.compile(r"[A-Za-z0-9_./%+:@-]{1,4096}")
_MODULES = re.compile(r"[A-Za-z0-9_./+-]+(?: [A-Za-z0-9_./+-]+)*")


@dataclass(frozen=True)
class RayJobSpec:
    entry: list[str]
    job_name: str = "canids-tune"
    nodes: int = 1
    cpus: int = 8
    gpus_per_node: int = 0
    memory: str = "32G"
    walltime: str = "04:00:00"
    output: str = "ray-cluster-%j.out"
    account: str | None = None
    partition: str | None = None
    exclusive: bool | None = None  # None: exclusive when nodes > 1
    modules: str = ""
    conda_env: str = ""
    venv: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def node_resources(self) -> Resources:
        """What each node of the job asks, as the one resources type (validated)."""
        try:
            return Resources(
                cpus=self.cpus, gpus=self.gpus_per_node, memory=self.memory, walltime=self.walltime
            )
        except CoreError as exc:
            raise RayJobSpecError(str(exc)) from exc
        except ValidationError as exc:
            raise RayJobSpecError(describe_validation_error(exc, "Ray job (per node)")) from exc

    def check(self) -> None:
        if not self.entry:
            raise RayJobSpecError("the Ray job needs an entry command")
        if self.nodes < 1:
            raise RayJobSpecError(f"--nodes must be >= 1, got {self.nodes}")
        res = self.node_resources()
        try:
            res.slurm_fields()
            check_name("job", self.job_name)
            for label, value in (
                ("account", self.account),
                ("partition", self.partition),
                ("conda env", self.conda_env or None),
            ):
                if value is not None:
                    check_slurm_value(label, value)
        except CoreError as exc:
            raise RayJobSpecError(str(exc)) from exc
        for label, value in (("output", self.output), ("venv", self.venv or None)):
            if value is not None and not _PATH.fullmatch(value):
                raise RayJobSpecError(f"{label} path {value!r} has characters SLURM or bash mangle")
        if self.modules and not _MODULES.fullmatch(self.modules):
            raise RayJobSpecError(f"modules {self.modules!r}: space-separated module names")


def render_ray_job(spec: RayJobSpec, template: str | Path | None = None) -> str:
    """The sbatch script for ``spec`` (raises :class:`RayJobSpecError` on a bad value)."""
    spec.check()
    res = spec.node_resources().slurm_fields()
    text = Path(template).read_text() if template else TEMPLATE.read_text()
    exclusive = spec.exclusive if spec.exclusive is not None else spec.nodes > 1
    lines = {
        "GPU_LINE": f"#SBATCH --gres=gpu:{spec.gpus_per_node}"
        if spec.gpus_per_node
        else "# (no GPUs requested)",
        "ACCOUNT_LINE": f"#SBATCH --account={spec.account}" if spec.account else "# (no account)",
        "PARTITION_LINE": f"#SBATCH --partition={spec.partition}"
        if spec.partition
        else "# (default partition)",
        # symmetric-run is not safe beside another of this user's Ray jobs on a node.
        "EXCLUSIVE_LINE": "#SBATCH --exclusive" if exclusive else "# (node may be shared)",
    }
    for key, line in lines.items():
        text = text.replace(f"# @{key}@", line)
    values = {
        "JOB_NAME": spec.job_name,
        "NODES": str(spec.nodes),
        "CPUS": str(res["cpus"]),
        "MEMORY": str(res["memory"]),
        "WALLTIME": str(res["walltime"]),
        "OUTPUT": spec.output,
        "MODULES": spec.modules,
        "CONDA_ENV": spec.conda_env,
        "VENV": spec.venv,
        "GPUS_PER_NODE": str(spec.gpus_per_node),
        "ENTRY": " ".join(shlex.quote(word) for word in spec.entry),
    }
    for key, value in values.items():
        text = text.replace(f"@{key}@", value)
    left = re.findall(r"@[A-Z_]+@", text)
    if left:
        raise RayJobSpecError(f"template placeholders left unrendered: {sorted(set(left))}")
    return text
