"""The SLURM command-line tools (sbatch, sacct, squeue, scancel; scontrol is
:mod:`canids_jobs.slurm_scontrol`), one subprocess per call. Each failure is a
:class:`SlurmError` that names the command, quotes its stderr and says how to fix it.

Job ids are strings exactly as ``sbatch --parsable`` printed them: a chain is built from
those ids, never from ``squeue`` output (the seed once attached a dependency to the wrong
job that way). What the records mean is :mod:`canids_jobs.slurm`'s part.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from .errors import SlurmError

__all__ = [
    "ACCOUNTING_FIELDS",
    "COMPLETION_FIELDS",
    "DEPENDENCY_TYPES",
    "AccountingDisabledError",
    "check_ids",
    "sacct_accounting",
    "sacct_completion",
    "sbatch",
    "scancel",
    "squeue_ids",
]


# Fields that `sacct -c` fills from jobcomp/filetxt on SLURM 22.05 (checked one by one):
# Reason, ReqMem, AllocTRES, MaxRSS, Account and QOS come back empty there.
COMPLETION_FIELDS: tuple[str, ...] = (
    "JobID",
    "JobName",
    "State",
    "ExitCode",
    "Elapsed",
    "NodeList",
    "Start",
    "End",
    "Submit",
    "Partition",
    "Timelimit",
    "NCPUS",
    "WorkDir",
)
ACCOUNTING_FIELDS: tuple[str, ...] = (
    "JobID",
    "JobName",
    "State",
    "ExitCode",
    "Elapsed",
    "NodeList",
    "Start",
    "End",
    "Submit",
    "Partition",
    "Timelimit",
    "NCPUS",
    "ReqMem",
    "Reason",
    "WorkDir",
)

DEPENDENCY_TYPES: tuple[str, ...] = ("afterok", "afterany", "afternotok", "after")

# sacct's field separator: no job name or path contains it, unlike `|`.
_SEP = "\x1f"
_JOB_ID = re.compile(r"^\d+(_\d+)?(\+\d+)?$")
_DEFAULT_TIMEOUT_S = 60.0

# Substrings of SLURM's stderr and what to do about them, for the error message.
_HINTS: tuple[tuple[str, str], ...] = (
    (
        "Unable to contact slurm controller",
        "is slurmctld running and SLURM_CONF right? A local cluster: "
        "slurm/dev/local-cluster.sh status",
    ),
    ("Could not establish a configuration source", "set SLURM_CONF to the cluster's slurm.conf"),
    ("Munge", "munged is not running or its key differs: check `munge -n | unmunge`"),
    ("Job dependency problem", "a dependency names a job that is unknown or already failed"),
    ("Invalid partition", "name a partition that `sinfo` lists (cluster profile)"),
    ("Invalid account", "set the account of the cluster profile (`sacctmgr show assoc`)"),
    ("Requested node configuration is not available", "ask for less memory, CPUs or GPUs"),
    ("unrecognized option", "see `sbatch --help` for the options of this SLURM version"),
    ("accounting storage is disabled", "there is no slurmdbd: use `sacct -c` (jobcomp)"),
)


class AccountingDisabledError(SlurmError):
    """``sacct`` without ``-c`` on a cluster without accounting storage (no slurmdbd)."""


def _hint(stderr: str) -> str:
    for needle, hint in _HINTS:
        if needle.lower() in stderr.lower():
            return f" Fix: {hint}."
    return ""


def _run(
    cmd: Sequence[str],
    env: Mapping[str, str] | None,
    *,
    timeout: float = _DEFAULT_TIMEOUT_S,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run one SLURM command. ``env`` goes on top of ``os.environ`` (so a bare
    ``{"SLURM_CONF": ...}`` is enough), and reaches the jobs that sbatch submits."""
    full_env = {**os.environ, **env} if env is not None else None
    shown = shlex.join(cmd)
    try:
        proc = subprocess.run(
            list(cmd), env=full_env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as exc:
        raise SlurmError(
            f"`{cmd[0]}` is not on PATH: install the SLURM client tools (Debian: apt-get "
            "install slurm-client; a local test cluster: slurm/dev/local-cluster.sh install) "
            "or run this on a cluster login node",
            cmd,
            None,
            "",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise SlurmError(
            f"`{shown}` did not answer in {timeout:.0f} s: the controller may be down or "
            "overloaded (`scontrol ping`)",
            cmd,
            None,
            str(exc.stderr or ""),
        ) from exc
    if check and proc.returncode != 0:
        _raise_failed(proc)
    return proc


def _raise_failed(proc: subprocess.CompletedProcess[str]) -> NoReturn:
    stderr = proc.stderr.strip()
    raise SlurmError(
        f"`{shlex.join(proc.args)}` failed (exit {proc.returncode}): "
        f"{stderr.rstrip('.') or '(no stderr)'}.{_hint(stderr)}",
        proc.args,
        proc.returncode,
        stderr,
    )


def check_ids(job_ids: Iterable[str]) -> list[str]:
    ids = [str(j) for j in job_ids]
    bad = [j for j in ids if not _JOB_ID.match(j)]
    if bad:
        raise ValueError(f"not SLURM job ids: {bad!r} (expected digits, e.g. '12345')")
    return ids


def sbatch(
    script_path: str | os.PathLike[str],
    *,
    dependency_ids: Sequence[str] = (),
    dependency_type: str = "afterok",
    kill_on_invalid_dep: bool = False,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> str:
    """Submit ``script_path`` with ``sbatch --parsable``; returns the job id it printed.

    ``dependency_ids`` become ``--dependency=<dependency_type>:<id>:<id>``. A child of a
    failed parent stays ``PENDING (DependencyNeverSatisfied)``; ``kill_on_invalid_dep``
    cancels it instead. The flag is always passed with a dependency, so the cluster's
    default (``DependencyParameters``) does not decide. Beware: SLURM treats a parent it
    does not know (a wrong id, or one finished more than ``MinJobAge`` ago) as done and
    drops the dependency, so pass the ids sbatch just printed. ``extra_args`` go before the
    script (``--mem``, ``--time``, ``-o`` ...); ``cwd`` is the job's working directory
    unless ``extra_args`` sets ``--chdir``.
    """
    script = Path(script_path)
    if not script.is_file():
        raise FileNotFoundError(f"sbatch script not found: {script}")
    cmd = ["sbatch", "--parsable"]
    ids = check_ids(dependency_ids)
    if ids:
        if dependency_type not in DEPENDENCY_TYPES:
            raise ValueError(
                f"dependency_type {dependency_type!r}: expected one of {DEPENDENCY_TYPES}"
            )
        cmd.append(f"--dependency={dependency_type}:{':'.join(ids)}")
        cmd.append(f"--kill-on-invalid-dep={'yes' if kill_on_invalid_dep else 'no'}")
    if cwd is not None:
        cmd.append(f"--chdir={os.fspath(cwd)}")
    cmd += [*extra_args, str(script)]
    proc = _run(cmd, env)
    # `--parsable` prints "<id>" or "<id>;<cluster>"; warnings go to stderr.
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    job_id = lines[-1].split(";")[0].strip() if lines else ""
    if not _JOB_ID.match(job_id):
        raise SlurmError(
            f"`{shlex.join(cmd)}` printed no job id (stdout {proc.stdout!r}, "
            f"stderr {proc.stderr.strip()!r})",
            cmd,
            proc.returncode,
            proc.stderr,
        )
    return job_id


def _sacct_rows(
    proc: subprocess.CompletedProcess[str], fields: Sequence[str]
) -> list[dict[str, str]]:
    rows = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        values = line.split(_SEP)
        if len(values) != len(fields):
            raise SlurmError(
                f"sacct printed {len(values)} fields where {len(fields)} were asked "
                f"({', '.join(fields)}): {line!r}",
                proc.args,
                proc.returncode,
                proc.stderr,
            )
        rows.append(dict(zip(fields, values, strict=True)))
    return rows


def _sacct_cmd(
    flags: Sequence[str],
    fields: Sequence[str],
    job_ids: Iterable[str] | None,
    since: str | None,
) -> list[str]:
    cmd = ["sacct", *flags, "--noheader", "--parsable2", f"--delimiter={_SEP}"]
    cmd.append(f"--format={','.join(fields)}")
    if job_ids is not None:
        ids = check_ids(job_ids)
        if not ids:
            return []
        cmd.append(f"--jobs={','.join(ids)}")
    if since is not None:
        cmd.append(f"--starttime={since}")
    return cmd


def sacct_completion(
    job_ids: Iterable[str] | None = None,
    *,
    since: str | None = None,
    fields: Sequence[str] = COMPLETION_FIELDS,
    env: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """Rows of ``sacct -c`` (the jobcomp/filetxt completion log), one per dict, keyed by
    field name, in the log's order. A requeued job has one row per attempt (the first ones
    read ``PENDING``); :func:`job_states` keeps the latest."""
    cmd = _sacct_cmd(["-c"], fields, job_ids, since)
    if not cmd:
        return []
    return _sacct_rows(_run(cmd, env), fields)


def sacct_accounting(
    job_ids: Iterable[str] | None = None,
    *,
    since: str | None = None,
    fields: Sequence[str] = ACCOUNTING_FIELDS,
    env: Mapping[str, str] | None = None,
) -> list[dict[str, str]]:
    """Rows of ``sacct -X`` (one per job allocation, latest attempt only) from slurmdbd.

    Without ``job_ids`` sacct starts at midnight today unless ``since`` says otherwise.
    Raises :class:`AccountingDisabledError` on a cluster without accounting storage.
    """
    cmd = _sacct_cmd(["-X"], fields, job_ids, since)
    if not cmd:
        return []
    proc = _run(cmd, env, check=False)
    if proc.returncode != 0 and "accounting storage is disabled" in proc.stderr.lower():
        raise AccountingDisabledError(
            "`sacct` says: Slurm accounting storage is disabled (this cluster has no "
            "slurmdbd). Use sacct_completion (`sacct -c`, needs JobCompType=jobcomp/filetxt) "
            "or scontrol while the controller still knows the job (MinJobAge).",
            cmd,
            proc.returncode,
            proc.stderr.strip(),
        )
    if proc.returncode != 0:
        _raise_failed(proc)
    return _sacct_rows(proc, fields)


def squeue_ids(
    *, user: str | None = None, states: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> list[str]:
    """Ids of the jobs the controller lists (pending and running by default). For
    cancelling or a quick look, never to find the job that was just submitted."""
    cmd = ["squeue", "--noheader", "--format=%i"]
    if user is not None:
        cmd.append(f"--user={user}")
    if states:
        cmd.append(f"--states={','.join(states)}")
    return [line.strip() for line in _run(cmd, env).stdout.splitlines() if line.strip()]


def scancel(job_ids: Iterable[str], *, env: Mapping[str, str] | None = None) -> None:
    """Cancel ``job_ids`` (nothing to do when empty). Cancelling a finished job is not an
    error for scancel."""
    ids = check_ids(job_ids)
    if ids:
        _run(["scancel", *ids], env)
