"""A folder of 38 SLURM outputs mirroring the seed's case: 12 VGAE, 13 GAT, 13 DQN fusion
jobs over six datasets and two sizes, of which 28 completed (fusion only 5 of 13), while
37 started, which is what the seed's team counted as success.

The mix is fixed (the seed's story); the seed only varies job ids, nodes, timings and
metrics. Failures, each written as SLURM and canids-train really write them:

- VGAE set_03 teacher, fusion set_03 student: host OOM (bash's ``Killed`` + slurmstepd's
  oom-kill line, no result line);
- GAT set_04 teacher, fusion set_02 teacher: CUDA OOM (traceback + failed result);
- fusion set_01 teacher, set_02 student: TIMEOUT (slurmstepd's TIME LIMIT line);
- fusion set_03 teacher (its VGAE died), set_04 teacher (its GAT died) and set_04 student
  (chained to the wrong job, it ran before its GAT finished): missing upstream artifact;
- the fusion rerun of set_04 teacher, chained to the failed GAT instead of the GAT rerun:
  never ran. SLURM writes no file for a job that never started; this one appears as the
  empty ``.out``/``.err`` a submit wrapper that pre-creates its logs leaves.

The GAT rerun is named ``gat-rerun_<id>.out``: its stage comes from its result line.

Each file's modification time is when SLURM last wrote it: the job's end (its start plus
its result line's wall time, or the walltime for a timeout; a host OOM kill after 30
minutes), and the submission time for the job that never ran. A folder parsed by
``canids-jobs parse`` or drawn by ``canids-jobs report`` so has the seed's timeline.
"""

from __future__ import annotations

import datetime as dt
import os
import random
from dataclasses import dataclass
from pathlib import Path

from canids_core import find_report, format_report
from canids_models.catalog import STAGES, ArtifactRef
from canids_models.preflight_checks import MissingArtifact

__all__ = ["DATASETS", "SyntheticJob", "write_synthetic_outputs"]

DATASETS = ("hcrl_ch", "hcrl_sa", "set_01", "set_02", "set_03", "set_04")
_NODES = ("p0231", "p0232", "p0305", "p0311", "a0117", "a0120")
_RUNS = "/fs/scratch/PAS2022/canids/runs"
_CACHE = "/fs/scratch/PAS2022/canids/cache"
_SRC = "/users/PAS2022/canids/packages/models/src/canids_models"
_WARN = (
    "/users/PAS2022/canids/.venv/lib/python3.11/site-packages/torch/jit/_script.py:1491: "
    "FutureWarning: `torch.jit.script` is deprecated. Please switch to `torch.compile` or "
    "`torch.export`.\n  warnings.warn(\n"
)
# (stage, dataset, size) → outcome; everything else completes.
_FAILURES = {
    ("vgae", "set_03", "teacher"): "host_oom",
    ("gat", "set_04", "teacher"): "cuda_oom",
    ("fusion", "set_01", "teacher"): "timeout",
    ("fusion", "set_02", "teacher"): "cuda_oom",
    ("fusion", "set_02", "student"): "timeout",
    ("fusion", "set_03", "teacher"): "missing:vgae",
    ("fusion", "set_03", "student"): "host_oom",
    ("fusion", "set_04", "teacher"): "missing:gat",
    ("fusion", "set_04", "student"): "missing:gat",
}


@dataclass(frozen=True)
class SyntheticJob:
    job_id: str
    name: str  # the job name: file names are <name>-<id>.out or <name>_<id>.out
    stage: str
    dataset: str
    size: str
    outcome: str  # "completed", "never_ran" or a FailureType value
    node: str
    out: Path
    err: Path


def _plan() -> list[tuple[str, str, str, str, str]]:
    """(stage, dataset, size, outcome, job name) in submission order."""
    plan = []
    for dataset in DATASETS:
        for size in ("teacher", "student"):
            for stage in ("vgae", "gat", "fusion"):
                outcome = _FAILURES.get((stage, dataset, size), "completed")
                if outcome.startswith("missing:"):
                    outcome = "missing_upstream_artifact:" + outcome.split(":")[1]
                plan.append((stage, dataset, size, outcome, f"canids-{dataset}-{size}-{stage}"))
    plan.append(("gat", "set_04", "teacher", "completed", "gat-rerun"))
    plan.append(("fusion", "set_04", "teacher", "never_ran", "canids-set_04-teacher-fusion"))
    return plan


def _artifacts(dataset: str, size: str, key: str) -> dict[str, str]:
    base = f"{_RUNS}/default/{dataset}/{size}/{key}"
    names = {"checkpoint": "checkpoint.pt", "config": "config.json", "done": "DONE.json"}
    return {k: f"{base}/{v}" for k, v in {**names, "metrics": "metrics.json"}.items()}


