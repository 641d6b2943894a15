"""W&B for every stage run: one W&B run per ``canids-train`` stage, offline-first.

The libraries know nothing of W&B (canids-models reports epochs through
``StageContext.on_epoch``); the command wires a run in here. Every executor runs stages
through ``canids-train``, so local, Ray and SLURM pipelines all log the same way.

- Mode: ``auto`` is online only when ``WANDB_API_KEY`` is set, else offline (the rule of
  ``canids-tune``); ``--no-wandb`` (or ``--wandb-mode disabled``) turns it off.
- Offline, the key leaves this process's environment before W&B starts, so no config,
  log or file can hold it. Online, W&B reads it from the environment; canids never
  passes it on or writes it.
- One run per stage: ``job_type`` is the stage, ``group`` the pipeline
  (``canids-submit`` names it ``RUN-DATASET-PIPELINE-SIZE``; a stage run by hand groups
  with its run, dataset and size). The run lives in the artifact's folder
  (``<artifact>/wandb/offline-run-*``); ``wandb sync`` uploads it later.
- Logged: the stage's config, one history row per epoch, the parameter count, the peak
  memory, the wall time, the result line's metrics and, for ``evaluate``, the held-out
  table.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click
from canids_core import CanidsError

if TYPE_CHECKING:
    from canids_models import ArtifactStore, StageContext

__all__ = ["TrackingError", "WandbOptions", "StageTracking", "start_tracking", "wandb_options"]

_MODES = ("auto", "online", "offline", "disabled")
_TABLE = ("split", "protocol", "model", "n", "positives", "f1", "flag_all_f1", "precision")
_TABLE += ("recall", "fpr", "auroc", "auprc", "false_alarms_per_hour")


class TrackingError(CanidsError):
    """W&B could not start a run (online without a reachable server, a bad project)."""


@dataclass(frozen=True)
class WandbOptions:
    mode: str = "auto"
    project: str = "canids"
    group: str | None = None

    @property
    def resolved_mode(self) -> str:
        from canids_orchestrate.tune.wandb_logging import wandb_mode

        return wandb_mode(self.mode)

    def args(self) -> list[str]:
        """The same options as ``canids-train`` arguments (no group: that is per plan)."""
        if self.mode == "disabled":
            return ["--no-wandb"]
        return ["--wandb-mode", self.mode, "--wandb-project", self.project]


def wandb_options(*, group: bool) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``--no-wandb``, ``--wandb-mode``, ``--wandb-project`` (and ``--wandb-group``)."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        if group:
            f = click.option(
                "--wandb-group",
                default=None,
                help="W&B group (default: RUN-DATASET-SIZE; canids-submit names the pipeline).",
            )(f)
        f = click.option(
            "--wandb-project", default="canids", show_default=True, help="W&B project."
        )(f)
        f = click.option(
            "--wandb-mode",
            type=click.Choice(_MODES),
            default="auto",
            show_default=True,
            help="auto: online when WANDB_API_KEY is set, else offline (wandb sync later).",
        )(f)
        return click.option("--no-wandb", is_flag=True, help="Log nothing to W&B.")(f)

    return decorate


def _plain(value: Any) -> Any:
    """JSON-plain numbers for W&B (numpy scalars become floats)."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        return str(value)


