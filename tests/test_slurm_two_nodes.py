"""A real two-node SLURM on this machine (slurm/dev/local-cluster.sh with
CANIDS_SLURM_NODES=2: node1 and node2, each a slurmd in its own network, UTS, PID and
mount namespaces on a private bridge) and the multi-node path of slurm/ray-cluster.sbatch
on it: ``sbatch --nodes 2`` gets two hosts, ``ray symmetric-run`` makes one Ray cluster of
them, and a search and a 2-worker training stage run inside that job.

Under CI=true these tests fail, not skip, where the two-node cluster cannot start.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from canids_core import find_report
from canids_jobs.slurm import JobRecord, job_states, sbatch
from canids_orchestrate.slurm_render import RayJobSpec, render_ray_job
from canids_testkit import LocalSlurm, find_script
from canids_testkit.pytest_plugin import skip_unless_ci, slurm_unavailable

# The dashboard starts a dozen Python processes on the head at once; on this 2-core
# machine that burst can make the raylet miss its fixed 15 s wait for its own agent.
RAY_ENV = {"CANIDS_RAY_DASHBOARD": "0"}


# Each task prints its host name, its address and how many processes it sees (its node's
# PID namespace, not the machine's).
TWO_NODE_JOB = """#!/bin/bash
#SBATCH --nodes=2
#SBATCH --ntasks-per-node=1
#SBATCH --time=00:02:00
#SBATCH --output={out}
echo "batch: $(hostname) nodes: $SLURM_JOB_NODELIST"
srun bash -c 'echo "task: $(hostname) $(hostname -I | tr -d " ") $(ls -d /proc/[0-9]* | wc -l)"'
"""


# nodes.sh's network functions alone, as local-cluster.sh sources them: build the nodes'
# network, cut node2's link on the bridge side, check what the start would say, and
# remove everything.
CUT_OFF_NODE = """
set -uo pipefail
say() {{ printf 'local-cluster: %s\\n' "$*" >&2; }}
die() {{ say "error: $*"; exit 1; }}
DIR={dir} RUN={dir}/run NODES=2 CTLD_PORT={port} SUBNET=""
mkdir -p "$RUN"
source {nodes_sh}
set_net_names
setup_network 2>/dev/null
ip link set "$(node_veth 2)" down
# The start's 10 s: node1's link comes up asynchronously, and once it has reached the
# controller's address it is not probed again (CI, loaded, once stalled a later probe of
# node1 past its 3 s; a check that probed it again named node1).
if why="$(wait_network 10)"; then echo "reached: none cut off"; else echo "why: $why"; fi
network_report 2>&1
teardown_network 2>/dev/null
echo "bridge left: $(ip -o link show "$BRIDGE" 2>/dev/null | wc -l)"
echo "netns left: $(ip netns list | grep -c "$(node_netns 1)\\|$(node_netns 2)")"
"""


def _wait(job_id: str, env: dict[str, str], timeout_s: float) -> JobRecord:
    deadline = time.monotonic() + timeout_s
    record = None
    while time.monotonic() < deadline:
        record = job_states([job_id], env=env).get(job_id)
        if record is not None and record.finished:
            return record
        time.sleep(2)
    raise AssertionError(
        f"job {job_id} not finished after {timeout_s:.0f} s (last seen: {record}); "
        f"`SLURM_CONF={env['SLURM_CONF']} scontrol show job {job_id}` says why"
    )


def _node_addresses(cluster: LocalSlurm) -> dict[str, str]:
    out = subprocess.run(
        ["sinfo", "-h", "-N", "-o", "%N %o"],
        env=cluster.env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split() for line in out.splitlines())


@pytest.mark.slurm
def test_sbatch_nodes_2_runs_on_two_hosts(local_slurm_two_nodes: LocalSlurm, tmp_path: Path):
    env = local_slurm_two_nodes.env
    addresses = _node_addresses(local_slurm_two_nodes)
    assert sorted(addresses) == ["node1", "node2"]
    assert addresses["node1"] != addresses["node2"]
    script = tmp_path / "two.sh"
    script.write_text(TWO_NODE_JOB.format(out=tmp_path / "two-%j.out"))
    job_id = sbatch(script, env=env, cwd=tmp_path)
    record = _wait(job_id, env, 120)
    log = (tmp_path / f"two-{job_id}.out").read_text()
    assert record.state == "COMPLETED", log
    assert "batch: node1 nodes: node[1-2]" in log
    tasks = sorted(line.split()[1:] for line in log.splitlines() if line.startswith("task: "))
    assert [t[:2] for t in tasks] == [
        ["node1", addresses["node1"]],
        ["node2", addresses["node2"]],
    ]
    # A node sees a handful of processes (its slurmd, the step), not the machine's hundreds.
    assert all(int(t[2]) < 50 for t in tasks), tasks


@pytest.mark.slurm
@pytest.mark.ray
@pytest.mark.slow
def test_canids_tune_runs_on_a_two_node_ray_cluster(
    local_slurm_two_nodes: LocalSlurm, tmp_path: Path, demo_captures: Path
) -> None:
    """canids-tune --slurm --nodes 2: symmetric-run starts Ray on both nodes, the search
    runs on the head, and each trial (2 CPUs: a whole node) runs on its own node. (The
    one-node `canids-tune --slurm` takes the same path with one node; its rendered job is
    checked in tests/test_cli_tune.py.)"""
    from canids_data import CacheManager

    CacheManager(tmp_path / "cache").build("demo", demo_captures)
    space = tmp_path / "space.toml"
    space.write_text('[gat.hidden]\nkind = "choice"\nvalues = [8]\n')
    storage = tmp_path / "tune"
    cmd = [sys.executable, "-c", "from canids_cli.tune_cmd import main; main()"]
    cmd += ["--dataset", "demo", "--cache-dir", str(tmp_path / "cache"), "--space", str(space)]
    cmd += ["--num-samples", "2", "--max-t", "1", "--no-asha", "--cpus-per-trial", "2"]
    cmd += ["--wandb-mode", "disabled", "--name", "two"]
    cmd += ["--set", "train.threads=1", "--set", "gat.layers=1", "--set", "gat.heads=1"]
    cmd += ["--storage-path", str(storage), "--slurm", "--nodes", "2", "--num-cpus", "2"]
    cmd += ["--memory", "4G", "--walltime", "00:20:00"]
    env = {**local_slurm_two_nodes.env, **RAY_ENV}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    job_id = done.stdout.split("as job ")[1].split(":")[0]
    record = _wait(job_id, env, 1200)
    log = (storage / f"ray-cluster-{job_id}.out").read_text()
    assert record.state == "COMPLETED", log
    assert record.nodelist == "node[1-2]", record
    # The search saw both nodes' CPUs: one Ray cluster of two nodes.
    assert "(4 CPU, 0 GPU)" in log, log
    summary = json.loads((storage / "two" / "summary.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["completed", "completed"]
    # Where each trial ran: Tune records the host in every result row.
    hosts = set()
    for trial in summary["trials"]:
        rows = (Path(trial["path"]) / "result.json").read_text().splitlines()
        hosts |= {json.loads(row)["hostname"] for row in rows if row.strip()}
        # The trial's own files reach the shared storage path from either node.
        assert (Path(trial["path"]) / "trial.json").is_file(), trial["path"]
    assert hosts == {"node1", "node2"}, hosts
    assert Path(summary["best_config_path"]).is_file()
    assert f"ray-cluster: job {job_id} finished with exit 0" in log
    assert not Path(f"/tmp/ray_{job_id}").exists()


@pytest.mark.slurm
@pytest.mark.ray
@pytest.mark.slow
def test_a_two_worker_stage_runs_across_both_nodes(
    local_slurm_two_nodes: LocalSlurm, tmp_path: Path, demo_captures: Path
) -> None:
    """canids-train gat --workers 2 inside the two-node Ray job: STRICT_SPREAD puts one Ray
    Train rank on each node, and the stage ends as one stage does (result line, DONE)."""
    from canids_data import CacheManager

    CacheManager(tmp_path / "cache").build("demo", demo_captures)
    runs = tmp_path / "runs"
    entry = [str(Path(sys.executable).parent / "canids-train"), "gat", "--dataset", "demo"]
    entry += ["--size", "teacher", "--cache-dir", str(tmp_path / "cache")]
    entry += ["--runs-dir", str(runs), "--no-wandb", "--quiet"]
    for item in (
        *("train.threads=1", "train.device=cpu", "train.epochs=2", "train.patience=2"),
        *("gat.layers=1", "gat.heads=1", "gat.hidden=8", "gat.mlp_hidden=8"),
    ):
        entry += ["--set", item]
    entry += ["--workers", "2", "--placement", "STRICT_SPREAD"]
    out = tmp_path / "train-%j.out"
    script = tmp_path / "train.sbatch"
    script.write_text(
        render_ray_job(
            RayJobSpec(
                entry=entry,
                job_name="canids-train-2n",
                nodes=2,
                cpus=2,
                memory="4G",
                walltime="00:20:00",
                output=str(out),
                venv=sys.prefix,
            )
        )
    )
    env = {**local_slurm_two_nodes.env, **RAY_ENV}
    job_id = sbatch(script, env=env, cwd=tmp_path)
    record = _wait(job_id, env, 1200)
    log = Path(str(out).replace("%j", job_id)).read_text()
    assert record.state == "COMPLETED", log
    assert record.nodelist == "node[1-2]", record
    assert "gat (teacher) ran on 2 workers over 2 node(s)" in log, log
    assert sum(line.startswith("CANIDS-STAGE-RESULT ") for line in log.splitlines()) == 1, log
    report = find_report(log)
    assert report is not None, log
    assert report.status == "completed", report
    # canids-train's own account of where the ranks ran: one on each node.
    placed = re.search(
        r"ran on 2 workers over 2 node\(s\): rank 0 on (\S+) .*, rank 1 on (\S+) ", log
    )
    assert placed is not None, log
    assert sorted(placed.groups()) == ["node1", "node2"]
    stage = runs / "default" / "demo" / "teacher" / "gat"
    assert json.loads((stage / "metrics.json").read_text())["epochs_run"] == 2
    assert (stage / "DONE.json").is_file()
    assert f"ray-cluster: job {job_id} finished with exit 0" in log


@pytest.mark.slurm
def test_a_node_cut_off_from_the_controller_is_named_with_its_links(tmp_path: Path) -> None:
    """The start checks that every node reaches the controller's address before any daemon
    starts (slurmd alone would only log 'connect failure' half a minute later): a node
    whose bridge port is down is named, with the error, the port's state and carrier."""
    if (reason := slurm_unavailable(2)) is not None:
        skip_unless_ci(reason)
    nodes_sh = find_script().parent / "nodes.sh"
    script = CUT_OFF_NODE.format(dir=tmp_path / "cluster", port=47817, nodes_sh=nodes_sh)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    out = proc.stdout
    why = re.search(r"^why: (node\d) cannot reach (10\.231\.\d+\.1):47817: (.+)$", out, re.M)
    assert why is not None, out + proc.stderr
    assert why.group(1) == "node2", out
    assert "refused" not in why.group(3), out
    # The report lists both bridge ports: node1's forwarding (3) with carrier, node2's not.
    ports = re.findall(r"bridge port (\S+): state (\d), carrier (\S+)", out)
    assert len(ports) == 2, out
    states = {name[-1]: (state, carrier) for name, state, carrier in ports}
    assert states["1"] == ("3", "1"), out
    assert states["2"] != ("3", "1"), out
    assert "node1 (netns " in out
    assert "node2 (netns " in out
    # Nothing is left behind.
    assert "bridge left: 0" in out, out
    assert "netns left: 0" in out, out
