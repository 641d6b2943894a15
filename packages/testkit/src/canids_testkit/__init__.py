"""canids-testkit: what the canids tests share and no library ships. Never a runtime
dependency: packages list it in their ``dev`` group only.

A real one-node SLURM (:class:`LocalSlurm`, driven by ``slurm/dev/local-cluster.sh``) and
its pytest fixture (``canids_testkit.pytest_plugin.local_slurm``), a real two-node Ray
cluster on this machine (:class:`LocalRayCluster`, fixture ``two_node_ray``), the seed's
folder of 38 SLURM outputs (:func:`write_synthetic_outputs`), a reader of offline W&B runs
(:func:`read_offline_run`), a page rendered in headless Chromium (:func:`render_page`),
the one tiny model config the tests train with (:func:`tiny_overrides`) and
:func:`ci_is_set`. Names load on first use, so the
fixture module does not import the models to start a cluster.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.4.3"

_LAZY: dict[str, str] = {
    "BrowserError": "browser",
    "DATASETS": "synthetic_outputs",
    "LocalRayCluster": "local_ray",
    "LocalRayError": "local_ray",
    "LocalSlurm": "local_slurm",
    "LocalSlurmError": "local_slurm",
    "OfflineRun": "wandb_offline",
    "RenderedPage": "browser",
    "SyntheticJob": "synthetic_outputs",
    "TINY_SIZES": "tiny_config",
    "ci_is_set": "ci",
    "find_chromium": "browser",
    "find_script": "local_slurm",
    "missing_binaries": "local_slurm",
    "read_offline_history": "wandb_offline",
    "read_offline_run": "wandb_offline",
    "render_page": "browser",
    "set_args": "tiny_config",
    "tiny_overrides": "tiny_config",
    "wandb_records": "wandb_offline",
    "write_synthetic_outputs": "synthetic_outputs",
}

__all__ = [
    "BrowserError",
    "DATASETS",
    "LocalRayCluster",
    "LocalRayError",
    "LocalSlurm",
    "LocalSlurmError",
    "OfflineRun",
    "RenderedPage",
    "SyntheticJob",
    "TINY_SIZES",
    "__version__",
    "ci_is_set",
    "find_chromium",
    "find_script",
    "missing_binaries",
    "read_offline_history",
    "read_offline_run",
    "render_page",
    "set_args",
    "tiny_overrides",
    "wandb_records",
    "write_synthetic_outputs",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'canids_testkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


if TYPE_CHECKING:
    from .browser import BrowserError, RenderedPage, find_chromium, render_page
    from .ci import ci_is_set
    from .local_ray import LocalRayCluster, LocalRayError
    from .local_slurm import LocalSlurm, LocalSlurmError, find_script, missing_binaries
    from .synthetic_outputs import DATASETS, SyntheticJob, write_synthetic_outputs
    from .tiny_config import TINY_SIZES, set_args, tiny_overrides
    from .wandb_offline import OfflineRun, read_offline_history, read_offline_run, wandb_records
