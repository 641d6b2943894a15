"""The failure history: stage outcomes of every executor (successes too, so rates per node
can be computed), failure events, remediation attempts and the correlations the analysis
found, in one SQLite file that several processes write at once (see
:mod:`canids_jobs.sqlite_wal`).

The standard library and canids-core only (no torch, no models), so a batch job or a
status command records an outcome in well under a second. Schema 2 added the executor
(``slurm``, ``local``, ``ray``) of each row and the stage result a failure came from;
a schema-1 file migrates in place on first open (its rows are SLURM jobs).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .sqlite_wal import WalDatabase

__all__ = ["SCHEMA_VERSION", "FixStats", "History", "JobEvent"]

SCHEMA_VERSION = 2
OUTCOMES = ("completed", "failed", "never_ran")
EXECUTORS = ("slurm", "local", "ray")

# Migrations by the version they lead to; PRAGMA user_version holds the file's version.
_MIGRATIONS: dict[int, tuple[str, ...]] = {  # SCHEMA_VERSION is the last key
    1: (
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
        "CREATE INDEX failure_events_at ON failure_events (at)",
        "CREATE INDEX job_outcomes_at ON job_outcomes (at)",
        "CREATE INDEX remediations_new_job ON remediations (new_job_id)",
    ),
    2: (
        # Rows written before local and Ray stages were recorded are SLURM jobs.
        "ALTER TABLE job_outcomes ADD COLUMN executor TEXT NOT NULL DEFAULT 'slurm'",
        "ALTER TABLE failure_events ADD COLUMN executor TEXT NOT NULL DEFAULT 'slurm'",
        # The stage result (canids_core.StageResult JSON) the failure was classified from:
        # remediating a local or Ray failure needs its pipeline, run and cause, and there
        # is no ledger row to read them from.
        "ALTER TABLE failure_events ADD COLUMN result TEXT",
        "CREATE INDEX job_outcomes_executor ON job_outcomes (executor)",
    ),
}


@dataclass(frozen=True)
class JobEvent:
    """One job's outcome; ``failure_type`` and ``detail`` only when it failed or never ran."""

    job_id: str
    outcome: str  # completed | failed | never_ran
    at: float  # unix time of the job's end (or of the record)
    stage: str | None = None
    dataset: str | None = None
    size: str | None = None
    node: str | None = None
    pipeline_id: str | None = None
    failure_type: str | None = None
    detail: str = ""
    executor: str = "slurm"  # slurm | local | ray
    result: dict[str, Any] | None = None  # the StageResult JSON, kept with a failure


@dataclass(frozen=True)
class FixStats:
    failure_type: str
    fix_id: str
    succeeded: int
    failed: int
    pending: int

    @property
    def attempts(self) -> int:
        """Resolved attempts (pending ones have not told anything yet)."""
        return self.succeeded + self.failed


