"""The tuning callback's W&B logging actor, on a real local Ray with real offline W&B runs:
when its ``run`` returns, W&B's core server has written the run and exited, so the kill
Ray sends next (the core exits with the actor) cannot lose it. Without the teardown the
core outlives ``finish`` and holds the records in memory until it reads the close; CI
twice kept the 7-byte header of such a run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from canids_orchestrate.ray_cluster import import_ray
from canids_orchestrate.tune.wandb_logging import _flushing_actor_class
from canids_testkit import read_offline_history

pytestmark = [pytest.mark.slow, pytest.mark.ray]


def _children(pid: int) -> list[str]:
    """The command names of the live processes whose parent is ``pid``."""
    names = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while the listing was read
            continue
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        state, ppid = rest.split()[:2]
        if int(ppid) == pid and state != "Z":
            names.append(name)
    return names


@pytest.fixture(scope="module")
def ray_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A local Ray whose workers inherit a live W&B service of this process, as after any
    earlier W&B run in it (the full ``make test``): W&B leaves its service's address in
    ``WANDB_SERVICE``, and an actor that took it would log through this process's core,
    which its teardown does not wait for."""
    import wandb

    with pytest.MonkeyPatch.context() as env:
        # Set before Ray starts, so its workers inherit it; undone for the tests after.
        env.setenv("WANDB_SILENT", "true")
        driver = str(tmp_path_factory.mktemp("driver"))
        wandb.init(mode="offline", dir=driver, project="p").finish()
        assert os.environ.get(wandb.env.SERVICE)
        ray = import_ray()
        ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
        try:
            yield ray
        finally:
            ray.shutdown()
            wandb.teardown()


def _start(ray: Any, tmp_path: Path, run_id: str) -> tuple[Any, Any, int, Any]:
    """A flushing logging actor, its queue, its process id and its ``run`` future."""
    from ray.util.queue import Queue

    actor_cls = ray.remote(num_cpus=0)(_flushing_actor_class())
    queue = Queue(actor_options={"num_cpus": 0})
    actor = actor_cls.remote(
        logdir=str(tmp_path),
        queue=queue,
        exclude=[],
        to_config=[],
        project="canids-test",
        mode="offline",
        dir=str(tmp_path),
        id=run_id,
        name=run_id,
    )
    pid = ray.get(actor.__ray_call__.remote(lambda _self: os.getpid()), timeout=120)
    return actor, queue, pid, actor.run.remote()


def _result(epoch: int) -> dict[str, float]:
    return {"training_iteration": epoch, "val_f1": 0.5 + epoch / 10}


def _rows_after_kill(ray: Any, actor: Any, pid: int, tmp_path: Path, run_id: str) -> list:
    """Right after the actor's ``run`` returned: no W&B core is left under the actor, so
    everything it held is on disk; then Ray's kill (what its callback does next), and the
    run's history rows read back."""
    assert [name for name in _children(pid) if "wandb" in name] == []
    ray.kill(actor)
    (run_dir,) = (tmp_path / "wandb").glob(f"offline-run-*-{run_id}")
    return read_offline_history(run_dir)


def test_a_returned_logging_actor_has_written_its_run_and_left_no_core(
    ray_module: Any, tmp_path: Path
) -> None:
    from ray.air.integrations.wandb import _QueueItem

    ray = ray_module
    actor, queue, pid, future = _start(ray, tmp_path, "flush1")
    for epoch in (1, 2, 3):
        queue.put((_QueueItem.RESULT, _result(epoch)))
    # The core is started by wandb.init inside run: wait until it is there.
    for _ in range(600):
        if "wandb-core" in _children(pid):
            break
        ray.wait([future], timeout=0.1)
    assert "wandb-core" in _children(pid)
    queue.put((_QueueItem.END, None))
    assert ray.get(future, timeout=300) is None
    rows = _rows_after_kill(ray, actor, pid, tmp_path, "flush1")
    assert [row["training_iteration"] for row in rows] == [1, 2, 3]
    assert [row["val_f1"] for row in rows] == pytest.approx([0.6, 0.7, 0.8])


def test_a_logging_actor_that_fails_still_writes_what_it_logged(
    ray_module: Any, tmp_path: Path
) -> None:
    from ray.air.integrations.wandb import _QueueItem

    ray = ray_module
    actor, queue, pid, future = _start(ray, tmp_path, "flush2")
    queue.put((_QueueItem.RESULT, _result(1)))
    queue.put(("not-a-queue-item", None))  # Ray's actor asserts on the item type
    with pytest.raises(ray.exceptions.RayTaskError, match="AssertionError"):
        ray.get(future, timeout=300)
    # The error reaches the callback (its `failed`); the row logged before it is on disk.
    rows = _rows_after_kill(ray, actor, pid, tmp_path, "flush2")
    assert [row["training_iteration"] for row in rows] == [1]
