"""A stage process's imports with the venv's compiled bytecode, side by side with the same
imports compiled from source, each in fresh processes.

    uv run --no-sync python benchmarks/startup_bytecode.py [--repeats 5] [--json OUT]

Every stage (``canids-train``), every SLURM job step and every Ray worker is a fresh
Python process that imports torch, torch_geometric and canids before it trains. Where
Python may not write ``.pyc`` files (``PYTHONDONTWRITEBYTECODE=1``, set on the machines
canids is developed on, or a venv on a read-only or shared cluster file system) and the
installer did not compile them, each of those processes compiles every imported source
again. ``make sync`` runs ``uv sync --compile-bytecode`` so that they do not.

Measured: ``import canids_models.stages, canids_data, torch_geometric`` (what a stage
process imports before its first epoch) as a fresh ``python -c`` with
``PYTHONDONTWRITEBYTECODE=1``, reading the venv's ``__pycache__``. Baseline: ``source``,
the same process with ``-X pycache_prefix=<an empty folder>``, where Python finds no
``.pyc`` and writes none: the state of a venv installed without ``--compile-bytecode``
where bytecode cannot be written. The two run round-robin ``--repeats`` times; medians
and their ratio are printed. Check: each child counts the modules it imported from a file
and how many of them had a ``.pyc`` to read; the compiled side must have one for at least
95 % of them, else the venv is not compiled (``make sync``) and the script exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _bench import command, machine

__all__ = ["IMPORTS", "PROBE", "import_run", "main"]

IMPORTS = "import canids_models.stages, canids_data, torch_geometric"
# Runs after the imports, in the child: modules loaded from a source file, and how many
# of them had a .pyc where this process looked (the venv's __pycache__, or the prefix).
PROBE = (
    "import os, sys\n"
    "mods = [m.__spec__ for m in list(sys.modules.values())\n"
    "        if getattr(m, '__spec__', None) is not None and m.__spec__.cached]\n"
    "print('MODULES', len(mods), sum(os.path.exists(s.cached) for s in mods))\n"
)
MIN_COMPILED_SHARE = 0.95


def import_run(imports: str, pycache_prefix: Path | None) -> tuple[float, int, int]:
    """Wall seconds of one fresh process doing ``imports``, the modules it loaded from
    files and how many of those had a ``.pyc`` to read."""
    argv = [sys.executable, "-W", "ignore"]
    if pycache_prefix is not None:
        argv += ["-X", f"pycache_prefix={pycache_prefix}"]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*argv, "-c", f"{imports}\n{PROBE}"], capture_output=True, text=True, env=env
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"`{imports}` failed in a fresh process:\n{proc.stderr[-2000:]}")
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("MODULES "))
    _, modules, compiled = line.split()
    return seconds, int(modules), int(compiled)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--imports", default=IMPORTS, help="the import line to time")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    print(f"{machine()}\ncommand: {command()}")
    print(f"PYTHONDONTWRITEBYTECODE here: {os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')}")
    runs: dict[str, list[tuple[float, int, int]]] = {"compiled": [], "source": []}
    with tempfile.TemporaryDirectory(prefix="canids-no-pyc-") as empty:
        for _ in range(args.repeats):
            runs["compiled"].append(import_run(args.imports, None))
            runs["source"].append(import_run(args.imports, Path(empty)))
        left = sum(1 for _ in Path(empty).rglob("*"))
    if left:
        raise SystemExit(f"the source baseline wrote {left} files into its empty prefix")
    figures = {}
    print(f"\n`{args.imports}`, fresh process, median of {args.repeats}:")
    print(f"{'':10} {'seconds':>8} {'modules':>8} {'with .pyc':>10}")
    for name, rows in runs.items():
        seconds = statistics.median(r[0] for r in rows)
        modules, compiled = rows[-1][1], rows[-1][2]
        figures[name] = {"median_s": seconds, "modules": modules, "with_pyc": compiled}
        print(f"{name:10} {seconds:8.2f} {modules:8d} {compiled:10d}")
    ratio = figures["source"]["median_s"] / figures["compiled"]["median_s"]
    figures["source_over_compiled"] = ratio
    print(f"source / compiled: {ratio:.2f}x")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    share = figures["compiled"]["with_pyc"] / max(figures["compiled"]["modules"], 1)
    if share < MIN_COMPILED_SHARE:
        print(
            f"the venv is not compiled: {share:.0%} of the imported modules have a .pyc "
            f"(below {MIN_COMPILED_SHARE:.0%}); compile it with `make sync` "
            "(uv sync --locked --compile-bytecode) and run this again",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