class History:
    """``History(path)``: open (and create or migrate) the history at ``path``."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0, max_wait: float = 120.0) -> None:
        self.db = WalDatabase(path, _MIGRATIONS, timeout=timeout, max_wait=max_wait)
        self.path = self.db.path

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self.db.schema_version

    # ------------------------------------------------------------------ writes
    def record_job(self, event: JobEvent) -> int | None:
        """Record a job's outcome (a later record of the same job replaces it: a requeued
        job counts by its latest attempt); a failure also becomes a failure event, whose id
        is returned."""
        if event.outcome not in OUTCOMES:
            raise ValueError(f"outcome {event.outcome!r}: one of {', '.join(OUTCOMES)}")
        if event.outcome != "completed" and not event.failure_type:
            raise ValueError(f"job {event.job_id} {event.outcome}: give its failure_type")
        if event.executor not in EXECUTORS:
            raise ValueError(f"executor {event.executor!r}: one of {', '.join(EXECUTORS)}")
        e = event
        where = (e.pipeline_id, e.dataset, e.size, e.stage, e.node)
        blob = None if e.result is None else json.dumps(e.result, sort_keys=True)

        def body(conn: sqlite3.Connection) -> int | None:
            conn.execute(
                "INSERT OR REPLACE INTO job_outcomes (job_id, pipeline_id, dataset, size, stage,"
                " node, outcome, failure_type, at, executor) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (e.job_id, *where, e.outcome, e.failure_type, e.at, e.executor),
            )
            if e.outcome == "completed":
                return None
            row = conn.execute(
                "INSERT INTO failure_events (job_id, pipeline_id, dataset, size, stage, node,"
                " failure_type, detail, at, executor, result) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT (job_id) DO UPDATE SET failure_type = excluded.failure_type,"
                " detail = excluded.detail, node = excluded.node, at = excluded.at,"
                " result = excluded.result RETURNING id",
                (e.job_id, *where, e.failure_type, e.detail, e.at, e.executor, blob),
            ).fetchone()
            return int(row[0])

        return self.db.transaction(body)

    def record_remediation(
        self,
        failure_event_id: int,
        fix_id: str,
        params: Mapping[str, Any] | None = None,
        new_job_id: str | None = None,
    ) -> int:
        """A fix applied to a failure (outcome pending until the new job is resolved)."""
        blob = json.dumps(dict(params or {}), sort_keys=True)

        def body(conn: sqlite3.Connection) -> int:
            cur = conn.execute(
                "INSERT INTO remediations (failure_event_id, fix_id, params, new_job_id,"
                " created_at) VALUES (?,?,?,?,?)",
                (failure_event_id, fix_id, blob, new_job_id, time.time()),
            )
            return int(cur.lastrowid or 0)

        return self.db.transaction(body)

    def resolve_remediation(self, remediation_id: int, succeeded: bool) -> None:
        outcome = "succeeded" if succeeded else "failed"
        self.db.transaction(
            lambda conn: conn.execute(
                "UPDATE remediations SET outcome = ?, resolved_at = ? WHERE id = ?",
                (outcome, time.time(), remediation_id),
            )
        )

    def resolve_by_job(self, new_job_id: str, succeeded: bool) -> int:
        """Close the loop: the resubmitted job ended; returns how many remediations it
        resolved."""
        outcome = "succeeded" if succeeded else "failed"
        return self.db.transaction(
            lambda conn: (
                conn.execute(
                    "UPDATE remediations SET outcome = ?, resolved_at = ? WHERE new_job_id = ?"
                    " AND outcome = 'pending'",
                    (outcome, time.time(), new_job_id),
                ).rowcount
            )
        )

    def record_correlation(
        self,
        kind: str,
        subject: str,
        failures: int,
        jobs: int,
        *,
        failure_type: str = "",
        detail: str = "",
    ) -> None:
        """Upsert one finding of the analysis (``hot_node p0231``, ``repeated_stage ...``)."""
        self.db.transaction(
            lambda conn: conn.execute(
                "INSERT INTO correlations (kind, subject, failure_type, failures, jobs, detail,"
                " detected_at) VALUES (?,?,?,?,?,?,?) ON CONFLICT (kind, subject, failure_type)"
                " DO UPDATE SET failures = excluded.failures, jobs = excluded.jobs,"
                " detail = excluded.detail, detected_at = excluded.detected_at",
                (kind, subject, failure_type, failures, jobs, detail, time.time()),
            )
        )

    # ------------------------------------------------------------------ reads
    def jobs(self, since: float = 0.0) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM job_outcomes WHERE at >= ? ORDER BY at", (since,))
        return [dict(r) for r in rows]

    def failures(self, since: float = 0.0) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM failure_events WHERE at >= ? ORDER BY at", (since,))
        return [_failure_row(r) for r in rows]

    def failure_for_job(self, job_id: str) -> dict[str, Any] | None:
        """The failure event of ``job_id`` (its ``result`` decoded), or ``None``."""
        rows = self.db.query("SELECT * FROM failure_events WHERE job_id = ?", (job_id,))
        return _failure_row(rows[0]) if rows else None

    def remediations(self, failure_event_id: int | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM remediations", ()
        if failure_event_id is not None:
            sql, params = sql + " WHERE failure_event_id = ?", (failure_event_id,)
        rows = self.db.query(sql + " ORDER BY id", params)
        return [{**dict(r), "params": json.loads(r["params"])} for r in rows]

    def correlations(self) -> list[dict[str, Any]]:
        return [dict(r) for r in self.db.query("SELECT * FROM correlations ORDER BY id")]

    def fix_stats(self, failure_type: str | None = None) -> list[FixStats]:
        """Per (failure type, fix): how often the fix succeeded, failed, is pending."""
        sql = (
            "SELECT f.failure_type, r.fix_id, SUM(r.outcome = 'succeeded'),"
            " SUM(r.outcome = 'failed'), SUM(r.outcome = 'pending') FROM remediations r"
            " JOIN failure_events f ON f.id = r.failure_event_id"
        )
        params: tuple[Any, ...] = ()
        if failure_type is not None:
            sql, params = sql + " WHERE f.failure_type = ?", (failure_type,)
        rows = self.db.query(sql + " GROUP BY f.failure_type, r.fix_id ORDER BY 1, 2", params)
        return [FixStats(r[0], r[1], int(r[2]), int(r[3]), int(r[4])) for r in rows]

    def last_params(self, failure_type: str, fix_id: str) -> dict[str, Any]:
        """The parameters of the latest attempt of ``fix_id`` on this failure type."""
        rows = self.db.query(
            "SELECT r.params FROM remediations r JOIN failure_events f ON f.id ="
            " r.failure_event_id WHERE f.failure_type = ? AND r.fix_id = ? ORDER BY r.id DESC"
            " LIMIT 1",
            (failure_type, fix_id),
        )
        return json.loads(rows[0][0]) if rows else {}


def _failure_row(row: sqlite3.Row) -> dict[str, Any]:
    data = dict(row)
    data["result"] = None if data["result"] is None else json.loads(data["result"])
    return data
