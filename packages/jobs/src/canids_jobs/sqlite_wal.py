"""One SQLite file that several processes write at once: WAL mode, a busy timeout, short
``BEGIN IMMEDIATE`` transactions and a bounded backoff, with a versioned schema.

WAL lets readers run beside one writer; ``BEGIN IMMEDIATE`` takes the write lock up front,
so two writers never deadlock upgrading a read lock; SQLite's busy timeout waits for the
lock, and the backoff retries the rare "database is locked" that still comes through. That
error never escapes as such: after ``max_wait`` a :class:`HistoryError` names the file and
what to do. WAL needs shared memory between the writers: keep the file on a local disk or
a cluster filesystem with POSIX locks (GPFS, Lustre), not on NFS.
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .errors import HistoryError

__all__ = ["WalDatabase"]

_T = TypeVar("_T")


class WalDatabase:
    """``migrations[v]`` are the statements that lead to schema version ``v`` (from 1);
    ``PRAGMA user_version`` holds the file's version."""

    def __init__(
        self,
        path: str | Path,
        migrations: Mapping[int, Sequence[str]],
        *,
        timeout: float = 30.0,
        max_wait: float = 120.0,
    ) -> None:
        self.path = Path(path)
        self.max_wait = max_wait
        self.version = max(migrations)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.retry(lambda: self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}"))
        mode = self.retry(lambda: self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        if mode != "wal":
            raise HistoryError(
                f"{self.path}: SQLite refused WAL mode (journal mode {mode!r}); keep this file "
                "on a local or cluster filesystem with POSIX locks and shared memory, not NFS"
            )
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.retries = 0  # how often the backoff ran: contention, for tests and reports
        # Only a file behind this code's schema takes the write lock to migrate.
        if self.retry(lambda: self.schema_version) != self.version:
            self.transaction(lambda conn: self._migrate(conn, migrations))

    def close(self) -> None:
        self.conn.close()

    def retry(self, op: Callable[[], _T]) -> _T:
        """Run ``op``; on "database is locked/busy", back off (bounded) and run it again."""
        deadline, delay = time.monotonic() + self.max_wait, 0.01
        while True:
            try:
                return op()
            except sqlite3.OperationalError as exc:
                text = str(exc)
                if "locked" not in text and "busy" not in text:
                    raise HistoryError(f"{self.path}: {text}") from exc
                if time.monotonic() >= deadline:
                    raise HistoryError(
                        f"{self.path} stayed locked for {self.max_wait:g} s ({text}); another "
                        f"process holds a long write transaction: find it with `fuser "
                        f"{self.path}`, or give a larger max_wait"
                    ) from exc
                # Jitter, so writers that collided do not collide again in step.
                self.retries += 1
                time.sleep(delay * random.uniform(0.5, 1.5))
                delay = min(delay * 2, 1.0)

    def transaction(self, body: Callable[[sqlite3.Connection], _T]) -> _T:
        """``body(conn)`` in one write transaction, retried whole when the lock is busy."""

        def attempt() -> _T:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                out = body(self.conn)
                self.conn.execute("COMMIT")
                return out
            except BaseException:
                # Also when COMMIT itself was refused: leave no transaction open for a retry.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise

        return self.retry(attempt)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self.retry(lambda: self.conn.execute(sql, tuple(params)).fetchall())

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, conn: sqlite3.Connection, migrations: Mapping[int, Sequence[str]]) -> None:
        found = conn.execute("PRAGMA user_version").fetchone()[0]
        if found > self.version:
            raise HistoryError(
                f"{self.path} has schema version {found}, newer than this canids-jobs "
                f"({self.version}); upgrade canids-jobs, or use another file"
            )
        for target in range(found + 1, self.version + 1):
            for statement in migrations[target]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {self.version}")
