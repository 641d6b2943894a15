"""One Tune trial: the target's stages, in-process, in the trial's own directory.

The GAT reports every epoch (``val_f1``, ``val_loss``, precision, recall, epoch) through
the stage's ``on_epoch`` hook, after the epoch's checkpoint is saved, so ASHA can stop a
poor trial after any epoch. Every trial writes its artifacts under its own trial directory
(``<trial dir>/runs``): concurrent trials never share a path.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from canids_core import atomic_write_json

from ..errors import TrialOutOfMemoryError

__all__ = ["TARGETS", "Target", "TrialOutOfMemoryError", "TrialSetup", "run_trial"]


@dataclass(frozen=True)
class Target:
    """What a trial trains: ``stages`` in order; the ``reports`` stage reports per epoch
    (``None``: one report at the end); ``sections`` of the space it uses; ``needs``:
    artifacts taken from an existing run (``--from-run``)."""

    name: str
    stages: tuple[str, ...]
    reports: str | None
    sections: frozenset[str]
    needs: tuple[str, ...] = ()


TARGETS: dict[str, Target] = {
    "gat": Target("gat", ("gat",), "gat", frozenset({"gat", "train", "batching"})),
    "curriculum": Target(
        "curriculum",
        ("vgae", "gat_curriculum"),
        "gat_curriculum",
        frozenset({"gat", "vgae", "train", "batching", "curriculum"}),
    ),
    "fusion": Target("fusion", ("fusion",), None, frozenset({"dqn"}), needs=("vgae", "gat")),
}


@dataclass(frozen=True)
class TrialSetup:
    """Everything a trial needs besides its sampled values (picklable: sent to workers)."""

    target: str
    dataset: str
    size: str
    cache_dir: str
    base_config: str | None = None
    base_overrides: tuple[str, ...] = ()
    from_runs_dir: str | None = None
    from_run: str = "default"
    check_sources: bool = True
    threads: int = 1
    fixed: dict[str, Any] = field(default_factory=dict)
    # The experiment folder on the storage path (a shared filesystem on a cluster).
    experiment_dir: str | None = None


def trial_overrides(setup: TrialSetup, config: dict[str, Any]) -> list[str]:
    """``--set`` items of a trial: the base ones, threads, then the sampled values."""
    items = list(setup.base_overrides)
    items.append(f"train.threads={setup.threads}")
    items += [f"{k}={json.dumps(v)}" for k, v in {**setup.fixed, **config}.items()]
    return items


def _link_upstream(setup: TrialSetup, store: Any) -> None:
    """Copy the artifacts a target takes from an existing run into the trial's store."""
    from canids_models import ArtifactStore

    source = ArtifactStore(setup.from_runs_dir, setup.from_run)
    for key in TARGETS[setup.target].needs:
        src = source.dir(setup.dataset, setup.size, key)
        dst = store.dir(setup.dataset, setup.size, key)
        if not dst.exists():
            shutil.copytree(src, dst)


def run_trial(config: dict[str, Any], setup: TrialSetup) -> None:
    """The function trainable (``tune.with_parameters(run_trial, setup=...)``)."""
    import torch
    from canids_models import ArtifactStore, StageContext, load_config, run_stage
    from ray import tune

    # The trial's own files (trial.json, trial.log, its artifacts) go beside Tune's result
    # files in the experiment folder on the storage path. get_trial_dir() names a folder
    # staged on the driver's node: a trial on another node that writes there loses its
    # files (seen on the two-node SLURM cluster: the best trial's trial.json was missing).
    trial_dir = Path(tune.get_context().get_trial_dir())
    if setup.experiment_dir is not None:
        trial_dir = Path(setup.experiment_dir) / trial_dir.name
    trial_dir.mkdir(parents=True, exist_ok=True)
    store = ArtifactStore(trial_dir, "trial")  # <trial dir>/trial/<dataset>/...
    target = TARGETS[setup.target]
    if target.needs:
        _link_upstream(setup, store)
    cfg = load_config(setup.size, setup.base_config, trial_overrides(setup, config))
    # Read by the summary (best_trial.json) while other trials still run: atomic.
    atomic_write_json(trial_dir / "trial.json", {"size": setup.size, "config": cfg.to_dict()})

    def report(record: dict[str, Any]) -> None:
        tune.report(
            {
                "val_f1": float(record["val_f1"]),
                "val_loss": float(record["val_loss"]),
                "precision": float(record["precision"]),
                "recall": float(record["recall"]),
                "epoch": int(record["epoch"]),
            }
        )

    log_file = (trial_dir / "trial.log").open("a", buffering=1)

    def log(line: str) -> None:  # the stage's lines, per trial: Tune's table stays readable
        log_file.write(line + "\n")

    for stage in target.stages:
        ctx = StageContext(
            setup.dataset,
            setup.size,
            cfg,
            store,
            Path(setup.cache_dir),
            check_sources=setup.check_sources,
            log=log,
            on_epoch=report if stage == target.reports else None,
        )
        try:
            outcome = run_stage(stage, ctx)
        except (torch.OutOfMemoryError, MemoryError) as exc:
            budget = f"{cfg.batching.key} budget {cfg.batching.budget}"
            raise TrialOutOfMemoryError(
                f"out of memory in stage {stage} ({budget}, gat {cfg.gat.layers}x"
                f"{cfg.gat.heads}x{cfg.gat.hidden}): {type(exc).__name__}: {exc}"
            ) from exc
    if target.reports is None:
        f1 = outcome.metrics["val_f1"]
        tune.report(
            {
                "val_f1": float(f1["fusion_dqn"] or 0.0),
                "val_loss": float("nan"),
                "precision": float("nan"),
                "recall": float("nan"),
                "epoch": 0,
            }
        )