class StageTracking:
    """One W&B run of one stage. ``on_epoch`` goes into ``StageContext.on_epoch``."""

    def __init__(self, run: Any, echo: Callable[[str], None]) -> None:
        self.run, self.echo = run, echo

    def on_epoch(self, record: dict[str, Any]) -> None:
        self.run.log({k: _plain(v) for k, v in record.items()})

    def finish(
        self,
        *,
        metrics: dict[str, Any] | None,
        summary: dict[str, Any],
        peak_memory: dict[str, int] | None,
        wall_seconds: float,
        failed: bool,
    ) -> None:
        """Summary values, the evaluate stage's held-out table, and the run's end."""
        import wandb

        run = self.run
        for key, value in summary.items():
            if key == "f1" and isinstance(value, dict):
                for name, f1 in value.items():
                    run.summary[f"f1/{name}"] = f1
            elif not isinstance(value, dict | list):
                run.summary[key] = _plain(value)
        metrics = metrics or {}
        params = metrics.get("parameters")
        if isinstance(params, dict):
            for name, count in params.items():
                run.summary[f"parameters/{name}"] = int(count)
        elif params is not None:
            run.summary["parameters"] = int(params)
        for key, value in (peak_memory or {}).items():
            if key != "pid":
                run.summary[f"peak_memory/{key}"] = int(value)
        run.summary["wall_seconds"] = wall_seconds
        if "rows" in metrics:
            rows = [r for r in metrics["rows"] if r.get("held_out") and r.get("default", True)]
            table = wandb.Table(
                columns=list(_TABLE), data=[[_plain(r.get(c)) for c in _TABLE] for r in rows]
            )
            run.log({"held_out": table})
        for record in metrics.get("dqn_history", []):
            run.log({f"dqn/{k}": _plain(v) for k, v in record.items()})
        run.finish(exit_code=1 if failed else 0)


def start_tracking(
    opts: WandbOptions,
    ctx: StageContext,
    store: ArtifactStore,
    stage: str,
    echo: Callable[[str], None],
) -> StageTracking | None:
    """Start the stage's W&B run (None when disabled) and hook it into ``ctx``."""
    mode = opts.resolved_mode
    if mode == "disabled":
        echo("wandb: disabled")
        return None
    if mode == "offline":
        # No use offline: out of the environment, so no W&B process or file can hold it.
        os.environ.pop("WANDB_API_KEY", None)
    elif not os.environ.get("WANDB_API_KEY"):
        raise TrackingError(
            "wandb: --wandb-mode online needs WANDB_API_KEY in the environment; log offline "
            "with --wandb-mode offline (wandb sync later) or pass --no-wandb"
        )
    os.environ.setdefault("WANDB_SILENT", "true")  # W&B's banners would bury the stage's lines
    import wandb
    from canids_models.catalog import STAGES

    key = STAGES[stage].produces
    folder = store.tracking_dir(ctx.dataset, ctx.size, key)
    folder.mkdir(parents=True, exist_ok=True)
    group = opts.group or f"{store.run}-{ctx.dataset}-{ctx.size}"
    config = {
        "stage": stage,
        "dataset": ctx.dataset,
        "size": ctx.size,
        "run": store.run,
        "distill_from": ctx.distill_from,
        "config_digest": ctx.config.digest,
        "device": str(ctx.device),
        "backend": ctx.backend,
        **ctx.config.to_dict(),
    }
    try:
        run = wandb.init(
            project=opts.project,
            group=group,
            job_type=stage,
            name=f"{store.run}-{ctx.dataset}-{ctx.size}-{stage}",
            config=config,
            dir=str(folder),
            mode=mode,
            settings=wandb.Settings(console="off", silent=True),
        )
    except Exception as exc:  # W&B raises its own types (CommError, UsageError, ...)
        raise TrackingError(
            f"wandb: could not start a {mode} run ({type(exc).__name__}: {exc}); log offline "
            "with --wandb-mode offline or pass --no-wandb"
        ) from exc
    where = os.path.dirname(run.dir)
    tail = f" (upload later: wandb sync {where})" if mode == "offline" else ""
    echo(f"wandb: {mode} run {run.id}, project {opts.project}, group {group}: {where}{tail}")
    tracking = StageTracking(run, echo)
    previous = ctx.on_epoch

    def on_epoch(record: dict[str, Any]) -> None:
        if previous is not None:
            previous(record)
        tracking.on_epoch(record)

    ctx.on_epoch = on_epoch
    return tracking
