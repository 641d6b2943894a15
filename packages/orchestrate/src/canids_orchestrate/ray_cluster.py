"""Joining or starting a Ray cluster, and sizing stage tasks to it.

A stage declares what it wants (the catalogue's :class:`canids_core.Resources`, with
overrides applied by ``Resources.replaced``). Asking Ray for more than the whole cluster
has would leave the task pending forever, so requests are fitted to the cluster's totals
and every change is said aloud (a 2-core laptop runs a "4 CPU, 1 GPU" stage on 2 CPUs and
no GPU, and prints so).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from types import ModuleType
from typing import TYPE_CHECKING, Any

from canids_core import CoreError, Resources, describe_validation_error
from pydantic import ValidationError

from .errors import ResourceOverrideError

if TYPE_CHECKING:
    from canids_models.catalog import StageSpec

__all__ = ["OVERRIDABLE", "RayCluster", "check_overrides", "import_ray"]

OVERRIDABLE = ("cpus", "gpus", "memory")
# Any valid resources: overrides are checked against it before any task is queued.
_PROBE = Resources(cpus=1, gpus=0, memory="1G", walltime="01:00:00")


def import_ray() -> ModuleType:
    """``import ray``, with Ray's ``uv run`` hook off.

    Under ``uv run``, Ray would re-run ``uv run`` in every worker and upload the working
    directory (the repo, caches and runs included). canids workers use the driver's own
    environment (on clusters: the same venv on the shared filesystem). Ray reads the switch
    when it is first imported, so every canids import of Ray goes through here.
    """
    os.environ.setdefault("RAY_ENABLE_UV_RUN_RUNTIME_ENV", "0")
    import ray
    from ray._private import ray_constants

    # A script that imported Ray before canids did has the switch read already: turn it off
    # here too (unless the script's environment asked for the hook).
    if os.environ["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] == "0":
        ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV = False
    return ray


def check_overrides(overrides: Mapping[str, object]) -> dict[str, object]:
    """Per-stage overrides of the catalogue's resources (``None`` values dropped), checked
    as :class:`canids_core.Resources` checks them: a typo fails here, before any task is
    queued."""
    chosen = {k: v for k, v in overrides.items() if v is not None}
    unknown = sorted(set(chosen) - set(OVERRIDABLE))
    if unknown:
        raise ResourceOverrideError(
            f"unknown resource override(s) {unknown}; Ray stages take {', '.join(OVERRIDABLE)}"
        )
    try:
        _PROBE.replaced(**chosen)
    except CoreError as exc:
        raise ResourceOverrideError(f"--memory {chosen.get('memory')!r}: {exc}") from exc
    except ValidationError as exc:
        raise ResourceOverrideError(
            describe_validation_error(exc, "--cpus/--gpus/--memory")
        ) from exc
    return chosen


class RayCluster:
    """``address=None`` starts a local cluster (``num_cpus``/``num_gpus`` cap it);
    otherwise joins the cluster at ``address`` (``auto`` or ``HOST:PORT``)."""

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        num_gpus: int | None = None,
        include_dashboard: bool | None = None,
        echo: Callable[[str], None] = print,
    ) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self.num_gpus = num_gpus
        self.include_dashboard = include_dashboard
        self.echo = echo
        self.totals: dict[str, float] = {}
        self.started_here = False

    def connect(self) -> dict[str, float]:
        ray = import_ray()
        if ray.is_initialized():
            self.totals = dict(ray.cluster_resources())
            return self.totals
        if self.address is None and os.environ.get("RAY_ADDRESS"):
            # ray.init() would silently join that cluster: say so rather than surprise.
            self.echo(f"ray: RAY_ADDRESS={os.environ['RAY_ADDRESS']} is set; joining it")
        kwargs: dict[str, Any] = {"log_to_driver": True}
        if self.address is not None:
            kwargs["address"] = self.address
        else:
            kwargs.update(num_cpus=self.num_cpus, num_gpus=self.num_gpus)
            if self.include_dashboard is not None:
                kwargs["include_dashboard"] = self.include_dashboard
        ctx = ray.init(**kwargs)
        self.started_here = self.address is None and not os.environ.get("RAY_ADDRESS")
        self.totals = dict(ray.cluster_resources())
        where = f"joined {self.address}" if self.address else "started a local cluster"
        session = ctx.address_info.get("session_dir", "?")
        dashboard = f"http://{ctx.dashboard_url}" if ctx.dashboard_url else "not running"
        self.echo(
            f"ray {ray.__version__}: {where} ({self.totals.get('CPU', 0):g} CPU, "
            f"{self.totals.get('GPU', 0):g} GPU); dashboard: {dashboard}; "
            f"logs: {session}/logs"
        )
        return self.totals

    def shutdown(self) -> None:
        ray = import_ray()

        if ray.is_initialized():
            ray.shutdown()

    def task_options(
        self, spec: StageSpec, overrides: Mapping[str, object] | None = None
    ) -> tuple[dict[str, Any], list[str]]:
        """Ray task options for a stage, fitted to the cluster, and what was changed."""
        notes: list[str] = []
        wanted = spec.resources.replaced(**check_overrides(overrides or {}))
        want_cpus, want_gpus, want_mem = wanted.cpus, wanted.gpus, wanted.memory
        memory = wanted.slurm_memory
        have_cpus = self.totals.get("CPU", 0.0)
        have_gpus = self.totals.get("GPU", 0.0)
        have_mem = self.totals.get("memory", 0.0)
        cpus = min(float(want_cpus), have_cpus) if have_cpus else float(want_cpus)
        if cpus < want_cpus:
            notes.append(f"asks {want_cpus:g} CPUs, the cluster has {have_cpus:g}: using {cpus:g}")
        gpus = min(float(want_gpus), have_gpus)
        if gpus < want_gpus:
            notes.append(
                f"asks {want_gpus:g} GPU, the cluster has {have_gpus:g}: "
                + ("running on CPU" if gpus == 0 else f"using {gpus:g}")
            )
        mem = int(min(want_mem, have_mem)) if have_mem else want_mem
        if mem < want_mem:
            notes.append(
                f"asks {memory} memory, the cluster has {have_mem / (1 << 30):.1f} GiB for "
                f"tasks: reserving {mem / (1 << 30):.1f} GiB"
            )
        return {"num_cpus": cpus, "num_gpus": gpus, "memory": mem}, notes