def _epochs(stage: str, size: str, rng: random.Random, n: int) -> list[str]:
    """Epoch lines as canids_models.loop prints them (fusion prints none)."""
    lines, loss = [], rng.uniform(8.0, 14.0)
    for epoch in range(n if stage != "fusion" else 0):
        loss *= rng.uniform(0.55, 0.9)
        secs = f"seconds={rng.uniform(40, 400):.4f}"
        if stage == "vgae":
            val = loss * rng.uniform(0.9, 1.2)
            stats = f"train_loss={loss:.4f}, val_loss={val:.4f}, neg_val_loss={-val:.4f}, {secs}"
            lines.append(f"[vgae/{size}] epoch {epoch}: {stats} (select neg_val_loss)")
            continue
        f1 = min(1.0, 0.9 + 0.1 * (1 - loss / 14) + rng.uniform(-0.01, 0.01))
        stats = (
            f"train_loss={loss / 100:.4f}, train_graphs={rng.randint(40000, 90000)}.0000, "
            f"val_f1={f1:.4f}, val_loss={loss / 80:.4f}, "
            f"precision={min(1.0, f1 + 0.003):.4f}, recall={f1:.4f}, {secs}"
        )
        lines.append(f"[{stage}/{size}] epoch {epoch}: {stats} (select val_f1)")
    return lines


def _metrics(stage: str, rng: random.Random, epochs: int) -> dict[str, object]:
    """The result line's metrics (train_cmd._summary keeps these keys)."""
    if stage == "fusion":
        f1 = round(rng.uniform(0.95, 0.999), 4)
        return {
            "alpha_mean": round(rng.uniform(0.3, 0.8), 4),
            "fallback": None,
            "parameters": rng.randint(60000, 900000),
            "val_f1": {"fusion_dqn": f1, "gat": round(f1 - 0.004, 4), "vgae": round(f1 - 0.2, 4)},
        }
    best = ("best_val_loss", rng.uniform(0.5, 3.0)) if stage == "vgae" else ("best_val_f1", 0.98)
    return {
        "best_epoch": epochs - 1,
        best[0]: round(best[1], 4),
        "epochs_run": epochs,
        "parameters": rng.randint(40000, 800000),
        "stopped_early": False,
    }


@dataclass(frozen=True)
class _Job:
    stage: str
    dataset: str
    size: str
    outcome: str
    job_id: str
    node: str
    start: dt.datetime

    @property
    def command(self) -> str:
        return (
            f"canids-train {self.stage} --dataset {self.dataset} --size {self.size} "
            f"--runs-dir {_RUNS}"
        )


def _missing(job: _Job, record: dict[str, object], rng: random.Random) -> tuple[str, str]:
    # The text of canids_models.preflight_checks, from its own MissingArtifact.describe().
    key = job.outcome.split(":")[1]
    producers = tuple(n for n, s in STAGES.items() if s.produces == key)
    cmd = (
        f"canids-train {producers[-1]} --dataset {job.dataset} --size {job.size} --runs-dir {_RUNS}"
    )
    path = Path(_RUNS, "default", job.dataset, job.size, key)
    missing = MissingArtifact(job.stage, ArtifactRef(key, job.size), path, producers, cmd)
    error = "preflight failed:\n  - " + missing.describe()
    record.update(status="failed", error_type="PreflightError", error=error)
    record["wall_seconds"] = round(rng.uniform(1, 4), 3)
    return format_report(record), f"{_WARN}error: {error}\n"


def _cuda_oom(job: _Job, record: dict[str, object], rng: random.Random) -> tuple[str, str]:
    message = (
        f"CUDA out of memory. Tried to allocate {rng.uniform(1.0, 3.0):.2f} GiB. GPU 0 has a "
        f"total capacity of 15.77 GiB of which {rng.uniform(0.2, 0.9):.2f} GiB is free. "
        "Including non-PyTorch memory, this process has 14.71 GiB memory in use."
    )
    line = {"vgae": 23, "gat": 25}.get(job.stage, 27)
    cli = "/users/PAS2022/canids/apps/canids-cli/src/canids_cli/train_cmd.py"
    traceback = (
        "Traceback (most recent call last):\n"
        f'  File "{cli}", line 147, in main\n    outcome = run_stage(stage, ctx)\n'
        f'  File "{_SRC}/stages/__init__.py", line {line}, in run_stage\n'
        f'  File "{_SRC}/nn/encoder.py", line 63, in forward\n'
        "    h = h + self.dropout(self.act(norm(conv(h, edge_index, edge_attr))))\n"
        f"torch.OutOfMemoryError: {message}\n"
    )
    record.update(status="failed", error_type="OutOfMemoryError", error=message)
    record.update(last_frame=f"{_SRC}/nn/encoder.py:63 in forward")
    record["wall_seconds"] = round(rng.uniform(60, 900), 3)
    return format_report(record), _WARN + traceback


