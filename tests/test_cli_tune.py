"""canids-tune on a real local Ray: Optuna picks, ASHA stops, every trial in its own
folder, W&B runs offline on disk, the best config trains; plus the space file's checks
and the SLURM job it renders."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from canids_cli.tune_cmd import main as tune_main
from canids_data import CacheManager
from canids_orchestrate.tune import load_space
from canids_testkit import ci_is_set, read_offline_history
from click.testing import CliRunner

SECRET = "canids-test-not-a-real-wandb-key-0123456789"
SMALL_SPACE = """
[gat.hidden]
kind = "choice"
values = [8, 16]

[gat.heads]
kind = "choice"
values = [1, 2]

[gat.layers]
kind = "choice"
values = [1, 2]

[train.lr]
kind = "loguniform"
low = 1e-4
high = 3e-2

[dqn.hidden]
kind = "choice"
values = [16]
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    root = tmp_path_factory.mktemp("tune")
    CacheManager(root / "cache").build("demo", demo_captures)
    (root / "space.toml").write_text(SMALL_SPACE)
    return root


def _tune(workdir: Path, name: str, *args: str, env: dict | None = None) -> tuple[int, str]:
    cmd = [sys.executable, "-c", "from canids_cli.tune_cmd import main; main()"]
    cmd += ["--dataset", "demo", "--cache-dir", str(workdir / "cache"), "--name", name]
    cmd += ["--storage-path", str(workdir / "tune"), "--space", str(workdir / "space.toml")]
    cmd += ["--num-cpus", "2", "--set", "train.threads=1", *args]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, timeout=900, env={**os.environ, **(env or {})}
    )
    return proc.returncode, proc.stdout + proc.stderr


def asha_verdicts(histories: list[list[float]], max_t: int, grace: int, rf: int) -> list[int]:
    """How many epochs each trial runs under asynchronous successive halving (Li et al.,
    as Ray's ASHAScheduler implements it, one bracket), for trials run one after another
    with these per-epoch ``val_f1`` values (higher is better): at each rung, a trial below
    the (1 - 1/rf) quantile of the values recorded there before it stops."""
    rungs = [grace * rf**k for k in range(int(np.log(max_t / grace) / np.log(rf) + 1))]
    recorded: dict[int, list[float]] = {r: [] for r in rungs}
    epochs = []
    for history in histories:
        ran = max_t
        for it, value in enumerate(history[:max_t], start=1):
            if it in recorded and it < max_t:
                seen = recorded[it]
                cutoff = float(np.nanpercentile(seen, (1 - 1 / rf) * 100)) if seen else None
                seen.append(value)
                if cutoff is not None and value < cutoff:
                    ran = it
                    break
        epochs.append(ran)
    return epochs


