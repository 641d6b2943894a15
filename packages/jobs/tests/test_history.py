"""The SQLite history: schema, records, the remediation loop, and several processes writing
at once (nothing lost, no "database is locked" escaping)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from canids_jobs.errors import HistoryError, JobsError
from canids_jobs.history import SCHEMA_VERSION, History, JobEvent

WRITER = textwrap.dedent(
    """
    import sys, time
    from canids_jobs.history import History, JobEvent

    path, worker, count, start = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    # A short busy timeout, so the bounded backoff (not only SQLite's wait) is exercised.
    history = History(path, timeout=0.02)
    while time.time() < start:  # every writer starts at the same moment
        time.sleep(0.001)
    for i in range(count):
        job = f"{worker}-{i}"
        event = history.record_job(JobEvent(job, "failed", time.time(), stage="gat",
                                            dataset="set_01", size="teacher",
                                            node=f"p{worker:04d}", failure_type="cuda_oom"))
        history.record_remediation(event, "halve-budget", {"config": {"batching.budget": "2000"}},
                                   new_job_id=f"{job}-r")
    print(history.db.retries)
    """
)


def test_new_history_is_wal_and_versioned(tmp_path: Path) -> None:
    with History(tmp_path / "h" / "history.db") as h:
        assert h.schema_version == SCHEMA_VERSION == 2
        assert h.db.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        names = {r[0] for r in h.db.query("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"failure_events", "remediations", "correlations", "job_outcomes"} <= names
    with History(tmp_path / "h" / "history.db") as again:  # reopening migrates nothing
        assert again.schema_version == 2


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    History(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 9")
    with pytest.raises(HistoryError, match="schema version 9, newer than this canids-jobs"):
        History(path)


def test_record_jobs_and_failures(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as h:
        ok = JobEvent("100", "completed", 1000.0, stage="vgae", dataset="hcrl_ch", node="p1")
        assert h.record_job(ok) is None
        first = h.record_job(
            JobEvent(
                "101",
                "failed",
                1001.0,
                stage="gat",
                dataset="hcrl_ch",
                size="teacher",
                node="p1",
                pipeline_id="pipe-1",
                failure_type="host_oom",
                detail="oom-kill",
            )
        )
        assert isinstance(first, int)
        # The same job again (requeued, failed differently): one event, the latest cause.
        again = h.record_job(JobEvent("101", "failed", 1002.0, node="p2", failure_type="timeout"))
        assert again == first
        (event,) = h.failures()
        assert (event["job_id"], event["failure_type"], event["node"], event["at"]) == (
            "101",
            "timeout",
            "p2",
            1002.0,
        )
        assert [j["outcome"] for j in h.jobs()] == ["completed", "failed"]
        assert h.failure_for_job("101")["id"] == first
        assert h.failure_for_job("nope") is None
        assert h.failures(since=1003.0) == []


def test_bad_records_are_refused(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as h:
        with pytest.raises(ValueError, match="outcome 'done'"):
            h.record_job(JobEvent("1", "done", 0.0))
        with pytest.raises(ValueError, match="give its failure_type"):
            h.record_job(JobEvent("1", "failed", 0.0))


def test_remediation_loop_raises_the_success_count(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as h:
        ids = [
            h.record_job(JobEvent(str(n), "failed", float(n), failure_type="host_oom"))
            for n in range(4)
        ]
        params = {"resources": {"memory": "32G"}}
        for n, event in enumerate(ids):
            assert event is not None
            h.record_remediation(event, "double-memory", params, new_job_id=f"new-{n}")
        (stats,) = h.fix_stats("host_oom")
        assert (stats.succeeded, stats.failed, stats.pending, stats.attempts) == (0, 0, 4, 0)
        # The resubmitted jobs end: three completed, one failed again.
        for n in range(3):
            assert h.resolve_by_job(f"new-{n}", succeeded=True) == 1
        assert h.resolve_by_job("new-3", succeeded=False) == 1
        assert h.resolve_by_job("new-3", succeeded=True) == 0  # already resolved
        (stats,) = h.fix_stats("host_oom")
        assert (stats.succeeded, stats.failed, stats.pending, stats.attempts) == (3, 1, 0, 4)
        assert h.fix_stats("cuda_oom") == []
        assert h.last_params("host_oom", "double-memory") == params
        assert h.remediations(ids[0])[0]["params"] == params
        rid = h.record_remediation(ids[0], "exclude-node", {"resources": {"exclude": "p1"}})
        h.resolve_remediation(rid, succeeded=True)
        assert [(s.fix_id, s.succeeded) for s in h.fix_stats()] == [
            ("double-memory", 3),
            ("exclude-node", 1),
        ]


def test_correlations_upsert(tmp_path: Path) -> None:
    with History(tmp_path / "history.db") as h:
        h.record_correlation("hot_node", "p0231", 3, 4, detail="cuda_oom 3")
        h.record_correlation("hot_node", "p0231", 4, 5, detail="cuda_oom 4")
        (row,) = h.correlations()
        assert (row["kind"], row["subject"], row["failures"], row["jobs"]) == (
            "hot_node",
            "p0231",
            4,
            5,
        )


def test_parallel_writers_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    History(path).close()
    workers, count = 4, 200
    start = time.time() + 3.0  # after every interpreter has started
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(w), str(count), str(start)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(workers)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    for proc, (out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
        assert int(out.strip()) >= 0  # how often the backoff ran (contention happened)
    with History(path) as h:
        assert len(h.jobs()) == workers * count
        assert len(h.failures()) == workers * count
        assert len(h.remediations()) == workers * count
        (stats,) = h.fix_stats("cuda_oom")
        assert stats.pending == workers * count
        nodes = {r["node"] for r in h.failures()}
        assert nodes == {f"p{w:04d}" for w in range(workers)}


def test_a_lock_held_too_long_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    h = History(path, timeout=0.01, max_wait=0.3)
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        began = time.monotonic()
        with pytest.raises(HistoryError, match=r"stayed locked for 0\.3 s") as info:
            h.record_job(JobEvent("1", "completed", 0.0))
        assert time.monotonic() - began < 5  # bounded
        assert str(path) in str(info.value)
        assert isinstance(info.value, JobsError)
        h.close()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


# The schema-1 file of canids-jobs 0.1 (its DDL verbatim), with one SLURM failure in it.
V1 = (
    """CREATE TABLE job_outcomes (
        job_id TEXT PRIMARY KEY, pipeline_id TEXT, dataset TEXT, size TEXT, stage TEXT,
        node TEXT, outcome TEXT NOT NULL CHECK (outcome IN ('completed','failed','never_ran')),
        failure_type TEXT, at REAL NOT NULL)""",
    """CREATE TABLE failure_events (
        id INTEGER PRIMARY KEY, job_id TEXT NOT NULL UNIQUE, pipeline_id TEXT,
        dataset TEXT, size TEXT, stage TEXT, node TEXT, failure_type TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '', at REAL NOT NULL)""",
    """CREATE TABLE remediations (
        id INTEGER PRIMARY KEY,
        failure_event_id INTEGER NOT NULL REFERENCES failure_events(id),
        fix_id TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}', new_job_id TEXT,
        outcome TEXT NOT NULL DEFAULT 'pending'
            CHECK (outcome IN ('pending','succeeded','failed')),
        created_at REAL NOT NULL, resolved_at REAL)""",
    """CREATE TABLE correlations (
        id INTEGER PRIMARY KEY, kind TEXT NOT NULL, subject TEXT NOT NULL,
        failure_type TEXT NOT NULL DEFAULT '', failures INTEGER NOT NULL,
        jobs INTEGER NOT NULL, detail TEXT NOT NULL DEFAULT '', detected_at REAL NOT NULL,
        UNIQUE (kind, subject, failure_type))""",
    "INSERT INTO job_outcomes VALUES ('7', 'p', 'set_01', 'teacher', 'gat', 'n1', 'failed',"
    " 'host_oom', 100.0)",
    "INSERT INTO failure_events (job_id, failure_type, detail, at) VALUES ('7', 'host_oom',"
    " 'oom-kill', 100.0)",
    "PRAGMA user_version = 1",
)


def test_a_schema_1_file_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "history.sqlite"
    with sqlite3.connect(path) as conn:
        for statement in V1:
            conn.execute(statement)
    with History(path) as h:
        assert h.schema_version == 2
        (job,) = h.jobs()
        assert (job["job_id"], job["executor"], job["failure_type"]) == ("7", "slurm", "host_oom")
        event = h.failure_for_job("7")
        assert event is not None
        assert (event["executor"], event["result"], event["detail"]) == ("slurm", None, "oom-kill")
        h.record_job(
            JobEvent(
                "local-1",
                "failed",
                200.0,
                stage="vgae",
                failure_type="python_exception",
                executor="local",
                result={"stage": "vgae"},
            )
        )
        assert [j["executor"] for j in h.jobs()] == ["slurm", "local"]
        assert h.failure_for_job("local-1")["result"] == {"stage": "vgae"}
    with pytest.raises(ValueError, match="executor 'k8s'"):
        History(path).record_job(
            JobEvent("x", "failed", 1.0, failure_type="unknown", executor="k8s")
        )
