"""W&B for tuning: online only with an API key, otherwise offline runs on disk that
``wandb sync`` uploads later. The key never reaches a config, a summary or a trial.

At the end of a search Ray waits ``upload_timeout`` seconds for every trial's logging
actor to finish its run, then kills the rest. Online that wait stays short (30 s): an
interrupted sweep otherwise blocks ``Tuner.fit`` for up to 30 minutes while the actors try
to upload, until SLURM kills the job. Offline there is nothing to upload, only local
files to finish, and a killed actor loses the rows it had not written (seen in CI: a trial
stopped early by ASHA on a loaded machine, its offline run without a history row), so
the default wait is 300 s. The actors still running when the wait ends are counted and
named (``cut_off``), never dropped in silence.

A logging actor can also end with an error (W&B's service connection closing under it,
for one): Ray collects such an actor like a finished one and never reads its result, so
the trial's run is left incomplete without a word. The callback here reads every
collected actor's result and names the trials whose logging failed, with the error
(``failed``).

A finished run can still be lost after ``wandb.finish`` returns, and this module closes
that gap (:func:`_flushing_actor_class`). W&B's core server (a child process of the
logging actor) holds an offline run's records in memory and writes them to the run file
only when the run's stream closes; ``finish`` only *sends* the close (``inform_finish``)
and returns. Ray kills a collected actor at once, and the core exits with its parent,
so on a loaded machine the core could die before it had read the close: CI twice kept a
7-byte run file (its header alone), with nothing cut off and nothing failed; its logs
(2026-12-07) show the core receiving the finish 30 ms after the client returned, then
nothing. Each logging
actor therefore tears W&B down (``wandb.teardown``) before its ``run`` returns, which
waits for the core process to close every stream and exit. That wait needs the actor to
own its core: a driver that has used W&B leaves its core's address in the environment,
Ray's workers inherit it, and an actor would then log through the driver's core, which
its teardown does not wait for (the full ``make test`` met this, W&B having run in the
test process before). The actor drops that address before it starts W&B.
(Reading an offline run back, for tests, is ``canids_testkit.read_offline_history``.)
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "FINISH_TIMEOUT",
    "WANDB_MODES",
    "cut_off_runs",
    "failed_runs",
    "finish_timeout",
    "wandb_callback",
    "wandb_mode",
]

WANDB_MODES = ("auto", "online", "offline", "disabled")
FINISH_TIMEOUT = {"online": 30, "offline": 300}
"""Seconds the end of a search waits for the trials' W&B runs, by mode (see above)."""


def wandb_mode(requested: str) -> str:
    """auto → online when WANDB_API_KEY is set, else offline."""
    if requested != "auto":
        return requested
    return "online" if os.environ.get("WANDB_API_KEY") else "offline"


def finish_timeout(requested: int | None, mode: str) -> int:
    """``--upload-timeout`` when given, else the mode's default (:data:`FINISH_TIMEOUT`)."""
    if requested is not None:
        if requested < 0:
            raise ValueError(f"--upload-timeout must be 0 or more seconds, got {requested}")
        return requested
    return FINISH_TIMEOUT[mode]


def cut_off_runs(callbacks: list[Any]) -> list[str]:
    """The trial ids whose W&B logging actor the end of the search had to kill."""
    return sorted(tid for cb in callbacks for tid in getattr(cb, "cut_off", []))


def failed_runs(callbacks: list[Any]) -> dict[str, str]:
    """The trial ids whose W&B logging actor ended with an error, and the error."""
    return dict(sorted(item for cb in callbacks for item in getattr(cb, "failed", {}).items()))


