"""The submission ledger: one row per SLURM job, written the moment ``sbatch`` returns,
so a chain that broke half way is visible (and cancellable) from the first job on; and,
once ``canids-jobs status`` has seen the job end, its :class:`canids_core.StageResult`.

SQLite in WAL mode through :class:`WalDatabase` (several ``canids-submit`` processes may
write at once). It lives beside the runs: ``<runs dir>/jobs/ledger.sqlite``. Schema 2
added the ``result`` column; a schema-1 ledger migrates in place on first open.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from canids_core import StageResult

from .sqlite_wal import WalDatabase

__all__ = ["Ledger", "LedgerJob"]

_MIGRATIONS = {
    1: [
        """CREATE TABLE jobs (
            job_id TEXT PRIMARY KEY, pipeline_id TEXT NOT NULL, pipeline TEXT NOT NULL,
            dataset TEXT NOT NULL, size TEXT NOT NULL, stage TEXT NOT NULL,
            script TEXT NOT NULL, output TEXT NOT NULL, submitted_at REAL NOT NULL,
            parents TEXT NOT NULL, resources TEXT NOT NULL, runs_dir TEXT NOT NULL,
            run TEXT NOT NULL, resubmit_of TEXT, remediation_id INTEGER)""",
        "CREATE INDEX jobs_pipeline ON jobs (pipeline_id)",
        "CREATE INDEX jobs_submitted ON jobs (submitted_at)",
    ],
    2: ["ALTER TABLE jobs ADD COLUMN result TEXT"],  # StageResult JSON, once it ended
}
_COLUMNS = (
    "job_id, pipeline_id, pipeline, dataset, size, stage, script, output, submitted_at,"
    " parents, resources, runs_dir, run, resubmit_of, remediation_id"
)


@dataclass(frozen=True)
class LedgerJob:
    job_id: str
    pipeline_id: str
    pipeline: str
    dataset: str
    size: str
    stage: str
    script: str
    output: str  # with %j: the .out pattern
    submitted_at: float
    parents: tuple[str, ...]
    resources: dict[str, Any]
    runs_dir: str
    run: str
    resubmit_of: str | None = None
    remediation_id: int | None = None
    result: StageResult | None = None  # what status last saw of the ended job

    def output_files(self) -> list[Path]:
        out = Path(self.output.replace("%j", self.job_id))
        return [out, out.with_suffix(".err")]


class Ledger:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = WalDatabase(self.path, _MIGRATIONS)

    @classmethod
    def for_runs(cls, runs_dir: str | Path) -> Ledger:
        return cls(Path(runs_dir) / "jobs" / "ledger.sqlite")

    def add(self, job: LedgerJob) -> None:
        row = (
            job.job_id,
            job.pipeline_id,
            job.pipeline,
            job.dataset,
            job.size,
            job.stage,
            job.script,
            job.output,
            job.submitted_at or time.time(),
            json.dumps(list(job.parents)),
            json.dumps(job.resources, sort_keys=True),
            job.runs_dir,
            job.run,
            job.resubmit_of,
            job.remediation_id,
        )
        self.db.transaction(
            lambda conn: conn.execute(
                f"INSERT INTO jobs ({_COLUMNS}) VALUES ({', '.join('?' * len(row))})", row
            )
        )

    def set_remediation(self, job_id: str, remediation_id: int) -> None:
        self.db.transaction(
            lambda conn: conn.execute(
                "UPDATE jobs SET remediation_id = ? WHERE job_id = ?", (remediation_id, job_id)
            )
        )

    def record_result(self, job_id: str, result: StageResult) -> None:
        """Keep the stage result ``canids-jobs status`` built for an ended job."""
        blob = json.dumps(result.to_json(), sort_keys=True)
        self.db.transaction(
            lambda conn: conn.execute("UPDATE jobs SET result = ? WHERE job_id = ?", (blob, job_id))
        )

    def _rows(self, where: str = "", params: tuple[Any, ...] = ()) -> list[LedgerJob]:
        rows = self.db.query(f"SELECT * FROM jobs {where} ORDER BY submitted_at, rowid", params)
        return [
            LedgerJob(
                r["job_id"],
                r["pipeline_id"],
                r["pipeline"],
                r["dataset"],
                r["size"],
                r["stage"],
                r["script"],
                r["output"],
                r["submitted_at"],
                tuple(json.loads(r["parents"])),
                json.loads(r["resources"]),
                r["runs_dir"],
                r["run"],
                r["resubmit_of"],
                r["remediation_id"],
                None if r["result"] is None else StageResult.from_json(json.loads(r["result"])),
            )
            for r in rows
        ]

    def jobs(self, pipeline_id: str | None = None, since: float | None = None) -> list[LedgerJob]:
        if pipeline_id is not None:
            return self._rows("WHERE pipeline_id = ?", (pipeline_id,))
        if since is not None:
            return self._rows("WHERE submitted_at >= ?", (since,))
        return self._rows()

    def job(self, job_id: str) -> LedgerJob | None:
        found = self._rows("WHERE job_id = ?", (job_id,))
        return found[0] if found else None

    def pipelines(self) -> list[str]:
        rows = self.db.query(
            "SELECT pipeline_id, MIN(submitted_at) AS t FROM jobs GROUP BY pipeline_id ORDER BY t"
        )
        return [r["pipeline_id"] for r in rows]
