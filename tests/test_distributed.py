"""Data-parallel stages on Ray Train, end to end through ``canids-train --workers N``.

- the same GAT on 1 and 2 workers (same seed, same global node budget per step) reaches
  the same held-out F1 (within 0.02) on the demo;
- a rank killed mid-epoch: Ray Train restarts the group from the last epoch checkpoint
  and the stage ends with one ``CANIDS-STAGE-RESULT`` line that says completed;
- a real two-node Ray cluster on this machine (``two_node_ray``): a 2-worker stage with
  placement SPREAD puts one rank on each node, and the second node's raylet killed
  mid-stage is survived;
- ``torchrun`` (no Ray) starts two ranks of the same command through the standard
  torch.distributed variables.

Every run is a real ``canids-train`` process on a real Ray, gloo on the CPU. Ray and its
worker start take most of each test's time on a 2-core machine.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from canids_core import find_report
from canids_data import BuildConfig, CacheManager
from canids_testkit.pytest_plugin import two_node_ray  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.ray, pytest.mark.slow]

BIN = Path(sys.executable).parent
GAT = [
    "train.threads=1",
    "train.device=cpu",
    "gat.layers=2",
    "gat.heads=2",
    "gat.hidden=16",
    "gat.mlp_hidden=16",
    "gat.embed_dim=4",
]
VGAE = [
    "train.threads=1",
    "train.device=cpu",
    "vgae.layers=1",
    "vgae.heads=2",
    "vgae.hidden=8",
    "vgae.latent=4",
    "vgae.embed_dim=4",
]
# Long enough that the kill, made as soon as one epoch is checkpointed, lands mid-run with
# many epochs to spare, and short enough that the resumed run ends soon after.
EPOCHS_AROUND_A_KILL = 16
RANK = re.compile(r"\[rank (\d)/2\] pid (\d+) on \S+ \(ray node (\w+)\)")


@pytest.fixture(scope="module")
def demo_cache(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    cache = tmp_path_factory.mktemp("dist_cache")
    CacheManager(cache).build("demo", demo_captures, BuildConfig(), workers=1)
    return cache


def _command(stage: str, cache: Path, runs: Path, sets: list[str], *extra: str) -> list[str]:
    cmd = [str(BIN / "canids-train"), stage, "--dataset", "demo", "--size", "teacher"]
    cmd += ["--cache-dir", str(cache), "--runs-dir", str(runs), "--no-wandb", "--quiet"]
    for item in sets:
        cmd += ["--set", item]
    return cmd + list(extra)


def _run(
    cmd: list[str],
    env: dict[str, str] | None = None,
    on_line: Callable[[str], None] | None = None,
    timeout: float = 1200,
    watch: Callable[[], bool] | None = None,
) -> tuple[int, list[str]]:
    """Run ``cmd``, handing each output line to ``on_line`` as it comes; ``watch`` is
    polled every 0.2 s beside it until it returns True (Ray forwards the ranks' lines in
    batches, late: a kill decided from the files on disk does not wait for them)."""
    env = {**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"}
    lines: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        done = threading.Event()

        def poll() -> None:
            while watch is not None and not done.is_set() and not watch():
                done.wait(0.2)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if on_line is not None:
                    on_line(line)
            return proc.wait(), lines
        finally:
            done.set()
            timer.cancel()
            watcher.join(5)


def _ray_checkpoints(runs: Path) -> int:
    """Epoch checkpoints Ray Train has taken of the VGAE so far."""
    return len(list((runs / "default/demo/teacher/vgae/ray_train").glob("*/checkpoint_*")))


def _report(lines: list[str]) -> dict:
    results = [ln for ln in lines if ln.startswith("CANIDS-STAGE-RESULT ")]
    assert len(results) == 1, "\n".join(lines[-60:])
    report = find_report("\n".join(lines))
    assert report is not None
    return report.model_dump()


def _held_out_f1(cache: Path, runs: Path, run: str, sets: list[str]) -> float:
    """The GAT's F1 over every test split, at its validation threshold (frozen)."""
    from canids_models import ArtifactStore, StageContext, binary_metrics, load_config
    from canids_models.metrics import Threshold
    from canids_models.outputs import collect_outputs, gat_probability

    store = ArtifactStore(runs, run)
    cfg = load_config("teacher", None, sets)
    ctx = StageContext("demo", "teacher", cfg, store, cache, None, log=lambda line: None)
    gat = ctx.load_model("gat")
    threshold = Threshold.from_json(store.load("demo", "teacher", "gat")["threshold"])
    ys, ps = [], []
    for split in ctx.test_splits():
        out = collect_outputs(gat, None, ctx.split(split), cfg.batching, ctx.device)
        ys.append(out["y"])
        ps.append(gat_probability(out))
    y, p = np.concatenate(ys), np.concatenate(ps)
    f1 = binary_metrics(y, threshold.apply(p), p)["f1"]
    assert f1 is not None
    return float(f1)


