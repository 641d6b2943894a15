"""A folder of plain SLURM output files, without a ledger: what each job really did.

Files are grouped per job by name: ``canids-<dataset>-<size>-<stage>-<jobid>.out`` (what
canids-submit names them), ``<name>_<jobid>.out``, ``<name>-<jobid>.out`` (SLURM's default
``slurm-<jobid>.out``) or ``<jobid>.out``, each with its ``.err``. Stage, dataset and size
come from the job's ``CANIDS-STAGE-RESULT`` line when it has one, else from a canids job
name. Each job becomes a :class:`canids_core.StageResult` with what a folder can show (no
SLURM state, no exit code: listed as unverified), and counts as completed only by the one
success rule.

A job that never started: SLURM creates no output file for it, so only the ledger knows
it. An *empty* output file (what a submit wrapper that pre-creates its logs leaves, as in
the seed's folder) counts as submitted and never ran.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from canids_core import StageResult, find_report
from canids_models.catalog import STAGES
from canids_models.config import SIZES

from .classification import classify_result
from .completion import artifacts_exist
from .errors import OutputsError
from .summary import JobOutcome, ResultsSummary, summarize

__all__ = ["JobFiles", "discover_outputs", "parse_folder", "parse_job", "parse_job_name"]

# Lazy name, so "canids-set_01-teacher-vgae-1001" splits at the last "-1001"; an array
# task keeps its index ("name_123_4": job "123_4").
_FILE = re.compile(r"^(?:(?P<name>.*?)[-_])?(?P<job>\d+(?:_\d+)?)\.(?P<ext>out|err)$")
_CANIDS_NAME = re.compile(
    r"^canids-(?P<dataset>.+)-(?P<size>"
    + "|".join(map(re.escape, SIZES))
    + r")-(?P<stage>"
    + "|".join(sorted(STAGES, key=len, reverse=True))
    + r")$"
)
# Where the job ran: slurmstepd's "ON node" in its messages, or a "host: node" line that a
# batch script prints before the stage (canids' scripts do; any script may).
_NODE = (
    re.compile(r"^(?:host|node|hostname|SLURMD_NODENAME)\s*[:=]\s*(?P<node>[\w.-]+)\s*$", re.M),
    re.compile(r"\*\*\* (?:JOB|STEP) \S+ ON (?P<node>\S+) "),
)


@dataclass(frozen=True)
class JobFiles:
    """The output files of one job (either may be absent)."""

    job_id: str | None
    name: str
    out: Path | None = None
    err: Path | None = None

    def read(self) -> str:
        """stdout then stderr (SLURM writes its own messages to stderr)."""
        parts = []
        for path in (self.out, self.err):
            if path is not None:
                parts.append(path.read_text(encoding="utf-8", errors="replace"))
        return "\n".join(parts)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(str(p) for p in (self.out, self.err) if p is not None)

    @property
    def last_write(self) -> float:
        """When SLURM last wrote to the job's files: its end, near enough."""
        return max(p.stat().st_mtime for p in (self.out, self.err) if p is not None)


def parse_job_name(name: str) -> tuple[str | None, str | None, str | None]:
    """``canids-<dataset>-<size>-<stage>`` → (dataset, size, stage); Nones otherwise."""
    found = _CANIDS_NAME.match(name)
    if found is None:
        return None, None, None
    return found["dataset"], found["size"], found["stage"]


def discover_outputs(folder: str | Path) -> list[JobFiles]:
    """Every job's ``.out``/``.err`` in ``folder`` (not recursive), ordered by job id."""
    root = Path(folder)
    if not root.is_dir():
        raise OutputsError(
            f"{root} is not a folder of SLURM output files; pass the folder that holds the "
            "jobs' .out/.err files (sbatch --output/--error)"
        )
    groups: dict[tuple[str, str], dict[str, Path]] = {}
    for path in sorted(root.iterdir()):
        if not path.is_file() or path.suffix not in (".out", ".err"):
            continue
        found = _FILE.match(path.name)
        # A file without a job id in its name is a job of its own, keyed by its stem.
        key = (found["name"] or "", found["job"]) if found else (path.stem, "")
        groups.setdefault(key, {})[path.suffix[1:]] = path
    jobs = [
        JobFiles(job or None, name, files.get("out"), files.get("err"))
        for (name, job), files in groups.items()
    ]
    return sorted(jobs, key=lambda j: (_id_key(j.job_id), j.name))


def _id_key(job_id: str | None) -> tuple[int, ...]:
    if job_id is None:
        return (1 << 62,)
    return tuple(int(part) for part in job_id.split("_"))


def _node(text: str) -> str | None:
    for pattern in _NODE:
        found = pattern.search(text)
        if found is not None:
            return found["node"]
    return None


def parse_job(files: JobFiles, *, artifacts_root: str | Path | None = None) -> JobOutcome:
    """One job's outcome from its files (no SLURM state: folder mode)."""
    text = files.read()
    report = find_report(text)
    dataset, size, stage = parse_job_name(files.name)
    if report is not None:
        dataset, size, stage = report.dataset or dataset, report.size or size, report.stage
    started = bool(text.strip())
    done: bool | None = None
    if artifacts_root is not None and report is not None and report.status == "completed":
        done = artifacts_exist(report, artifacts_root)
    result = StageResult(
        executor="slurm",
        stage=stage or "?",
        dataset=dataset or "?",
        size=size or "?",
        run=report.run if report is not None else "default",
        job_id=files.job_id,
        node=_node(text),
        report=report,
        done=done,
        log=(files.paths[0] if files.paths else None) if started else None,
        ended_at=files.last_write,
    )
    cause = None
    if not result.succeeded:
        cause = classify_result(result, text)
        result = result.model_copy(update={"failure": cause.to_failure()})
    return JobOutcome(result, files.name, cause, files.paths, stage, dataset, size)


def parse_folder(folder: str | Path, *, artifacts_root: str | Path | None = None) -> ResultsSummary:
    """Parse every job's output in ``folder``; with ``artifacts_root`` (a runs folder),
    a completed job also needs its artifact done there."""
    return summarize(parse_job(f, artifacts_root=artifacts_root) for f in discover_outputs(folder))
