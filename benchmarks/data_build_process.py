"""Benchmark: `canids-cache build` of a real dataset as a whole process, start-up included.

What a user waits for: a fresh process runs the ``canids-cache`` console script's
``main`` (``canids_cli.cache_cmd:main``) with ``build --dataset D --root R --cache-dir
TMP --workers 2 --force``, so interpreter start-up, imports, the process pool, reading,
graphs, staging, the store, checksums, the manifest and publishing are all counted.
Messages come from the manifest the build wrote.

Baseline (named ``canids 4f23610``): the same command run by the code of commit 4f23610
(before issue 11), its ``canids-data``, ``canids-core`` and ``canids-cli`` sources
extracted with ``git archive`` into a temporary folder and put first on ``PYTHONPATH``,
same interpreter, same data, same run. Runs alternate (round-robin, ``--repeats`` each)
and the median is reported; each run also reports CPU seconds of its whole process tree
(``RUSAGE_CHILDREN``), which moves less than wall time when other jobs share the cores.

Real data: ``--root`` (default ``$CANIDS_REAL_DATA/hcrl_sa``, else
``../shared/data/real/hcrl_sa`` beside the repository).

    uv run --no-sync python benchmarks/data_build_process.py [--repeats 3] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from _bench import REPO, machine, real_root

BASELINE_COMMIT = "4f23610"
BASELINE_NAME = f"canids {BASELINE_COMMIT}"
TARGET = 1.0e6  # messages/s, whole process
_MAIN = "import sys; from canids_cli.cache_cmd import main; sys.exit(main())"


def baseline_path(tmp: Path) -> str:
    """PYTHONPATH entries holding the baseline's sources (from git, no worktree)."""
    out, archive = tmp / "baseline", tmp / "baseline.tar"
    out.mkdir()
    dirs = ["packages/data/src", "packages/core/src", "apps/canids-cli/src"]
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "-o", str(archive), BASELINE_COMMIT, *dirs],
        check=True,
    )
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    return os.pathsep.join(str(out / d) for d in dirs)


def messages_in(cache: Path, dataset: str) -> int:
    manifest = json.loads((cache / dataset / "manifest.json").read_text())
    return sum(int(s["messages"]) for s in manifest["sources"])  # every file is read


def one_build(pythonpath: str, root: Path, dataset: str, cache: Path) -> dict:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath + (
            os.pathsep + env["PYTHONPATH"] if "PYTHONPATH" in env else ""
        )
    cmd = [sys.executable, "-c", _MAIN, "build", "--dataset", dataset, "--root", str(root)]
    cmd += ["--cache-dir", str(cache), "--workers", "2", "--force"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(
            f"build failed ({proc.returncode}): {shlex.join(cmd)}\n{proc.stderr[-3000:]}"
        )
    msgs = messages_in(cache, dataset)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(cache, ignore_errors=True)
    return {"messages": msgs, "wall_s": wall, "cpu_s": cpu, "load": os.getloadavg()[0]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", default="hcrl_sa")
    ap.add_argument("--root", type=Path, default=None)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    root = (args.root or real_root(args.dataset)).resolve()
    cmd = "uv run --no-sync python benchmarks/data_build_process.py " + shlex.join(sys.argv[1:])
    print(f"command : {cmd}  (from {REPO})")
    print(f"machine : {machine()}")
    print(f"data    : {args.dataset} from {root}")
    tmp = Path(tempfile.mkdtemp(prefix="canids-build-process-"))
    runs: dict[str, list[dict]] = {"canids": [], "baseline": []}
    try:
        methods = [("canids", "")]
        if not args.no_baseline:
            methods.append(("baseline", baseline_path(tmp)))
        for r in range(args.repeats):
            for name, path in methods:
                row = one_build(path, root, args.dataset, tmp / f"cache-{name}-{r}")
                runs[name].append(row)
                label = "canids (this tree)" if name == "canids" else BASELINE_NAME
                print(
                    f"  run {r + 1} {label:<20} wall {row['wall_s']:6.2f} s  "
                    f"cpu {row['cpu_s']:6.2f} s  "
                    f"{row['messages'] / row['wall_s'] / 1e6:5.2f} M msg/s  "
                    f"(load {row['load']:.1f})"
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n== Medians (whole process, start-up included) ==")
    print(f"{'method':<22} {'wall s':>7} {'M msg/s':>8} {'cpu s':>7} {'M msg/cpu-s':>11}")
    med = {}
    for name, rows in runs.items():
        if not rows:
            continue
        wall = statistics.median(r["wall_s"] for r in rows)
        cpu = statistics.median(r["cpu_s"] for r in rows)
        msgs = rows[0]["messages"]
        med[name] = {"wall_s": wall, "cpu_s": cpu, "messages": msgs}
        label = "canids (this tree)" if name == "canids" else BASELINE_NAME
        print(
            f"{label:<22} {wall:7.2f} {msgs / wall / 1e6:8.2f} {cpu:7.2f} {msgs / cpu / 1e6:11.2f}"
        )
    c = med["canids"]
    rate = c["messages"] / c["wall_s"]
    if "baseline" in med:
        b = med["baseline"]
        print(
            f"ratio   : canids / baseline speed: wall ×{b['wall_s'] / c['wall_s']:.2f}, "
            f"CPU ×{b['cpu_s'] / c['cpu_s']:.2f}"
        )
    print(
        f"target  : >= {TARGET / 1e6:.0f} M messages/s whole process: {rate / 1e6:.2f} M/s → "
        f"{'met' if rate >= TARGET else 'MISSED'} (load average now {os.getloadavg()[0]:.1f} "
        f"on {os.cpu_count()} cores: on a shared machine compare the ratios)"
    )
    if args.json:
        args.json.write_text(
            json.dumps({"command": cmd, "machine": machine(), "runs": runs}, indent=1) + "\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