@pytest.fixture(scope="module")
def demo_cache_03(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo at scale 0.3: a validation split large enough (182 windows) that model
    selection is not a coin toss (at 0.1, 52 windows, two runs of one worker with the
    same curves picked epochs whose held-out F1 differ by 0.03)."""
    from canids_data.synthetic import write_demo_dataset

    base = tmp_path_factory.mktemp("dist_cache_03")
    write_demo_dataset(base / "root", seed=0, scale=0.3)
    CacheManager(base / "cache").build("demo", base / "root", BuildConfig(), workers=1)
    return base / "cache"


def test_two_workers_reach_the_f1_of_one(demo_cache_03: Path, tmp_path: Path) -> None:
    """Same seed, same global budget per step (each of 2 ranks packs 2000 nodes)."""
    demo_cache = demo_cache_03
    runs = tmp_path / "runs"
    sets = [*GAT, "train.epochs=20", "train.patience=20", "train.lr=0.003"]
    sets.append("batching.budget=4000")
    f1 = {}
    for workers in (1, 2):
        run = f"w{workers}"
        code, lines = _run(
            _command("gat", demo_cache, runs, sets, "--run", run, "--workers", str(workers))
        )
        report = _report(lines)
        assert code == 0, "\n".join(lines[-60:])
        assert report["status"] == "completed"
        metrics = json.loads((runs / run / "demo/teacher/gat/metrics.json").read_text())
        assert metrics["epochs_run"] >= 1
        assert (runs / run / "demo/teacher/gat/DONE.json").is_file()
        config = json.loads((runs / run / "demo/teacher/gat/config.json").read_text())
        assert config["config"]["train"]["workers"] == workers
        if workers == 2:
            assert any("gat (teacher) ran on 2 workers over 1 node(s)" in ln for ln in lines)
            assert not (runs / run / "demo/teacher/gat/ray_train").exists()
        f1[workers] = _held_out_f1(demo_cache, runs, run, sets)
    print(f"held-out GAT F1: 1 worker {f1[1]:.4f}, 2 workers {f1[2]:.4f}")
    assert abs(f1[1] - f1[2]) <= 0.02, f1


def test_a_rank_killed_mid_epoch_is_restarted_from_the_last_checkpoint(
    demo_cache: Path, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    epochs = EPOCHS_AROUND_A_KILL
    seen: dict[int, list[int]] = {0: [], 1: []}
    killed: list[int] = []

    def on_line(line: str) -> None:
        if m := RANK.search(line):
            pid = int(m.group(2))
            if pid not in seen[int(m.group(1))]:
                seen[int(m.group(1))].append(pid)

    def kill_rank_one() -> bool:
        # Once an epoch is checkpointed, rank 1 dies in the middle of a later one.
        if seen[1] and _ray_checkpoints(runs) >= 1:
            os.kill(seen[1][0], 9)
            killed.append(seen[1][0])
            return True
        return False

    sets = [*VGAE, f"train.epochs={epochs}", f"train.patience={epochs}", "batching.budget=600"]
    cmd = _command("vgae", demo_cache, runs, sets, "--workers", "2")
    code, lines = _run(cmd, None, on_line, watch=kill_rank_one)
    report = _report(lines)
    assert killed, "\n".join(lines[-60:])
    assert code == 0, "\n".join(lines[-80:])
    assert report["status"] == "completed"
    assert len(seen[1]) >= 2  # rank 1 came back as a new process
    metrics = json.loads((runs / "default/demo/teacher/vgae/metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == list(range(epochs))
    assert metrics["resumed_from"] is not None
    assert metrics["resumed_from"] >= 1
    assert any("resuming vgae (teacher) at epoch" in ln for ln in lines)


def test_two_node_cluster_spreads_ranks_and_survives_losing_a_node(
    demo_cache: Path,
    tmp_path: Path,
    two_node_ray,  # noqa: F811
) -> None:
    runs = tmp_path / "runs"
    epochs = EPOCHS_AROUND_A_KILL
    killed: list[int] = []
    first_placement: dict[int, str] = {}

    def on_line(line: str) -> None:
        if m := RANK.search(line):
            first_placement.setdefault(int(m.group(1)), m.group(3))

    def lose_second_node() -> bool:
        if len(first_placement) == 2 and _ray_checkpoints(runs) >= 1:
            killed.append(two_node_ray.kill_raylet("second"))
            return True
        return False

    sets = [*VGAE, f"train.epochs={epochs}", f"train.patience={epochs}", "batching.budget=600"]
    cmd = _command("vgae", demo_cache, runs, sets, "--workers", "2", "--placement", "SPREAD")
    cmd += ["--address", two_node_ray.address]
    code, lines = _run(cmd, two_node_ray.child_env(), on_line, watch=lose_second_node)
    report = _report(lines)
    # One rank on each node before the loss.
    assert len(set(first_placement.values())) == 2, "\n".join(lines[-60:])
    assert killed, "\n".join(lines[-60:])
    assert code == 0, "\n".join(lines[-80:])
    assert report["status"] == "completed"
    metrics = json.loads((runs / "default/demo/teacher/vgae/metrics.json").read_text())
    assert [h["epoch"] for h in metrics["history"]] == list(range(epochs))
    assert metrics["resumed_from"] is not None
    # After the loss both ranks run on the head: one node left.
    assert any("vgae (teacher) ran on 2 workers over 1 node(s)" in ln for ln in lines)


def test_torchrun_ranks_run_the_same_command(demo_cache: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    sets = [*VGAE, "train.epochs=2"]
    port = 20000 + os.getpid() % 20000
    cmd = [
        str(BIN / "torchrun"),
        "--nproc-per-node=2",
        f"--master-port={port}",
        "-m",
        "canids_cli.train_cmd",
        *_command("vgae", demo_cache, runs, sets)[1:],
    ]
    code, lines = _run(cmd, timeout=600)
    report = _report(lines)  # rank 0's only
    assert code == 0, "\n".join(lines[-60:])
    assert report["status"] == "completed"
    assert any("rank 0 of 2 (torch.distributed)" in ln for ln in lines)
    metrics = json.loads((runs / "default/demo/teacher/vgae/metrics.json").read_text())
    assert metrics["epochs_run"] == 2
    assert (runs / "default/demo/teacher/vgae/DONE.json").is_file()
