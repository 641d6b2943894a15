"""slurm/ray-cluster.sbatch on a real local SLURM: a one-node Ray cluster starts inside
the job on job-derived ports, runs the entry command, and is cleaned up."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from canids_jobs.slurm import job_states, sbatch
from canids_orchestrate.slurm_render import RayJobSpec, render_ray_job

ENTRY = (
    "import os, ray; ray.init(); "
    "print('RAY-OK', os.environ['RAY_ADDRESS'], ray.get(ray.remote(lambda: 6 * 7).remote()), "
    "ray.cluster_resources()['CPU'])"
)


@pytest.mark.slurm
@pytest.mark.ray
@pytest.mark.slow
def test_a_one_node_ray_job_runs_through_the_template(local_slurm, tmp_path: Path) -> None:
    out = tmp_path / "ray-%j.out"
    script = render_ray_job(
        RayJobSpec(
            entry=[sys.executable, "-c", ENTRY],
            job_name="canids-ray-test",
            cpus=2,
            memory="4G",
            walltime="00:10:00",
            output=str(out),
            venv=sys.prefix,
        )
    )
    path = tmp_path / "ray.sbatch"
    path.write_text(script)
    job_id = sbatch(path, env=local_slurm.env, cwd=tmp_path)
    deadline = time.monotonic() + 300
    record = None
    while time.monotonic() < deadline:
        record = job_states([job_id], env=local_slurm.env).get(job_id)
        if record is not None and record.finished:
            break
        time.sleep(1)
    log = Path(str(out).replace("%j", job_id)).read_text()
    assert record is not None
    assert record.state == "COMPLETED", log
    base = 20000 + (int(job_id) % 200) * 200
    assert f"RAY-OK 127.0.0.1:{base} 42 2.0" in log
    assert f"temp /tmp/ray_{job_id}" in log
    assert f"ray-cluster: job {job_id} finished with exit 0" in log
    assert not Path(f"/tmp/ray_{job_id}").exists()
