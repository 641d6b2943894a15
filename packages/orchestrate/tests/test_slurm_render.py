"""ray-cluster.sbatch rendered from a RayJobSpec: values land where they belong, every
value is checked by canids-core's rules, and the entry command stays inert words."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from canids_core import CanidsError
from canids_orchestrate import RayJobSpecError
from canids_orchestrate.slurm_render import RayJobSpec, render_ray_job


def _spec(**changes: object) -> RayJobSpec:
    base: dict[str, object] = {"entry": ["canids-tune", "--dataset", "x; rm -rf ~"]}
    return RayJobSpec(**{**base, **changes})  # type: ignore[arg-type]


def test_values_land_in_the_script() -> None:
    script = render_ray_job(_spec(nodes=2, cpus=16, gpus_per_node=4, memory="64G", walltime="1-12"))
    assert "#SBATCH --nodes=2" in script
    assert "#SBATCH --cpus-per-task=16" in script
    assert "#SBATCH --gres=gpu:4" in script
    assert "#SBATCH --mem=64G" in script
    assert "#SBATCH --time=1-12:00:00" in script  # any sbatch --time form, written back whole
    assert "#SBATCH --exclusive" in script  # several nodes: symmetric-run needs them alone
    assert "ENTRY=(canids-tune --dataset 'x; rm -rf ~')" in script
    assert re.findall(r"@[A-Z_]+@", script) == []  # every placeholder filled


def test_one_node_defaults() -> None:
    script = render_ray_job(_spec(memory="16000"))  # no unit: megabytes, as sbatch reads it
    assert "#SBATCH --mem=16000M" in script
    assert "# (no GPUs requested)" in script
    assert "# (node may be shared)" in script
    assert "# (no account)" in script


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"entry": []}, "needs an entry command"),
        ({"nodes": 0}, "--nodes must be >= 1"),
        ({"cpus": 0}, r"cpus: must be > 0"),
        ({"cpus": 1.5}, "SLURM allocates whole CPUs"),
        ({"gpus_per_node": -1}, r"gpus: must be >= 0"),
        ({"memory": "lots"}, "not a SLURM memory size"),
        ({"walltime": "2h"}, "not a SLURM time"),
        ({"walltime": "UNLIMITED"}, "means no limit"),
        ({"job_name": "a b"}, "job name 'a b' is not allowed"),
        ({"account": "x;id"}, "account 'x;id' is not a SLURM value"),
        ({"partition": "gpu id"}, "partition 'gpu id' is not a SLURM value"),
        ({"output": "/tmp/a b.out"}, "has characters SLURM or bash mangle"),
        ({"modules": "cuda;id"}, "space-separated module names"),
    ],
)
def test_bad_values_are_refused(changes: dict, message: str) -> None:
    with pytest.raises(RayJobSpecError, match=message) as err:
        render_ray_job(_spec(**changes))
    assert isinstance(err.value, CanidsError)


def test_the_rendered_script_is_valid_bash(tmp_path: Path) -> None:
    path = tmp_path / "job.sbatch"
    path.write_text(render_ray_job(_spec(nodes=2, account="PAS0000", partition="gpu")))
    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    if shutil.which("shellcheck") is not None:  # the root tests require it in CI
        check = subprocess.run(["shellcheck", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
