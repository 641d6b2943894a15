"""Failure analysis over a history with known numbers: counts, hot nodes and their ranking,
the suggested --exclude, hours, repeated failures, and the 7-day window."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from canids_jobs.analysis import analyze
from canids_jobs.history import History, JobEvent
from canids_jobs.parse_outputs import parse_folder
from canids_testkit import write_synthetic_outputs

NOW = dt.datetime(2026, 3, 9, 12, 0, tzinfo=dt.UTC).timestamp()


def at(days_ago: float, hour: int) -> float:
    """A time ``days_ago`` days before NOW, at ``hour`` o'clock UTC."""
    day = dt.datetime.fromtimestamp(NOW - days_ago * 86400, dt.UTC)
    return day.replace(hour=hour, minute=30).timestamp()


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    h = History(tmp_path / "history.db")
    n = 0

    def job(
        node: str | None,
        failure: str | None,
        when: float,
        stage: str = "gat",
        dataset: str = "set_01",
    ) -> None:
        nonlocal n
        n += 1
        outcome = "completed" if failure is None else "failed" if node else "never_ran"
        event = JobEvent(str(n), outcome, when, stage, dataset, "teacher", node)
        h.record_job(dataclasses.replace(event, failure_type=failure))

    # p1: 3 of 4 failed (two CUDA OOM at 14h): hot, most repeats.
    job("p1", "cuda_oom", at(1, 14))
    job("p1", "cuda_oom", at(2, 14), stage="fusion", dataset="set_04")
    job("p1", "host_oom", at(3, 9), stage="vgae", dataset="set_03")
    job("p1", None, at(3, 10))
    # p2: 4 of 4 completed.
    for d in range(4):
        job("p2", None, at(d + 1, 10))
    # p3: 2 of 2 failed, but too few jobs to call it hot.
    job("p3", "timeout", at(1, 3), stage="fusion", dataset="set_04")
    job("p3", "timeout", at(1, 4), stage="fusion", dataset="set_04")
    # p4 and p5: 2 of 3 failed each; p5's last failure is the more recent.
    job("p4", "node_fail", at(4, 14))
    job("p4", "node_fail", at(4, 15))
    job("p4", None, at(4, 16))
    job("p5", "gpu_runtime", at(2, 14))
    job("p5", "gpu_runtime", at(1, 15))
    job("p5", None, at(1, 16))
    # Never ran: no node, no hour.
    job(None, "dependency_never_satisfied", at(1, 14), stage="fusion", dataset="set_04")
    # Outside the 7-day window.
    job("p1", "cuda_oom", at(9, 14))
    yield h
    h.close()


def test_counts(history: History) -> None:
    a = analyze(history, days=7, now=NOW)
    assert (a.jobs, a.failures) == (17, 10)
    assert list(a.by_type.items()) == [
        ("cuda_oom", 2),
        ("gpu_runtime", 2),
        ("node_fail", 2),
        ("timeout", 2),
        ("dependency_never_satisfied", 1),
        ("host_oom", 1),
    ]
    assert list(a.by_stage.items()) == [("gat", 5), ("fusion", 4), ("vgae", 1)]
    assert list(a.by_dataset.items()) == [("set_01", 5), ("set_04", 4), ("set_03", 1)]
    assert list(a.by_node.items()) == [("p1", 3), ("p3", 2), ("p4", 2), ("p5", 2)]
    assert {h: n for h, n in a.by_hour.items() if n} == {3: 1, 4: 1, 9: 1, 14: 4, 15: 2}


