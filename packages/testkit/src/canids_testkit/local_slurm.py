"""A real SLURM on this machine (one node, or several in their own namespaces), for tests
and for trying canids on a laptop.

The SLURM tests talk to a real slurmctld and slurmd, never to a fake ``sbatch``: the
behaviour that matters (dependency chains, ``DependencyNeverSatisfied``, cgroup
``OUT_OF_MEMORY``, ``TIMEOUT``, what ``sacct -c`` records) is exactly what a fake gets
wrong. :class:`LocalSlurm` drives ``slurm/dev/local-cluster.sh`` (the one implementation
of starting and stopping, also used by people by hand) in a private state folder, on free
ports and with its own job-id range, so that it never disturbs a cluster a user already
runs. It needs root (slurmd starts jobs and manages cgroups) and the Debian packages
``slurmctld slurmd slurm-client munge``.

    with LocalSlurm() as cluster:
        job_id = sbatch("job.sh", env=cluster.env)

``LocalSlurm(nodes=2)`` starts node1 and node2, each a slurmd in its own network, UTS, PID
and mount namespaces on a private bridge (the script's two-node mode), so that
``sbatch --nodes 2`` gets two hosts that `hostname` tells apart; it also needs ``ip``
(iproute2), ``nsenter`` and ``unshare`` (util-linux).
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from canids_core import CanidsError

__all__ = [
    "NODES_BINARIES",
    "REQUIRED_BINARIES",
    "SCRIPT",
    "LocalSlurm",
    "LocalSlurmError",
    "find_script",
    "missing_binaries",
]

SCRIPT = Path("slurm/dev/local-cluster.sh")
"""Where the script lives, relative to the repository root."""

REQUIRED_BINARIES: tuple[str, ...] = (
    *("sbatch", "sacct", "scontrol", "squeue", "scancel", "sinfo"),
    *("slurmctld", "slurmd", "munged", "munge", "unmunge"),
)
"""What the script and the tests run."""
NODES_BINARIES: tuple[str, ...] = ("ip", "nsenter", "unshare")
"""What several nodes need besides."""
# slurmctld, slurmd and munged are in /usr/sbin, which a user's PATH often lacks.
_SBIN = ("/usr/sbin", "/sbin")


class LocalSlurmError(CanidsError, RuntimeError):
    """The local cluster could not start or stop; the message carries the script's output
    (including the tail of the daemons' logs)."""


def find_script(start: str | os.PathLike[str] | None = None) -> Path:
    """``slurm/dev/local-cluster.sh`` of the repository that contains ``start`` (default: the
    current folder, then this file's location, so an editable install finds its checkout)."""
    starts = [Path(start)] if start is not None else [Path.cwd(), Path(__file__)]
    for origin in starts:
        origin = origin.resolve()
        for folder in (origin, *origin.parents):
            candidate = folder / SCRIPT
            if candidate.is_file():
                return candidate
    where = " or ".join(str(s) for s in starts)
    raise LocalSlurmError(
        f"{SCRIPT} not found above {where}: run from the canids checkout or pass script=PATH"
    )


def missing_binaries(names: Sequence[str] = REQUIRED_BINARIES) -> list[str]:
    """The SLURM and munge programs that are not installed (PATH plus /usr/sbin)."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
    return [name for name in names if shutil.which(name, path=path) is None]


def _free_port_pair() -> int:
    # slurmctld takes the port, slurmd the next one; both must be free. Another process
    # may grab them before the daemons bind: the script then fails and says so.
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port >= 65535:
            continue
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("0.0.0.0", port))
                b.bind(("0.0.0.0", port + 1))
        except OSError:
            continue
        return port
    raise LocalSlurmError("no two consecutive free TCP ports found for slurmctld and slurmd")


class LocalSlurm:
    """A slurmctld + slurmd (+ munged when none runs) started by ``local-cluster.sh``.

    ``nodes`` > 1: that many slurmds, each in its own namespaces (node1, node2, ...), with a
    private munged; :meth:`stop` also removes their namespaces and links, and so does a
    failed :meth:`start`. ``state_dir`` holds slurm.conf, state, logs and the completion
    log (default: a new temporary folder, removed by :meth:`stop` when it was created
    here). ``port`` is slurmctld's port (slurmd takes the next; default: a free pair).
    ``first_job_id`` defaults to a random range, so that job cgroups never collide with
    another local cluster's. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        script: str | os.PathLike[str] | None = None,
        port: int | None = None,
        first_job_id: int | None = None,
        start_timeout_s: float = 30.0,
        nodes: int = 1,
    ) -> None:
        if not 1 <= nodes <= 8:
            raise LocalSlurmError(f"nodes must be 1 to 8, got {nodes}")
        self.nodes = nodes
        self.script = Path(script) if script is not None else find_script()
        if not self.script.is_file():
            raise LocalSlurmError(f"local cluster script not found: {self.script}")
        self._own_dir = state_dir is None
        self.state_dir = Path(
            state_dir if state_dir is not None else tempfile.mkdtemp(prefix="canids-slurm-")
        ).resolve()
        self.port = port
        self.first_job_id = first_job_id
        self.start_timeout_s = start_timeout_s
        self.startup_s: float | None = None
        self._running = False

    @property
    def conf(self) -> Path:
        """The cluster's slurm.conf (what ``SLURM_CONF`` points at)."""
        return self.state_dir / "slurm.conf"

    @property
    def completion_log(self) -> Path:
        """The jobcomp/filetxt log that ``sacct -c`` reads."""
        return self.state_dir / "log" / "jobcomp.log"

    @property
    def env(self) -> dict[str, str]:
        """``os.environ`` plus ``SLURM_CONF``: pass it as ``env=`` to subprocesses and to
        the ``canids_jobs.slurm`` functions, so that they talk to this cluster."""
        path = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
        return {**os.environ, "PATH": path, "SLURM_CONF": str(self.conf)}

    def _script_env(self) -> dict[str, str]:
        env = dict(self.env)
        env.pop("SLURM_CONF")
        env["CANIDS_SLURM_DIR"] = str(self.state_dir)
        env["CANIDS_SLURM_START_TIMEOUT"] = str(int(self.start_timeout_s))
        if self.port is not None:
            env["CANIDS_SLURM_PORT"] = str(self.port)
        if self.first_job_id is not None:
            env["CANIDS_SLURM_FIRST_JOB_ID"] = str(self.first_job_id)
        if self.nodes > 1:
            env["CANIDS_SLURM_NODES"] = str(self.nodes)
        return env

    def _call(self, command: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["bash", str(self.script), command],
                env=self._script_env(),
                capture_output=True,
                text=True,
                timeout=timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise LocalSlurmError(
                f"`{self.script} {command}` did not finish in {timeout_s:.0f} s; "
                f"logs: {self.state_dir / 'log'}"
            ) from exc

    def start(self) -> LocalSlurm:
        """Start the daemons and wait until the node is idle; raises
        :class:`LocalSlurmError` with the script's message and the logs' tails otherwise."""
        if self._running:
            return self
        if missing := missing_binaries():
            raise LocalSlurmError(
                f"not installed: {', '.join(missing)}; install with `sudo {self.script} "
                "install` (apt-get install slurmctld slurmd slurm-client munge)"
            )
        if self.nodes > 1 and (missing := missing_binaries(NODES_BINARIES)):
            raise LocalSlurmError(
                f"{self.nodes} nodes need {', '.join(missing)}: apt-get install iproute2 util-linux"
            )
        if self.port is None:
            self.port = _free_port_pair()
        if self.first_job_id is None:
            self.first_job_id = random.randrange(10_000, 1_000_000, 10_000)
        t0 = time.perf_counter()
        try:
            # The script's own limit covers slurmctld and the nodes; before them, two nodes'
            # network check may take up to 2 x 13 s (slurm/dev/nodes.sh).
            proc = self._call("start", self.start_timeout_s + 60)
        except LocalSlurmError:
            self._cleanup_failed_start()
            raise
        if proc.returncode != 0:
            self._cleanup_failed_start()
            raise LocalSlurmError(
                f"`{self.script} start` failed (exit {proc.returncode}, state in "
                f"{self.state_dir}):\n{proc.stderr.strip()}"
            )
        self.startup_s = time.perf_counter() - t0
        self._running = True
        return self

    def _cleanup_failed_start(self) -> None:
        # The script cleans up after its own errors; a start killed on its timeout cannot.
        # Several nodes leave namespaces and links behind, which `stop` removes.
        if self.nodes > 1:
            # The start's own error is the one to report.
            with contextlib.suppress(LocalSlurmError):
                self._call("stop", 60)

    def status(self) -> str:
        """The script's ``status`` report (daemons, munge, sinfo, squeue)."""
        proc = self._call("status", 30)
        return (proc.stdout + proc.stderr).strip()

    def stop(self) -> None:
        """Cancel this cluster's jobs, stop exactly the daemons it started, and remove the
        state folder when this object created it. Safe to call twice."""
        if not self.state_dir.exists():
            return
        proc = self._call("stop", 60)
        self._running = False
        if proc.returncode != 0:
            raise LocalSlurmError(
                f"`{self.script} stop` failed (exit {proc.returncode}):\n{proc.stderr.strip()}"
            )
        if self._own_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self) -> LocalSlurm:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        nodes = f", nodes={self.nodes}" if self.nodes > 1 else ""
        return f"LocalSlurm(state_dir={str(self.state_dir)!r}, port={self.port}{nodes})"
