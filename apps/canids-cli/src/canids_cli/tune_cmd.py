"""``canids-tune``: hyper-parameter search with Ray Tune, Optuna and ASHA; W&B offline-first.

The best trial's full config is written as JSON that ``canids-train --config`` reads.
``--slurm`` renders ``slurm/ray-cluster.sbatch`` around this same command instead.

Start-up imports click and the target names only; Ray, Optuna and torch load when a
search starts.
"""

from __future__ import annotations

import re
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from canids_core import CanidsError, atomic_write_text, format_table
from canids_orchestrate.tune.trainable import TARGETS
from canids_orchestrate.tune.wandb_logging import WANDB_MODES

from ._console import fail
from ._options import (
    cache_dir_option,
    dataset_option,
    no_source_check_option,
    runs_dir_option,
    size_option,
)

if TYPE_CHECKING:
    from canids_orchestrate.tune import TuneSummary

__all__ = ["main"]

# The flags that shape the SLURM job, not the search (True: takes a value).
_SLURM_FLAGS = {
    "--slurm": False,
    "--dry-run": False,
    "--num-cpus": True,
    "--nodes": True,
    "--gpus-per-node": True,
    "--memory": True,
    "--walltime": True,
    "--account": True,
    "--partition": True,
    "--venv": True,
    "--modules": True,
}