@pytest.mark.slow
@pytest.mark.ray
def test_asha_does_what_it_must_and_everything_is_per_trial(workdir: Path) -> None:
    """Trials run one at a time, so the order in which ASHA sees results is known: the
    epochs each trial ran must be exactly what the rule gives for the values it reported
    (whatever those values are: no test of "at least one stopped" that luck can pass)."""
    code, out = _tune(
        workdir,
        "asha",
        "--num-samples",
        "4",
        "--max-t",
        "3",
        "--max-concurrent-trials",
        "1",
        "--wandb-mode",
        "offline",
        env={"WANDB_API_KEY": SECRET},
    )
    assert code == 0, out
    summary = json.loads((workdir / "tune" / "asha" / "summary.json").read_text())
    trials = summary["trials"]  # in creation order: with one at a time, the run order
    assert [t["number"] for t in trials] == [1, 2, 3, 4]
    assert "target gat leaves alone: dqn.hidden" in out
    assert f"{summary['stopped_early']} stopped early by ASHA" in out
    for trial in trials:
        assert trial["status"] in ("completed", "stopped early")
        assert (trial["status"] == "completed") == (trial["epochs"] == 3)
    # Every trial trained in its own folder: distinct checkpoints, none shared.
    states = [Path(t["path"]) / "trial/demo/teacher/gat/train_state.pt" for t in trials]
    assert all(p.is_file() for p in states)
    assert len({p.resolve() for p in states}) == 4
    # Every trial's run finished writing before the search ended: none was cut off.
    assert summary["wandb_cut_off"] == []
    # No trial's logging actor ended with an error (its error would be named here).
    assert summary["wandb_failed"] == {}, summary["wandb_failed"]
    # One offline W&B run per trial, holding one history row per reported epoch.
    runs = summary["wandb_runs"]
    assert len(runs) == 4
    by_id = {Path(r).name.rsplit("-", 1)[1]: r for r in runs}
    histories = []
    for trial in trials:
        rows = read_offline_history(by_id[trial["trial_id"]])
        assert [r["epoch"] for r in rows] == list(range(trial["epochs"]))
        assert [round(r["val_f1"], 6) for r in rows][-1] == round(trial["last_val_f1"], 6)
        histories.append([r["val_f1"] for r in rows])
    # What ASHA must have done with these values, trial by trial (a stopped trial's
    # later epochs are unknown, but they no longer matter: it was stopped).
    assert [t["epochs"] for t in trials] == asha_verdicts(histories, 3, 1, 2)
    # The key was in the environment, the runs are offline: it is written nowhere.
    for path in (workdir / "tune" / "asha").rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path
    # The best config is a canids-train --config file.
    best = Path(summary["best_config_path"])
    chosen = json.loads(best.read_text())
    assert chosen["tune"]["best_val_f1"] == max(t["best_val_f1"] for t in trials)
    train = subprocess.run(
        [sys.executable, "-c", "from canids_cli.train_cmd import main; main()", "gat"]
        + ["--dataset", "demo", "--size", "teacher", "--config", str(best)]
        + ["--set", "train.epochs=1", "--runs-dir", str(workdir / "best_runs")]
        + ["--cache-dir", str(workdir / "cache")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert train.returncode == 0, train.stdout + train.stderr
    used = json.loads((workdir / "best_runs/default/demo/teacher/gat/config.json").read_text())
    assert used["config"]["gat"] == chosen["config"]["gat"]


# A trainable that reports fixed val_f1 curves, in the order the trials run (one at a
# time): what ASHA stops is then certain. It writes trial.json as run_trial does.
ASHA_SCRIPT = """
import json, os, sys
from pathlib import Path
# Ray imported before canids, as a user's script may: run_tune's import_ray still turns
# off Ray's `uv run` worker hook (workers would otherwise run `uv run` in a repo copy).
from ray import tune
from canids_orchestrate.tune import TuneOptions, run_tune

# Module globals: the trainable runs in Ray workers, whose sys.argv is not this one.
CURVES = json.loads(sys.argv[3])
MARKS = sys.argv[4]

def claim():
    for i in range(len(CURVES)):
        try:
            os.close(os.open(os.path.join(MARKS, f"trial-{i}"), os.O_CREAT | os.O_EXCL))
            return i
        except FileExistsError:
            continue
    raise RuntimeError("more trials than curves")

def trainable(config, setup):
    curve = CURVES[claim()]
    trial_dir = Path(tune.get_context().get_trial_dir())
    (trial_dir / "trial.json").write_text(json.dumps({"size": "teacher", "config": {}}))
    for epoch, f1 in enumerate(curve):
        tune.report({"val_f1": f1, "val_loss": 1 - f1, "precision": f1, "recall": f1,
                     "epoch": epoch})

summary = run_tune(TuneOptions(
    dataset="demo", cache_dir=sys.argv[1], storage_path=sys.argv[2], name="scripted",
    num_samples=len(CURVES), max_t=3, grace_period=1, reduction_factor=2, space=sys.argv[5],
    num_cpus=2, max_concurrent_trials=1, wandb_mode="disabled", trainable=trainable))
print("RESULT", json.dumps([[t.status, t.epochs] for t in summary.trials]), summary.best_val_f1)
print("ERRORS", [t.error for t in summary.failed])
"""


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.foreground
def test_asha_stops_what_is_certainly_worse(workdir: Path, tmp_path: Path) -> None:
    """Curves chosen so that the rule's verdicts are certain: B is below everything at
    epoch 1, C is above the epoch-1 median but below A at epoch 2."""
    curves = [
        [0.5, 0.6, 0.7],  # A: first at every rung, never stopped
        [0.4, 0.9, 0.9],  # B: 0.4 < 0.5 at epoch 1: stopped, its later values never seen
        [0.55, 0.58, 0.99],  # C: 0.55 >= median(0.5, 0.4); 0.58 < 0.6 at epoch 2: stopped
        [0.9, 0.95, 0.96],  # D: above every cutoff
    ]
    assert asha_verdicts(curves, 3, 1, 2) == [3, 1, 2, 3]
    script = tmp_path / "asha.py"
    script.write_text(textwrap.dedent(ASHA_SCRIPT))
    (tmp_path / "marks").mkdir()
    proc = subprocess.run(
        [sys.executable, str(script), str(workdir / "cache"), str(tmp_path / "tune")]
        + [json.dumps(curves), str(tmp_path / "marks"), str(workdir / "space.toml")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT "))
    verdicts, best = line.removeprefix("RESULT ").rsplit(" ", 1)
    assert json.loads(verdicts) == [
        ["completed", 3],
        ["stopped early", 1],
        ["stopped early", 2],
        ["completed", 3],
    ]
    assert float(best) == 0.96


OOM_SCRIPT = """
import os, sys, torch
from canids_orchestrate.tune import TuneOptions, run_tune, run_trial

MARK = sys.argv[2]

def trainable(config, setup):
    # Exactly one trial (the first to claim the mark) runs out of memory.
    try:
        os.close(os.open(MARK, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        return run_trial(config, setup)
    raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.11 GiB (test)")

summary = run_tune(TuneOptions(
    dataset="demo", cache_dir=sys.argv[1], storage_path=sys.argv[3], name="oom",
    num_samples=2, max_t=1, space=sys.argv[4], num_cpus=2, max_concurrent_trials=1,
    base_overrides=("train.threads=1",), wandb_mode="disabled", trainable=trainable))
print("STATUSES", sorted(t.status for t in summary.trials))
print("ERRORS", [t.error for t in summary.failed])
"""


@pytest.mark.slow
@pytest.mark.ray
@pytest.mark.foreground
def test_an_out_of_memory_trial_fails_alone(workdir: Path, tmp_path: Path) -> None:
    script = tmp_path / "oom.py"
    script.write_text(textwrap.dedent(OOM_SCRIPT))
    proc = subprocess.run(
        [sys.executable, str(script), str(workdir / "cache"), str(tmp_path / "mark")]
        + [str(tmp_path / "tune"), str(workdir / "space.toml")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "STATUSES ['completed', 'failed']" in out
    assert "OutOfMemoryError: CUDA out of memory. Tried to allocate 2.11 GiB (test)" in out
    summary = json.loads((tmp_path / "tune/oom/summary.json").read_text())
    failed = [t for t in summary["trials"] if t["status"] == "failed"]
    assert failed[0]["epochs"] == 0  # failed at once, not retried


def test_write_space_gives_an_editable_copy(tmp_path: Path) -> None:
    dest = tmp_path / "mine.toml"
    result = CliRunner().invoke(tune_main, ["--dataset", "demo", "--write-space", str(dest)])
    assert result.exit_code == 0, result.output
    assert len(load_space(dest)) == 13
    again = CliRunner().invoke(tune_main, ["--dataset", "demo", "--write-space", str(dest)])
    assert again.exit_code == 1
    assert "exists" in again.output


def test_slurm_dry_run_renders_a_valid_quoted_script(tmp_path: Path) -> None:
    # Names are refused at the edge; a free-text value must arrive quoted.
    project = "lab runs; rm -rf ~"
    result = CliRunner().invoke(
        tune_main,
        ["--dataset", "demo", "--slurm", "--dry-run", "--nodes", "2"]
        + ["--gpus-per-node", "4", "--partition", "gpu", "--storage-path", str(tmp_path)]
        + ["--wandb-project", project],
    )
    assert result.exit_code == 0, result.output
    script = result.output
    assert "#SBATCH --nodes=2" in script
    assert "#SBATCH --gres=gpu:4" in script
    assert "#SBATCH --exclusive" in script
    assert "ENTRY=(canids-tune --dataset demo --storage-path" in script
    assert f"--wandb-project '{project}'" in script
    assert "ray symmetric-run" in script
    assert 'RAY_TMP="/tmp/ray_${JOB_ID}"' in script
    path = tmp_path / "job.sbatch"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    if shutil.which("shellcheck") is None and not ci_is_set():
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    check = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout


def test_a_hostile_dataset_name_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        tune_main,
        ["--dataset", "x; rm -rf ~", "--slurm", "--dry-run", "--storage-path", str(tmp_path)],
    )
    assert result.exit_code == 2
    assert "dataset name 'x; rm -rf ~' is not allowed" in result.output
    assert "#SBATCH" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_slurm_values_are_validated(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        tune_main,
        ["--dataset", "demo", "--slurm", "--dry-run", "--memory", "lots"]
        + ["--storage-path", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "not a SLURM memory size" in result.output
    result = CliRunner().invoke(
        tune_main,
        ["--dataset", "demo", "--slurm", "--dry-run", "--partition", "gpu;id"]
        + ["--storage-path", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert "partition 'gpu;id'" in result.output
