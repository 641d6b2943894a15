"""import_ray turns Ray's `uv run` worker hook off even in a script that imported Ray
first (Ray reads the switch once, at its own import), unless the environment asked for it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = (
    "import ray\n"
    "from ray._private import ray_constants\n"
    "before = ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV\n"
    "from canids_orchestrate.ray_cluster import import_ray\n"
    "import_ray()\n"
    "print(before, ray_constants.RAY_ENABLE_UV_RUN_RUNTIME_ENV)\n"
)


@pytest.mark.parametrize(
    ("env_value", "expected"), [(None, "True False"), ("1", "True True"), ("0", "False False")]
)
def test_the_uv_run_hook_is_off_whatever_imported_ray_first(
    env_value: str | None, expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RAY_ENABLE_UV_RUN_RUNTIME_ENV"}
    if env_value is not None:
        env["RAY_ENABLE_UV_RUN_RUNTIME_ENV"] = env_value
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == expected.split()
