"""Imports of optional dependencies, each behind the extra that installs it."""

from __future__ import annotations

import importlib
import warnings
from types import ModuleType

__all__ = ["require"]

EXTRAS = {"torch_geometric": "pyg", "matplotlib": "plot"}


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` or raise an ImportError that names the extra to install."""
    extra = EXTRAS[module.split(".")[0]]
    try:
        with warnings.catch_warnings():
            # torch_geometric calls torch.jit.script at import time, which recent torch
            # deprecates; that is PyG's business, not a reason to fail the caller's run.
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs the optional dependency {module!r}, which is not installed; "
            f'install it with: pip install "canids-batching[{extra}]"'
        ) from exc


def available(module: str) -> bool:
    """Whether ``module`` imports (without raising for a missing extra)."""
    try:
        require(module, "probe")
    except ImportError:
        return False
    return True
