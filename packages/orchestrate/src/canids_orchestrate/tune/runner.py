"""``canids-tune``'s engine: Ray Tune with Optuna (TPE) choosing values and ASHA stopping
poor trials at epoch boundaries, W&B logging offline unless a key is present.

Trials run with ``train.patience`` equal to ``max_t``, so a trial that ends before
``max_t`` epochs without an error was stopped by ASHA, and the summary can say so.
"""

from __future__ import annotations

import datetime as dt
import gc
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from canids_core import atomic_write_json, check_name

from ..errors import TuneConfigError
from ..ray_cluster import RayCluster, import_ray
from .space import load_space, to_tune
from .trainable import TARGETS, TrialSetup, run_trial
from .wandb_logging import WANDB_MODES, cut_off_runs, failed_runs, wandb_callback

__all__ = ["TrialSummary", "TuneOptions", "TuneSummary", "run_tune"]


@dataclass
class TuneOptions:
    dataset: str
    cache_dir: str
    storage_path: str
    target: str = "gat"
    size: str = "teacher"
    num_samples: int = 16
    max_t: int = 6
    grace_period: int = 1
    reduction_factor: int = 2
    asha: bool = True
    seed: int = 0
    space: str | None = None
    max_concurrent_trials: int | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # None: 1 where the cluster has GPUs, else 0
    name: str | None = None
    base_config: str | None = None
    base_overrides: tuple[str, ...] = ()
    from_runs_dir: str | None = None
    from_run: str = "default"
    check_sources: bool = True
    address: str | None = None
    num_cpus: int | None = None
    wandb_project: str = "canids"
    wandb_mode: str = "auto"  # auto: online with WANDB_API_KEY, else offline; or disabled
    upload_timeout: int | None = None  # None: 30 s online, 300 s offline (wandb_logging)
    trainable: Callable[..., None] | None = field(default=None, repr=False)


@dataclass
class TrialSummary:
    trial_id: str
    status: str  # completed | stopped early | failed
    epochs: int
    best_val_f1: float | None
    last_val_f1: float | None
    config: dict[str, Any]
    path: str
    error: str | None = None
    # Creation order (Tune's experiment tag "N_..."); with one trial at a time, also the
    # order in which ASHA saw the results. Trial ids are random with a searcher.
    number: int | None = None


@dataclass
class TuneSummary:
    experiment: str
    trials: list[TrialSummary]
    best_trial: str | None
    best_val_f1: float | None
    best_config_path: str | None
    wandb_runs: list[str]
    options: dict[str, Any]
    wandb_cut_off: list[str] = field(default_factory=list)
    wandb_failed: dict[str, str] = field(default_factory=dict)

    @property
    def stopped_early(self) -> int:
        return sum(t.status == "stopped early" for t in self.trials)

    @property
    def failed(self) -> list[TrialSummary]:
        return [t for t in self.trials if t.status == "failed"]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stopped_early"] = self.stopped_early
        return data


def _check(opts: TuneOptions) -> None:
    if opts.target not in TARGETS:
        raise TuneConfigError(f"unknown tune target {opts.target!r}; known: {', '.join(TARGETS)}")
    if TARGETS[opts.target].needs and opts.from_runs_dir is None:
        raise TuneConfigError(
            f"target {opts.target} tunes on the {', '.join(TARGETS[opts.target].needs)} of an "
            "existing run: pass --from-runs-dir (and --from-run) of a finished pipeline"
        )
    for name in ("num_samples", "max_t", "grace_period", "reduction_factor"):
        if getattr(opts, name) < 1:
            raise TuneConfigError(f"--{name.replace('_', '-')} must be >= 1")
    if opts.grace_period > opts.max_t:
        raise TuneConfigError(f"--grace-period {opts.grace_period} exceeds --max-t {opts.max_t}")
    if opts.upload_timeout is not None and opts.upload_timeout < 0:
        raise TuneConfigError(
            f"--upload-timeout must be 0 or more seconds, got {opts.upload_timeout}"
        )
    if opts.wandb_mode not in WANDB_MODES:
        raise TuneConfigError(f"--wandb-mode {opts.wandb_mode!r}: one of {', '.join(WANDB_MODES)}")
    if opts.name is not None:
        check_name("experiment", opts.name)  # a folder under the storage path
    from canids_models import load_config

    workers = load_config(opts.size, opts.base_config, list(opts.base_overrides)).train.workers
    if workers > 1:
        # A trial is one process (Tune's function trainable); N workers per trial would
        # need a TorchTrainer per trial. Refused, never run on one worker unannounced.
        raise TuneConfigError(
            f"train.workers = {workers}: canids-tune runs every trial on one worker (trials "
            "are the parallelism of a search); drop train.workers for the search, then "
            "train the best config on N workers: canids-train STAGE --config "
            "best_trial.json --workers N"
        )