def _entry(ctx: click.Context) -> list[str]:
    """This command's search options (not the SLURM ones) as a command line for the job."""
    entry = ["canids-tune"]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        flag = max(param.opts, key=len)
        value = ctx.params.get(param.name)
        if flag in _SLURM_FLAGS:
            continue
        if param.is_flag:
            if value:
                entry.append(flag)
        elif value is None or value == param.default:
            continue
        elif param.multiple:
            for item in value:
                entry += [flag, str(item)]
        else:
            entry += [flag, str(value)]
    return entry


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@dataset_option("Dataset whose cache the trials train on.")
@click.option("--target", type=click.Choice(list(TARGETS)), default="gat", show_default=True)
@size_option(default="teacher")
@click.option("--num-samples", type=int, default=16, show_default=True)
@click.option("--max-t", type=int, default=6, show_default=True, help="Epochs per trial.")
@click.option("--grace-period", type=int, default=1, show_default=True)
@click.option("--reduction-factor", type=int, default=2, show_default=True)
@click.option("--no-asha", is_flag=True, help="Run every trial to --max-t (a baseline).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--space", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option(
    "--write-space",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the default search space to this file (to edit) and exit.",
)
@click.option("--max-concurrent-trials", type=int, default=None)
@click.option("--cpus-per-trial", type=float, default=1.0, show_default=True)
@click.option("--gpus-per-trial", type=float, default=None, help="Default: 1 if GPUs exist.")
@click.option("--storage-path", default=None, help="Shared FS on clusters. Default: RUNS/tune.")
@click.option("--name", default=None, help="Experiment name (default: dataset-target-size-time).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None)
@click.option("--set", "overrides", multiple=True, metavar="SECTION.KEY=VALUE")
@click.option("--from-runs-dir", default=None, help="fusion target: a finished run's runs dir.")
@click.option("--from-run", default="default", show_default=True)
@runs_dir_option()
@cache_dir_option()
@no_source_check_option()
@click.option("--address", default=None, help="Join this Ray cluster (HOST:PORT or auto).")
@click.option("--num-cpus", type=int, default=None, help="CPUs of a local Ray cluster.")
@click.option("--wandb-project", default="canids", show_default=True)
@click.option(
    "--wandb-mode",
    type=click.Choice(WANDB_MODES),
    default="auto",
    show_default=True,
    help="auto: online when WANDB_API_KEY is set, else offline.",
)
@click.option(
    "--upload-timeout",
    type=click.IntRange(min=0),
    default=None,
    help="Seconds the end of the search waits for the trials' W&B runs before stopping "
    "them [default: 30 online, 300 offline].",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--slurm", is_flag=True, help="Run this search as a SLURM job (Ray cluster).")
@click.option("--dry-run", is_flag=True, help="With --slurm: print the script, submit nothing.")
@click.option("--nodes", type=int, default=1, show_default=True, help="--slurm: nodes.")
@click.option("--gpus-per-node", type=int, default=0, show_default=True, help="--slurm")
@click.option("--memory", default="32G", show_default=True, help="--slurm: memory per node.")
@click.option("--walltime", default="04:00:00", show_default=True, help="--slurm")
@click.option("--account", default=None, help="--slurm")
@click.option("--partition", default=None, help="--slurm")
@click.option("--venv", default=None, help="--slurm: venv to activate (default: this one).")
@click.option("--modules", default="", help="--slurm: modules to load.")
def main(**kw: Any) -> None:
    """Search hyper-parameters of a canids stage on DATASET's cache."""
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(line_buffering=True)
    if kw["write_space"] is not None:
        from canids_orchestrate.tune.space import DEFAULT_SPACE

        dest = Path(str(kw["write_space"]))
        if dest.exists():
            fail(FileExistsError(f"{dest} exists; choose another path or remove it"))
        atomic_write_text(dest, DEFAULT_SPACE.read_text())
        click.echo(f"wrote the default search space to {dest}; use it with --space {dest}")
        return
    from canids_models.artifacts import resolve_runs_dir

    storage = str(kw["storage_path"] or resolve_runs_dir(kw["runs_dir"]) / "tune")
    if kw["slurm"]:
        _submit_slurm(kw, storage)
        return
    from canids_data import CacheManager, CanidsDataError
    from canids_orchestrate.tune import TuneOptions, run_tune

    try:
        cache = CacheManager(kw["cache_dir"])
        report = cache.verify(str(kw["dataset"]), check_sources=not kw["no_source_check"])
        if not report.ok:
            raise CanidsDataError(
                f"graph cache of {kw['dataset']} is {report.status}; fix: {report.fix}"
            )
        opts = TuneOptions(
            dataset=str(kw["dataset"]),
            cache_dir=str(cache.cache_dir),
            storage_path=storage,
            target=str(kw["target"]),
            size=str(kw["size"]),
            num_samples=int(kw["num_samples"]),
            max_t=int(kw["max_t"]),
            grace_period=int(kw["grace_period"]),
            reduction_factor=int(kw["reduction_factor"]),
            asha=not kw["no_asha"],
            seed=int(kw["seed"]),
            space=str(kw["space"]) if kw["space"] else None,
            max_concurrent_trials=kw["max_concurrent_trials"],
            cpus_per_trial=float(kw["cpus_per_trial"]),
            gpus_per_trial=kw["gpus_per_trial"],
            name=kw["name"],
            base_config=kw["config_path"],
            base_overrides=tuple(kw["overrides"]),
            from_runs_dir=kw["from_runs_dir"],
            from_run=str(kw["from_run"]),
            check_sources=not kw["no_source_check"],
            address=kw["address"],
            num_cpus=kw["num_cpus"],
            wandb_project=str(kw["wandb_project"]),
            wandb_mode=str(kw["wandb_mode"]),
            upload_timeout=kw["upload_timeout"],
        )
        summary = run_tune(opts, echo=click.echo)
    except (CanidsError, CanidsDataError) as exc:  # canids-data's base: not a CanidsError yet
        fail(exc)
    _print_summary(summary)
    if kw["json_path"]:
        summary_file = Path(summary.experiment) / "summary.json"  # JSON-plain, atomic
        atomic_write_text(Path(str(kw["json_path"])), summary_file.read_text())
    if summary.best_trial is None:
        fail(RuntimeError("no trial reported a val_f1: every trial failed (see the table)"))


def _print_summary(summary: TuneSummary) -> None:
    rows = [
        [
            t.trial_id,
            t.status,
            str(t.epochs),
            "-" if t.best_val_f1 is None else f"{t.best_val_f1:.4f}",
            ", ".join(f"{k}={_short(v)}" for k, v in sorted(t.config.items())),
        ]
        for t in summary.trials
    ]
    click.echo(format_table(["trial", "status", "epochs", "best val_f1", "config"], rows))
    counts = {s: sum(t.status == s for t in summary.trials) for s in ("completed", "failed")}
    click.echo(
        f"{len(summary.trials)} trials: {counts['completed']} completed, "
        f"{summary.stopped_early} stopped early by ASHA, {counts['failed']} failed"
    )
    for t in summary.failed:
        click.echo(f"  failed {t.trial_id}: {t.error}")
    if summary.best_trial is not None:
        click.echo(f"best: {summary.best_trial} val_f1 {summary.best_val_f1:.4f}")
        click.echo(f"best config: {summary.best_config_path}")
        click.echo(f"  use it: canids-train gat --dataset D --config {summary.best_config_path}")
    if summary.wandb_runs:
        click.echo(
            f"wandb offline runs: {len(summary.wandb_runs)} under {summary.experiment}/wandb"
        )
    click.echo(f"summary: {summary.experiment}/summary.json")


def _short(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _submit_slurm(kw: dict[str, Any], storage: str) -> None:
    """Render the Ray cluster job around this very command (without the SLURM flags)."""
    from canids_jobs import sbatch
    from canids_orchestrate.slurm_render import RayJobSpec, render_ray_job

    entry = _entry(click.get_current_context())
    if "--storage-path" not in entry:
        entry += ["--storage-path", str(Path(storage).resolve())]
    venv = kw["venv"] or str(Path(sys.prefix))
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", str(kw["dataset"]))  # for names, not the command
    try:
        script = render_ray_job(
            RayJobSpec(
                entry=entry,
                job_name=f"canids-tune-{safe}",
                nodes=int(kw["nodes"]),
                cpus=max(1, int(kw["num_cpus"] or 8)),
                gpus_per_node=int(kw["gpus_per_node"]),
                memory=str(kw["memory"]),
                walltime=str(kw["walltime"]),
                output=str(Path(storage).resolve() / "ray-cluster-%j.out"),
                account=kw["account"],
                partition=kw["partition"],
                modules=str(kw["modules"]),
                venv=str(venv),
            )
        )
    except CanidsError as exc:
        fail(exc)
    if kw["dry_run"]:
        click.echo(script, nl=False)
        return
    path = Path(storage) / f"ray-cluster-{safe}.sbatch"
    atomic_write_text(path, script)
    if shutil.which("sbatch") is None:
        fail(RuntimeError(f"wrote {path}, but sbatch is not on PATH: submit it on the cluster"))
    try:
        job_id = sbatch(path, cwd=path.parent)  # canids-jobs: the id sbatch --parsable printed
    except CanidsError as exc:
        fail(exc)
    click.echo(f"submitted {path} as job {job_id}: {shlex.join(entry)}")
