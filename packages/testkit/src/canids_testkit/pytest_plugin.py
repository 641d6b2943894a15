"""The ``local_slurm`` pytest fixture: one real local SLURM per test session; and
``local_slurm_two_nodes``: a second one with two nodes in their own namespaces.

Use it from a conftest.py by importing the fixture (this works in any conftest, unlike
``pytest_plugins``, which pytest accepts only in the top-level one)::

    from canids_testkit.pytest_plugin import local_slurm  # noqa: F401

Tests that use it are marked ``slurm``. Where SLURM is not installed (or the tests do not
run as root) they are skipped with the reason, except in CI (:func:`ci_is_set`), where a
skipped SLURM test would hide that CI never ran them: there the fixture fails.

Several conftests may import the fixture (packages/jobs/tests and the root tests/); pytest
then sees separate session fixtures, so the cluster itself is shared here by reference
count: one cluster per process, stopped when its last user is done.

The two clusters never share anything: each has its own state folder, ports, job-id range
and slurm.conf; the two-node one has its own munged, so neither can stop the other's.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .ci import ci_is_set
from .local_slurm import (
    NODES_BINARIES,
    LocalSlurm,
    LocalSlurmError,
    find_script,
    missing_binaries,
)

if TYPE_CHECKING:
    from .local_ray import LocalRayCluster

__all__ = [
    "chromium",
    "local_slurm",
    "local_slurm_two_nodes",
    "skip_unless_ci",
    "slurm_unavailable",
    "two_node_ray",
]

# One cluster per node count per process, with the number of fixtures using it.
_clusters: dict[int, tuple[LocalSlurm, int]] = {}


def slurm_unavailable(nodes: int = 1) -> str | None:
    """Why a local SLURM (of ``nodes`` nodes) cannot run here (``None`` when it can)."""
    try:
        script = find_script()
    except LocalSlurmError as exc:
        return str(exc)
    if missing := missing_binaries():
        return (
            f"SLURM is not installed (missing {', '.join(missing)}): "
            f"`sudo {script} install` or apt-get install slurmctld slurmd slurm-client munge"
        )
    if os.geteuid() != 0:
        return (
            "a local SLURM needs root (slurmd starts jobs and manages cgroups): "
            "run the slurm tests as root"
        )
    if nodes > 1 and (missing := missing_binaries(NODES_BINARIES)):
        return (
            f"a {nodes}-node local SLURM needs {', '.join(missing)}: "
            "apt-get install iproute2 util-linux"
        )
    return None


def skip_unless_ci(reason: str) -> None:
    """Skip the test with ``reason``; in CI fail it instead (what CI cannot run is a
    broken CI, not a test to leave out)."""
    if ci_is_set():
        pytest.fail(f"{reason} [CI is set: this test must run in CI, not be skipped]")
    pytest.skip(reason)


def _shared_cluster(tmp_path_factory: pytest.TempPathFactory, nodes: int) -> Iterator[LocalSlurm]:
    """The process's started cluster of ``nodes`` nodes, started by its first user and
    stopped (namespaces and links removed) when its last user is done."""
    if (reason := slurm_unavailable(nodes)) is not None:
        skip_unless_ci(reason)
    if nodes not in _clusters:
        cluster = LocalSlurm(tmp_path_factory.mktemp(f"slurm{nodes}n"), nodes=nodes)
        try:
            cluster.start()
        except LocalSlurmError as exc:
            pytest.fail(f"the {nodes}-node local SLURM did not start: {exc}")
        _clusters[nodes] = (cluster, 0)
    cluster, users = _clusters[nodes]
    _clusters[nodes] = (cluster, users + 1)
    try:
        yield cluster
    finally:
        cluster, users = _clusters[nodes]
        if users == 1:
            del _clusters[nodes]
            cluster.stop()
        else:
            _clusters[nodes] = (cluster, users - 1)


@pytest.fixture(scope="session")
def local_slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    """A started :class:`LocalSlurm`; pass ``local_slurm.env`` to SLURM commands."""
    yield from _shared_cluster(tmp_path_factory, nodes=1)


@pytest.fixture(scope="session")
def local_slurm_two_nodes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalSlurm]:
    """A started two-node :class:`LocalSlurm` (node1, node2: each a slurmd in its own
    network, UTS, PID and mount namespaces); ``sbatch --nodes 2`` gets both. Stopped, and
    its namespaces and links removed, when the session ends (or when it fails to start)."""
    yield from _shared_cluster(tmp_path_factory, nodes=2)


@pytest.fixture(scope="session")
def chromium() -> str:
    """The Chromium binary browser tests render pages with (Debian's ``chromium``, or
    ``$CANIDS_CHROMIUM``); without one the test skips, and in CI it fails."""
    from .browser import find_chromium

    found = find_chromium()
    if found is None:
        skip_unless_ci(
            "no Chromium for the browser test: apt-get install chromium (.ci/run installs it),"
            " or set CANIDS_CHROMIUM"
        )
    assert found is not None
    return found


@pytest.fixture
def two_node_ray() -> Iterator[LocalRayCluster]:
    """A started two-node :class:`LocalRayCluster` (head: 2 CPUs, second node: 1 CPU), one
    per test (a test may kill a node); pass ``two_node_ray.child_env()`` to the processes
    that join it. Where Ray cannot start, the test skips with ``ray start``'s output, and
    in CI it fails."""
    from .local_ray import LocalRayCluster, LocalRayError

    cluster = LocalRayCluster()
    try:
        cluster.start()
    except LocalRayError as exc:
        skip_unless_ci(f"the two-node Ray cluster did not start: {exc}")
    try:
        yield cluster
    finally:
        cluster.stop()