def run_tune(opts: TuneOptions, echo: Callable[[str], None] = print) -> TuneSummary:
    _check(opts)
    target = TARGETS[opts.target]
    params = load_space(opts.space, opts.size)
    used = [p for p in params if p.section in target.sections]
    ignored = [p.key for p in params if p.section not in target.sections]
    if not used:
        raise TuneConfigError(f"the search space has no key for target {opts.target}")
    if ignored:
        echo(f"target {opts.target} leaves alone: {', '.join(ignored)}")
    import_ray()
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler
    from ray.tune.search.optuna import OptunaSearch

    name = opts.name or (
        f"{opts.dataset}-{opts.target}-{opts.size}-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    )
    exp_dir = Path(opts.storage_path).resolve() / name
    exp_dir.mkdir(parents=True, exist_ok=True)
    # Before Ray starts: a local cluster's workers inherit the W&B environment set here.
    callbacks = wandb_callback(opts, exp_dir, echo)
    cluster = RayCluster(opts.address, num_cpus=opts.num_cpus, echo=echo)
    totals = cluster.connect()
    try:
        gpus = opts.gpus_per_trial
        if gpus is None:
            gpus = 1.0 if totals.get("GPU", 0) > 0 else 0.0
        concurrent = opts.max_concurrent_trials or max(
            1, int(totals.get("CPU", 1) // max(opts.cpus_per_trial, 1e-9))
        )
        setup = TrialSetup(
            target=opts.target,
            dataset=opts.dataset,
            size=opts.size,
            cache_dir=str(Path(opts.cache_dir).resolve()),
            base_config=opts.base_config,
            base_overrides=tuple(opts.base_overrides),
            from_runs_dir=opts.from_runs_dir,
            from_run=opts.from_run,
            check_sources=opts.check_sources,
            threads=max(1, int(opts.cpus_per_trial)),
            fixed={"train.epochs": opts.max_t, "train.patience": opts.max_t},
            experiment_dir=str(exp_dir),
        )
        scheduler = (
            ASHAScheduler(
                time_attr="training_iteration",
                max_t=opts.max_t,
                grace_period=opts.grace_period,
                reduction_factor=opts.reduction_factor,
            )
            if opts.asha
            else FIFOScheduler()
        )
        trainable = tune.with_resources(
            tune.with_parameters(opts.trainable or run_trial, setup=setup),
            {"cpu": opts.cpus_per_trial, "gpu": gpus},
        )
        echo(
            f"tuning {opts.target} ({opts.size}) on {opts.dataset}: {opts.num_samples} trials, "
            f"{concurrent} at a time, {opts.cpus_per_trial:g} CPU + {gpus:g} GPU each, "
            + (
                f"ASHA max_t={opts.max_t} grace={opts.grace_period} rf={opts.reduction_factor}"
                if opts.asha
                else f"no early stopping, {opts.max_t} epochs"
            )
            + f"; storage: {exp_dir}"
        )
        tuner = tune.Tuner(
            trainable,
            param_space=to_tune(used),
            tune_config=tune.TuneConfig(
                metric="val_f1",
                mode="max",
                search_alg=OptunaSearch(seed=opts.seed),
                scheduler=scheduler,
                num_samples=opts.num_samples,
                max_concurrent_trials=concurrent,
            ),
            run_config=tune.RunConfig(
                name=name,
                storage_path=str(exp_dir.parent),
                failure_config=tune.FailureConfig(max_failures=0, fail_fast=False),
                callbacks=callbacks,
                verbose=1,
            ),
        )
        grid = tuner.fit()
        summary = _summarise(grid, opts, exp_dir)
        summary.wandb_cut_off = cut_off_runs(callbacks)
        if summary.wandb_cut_off:
            echo(
                f"wandb: {len(summary.wandb_cut_off)} trial run(s) were still writing when "
                f"the wait ended and were stopped ({', '.join(summary.wandb_cut_off)}): "
                "their W&B history may miss rows; raise --upload-timeout"
            )
        summary.wandb_failed = failed_runs(callbacks)
        for trial_id, error in summary.wandb_failed.items():
            echo(
                f"wandb: trial {trial_id}'s run stopped logging with an error, its W&B "
                f"history is incomplete (the trial's own results are not affected): {error}"
            )
        # W&B's callback cleans up in __del__, which needs Ray still up: drop it now.
        del tuner, grid
        callbacks.clear()
        gc.collect()
    finally:
        cluster.shutdown()
    # Others read it (the SLURM job's submitter, a notebook) while it may be rewritten.
    atomic_write_json(exp_dir / "summary.json", _jsonable(summary.to_json()), indent=2)
    return summary


def _jsonable(data: Any) -> Any:
    """Tune's values as JSON holds them (numpy numbers, paths); NaN as null, since
    strict JSON has no NaN."""
    text = json.dumps(data, default=str)
    return json.loads(text, parse_constant=lambda _name: None)


def _summarise(grid: Any, opts: TuneOptions, exp_dir: Path) -> TuneSummary:
    trials: list[TrialSummary] = []
    for result in grid:
        frame = result.metrics_dataframe
        history = [] if frame is None or "val_f1" not in frame else list(frame["val_f1"])
        epochs = int(result.metrics.get("training_iteration", 0)) if result.metrics else 0
        if result.error is not None:
            status, error = "failed", _error_text(result.error)
        else:
            status = "completed" if epochs >= opts.max_t else "stopped early"
            error = None
        trial_id = str((result.metrics or {}).get("trial_id") or Path(result.path).name)
        trials.append(
            TrialSummary(
                trial_id=trial_id,
                status=status,
                epochs=epochs,
                best_val_f1=max(history) if history else None,
                last_val_f1=history[-1] if history else None,
                config=dict(result.config),
                path=str(result.path),
                error=error,
                number=trial_number(result.metrics or {}, str(result.path), trial_id),
            )
        )
    trials.sort(key=lambda t: (t.number is None, t.number or 0, t.trial_id))
    scored = [t for t in trials if t.best_val_f1 is not None]
    best = max(scored, key=lambda t: t.best_val_f1 or -1.0) if scored else None
    best_path = None
    if best is not None:
        trial_config = json.loads((Path(best.path) / "trial.json").read_text())
        trial_config["tune"] = {
            "experiment": str(exp_dir),
            "trial": best.trial_id,
            "best_val_f1": best.best_val_f1,
            "sampled": best.config,
        }
        best_path = exp_dir / "best_trial.json"
        atomic_write_json(best_path, _jsonable(trial_config), indent=2)
    runs = sorted(str(p) for p in (exp_dir / "wandb").glob("offline-run-*"))
    options = {k: v for k, v in asdict(opts).items() if k != "trainable"}
    return TuneSummary(
        experiment=str(exp_dir),
        trials=trials,
        best_trial=best.trial_id if best else None,
        best_val_f1=best.best_val_f1 if best else None,
        best_config_path=str(best_path) if best_path else None,
        wandb_runs=runs,
        options=options,
    )


def trial_number(metrics: dict[str, Any], path: str, trial_id: str) -> int | None:
    """A trial's number in creation order: Tune's ``experiment_tag`` (``3_gat.heads=2,…``)
    in its results, else the same number in its folder name (``…_<trial id>_3_…``, for a
    trial that failed before reporting)."""
    tag = str(metrics.get("experiment_tag") or "")
    match = re.match(r"(\d+)_", tag) or re.search(
        rf"_{re.escape(trial_id)}_(\d+)(?:_|$)", Path(path).name
    )
    return int(match.group(1)) if match else None


def _error_text(error: BaseException) -> str:
    cause = getattr(error, "cause", None) or error
    lines = [line for line in str(cause).strip().splitlines() if line.strip()]
    return f"{type(cause).__name__}: {lines[-1] if lines else ''}"[:400]
