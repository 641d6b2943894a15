"""The real ``canids-train`` console script, in a subprocess, on a tiny demo cache: the
entry point every executor (local, Ray, SLURM) runs. Its last line is the stage result;
its artifacts are where the artifact store says, with the config that made them. Without
a terminal it logs one line per epoch; on one it draws bars on stderr. Each stage is one
W&B run, offline without an API key, and the key is written to no file."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from canids_core import RESULT_PREFIX, parse_report
from canids_models import ArtifactStore, load_config
from canids_testkit import read_offline_run

SECRET = "canids-test-key-0123456789abcdef"

# Models small enough to train in seconds on two shared CPU cores.
TINY = (
    "train.threads=1",
    "train.device=cpu",
    "vgae.layers=1",
    "vgae.heads=2",
    "vgae.hidden=8",
    "vgae.latent=4",
    "vgae.embed_dim=4",
)


def _sets(items: tuple[str, ...] | list[str]) -> list[str]:
    return [arg for item in items for arg in ("--set", item)]


@pytest.fixture(scope="module")
def trained(cli, demo_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """``canids-train vgae`` with a TOML config file and ``--set`` items, run once."""
    base = tmp_path_factory.mktemp("cli_train")
    config = base / "best.toml"
    config.write_text("[train]\nepochs = 2\npatience = 5\n[vgae]\nhidden = 16\n")
    runs = base / "runs"
    done = cli(
        "canids-train",
        "vgae",
        "--dataset",
        "demo",
        "--size",
        "teacher",
        "--cache-dir",
        demo_cache,
        "--runs-dir",
        runs,
        "--run",
        "cli-test",
        "--config",
        config,
        *_sets(TINY),
        env={"WANDB_API_KEY": ""},  # no key: W&B logs offline (auto)
    )
    return {"done": done, "runs": runs, "config": config}


def test_it_exits_0_and_ends_with_a_completed_result_line(trained, demo_cache):
    done = trained["done"]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    lines = done.stdout.rstrip("\n").splitlines()
    assert lines[-1].startswith(RESULT_PREFIX)
    report = parse_report(lines[-1])
    assert (report.status, report.stage, report.dataset, report.size, report.run) == (
        "completed",
        "vgae",
        "demo",
        "teacher",
        "cli-test",
    )
    assert report.metrics["epochs_run"] == 2
    assert report.wall_seconds is not None
    assert report.wall_seconds > 0
    # The one cache location and the artifact folder are said before anything else.
    assert lines[0] == f"cache: {demo_cache.resolve()}"
    assert lines[1] == f"artifacts: {(trained['runs'] / 'cli-test').resolve()}"


def test_its_artifacts_are_where_the_store_says_with_the_config_that_made_them(trained):
    report = parse_report(trained["done"].stdout.rstrip("\n").splitlines()[-1])
    store = ArtifactStore(trained["runs"], "cli-test")
    folder = store.dir("demo", "teacher", "vgae")
    assert set(report.artifacts) == {"checkpoint", "metrics", "config", "done"}
    for path in report.artifacts.values():
        assert Path(path).parent == folder
        assert Path(path).is_file()
    assert store.is_done("demo", "teacher", "vgae")
    # The file, then --set: the resolved config is recorded and keys the DONE record.
    expected = load_config("teacher", trained["config"], list(TINY))
    assert (expected.train.epochs, expected.vgae.hidden) == (2, 8)  # --set beat the file
    recorded = json.loads(Path(report.artifacts["config"]).read_text())
    assert recorded["config"] == expected.to_dict()
    assert (recorded["stage"], recorded["device"], recorded["backend"]) == ("vgae", "cpu", "pyg")
    assert store.done_record("demo", "teacher", "vgae")["config_digest"] == expected.digest
    assert f"config {expected.digest[:12]}" in trained["done"].stdout
    checkpoint = store.load("demo", "teacher", "vgae")
    assert checkpoint["hparams"]["hidden"] == 8


def test_a_bad_override_fails_before_any_write(cli, demo_cache, tmp_path):
    runs = tmp_path / "runs"
    done = cli(
        "canids-train",
        "vgae",
        "--dataset",
        "demo",
        "--size",
        "teacher",
        "--cache-dir",
        demo_cache,
        "--runs-dir",
        runs,
        *_sets([*TINY, "vgae.heads=0"]),
    )
    assert done.returncode == 1
    assert "error: --set vgae.heads=0: vgae.heads: must be >= 1 (got 0)" in done.stderr
    assert "Traceback" not in done.stderr
    report = parse_report(done.stdout.rstrip("\n").splitlines()[-1])
    assert (report.status, report.error_type) == ("failed", "ConfigError")
    assert report.error == "--set vgae.heads=0: vgae.heads: must be >= 1 (got 0)"
    assert not runs.exists()


def test_an_unknown_stage_is_a_usage_error(cli):
    done = cli("canids-train", "nosuchstage", "--dataset", "demo", "--size", "teacher")
    assert done.returncode == 2
    assert (
        "'nosuchstage' is not one of 'vgae', 'gat', 'gat_curriculum', 'fusion', 'evaluate'"
        in done.stderr
    )
    assert RESULT_PREFIX not in done.stdout  # click refused it: no stage ran


def test_the_module_fallback_runs_the_stage(cli, demo_cache, tmp_path):
    """``python -m canids_cli.train_cmd`` (what a submission falls back to where
    ``canids-train`` is not on PATH) is the same command: it answers --help and a failing
    stage exits 1 with its result line, instead of exiting 0 having done nothing."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "canids_cli.train_cmd", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0
    assert "Train or evaluate one STAGE of the catalogue" in done.stdout
    done = subprocess.run(
        [sys.executable, "-m", "canids_cli.train_cmd", "vgae", "--dataset", "demo", "--size",
         "teacher", "--cache-dir", str(tmp_path / "no-cache"), "--runs-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert done.returncode == 1
    report = parse_report(done.stdout.rstrip("\n").splitlines()[-1])
    assert (report.status, report.error_type) == ("failed", "PreflightError")


def test_a_rendered_stage_script_without_canids_train_on_path_exits_non_zero(tmp_path):
    """A SLURM stage script rendered with the fallback entry point (what canids-submit uses
    where ``canids-train`` is not installed), run with bash as sbatch would on a node
    whose PATH has no ``canids-train`` and no cache: it exits non-zero with the stage's
    failed result line, never 0 with no output and no artifacts."""
    import shutil
    import subprocess
    import sys

    from canids_jobs import SlurmSubmitter, load_profile
    from canids_models import ArtifactStore, get_pipeline, plan_pipelines

    store = ArtifactStore(tmp_path / "runs", "default")
    plans = plan_pipelines(store, [(get_pipeline("custom", ["vgae"]), "student")], "demo")
    venv = tmp_path / "venv"  # the profile's setup sources it: an empty activate script
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text("")
    fallback = [sys.executable, "-m", "canids_cli.train_cmd"]
    submitter = SlurmSubmitter(
        store,
        cache_dir=tmp_path / "missing-cache",
        profile=load_profile("local"),
        ledger=None,
        train_command=fallback,
        check_sources=False,
        venv=str(venv),
    )
    (job,) = submitter.render(plans)
    assert "exec " + " ".join(fallback) in job.script
    script = tmp_path / "stage.sh"
    script.write_text(job.script)
    env = {"PATH": "/usr/bin:/bin", "SLURM_JOB_ID": "1", "HOME": str(tmp_path)}
    assert shutil.which("canids-train", path=env["PATH"]) is None
    done = subprocess.run(
        ["bash", str(script)], capture_output=True, text=True, env=env, check=False, timeout=300
    )
    assert done.returncode == 1, done.stdout + done.stderr
    report = parse_report(done.stdout.rstrip("\n").splitlines()[-1])
    assert (report.status, report.stage, report.error_type) == ("failed", "vgae", "PreflightError")
    assert not store.is_done("demo", "student", "vgae")


def test_without_a_terminal_the_log_is_one_line_per_epoch(trained):
    """A batch job's log: no bar, no carriage return, one line per epoch, the result last."""
    done = trained["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    for stream in (done.stdout, done.stderr):
        assert "\r" not in stream
        assert "batch/s" not in stream
        assert "graphs/s" not in stream
    epochs = [ln for ln in done.stdout.splitlines() if ln.startswith("[vgae/teacher] epoch ")]
    assert [ln.split(":")[0] for ln in epochs] == [
        "[vgae/teacher] epoch 0",
        "[vgae/teacher] epoch 1",
    ]
    assert done.stdout.rstrip("\n").splitlines()[-1].startswith(RESULT_PREFIX)


def _offline_run(runs: Path, run: str, key: str = "vgae") -> Path:
    folder = ArtifactStore(runs, run).tracking_dir("demo", "teacher", key) / "wandb"
    (found,) = folder.glob("offline-run-*")
    return found


def test_the_stage_is_an_offline_wandb_run_with_a_row_per_epoch(trained):
    done = trained["done"]
    report = parse_report(done.stdout.rstrip("\n").splitlines()[-1])
    folder = _offline_run(trained["runs"], "cli-test")
    assert "wandb: offline run " in done.stdout
    assert f"wandb sync {folder}" in done.stdout
    run = read_offline_run(folder)
    assert (run.project, run.group, run.job_type) == ("canids", "cli-test-demo-teacher", "vgae")
    assert run.name == "cli-test-demo-teacher-vgae"
    expected = load_config("teacher", trained["config"], list(TINY))
    assert run.config["config_digest"] == expected.digest
    assert (run.config["stage"], run.config["dataset"], run.config["size"]) == (
        "vgae",
        "demo",
        "teacher",
    )
    assert run.config["train"]["epochs"] == 2
    assert run.config["vgae"] == expected.to_dict()["vgae"]
    # One history row per epoch, with the epoch's own numbers.
    history = json.loads(Path(report.artifacts["metrics"]).read_text())["history"]
    assert [row["epoch"] for row in run.history] == [0, 1]
    for row, epoch in zip(run.history, history, strict=True):
        assert row["train_loss"] == pytest.approx(epoch["train_loss"])
        assert row["val_loss"] == pytest.approx(epoch["val_loss"])
    assert run.summary["parameters"] == report.metrics["parameters"]
    assert run.summary["peak_memory/host_max_rss_bytes"] == report.peak_memory["host_max_rss_bytes"]
    assert run.summary["wall_seconds"] > 0
    assert run.summary["best_epoch"] == report.metrics["best_epoch"]


def test_the_api_key_is_written_to_no_file(cli, demo_cache, tmp_path):
    """Offline with a key in the environment: the key leaves the process before W&B
    starts, so no artifact, log, config or W&B file holds it."""
    runs = tmp_path / "runs"
    done = cli(
        "canids-train", "vgae", "--dataset", "demo", "--size", "teacher",
        "--cache-dir", demo_cache, "--runs-dir", runs, "--run", "keyed",
        "--wandb-mode", "offline", *_sets([*TINY, "train.epochs=1"]),
        env={"WANDB_API_KEY": SECRET},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    run = read_offline_run(_offline_run(runs, "keyed"))
    assert [row["epoch"] for row in run.history] == [0]
    files = [p for p in runs.rglob("*") if p.is_file()]
    assert len(files) > 10  # the artifacts and the W&B run's files
    holding = [str(p) for p in files if SECRET.encode() in p.read_bytes()]
    assert holding == []
    assert SECRET not in done.stdout + done.stderr


def _on_a_terminal(command: list[str]) -> tuple[int, str, str]:
    """Run ``command`` with stderr on a pseudo-terminal (120x40) and stdout on a pipe."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANIDS_")}
    proc = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL, env=env
    )
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: the terminal closed with the process
            break
        if not chunk:
            break
        err += chunk
    os.close(master)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.stdout.close()
    return proc.wait(timeout=600), out, err.decode(errors="replace")


def test_on_a_terminal_bars_go_to_stderr_and_stdout_stays_parseable(demo_cache, tmp_path):
    train = Path(sys.executable).parent / "canids-train"  # the installed console script
    runs = tmp_path / "runs"
    code, out, err = _on_a_terminal(
        [
            str(train), "vgae", "--dataset", "demo", "--size", "teacher",
            "--cache-dir", str(demo_cache), "--runs-dir", str(runs), "--no-wandb",
            *_sets([*TINY, "train.epochs=2", "batching.mode=fixed", "batching.batch_size=8"]),
        ]
    )  # fmt: skip
    assert code == 0, err[-3000:]
    # A bar per epoch on stderr, redrawn in place, with the loss and graphs/s.
    for epoch in (0, 1):
        assert re.search(rf"vgae/teacher epoch {epoch}: +\d+%\|", err), err[-2000:]
    assert "\r" in err
    assert "graphs/s" in err
    assert "loss " in err
    # stdout: the same lines as in a batch job, the result line last.
    assert "\r" not in out
    lines = out.rstrip("\n").splitlines()
    assert lines[-1].startswith(RESULT_PREFIX)
    assert sum(ln.startswith("[vgae/teacher] epoch ") for ln in lines) == 2
    assert "wandb: disabled" in out
    assert not (ArtifactStore(runs).tracking_dir("demo", "teacher", "vgae") / "wandb").exists()
