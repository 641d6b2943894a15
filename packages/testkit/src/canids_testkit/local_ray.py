"""A real two-node Ray cluster on one machine: a head and a second node, each a separate
``ray start`` with its own temp dir, ports and node resources.

What a multi-node cluster does that one node does not (placement across nodes, a node
that dies under a running job) can be tested here without a second machine. Both nodes
share the machine's address; Ray tells them apart by their ports. The cluster is this
test session's alone:

- ports: a block of 40 free ports from a base picked at start (head GCS, node managers,
  object managers, agents, runtime-env agents, metrics, worker ranges), so neither node
  meets a default port another Ray on the machine holds;
- auth: Ray 2.60's ``ray start`` turns token auth on; the cluster gets its own random
  token, and :attr:`LocalRayCluster.env` carries it (with ``RAY_ADDRESS``) to the
  processes that join;
- stopping: never ``ray stop`` (it would stop every Ray of the user on the machine, other
  sessions' included). Only the processes whose command line names this cluster's temp
  dirs are killed, then the dirs are removed.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["LocalRayCluster", "LocalRayError", "ray_binary"]


class LocalRayError(RuntimeError):
    """The local Ray cluster could not start (the message holds ``ray start``'s output)."""


def ray_binary() -> str:
    """The ``ray`` command of this interpreter's environment."""
    beside = Path(sys.executable).with_name("ray")
    if beside.is_file():
        return str(beside)
    found = shutil.which("ray")
    if found is None:
        raise LocalRayError("no `ray` command: install ray (`uv sync` installs ray[default])")
    return found


def _free_base(span: int) -> int:
    """A port from which ``span`` consecutive ports are free now (10000-59999)."""
    rng = secrets.SystemRandom()
    for _ in range(200):
        base = rng.randrange(10_000, 60_000 - span)
        if all(_is_free(base + i) for i in range(span)):
            return base
    raise LocalRayError(f"found no {span} consecutive free ports in 10000-59999")


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _node_ip() -> str:
    """This machine's address as Ray picks it (the route out; no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("8.8.8.8", 80))
            return str(s.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _holds_file_under(proc: Path, dirs: list[str]) -> bool:
    try:
        fds = list((proc / "fd").iterdir())
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if any(target.startswith(d) for d in dirs):
            return True
    return False


@dataclass
class _Node:
    name: str
    temp_dir: Path
    node_manager_port: int
    cpus: int
    resources: str
    ports: list[str] = field(default_factory=list)


@dataclass
class LocalRayCluster:
    """``start()`` brings up the head and the second node; ``stop()`` kills exactly their
    processes. ``head_cpus``/``second_cpus`` are logical CPUs (Ray may overcommit)."""

    head_cpus: int = 2
    second_cpus: int = 1
    root: Path | None = None
    address: str = ""
    env: dict[str, str] = field(default_factory=dict)
    nodes: list[_Node] = field(default_factory=list)

    def start(self, timeout: float = 240.0) -> LocalRayCluster:
        # Short temp dirs: Ray's sockets live there (AF_UNIX paths stop at 107 bytes).
        self.root = Path(tempfile.mkdtemp(prefix="cr", dir="/tmp"))
        base = _free_base(40)
        ip = _node_ip()
        self.address = f"{ip}:{base}"
        token = secrets.token_hex(32)
        self.env = {"RAY_ADDRESS": self.address, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token}
        head = _Node("head", self.root / "h", base + 1, self.head_cpus, '{"canids_head": 1}')
        head.ports = [
            "--head",
            f"--port={base}",
            f"--ray-client-server-port={base + 2}",
            "--include-dashboard=false",
        ]
        second = _Node(
            "second", self.root / "s", base + 21, self.second_cpus, '{"canids_second": 1}'
        )
        second.ports = [f"--address={self.address}"]
        for offset, node in ((0, head), (20, second)):
            p = base + offset
            node.temp_dir.mkdir(parents=True)
            node.ports += [
                f"--node-manager-port={node.node_manager_port}",
                f"--object-manager-port={p + 3}",
                f"--dashboard-agent-grpc-port={p + 4}",
                f"--dashboard-agent-listen-port={p + 5}",
                f"--runtime-env-agent-port={p + 6}",
                f"--metrics-export-port={p + 7}",
                f"--min-worker-port={p + 8}",
                f"--max-worker-port={p + 19}",
            ]
            self.nodes.append(node)  # before it starts: stop() must find a half-started node
            self._ray_start(node, ip, timeout)
        return self

    def _ray_start(self, node: _Node, ip: str, timeout: float) -> None:
        """``ray start`` for ``node``, tried 3 times: Ray gives a raylet a fixed 30 s to
        register, which an overloaded 2-core machine can miss."""
        for attempt in range(3):
            try:
                self._ray_start_once(node, ip, timeout)
                return
            except LocalRayError:
                if attempt == 2:
                    self.stop()
                    raise
                self._kill([n for n in self.nodes if n is node])
                time.sleep(2)

    def _ray_start_once(self, node: _Node, ip: str, timeout: float) -> None:
        cmd = [
            ray_binary(),
            "start",
            *node.ports,
            f"--node-ip-address={ip}",
            f"--num-cpus={node.cpus}",
            "--num-gpus=0",
            f"--resources={node.resources}",
            f"--temp-dir={node.temp_dir}",
            "--disable-usage-stats",
        ]
        env = {**os.environ, **self.env}
        env.pop("RAY_ADDRESS")  # ray start takes --address; a stale one must not leak in
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise LocalRayError(
                f"`{' '.join(cmd)}` exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )

    def child_env(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """An environment whose Ray clients join this cluster."""
        return {**(os.environ if base is None else base), **self.env}

    def pids(self, node: str | None = None) -> list[int]:
        """The processes of this cluster (of one node: ``head`` or ``second``)."""
        return self._pids([n for n in self.nodes if node in (None, n.name)])

    def _pids(self, chosen: list[_Node]) -> list[int]:
        """Processes whose command line names a chosen node's temp dir or node manager
        port, or that hold a file open under its temp dir (Ray renames its agents and
        workers ``ray::…``, but they keep their logs open there)."""
        marks = [str(n.temp_dir) for n in chosen]
        marks += [f"node_manager_port={n.node_manager_port}" for n in chosen]
        dirs = [str(n.temp_dir) + "/" for n in chosen]
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                if any(m in cmdline for m in marks) or _holds_file_under(entry, dirs):
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def raylet_pid(self, node: str) -> int:
        """The raylet of ``node`` (found by its node manager port)."""
        port = next(n.node_manager_port for n in self.nodes if n.name == node)
        for pid in self.pids():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "raylet" in cmdline.split(" ", 1)[0] and f"node_manager_port={port}" in cmdline:
                return pid
        raise LocalRayError(f"no raylet with node manager port {port} ({node} node) is running")

    def kill_raylet(self, node: str = "second") -> int:
        """SIGKILL ``node``'s raylet (its workers die with it): a node lost mid-job."""
        pid = self.raylet_pid(node)
        os.kill(pid, signal.SIGKILL)
        return pid

    def stop(self) -> None:
        """Kill this cluster's processes (never ``ray stop``) and remove its temp dirs."""
        self._kill(self.nodes)
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
        self.nodes.clear()

    def _kill(self, nodes: list[_Node]) -> None:
        for _ in range(3):
            pids = self._pids(nodes)
            if not pids:
                break
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.5)
