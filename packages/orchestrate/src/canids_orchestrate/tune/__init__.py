"""Hyper-parameter search for canids stages: Ray Tune + Optuna + ASHA, W&B offline-first.

Names load on first use: ``canids-tune --help`` needs the targets and the space file's
path, not Ray, Optuna or torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "DEFAULT_SPACE": "space",
    "TARGETS": "trainable",
    "Param": "space",
    "Target": "trainable",
    "TrialOutOfMemoryError": "trainable",
    "TrialSetup": "trainable",
    "TrialSummary": "runner",
    "TuneOptions": "runner",
    "TuneSummary": "runner",
    "WANDB_MODES": "wandb_logging",
    "load_space": "space",
    "run_trial": "trainable",
    "run_tune": "runner",
}

__all__ = [
    "DEFAULT_SPACE",
    "TARGETS",
    "WANDB_MODES",
    "Param",
    "Target",
    "TrialOutOfMemoryError",
    "TrialSetup",
    "TrialSummary",
    "TuneOptions",
    "TuneSummary",
    "load_space",
    "run_trial",
    "run_tune",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canids_orchestrate.tune' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from .runner import TrialSummary, TuneOptions, TuneSummary, run_tune
    from .space import DEFAULT_SPACE, Param, load_space
    from .trainable import TARGETS, Target, TrialOutOfMemoryError, TrialSetup, run_trial
    from .wandb_logging import WANDB_MODES
