"""Fixtures of the canids-jobs tests: ``local_slurm``, a real single-node SLURM started once
per session (see canids_testkit.pytest_plugin for why it skips or fails where SLURM is
absent)."""

from __future__ import annotations

from canids_testkit.pytest_plugin import local_slurm

__all__ = ["local_slurm"]
