"""W&B for tuning: online only with an API key, otherwise offline runs on disk that
``wandb sync`` uploads later. The key never reaches a config, a summary or a trial.

``upload_timeout`` stays short: an interrupted sweep otherwise blocks ``Tuner.fit`` for
up to 30 minutes while the logging actors try to upload, until SLURM kills the job.
(Reading an offline run back, for tests, is ``canids_testkit.read_offline_history``.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["WANDB_MODES", "wandb_callback", "wandb_mode"]

WANDB_MODES = ("auto", "online", "offline", "disabled")


def wandb_mode(requested: str) -> str:
    """auto → online when WANDB_API_KEY is set, else offline."""
    if requested != "auto":
        return requested
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def wandb_callback(opts: Any, exp_dir: Path, echo: Callable[[str], None]) -> list[Any]:
    mode = wandb_mode(opts.wandb_mode)
    if mode == "disabled":
        echo("wandb: disabled")
        return []
    from ray.air.integrations.wandb import WandbLoggerCallback

    if mode == "offline":
        # Ray's callback passes WANDB_API_KEY on to every logging actor; offline it has no
        # use, so it leaves this process and cannot be written anywhere.
        os.environ.pop("WANDB_API_KEY", None)
        os.environ["WANDB_MODE"] = "offline"
    # W&B's per-run banner and history table, once per trial, would bury Tune's status.
    os.environ.setdefault("WANDB_SILENT", "true")
    echo(
        f"wandb: {mode}, project {opts.wandb_project}, runs under {exp_dir / 'wandb'}"
        + (" (upload later with: wandb sync <run folder>)" if mode == "offline" else "")
    )
    return [
        WandbLoggerCallback(
            project=opts.wandb_project,
            upload_timeout=opts.upload_timeout,
            log_config=False,
            mode=mode,
            dir=str(exp_dir),
        )
    ]