def _host_oom(job: _Job, pid: int) -> str:
    # bash reports the SIGKILL, then slurmstepd the cgroup's OOM kill; no result line.
    return (
        f"{_WARN}/var/spool/slurmd/job{job.job_id}/slurm_script: line 24: {pid} Killed"
        f"                  {job.command}\n"
        f"slurmstepd: error: Detected 1 oom-kill event(s) in StepId={job.job_id}.batch. "
        "Some of your processes may have been killed by the cgroup out-of-memory handler.\n"
    )


def _timeout(job: _Job) -> str:
    end = job.start + dt.timedelta(seconds=STAGES[job.stage].resources.walltime + 1)
    return (
        f"{_WARN}slurmstepd: error: *** JOB {job.job_id} ON {job.node} CANCELLED AT "
        f"{end:%Y-%m-%dT%H:%M:%S} DUE TO TIME LIMIT ***\n"
    )


def _outputs(job: _Job, rng: random.Random) -> tuple[str, str]:
    """(stdout, stderr) of one job, as the batch script and canids-train write them."""
    if job.outcome == "never_ran":
        return "", ""
    record: dict[str, object] = {
        "stage": job.stage,
        "dataset": job.dataset,
        "size": job.size,
        "run": "default",
    }
    pid = rng.randint(100000, 999999)
    out = [f"host: {job.node}", f"cache: {_CACHE}", f"artifacts: {_RUNS}/default"]
    if job.outcome.startswith("missing_upstream_artifact"):
        result, err = _missing(job, record, rng)
        return "\n".join([*out, result]) + "\n", err
    config = f"{rng.getrandbits(48):012x}"
    out.append(
        f"{job.stage} ({job.size}) on {job.dataset}: device cuda, backend pyg, config {config}"
    )
    peak = {"host_max_rss_bytes": rng.randint(3, 14) << 30, "pid": pid}
    if job.outcome == "completed":
        epochs = rng.randint(4, 12)
        out += _epochs(job.stage, job.size, rng, epochs)
        peak["cuda_max_allocated_bytes"] = rng.randint(2, 14) << 30
        record.update(status="completed", metrics=_metrics(job.stage, rng, epochs))
        record["artifacts"] = _artifacts(job.dataset, job.size, STAGES[job.stage].produces)
        record.update(wall_seconds=round(rng.uniform(600, 6000), 3), peak_memory=peak)
        return "\n".join([*out, format_report(record)]) + "\n", _WARN
    out += _epochs(job.stage, job.size, rng, rng.randint(1, 4))
    if job.outcome == "cuda_oom":
        result, err = _cuda_oom(job, {**record, "peak_memory": peak}, rng)
        return "\n".join([*out, result]) + "\n", err
    err = _host_oom(job, pid) if job.outcome == "host_oom" else _timeout(job)
    return "\n".join(out) + "\n", err


def _seconds_run(stage: str, outcome: str, out: str) -> float:
    """How long the job ran before SLURM last wrote its files (0: it never started)."""
    if outcome == "never_ran":
        return 0.0
    if outcome == "timeout":
        return STAGES[stage].resources.walltime + 1
    report = find_report(out)
    if report is not None and report.wall_seconds is not None:
        return report.wall_seconds
    return 1800.0  # a host OOM kill: no result line says when


def write_synthetic_outputs(folder: str | Path, *, seed: int = 0) -> list[SyntheticJob]:
    """Write the 38 jobs' ``.out``/``.err`` into ``folder``; return what each job did."""
    rng = random.Random(seed)
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    first = rng.randint(4_400_000, 4_499_000)
    clock = dt.datetime(2026, 3, 2, 9, 0, 0) + dt.timedelta(minutes=rng.randint(0, 600))
    jobs = []
    for i, (stage, dataset, size, outcome, name) in enumerate(_plan()):
        job_id, node = str(first + i), rng.choice(_NODES)
        clock += dt.timedelta(seconds=rng.randint(5, 1800))
        out, err = _outputs(_Job(stage, dataset, size, outcome, job_id, node, clock), rng)
        sep = "_" if name == "gat-rerun" else "-"
        paths = root / f"{name}{sep}{job_id}.out", root / f"{name}{sep}{job_id}.err"
        paths[0].write_text(out)
        paths[1].write_text(err)
        end = clock.replace(tzinfo=dt.UTC).timestamp() + _seconds_run(stage, outcome, out)
        for path in paths:
            os.utime(path, (end, end))
        kind = outcome.split(":")[0]
        jobs.append(SyntheticJob(job_id, name, stage, dataset, size, kind, node, *paths))
    return jobs
