"""Fixtures of the canids-cli tests (they pass alone:
``uv run --package canids-cli --exact pytest apps/canids-cli/tests``).

Commands run as the user runs them: the console scripts installed beside this Python
(``canids-cache``, ``canids-train``, …), in subprocesses, with ``run_cli``. ``demo_cache``
is a tiny synthetic cache (``scale=0.1``) built once per session by the real
``canids-cache build``; tests only read it. (Test modules cannot import this file under
``--import-mode=importlib``: helpers are fixtures.)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

# Console scripts live beside the interpreter that runs the tests (the venv's bin/).
BIN = Path(sys.executable).parent


def script(name: str) -> Path:
    """The installed console script ``name`` (the entry point a user runs)."""
    path = BIN / name
    if not path.is_file():
        pytest.fail(
            f"{path} is not installed: run `uv sync` (canids-cli declares it in [project.scripts])",
            pytrace=False,
        )
    return path


def run_cli(
    name: str, *args: str | Path, env: dict[str, str] | None = None, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run the console script ``name`` with ``args``; its output is returned as text."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    # The caller's CANIDS_* settings must not leak into a test's command.
    for key in ("CANIDS_CACHE_DIR", "CANIDS_RUNS_DIR", "CANIDS_DATASETS", "CANIDS_DATA_ROOT"):
        if env is None or key not in env:
            full_env.pop(key, None)
    return subprocess.run(
        [str(script(name)), *map(str, args)],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


# The modules a light command must not import, and a probe that runs a command's main()
# and prints, at exit, which of them it imported.
HEAVY = ("torch", "torch_geometric", "zarr", "ray")
_PROBE = (
    "import atexit, json, sys\n"
    "atexit.register(lambda: print('HEAVY', json.dumps(sorted(m for m in {heavy} "
    "if m in sys.modules)), file=sys.stderr))\n"
    "from canids_cli.{module} import main\n"
    "sys.argv = [{name!r}, *sys.argv[1:]]\n"
    "main()\n"
)


def imported_heavy(module: str, name: str, *args: str | Path) -> tuple[list[str], int, str]:
    """Which of :data:`HEAVY` the command ``name ARGS`` (``canids_cli.<module>.main``)
    imported, its exit code and its output."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CANIDS_")}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(heavy=HEAVY, module=module, name=name)]
        + [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY "))
    return json.loads(line.removeprefix("HEAVY ")), proc.returncode, proc.stdout + proc.stderr


@pytest.fixture(scope="session")
def heavy_imports() -> Callable[..., tuple[list[str], int, str]]:
    """``heavy_imports(module, name, *args)``: :func:`imported_heavy`."""
    return imported_heavy


@pytest.fixture(scope="session")
def cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    return run_cli


@pytest.fixture(scope="session")
def demo_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo cache built by ``canids-cache build`` (captures at ``scale=0.1``). Read-only."""
    from canids_data.synthetic import write_demo_dataset

    base = tmp_path_factory.mktemp("cli_demo")
    write_demo_dataset(base / "root", seed=0, scale=0.1)
    cache = base / "cache"
    done = run_cli(
        "canids-cache",
        "build",
        "--dataset",
        "demo",
        "--root",
        base / "root",
        "--cache-dir",
        cache,
        "--workers",
        "1",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (cache / "demo" / "manifest.json").is_file()
    return cache