def test_hot_nodes_ranked_by_repeats_then_recency(history: History) -> None:
    a = analyze(history, days=7, now=NOW, threshold=0.5, min_jobs=3)
    assert [(g.subject, g.failures, g.jobs) for g in a.hot_nodes] == [
        ("p1", 3, 4),
        ("p5", 2, 3),
        ("p4", 2, 3),
    ]
    assert a.hot_nodes[0].rate == 0.75
    assert a.hot_nodes[0].types == {"cuda_oom": 2, "host_oom": 1}
    assert a.exclude == "--exclude=p1,p5,p4"
    # Stricter: only p1 fails 70 % or more; with 2 jobs enough, p3 (2 of 2) joins, after p5
    # (as many failures, the last one later).
    assert analyze(history, now=NOW, threshold=0.7).exclude == "--exclude=p1"
    assert analyze(history, now=NOW, min_jobs=2).exclude == "--exclude=p1,p5,p3,p4"


def test_hours_and_repeated_stage_failures(history: History) -> None:
    a = analyze(history, now=NOW, threshold=0.5, min_jobs=3)
    assert [(g.subject, g.failures, g.jobs) for g in a.hot_hours] == [("14", 4, 4)]
    assert [(r.stage, r.dataset, r.size, r.failures) for r in a.repeated] == [
        ("gat", "set_01", "teacher", 5),
        ("fusion", "set_04", "teacher", 4),
    ]
    assert a.repeated[1].types == {"timeout": 2, "cuda_oom": 1, "dependency_never_satisfied": 1}


def test_window(history: History) -> None:
    assert analyze(history, days=30, now=NOW).by_type["cuda_oom"] == 3
    assert analyze(history, days=1.5, now=NOW).failures == 5


def test_json_and_report(history: History) -> None:
    a = analyze(history, now=NOW)
    data = json.loads(json.dumps(a.to_json()))
    assert data["exclude"] == "--exclude=p1,p5,p4"
    assert data["hot_nodes"][0] == {
        "subject": "p1",
        "jobs": 4,
        "failures": 3,
        "last_failure": at(1, 14),
        "types": {"cuda_oom": 2, "host_oom": 1},
        "rate": 0.75,
    }
    assert data["window"] == {"since": "2026-03-02 12:00", "until": "2026-03-09 12:00"}
    text = a.report()
    assert "failures 2026-03-02 12:00 .. 2026-03-09 12:00: 10 of 17 jobs" in text
    assert "suggested: sbatch --exclude=p1,p5,p4" in text
    assert "repeated: gat on set_01 (teacher) failed 5 times" in text
    assert "failures by hour (UTC): 03:1 04:1 09:1 14:4 15:2" in text


def test_persist_writes_correlations(history: History) -> None:
    analyze(history, now=NOW, persist=True)
    rows = {(r["kind"], r["subject"]): (r["failures"], r["jobs"]) for r in history.correlations()}
    assert rows == {
        ("hot_node", "p1"): (3, 4),
        ("hot_node", "p5"): (2, 3),
        ("hot_node", "p4"): (2, 3),
        ("repeated_stage", "gat/set_01/teacher"): (5, 12),
        ("repeated_stage", "fusion/set_04/teacher"): (4, 4),
    }


def test_empty_history(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as h:
        a = analyze(h, now=NOW)
        assert (a.jobs, a.failures, a.hot_nodes, a.exclude) == (0, 0, [], None)
        assert "hot nodes (failure rate >= 50% over >= 3 jobs): none" in a.report()


def test_a_parsed_folder_feeds_the_history(tmp_path: Path) -> None:
    write_synthetic_outputs(tmp_path / "outputs", seed=0)
    summary = parse_folder(tmp_path / "outputs")
    with History(tmp_path / "history.db") as h:
        for job in summary.jobs:
            h.record_job(job.to_event(at=NOW - 3600))
        a = analyze(h, now=NOW)
        assert (a.jobs, a.failures) == (38, 10)
        assert a.by_type == {
            "missing_upstream_artifact": 3,
            "cuda_oom": 2,
            "host_oom": 2,
            "timeout": 2,
            "dependency_never_satisfied": 1,
        }
        assert a.by_stage == {"fusion": 8, "gat": 1, "vgae": 1}
        assert sum(a.by_node.values()) == 9  # the job that never ran has no node
        assert len(h.failures()) == 10
