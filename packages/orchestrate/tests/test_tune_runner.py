"""canids-tune's engine without Ray: options are checked before a cluster starts, trial
overrides, the summary's JSON, W&B's mode (Ray-backed runs are the root slow tests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from canids_orchestrate import TuneConfigError
from canids_orchestrate.ray_cluster import import_ray
from canids_orchestrate.tune import (
    TARGETS,
    WANDB_MODES,
    TrialSetup,
    TuneOptions,
    run_tune,
)
from canids_orchestrate.tune.runner import TrialSummary, TuneSummary, _jsonable, trial_number
from canids_orchestrate.tune.trainable import trial_overrides
from canids_orchestrate.tune.wandb_logging import (
    FINISH_TIMEOUT,
    _counting_callback_class,
    cut_off_runs,
    failed_runs,
    finish_timeout,
    wandb_mode,
)


def _opts(tmp_path: Path, **changes: object) -> TuneOptions:
    base = {"dataset": "demo", "cache_dir": str(tmp_path), "storage_path": str(tmp_path)}
    return TuneOptions(**{**base, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"target": "nope"}, "unknown tune target 'nope'; known: gat, curriculum, fusion"),
        ({"target": "fusion"}, "pass --from-runs-dir"),
        ({"num_samples": 0}, "--num-samples must be >= 1"),
        ({"max_t": 2, "grace_period": 3}, "--grace-period 3 exceeds --max-t 2"),
        ({"wandb_mode": "loud"}, "--wandb-mode 'loud': one of auto, online, offline, disabled"),
        ({"upload_timeout": -1}, "--upload-timeout must be 0 or more seconds, got -1"),
        ({"name": "a/b"}, "experiment name 'a/b' is not allowed"),
        ({"base_overrides": ("train.workers=2",)}, "runs every trial on one worker"),
    ],
)
def test_bad_options_fail_before_ray_starts(tmp_path: Path, changes: dict, message: str) -> None:
    # run_tune would start Ray after these checks: they raise first, Ray is never imported.
    with pytest.raises(Exception, match=message) as err:
        run_tune(_opts(tmp_path, **changes), echo=lambda _line: None)
    assert isinstance(err.value, TuneConfigError | ValueError)
    assert not (tmp_path / "tune").exists()


def test_targets_name_their_sections() -> None:
    assert TARGETS["gat"].reports == "gat"
    assert TARGETS["fusion"].needs == ("vgae", "gat")
    assert TARGETS["curriculum"].stages == ("vgae", "gat_curriculum")


def test_trial_overrides_put_sampled_values_last() -> None:
    setup = TrialSetup(
        target="gat",
        dataset="demo",
        size="teacher",
        cache_dir="/c",
        base_overrides=("gat.heads=8", "train.epochs=9"),
        threads=2,
        fixed={"train.epochs": 3},
    )
    items = trial_overrides(setup, {"gat.heads": 2, "train.lr": 0.01, "gat.use": True})
    assert items == [
        "gat.heads=8",
        "train.epochs=9",
        "train.threads=2",
        "train.epochs=3",
        "gat.heads=2",
        "train.lr=0.01",
        "gat.use=true",  # JSON literals: --set parses them back to the same value
    ]


def test_summary_json_counts_and_is_strict_json() -> None:
    trials = [
        TrialSummary("t_00000", "completed", 3, 0.9, 0.9, {"gat.heads": 2}, "/a"),
        TrialSummary("t_00001", "stopped early", 1, 0.5, 0.5, {"gat.heads": 4}, "/b"),
        TrialSummary("t_00002", "failed", 0, None, None, {}, "/c", "OutOfMemoryError: x"),
    ]
    summary = TuneSummary("/exp", trials, "t_00000", 0.9, "/exp/best_trial.json", [], {})
    assert summary.stopped_early == 1
    assert [t.trial_id for t in summary.failed] == ["t_00002"]
    data = summary.to_json()
    assert data["stopped_early"] == 1
    assert (data["wandb_cut_off"], data["wandb_failed"]) == ([], {})
    assert _jsonable({"nan": float("nan"), "path": Path("/x")}) == {"nan": None, "path": "/x"}
    json.dumps(_jsonable(data), allow_nan=False)  # what atomic_write_json writes


def test_wandb_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    assert WANDB_MODES == ("auto", "online", "offline", "disabled")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    assert wandb_mode("auto") == "offline"
    monkeypatch.setenv("WANDB_API_KEY", "k")
    assert wandb_mode("auto") == "online"
    assert wandb_mode("disabled") == "disabled"


def test_trials_are_numbered_in_creation_order() -> None:
    # With a searcher Tune's trial ids are random: the experiment tag holds the order.
    assert trial_number({"experiment_tag": "12_gat.heads=2,train.lr=0.01"}, "/x", "a1b2") == 12
    # A trial that failed before reporting: the number from its folder name.
    path = "/exp/run_trial_5bd1e9aa_3_gat.heads=4_2026-01-01_10-00-00"
    assert trial_number({}, path, "5bd1e9aa") == 3
    assert trial_number({}, "/exp/elsewhere", "5bd1e9aa") is None


def test_finish_timeout_waits_longer_offline_unless_told() -> None:
    # Offline there is nothing to upload, only local files to finish: a longer wait.
    assert FINISH_TIMEOUT == {"online": 30, "offline": 300}
    assert finish_timeout(None, "online") == 30
    assert finish_timeout(None, "offline") == 300
    assert finish_timeout(45, "offline") == 45
    assert finish_timeout(0, "online") == 0
    with pytest.raises(ValueError, match="--upload-timeout must be 0 or more seconds, got -2"):
        finish_timeout(-2, "online")


def test_the_locked_ray_keeps_what_the_counting_callback_reads() -> None:
    """The callback reads Ray's own bookkeeping; a Ray that renames it must fail here, not
    count nothing in silence."""
    cb = _counting_callback_class()(project="p", mode="offline", upload_timeout=7)
    assert cb._upload_timeout == 7
    assert cb._trial_logging_futures == {}
    assert cb._logging_future_to_trial == {}
    assert callable(cb._cleanup_logging_actors)
    assert callable(cb._cleanup_logging_actor)
    assert cb.cut_off == []
    assert cut_off_runs([cb, object()]) == []
    assert cb.failed == {}
    assert failed_runs([cb, object()]) == {}
    # Ray starts each trial's logging actor from `_logger_actor_cls`: canids' flushing
    # actor (wandb_logging) replaces Ray's there, so a Ray that moved it must fail here.
    from ray.air.integrations.wandb import WandbLoggerCallback, _WandbLoggingActor

    assert WandbLoggerCallback._logger_actor_cls is _WandbLoggingActor
    assert issubclass(cb._logger_actor_cls, _WandbLoggingActor)
    assert cb._logger_actor_cls is not _WandbLoggingActor
    assert callable(_WandbLoggingActor.run)


@pytest.mark.slow
@pytest.mark.ray
def test_the_end_of_a_search_names_and_stops_the_runs_still_writing() -> None:
    """A real local Ray: one logging actor done, one still writing when the wait ends, one
    ended by an error. The second is named in ``cut_off`` and killed, the third in
    ``failed`` with its error; the first is collected, not named."""
    # Through canids' import, as the callback's own: a bare `import ray` under `uv run`
    # leaves Ray's uv hook on, and its workers then never start (this test hung when run
    # alone, passing only after another test had imported Ray the canids way).
    ray = import_ray()

    @ray.remote(num_cpus=0)
    class Writer:
        def run(self, seconds: float) -> str:
            import time

            if seconds < 0:
                raise ConnectionError("message_loop has been closed")
            time.sleep(seconds)
            return "finished"

    class Trial:  # what the callback reads of a Tune trial: its id
        def __init__(self, trial_id: str) -> None:
            self.trial_id = trial_id

    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        cb = _counting_callback_class()(project="p", mode="offline", upload_timeout=2)
        done, slow, broken = Trial("t_done"), Trial("t_slow"), Trial("t_broken")
        for trial, seconds in ((done, 0.0), (slow, 120.0), (broken, -1.0)):
            actor = Writer.remote()
            future = actor.run.remote(seconds)
            cb._trial_logging_actors[trial] = actor
            cb._trial_logging_futures[trial] = future
            cb._logging_future_to_trial[future] = trial
            cb._trial_queues[trial] = None
        ray.get(cb._trial_logging_futures[done])
        ray.wait([cb._trial_logging_futures[broken]], timeout=60)
        cb.on_experiment_end([done, slow, broken])
        assert cb.cut_off == ["t_slow"]
        assert cut_off_runs([cb]) == ["t_slow"]
        assert list(cb.failed) == ["t_broken"]
        assert cb.failed["t_broken"].startswith("RayTaskError")
        assert cb.failed["t_broken"].endswith("ConnectionError: message_loop has been closed")
        assert failed_runs([cb]) == cb.failed
        assert cb._trial_logging_actors == {}
        assert cb._trial_logging_futures == {}
    finally:
        ray.shutdown()
