"""Hyper-parameter search for canids stages: Ray Tune + Optuna + ASHA, W&B offline-first."""

from __future__ import annotations

from .runner import TrialSummary, TuneOptions, TuneSummary, run_tune
from .space import DEFAULT_SPACE, Param, load_space
from .trainable import TARGETS, Target, TrialOutOfMemoryError, TrialSetup, run_trial

__all__ = [
    "DEFAULT_SPACE",
    "TARGETS",
    "Param",
    "Target",
    "TrialOutOfMemoryError",
    "TrialSetup",
    "TrialSummary",
    "TuneOptions",
    "TuneSummary",
    "load_space",
    "run_tune",
    "run_trial",
]
