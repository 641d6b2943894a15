"""``train.cpu_capability``: the stage's process started again with the pinned CPU
kernels (torch and MKL read their variables only when they load)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

__all__ = ["restart_with_kernels"]

# Set in the restarted process: a second restart would loop.
_RESTARTED = "CANIDS_KERNELS_RESTARTED"


def restart_with_kernels(capability: str) -> None:
    """Run this command again in this process (same pid, so executors and SLURM keep
    watching it) with ``capability``'s kernels pinned: torch and MKL read the variables
    only when they load. Called as a library (not the ``canids-train`` program), or when
    the restart did not take, it refuses instead."""
    from canids_models import ModelsError, kernel_environment

    pinned = kernel_environment(capability)  # refuses kernels this CPU cannot run
    if os.environ.get(_RESTARTED) or Path(sys.argv[0]).name != "canids-train":
        wanted = " ".join(f"{k}={v}" for k, v in pinned.items())
        raise ModelsError(
            f"train.cpu_capability={capability} needs the stage's process to start with "
            f"{wanted}; run it through the canids-train program, or set them before Python "
            "starts"
        )
    click.echo("cpu kernels: restarting with " + " ".join(f"{k}={v}" for k, v in pinned.items()))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(
        sys.executable,
        [sys.executable, *sys.orig_argv[1:]],
        {**os.environ, **pinned, _RESTARTED: capability},
    )
