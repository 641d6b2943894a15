"""What a run report shows, read from a run's artifacts: the evaluate stage's rows and
per-window scores (``scores.npz``), the training stages' epoch histories and configs, the
cache's build config and the graph-size profile of its train split.

Nothing here computes a metric: every number on the page is one the evaluate stage
wrote (``metrics.json``) or a per-window score, flag and threshold it saved.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .artifacts import ArtifactStore
from .config import load_config
from .errors import ArtifactError

__all__ = [
    "PROTOCOLS",
    "RunData",
    "SplitData",
    "clean_start_highest",
    "load_run",
    "reproduce_commands",
]

PROTOCOLS = ("frozen", "calibrated")
_TRAINED = ("vgae", "gat", "fusion")
# canids-cache build flags of the cache's build config (what changes the cache's content)
_BUILD_FLAGS = {
    "window": "--window",
    "stride": "--stride",
    "val_fraction": "--val-fraction",
    "features": "--features",
    "validation": "--validation",
    "val_blocks": "--val-blocks",
    "val_start_seconds": "--val-start-seconds",
    "val_seed": "--val-seed",
    "format": "--format",
}


@dataclass(frozen=True)
class SplitData:
    """One split's windows: labels, capture, and per (protocol, model) the score, flag and
    threshold of every window; ``scored[protocol]`` marks the windows that protocol
    scores (the calibrated protocol leaves each capture's warm-up and calibration out)."""

    split: str
    models: tuple[str, ...]
    y: np.ndarray
    source: np.ndarray
    scored: dict[str, np.ndarray]
    score: dict[tuple[str, str], np.ndarray]
    flag: dict[tuple[str, str], np.ndarray]
    threshold: dict[tuple[str, str], np.ndarray]
    rows: list[dict[str, Any]]  # metrics.json rows of the default models

    def row(self, protocol: str, model: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["protocol"] == protocol and r["model"] == model)


@dataclass
class RunData:
    run: str
    dataset: str
    size: str
    metrics: dict[str, Any]  # the evaluate stage's metrics.json
    splits: dict[str, SplitData]  # held-out splits, in metrics order
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)  # key → metrics, config
    build: dict[str, Any] | None = None  # the cache manifest's build config and root

    @property
    def models(self) -> tuple[str, ...]:
        return ("vgae", "gat", f"fusion:{self.metrics['fusion_method']}")


def _split_data(
    split: str,
    models: tuple[str, ...],
    arrays: Mapping[str, np.ndarray],
    rows: list[dict[str, Any]],
) -> SplitData:
    def get(key: str) -> np.ndarray:
        try:
            return np.asarray(arrays[key])
        except KeyError:
            raise ArtifactError(
                f"scores.npz has no {key!r}: written by an evaluate stage older than the "
                "report; rerun `canids-train evaluate` for this run"
            ) from None

    score, flag, threshold = {}, {}, {}
    for protocol in PROTOCOLS:
        for model in models:
            base = f"{split}/{protocol}/{model}"
            score[protocol, model] = get(f"{base}/score").astype(np.float64)
            flag[protocol, model] = get(f"{base}/flag").astype(bool)
            threshold[protocol, model] = get(f"{base}/threshold").astype(np.float64)
    return SplitData(
        split,
        models,
        get(f"{split}/y").astype(np.int64),
        get(f"{split}/source").astype(np.int64),
        {p: get(f"{split}/{p}/scored").astype(bool) for p in PROTOCOLS},
        score,
        flag,
        threshold,
        [r for r in rows if r["split"] == split and r["model"] in models],
    )


def load_run(
    store: ArtifactStore,
    dataset: str,
    size: str,
    *,
    metrics: dict[str, Any] | None = None,
    arrays: Mapping[str, np.ndarray] | None = None,
    results_config: dict[str, Any] | None = None,
    manifest: dict[str, Any] | None = None,
) -> RunData:
    """A run's report data. The evaluate stage hands in what it has not written yet
    (``metrics``, ``arrays``, its own ``results_config``); a rebuild reads them."""
    if metrics is None:
        metrics = store.read_json(dataset, size, "results", "metrics.json")
    if arrays is None:
        path = store.path(dataset, size, "results", "scores.npz")
        if not path.is_file():
            raise ArtifactError(
                f"{path} does not exist: the report plots the evaluate stage's per-window "
                f"scores; run `canids-train evaluate --dataset {dataset} --size {size} "
                f"--run {store.run}` first"
            )
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    data = RunData(store.run, dataset, size, metrics, {})
    for split in metrics["held_out_splits"]:
        data.splits[split] = _split_data(split, data.models, arrays, metrics["rows"])
    for key in _TRAINED:
        # A stage of another run (--from-stage) or removed: the page says it is missing.
        entry: dict[str, Any] = {}
        with contextlib.suppress(ArtifactError):
            entry["metrics"] = store.read_json(dataset, size, key, "metrics.json")
        with contextlib.suppress(ArtifactError):
            entry["config"] = store.read_json(dataset, size, key, "config.json")
        data.stages[key] = entry
    if results_config is None:
        try:
            results_config = store.read_json(dataset, size, "results", "config.json")
        except ArtifactError:
            results_config = None
    data.stages["results"] = (
        {"metrics": metrics, "config": results_config} if results_config else {"metrics": metrics}
    )
    if manifest is not None:
        data.build = {"config": manifest.get("config", {}), "root": manifest.get("root")}
    return data


def _set_items(size: str, config: dict[str, Any]) -> list[str]:
    """``--set`` items that turn the size's preset into ``config`` (values as JSON)."""
    preset = load_config(size, None, []).to_dict()
    items = []
    for section, values in config.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if preset.get(section, {}).get(key) != value:
                items.append(f"{section}.{key}={json.dumps(value, separators=(',', ':'))}")
    return items


def reproduce_commands(data: RunData) -> list[list[str]]:
    """The commands that rebuild the cache and rerun every stage of this run, as argument
    lists (the page shell-quotes them)."""
    commands: list[list[str]] = []
    if data.build is not None:
        cmd = ["canids-cache", "build", "--dataset", data.dataset]
        if data.build.get("root"):
            cmd += ["--root", str(data.build["root"])]
        for key, flag in _BUILD_FLAGS.items():
            value = data.build["config"].get(key)
            if value is not None:
                cmd += [flag, str(value)]
        if data.build["config"].get("skip_bad_rows"):
            cmd.append("--skip-bad-rows")
        commands.append(cmd)
    for key in (*_TRAINED, "results"):
        record = data.stages.get(key, {}).get("config")
        if not record:
            continue
        cmd = ["canids-train", str(record["stage"]), "--dataset", data.dataset, "--size", data.size]
        cmd += ["--run", data.run]
        if record.get("distill_from"):
            cmd += ["--distill-from", str(record["distill_from"])]
        for item in _set_items(data.size, record["config"]):
            cmd += ["--set", item]
        commands.append(cmd)
    commands.append(
        [
            "canids-report",
            "--dataset",
            data.dataset,
            "--size",
            data.size,
            "--run",
            data.run,
            "--force",
        ]
    )
    return commands


def clean_start_highest(audit: dict[str, Any], models: list[str]) -> list[str]:
    """``"MODEL SHARE"`` for each of ``models`` the split's audit holds: the highest
    capture's share of its unlabeled clean start that the frozen threshold flags (empty
    where the split was not calibrated). ``results.md`` and ``report.html`` both print it."""
    shares = audit.get("clean_start_frozen_alarms") or {}
    return [f"{m} {max(shares[m].values()):.2f}" for m in models if shares.get(m)]