def wandb_callback(opts: Any, exp_dir: Path, echo: Callable[[str], None]) -> list[Any]:
    mode = wandb_mode(opts.wandb_mode)
    if mode == "disabled":
        echo("wandb: disabled")
        return []
    if mode == "offline":
        # Ray's callback passes WANDB_API_KEY on to every logging actor; offline it has no
        # use, so it leaves this process and cannot be written anywhere.
        os.environ.pop("WANDB_API_KEY", None)
        os.environ["WANDB_MODE"] = "offline"
    # W&B's per-run banner and history table, once per trial, would bury Tune's status.
    os.environ.setdefault("WANDB_SILENT", "true")
    timeout = finish_timeout(opts.upload_timeout, mode)
    echo(
        f"wandb: {mode}, project {opts.wandb_project}, runs under {exp_dir / 'wandb'}"
        + (" (upload later with: wandb sync <run folder>)" if mode == "offline" else "")
        + f"; the end of the search waits up to {timeout} s for them"
    )
    return [
        _counting_callback_class()(
            project=opts.wandb_project,
            upload_timeout=timeout,
            log_config=False,
            mode=mode,
            dir=str(exp_dir),
        )
    ]


def _counting_callback_class() -> type:
    """Ray's ``WandbLoggerCallback``, which records the trials whose logging actor it
    kills at the end of the search (Ray kills them without a word), and whose logging
    actors flush their run before they return (:func:`_flushing_actor_class`). It reads
    the callback's own bookkeeping (``_trial_logging_futures``, ``_logging_future_to_trial``,
    ``_upload_timeout``, ``_cleanup_logging_actors``, ``_cleanup_logging_actor``): a test
    checks that the locked Ray still has them."""
    from ..ray_cluster import import_ray

    ray = import_ray()
    from ray.air.integrations.wandb import WandbLoggerCallback

    class CountingWandbLoggerCallback(WandbLoggerCallback):  # type: ignore[misc]
        _logger_actor_cls = _flushing_actor_class()

        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.cut_off: list[str] = []
            self.failed: dict[str, str] = {}

        def _cleanup_logging_actor(self, trial: Any) -> None:
            # Called for every actor Ray collects or kills, before the kill: a finished
            # actor's result is read here, so an error in it is named, not dropped.
            future = self._trial_logging_futures[trial]
            ready, _ = ray.wait([future], timeout=0)
            if ready:
                try:
                    ray.get(future)
                except ray.exceptions.RayError as err:
                    lines = str(err).strip().splitlines()
                    self.failed[str(trial.trial_id)] = f"{type(err).__name__}: " + (
                        lines[-1] if lines else "no message"
                    )
            super()._cleanup_logging_actor(trial)

        def on_experiment_end(self, trials: list[Any], **info: Any) -> None:
            futures = list(self._trial_logging_futures.values())
            remaining: list[Any] = []
            if futures:
                _, remaining = ray.wait(
                    futures, num_returns=len(futures), timeout=self._upload_timeout
                )
            self.cut_off = sorted(str(self._logging_future_to_trial[f].trial_id) for f in remaining)
            # The finished ones are collected, the rest killed: what Ray's own end does,
            # without waiting a second time.
            self._cleanup_logging_actors(timeout=0, kill_on_timeout=True)

    return CountingWandbLoggerCallback


def _flushing_actor_class() -> type:
    """Ray's W&B logging actor, whose ``run`` returns only once W&B's core server has
    written the run to disk and exited (``wandb.teardown``), so Ray's kill that follows
    cannot lose it (see the module docstring). The teardown runs even when logging
    failed: it also finishes a run that ``finish`` never reached, and the error still
    reaches the callback's ``failed``."""
    from ray.air.integrations.wandb import _WandbLoggingActor

    class FlushingWandbLoggingActor(_WandbLoggingActor):  # type: ignore[misc]
        def run(self) -> None:
            # A driver that has used W&B leaves its service's address in WANDB_SERVICE,
            # and Ray's workers inherit it: the actor would log through the driver's core,
            # which its teardown neither owns nor waits for (a run whose logging raised
            # then stayed unwritten). Each actor starts, owns and waits for its own.
            os.environ.pop(self._wandb.env.SERVICE, None)
            try:
                super().run()
            finally:
                self._wandb.teardown()

    return FlushingWandbLoggingActor
