"""The real ``canids-train`` console script, in a subprocess, on a tiny demo cache: the
entry point every executor (local, Ray, SLURM) runs. Its last line is the stage result;
its artifacts are where the artifact store says, with the config that made them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canids_core import RESULT_PREFIX, parse_report
from canids_models import ArtifactStore, load_config

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
