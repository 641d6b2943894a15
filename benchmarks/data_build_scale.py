"""Benchmark: cache build speed and peak memory as captures grow (2 M, 8 M, 24 M messages).

Each build runs in a fresh process (``CacheManager.build(workers=2)`` with the default
config, whole process: interpreter start-up, imports, process pool, staging, store,
manifest). A sampler thread in this script reads ``/proc`` every 20 ms and records the
peak memory of the whole process tree (the builder and its workers): the sum of PSS
(proportional set size, so pages the forked workers share with their parent count
once), and the sum of RSS beside it; the largest single process's peak RSS comes from
the kernel (``ru_maxrss`` of the children), exact.

The captures are seeded synthetic ones (``canids_data.synthetic``), written as parquet in
the demo's split-folder layout: files of ``--file-messages`` messages (default 400,000,
about one real can-train-and-test capture), so a larger total is more files, as a lab's
fleet logs are; 80 % training captures, 20 % test. ``--one-file`` writes each total as a
single capture instead (the per-file working set then grows with it, by design).

Baseline (named ``canids-data 0.1.0``): the same build by the code of commit 4f23610
(before this change), extracted with ``git archive`` into a temporary folder and run by
the same interpreter in the same way, on the same captures, in the same run. Its peak
memory grew with the total (it concatenated each split in memory before writing it).

    uv run --no-sync python benchmarks/data_build_scale.py [--sizes 2 8 24] [--json OUT]
    uv run --no-sync python benchmarks/data_build_scale.py --sizes 100 --no-baseline
"""

from __future__ import annotations

import argparse
import json
import resource
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

from _bench import REPO, machine

BASELINE_COMMIT = "4f23610"
BASELINE_NAME = f"canids-data 0.1.0 ({BASELINE_COMMIT})"
_DRIVER = """
import sys, time, json, resource
t0 = time.perf_counter()
sys.path[:0] = [p for p in sys.argv[4:] if p]
from canids_data import BuildConfig, CacheManager
r = CacheManager(sys.argv[1]).build(sys.argv[2], sys.argv[3], BuildConfig(), workers=2)
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # joined pool workers
print(json.dumps({"messages": r.messages, "build_s": r.seconds,
                  "process_s": time.perf_counter() - t0,
                  "largest_process_rss_mib": max(own, workers) / 1024}))
"""


# --------------------------------------------------------------------------- memory
def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            text = (task / "children").read_text().split()
            out += [int(c) for c in text]
    except OSError:
        pass
    return out


def _tree(pid: int) -> list[int]:
    seen, todo = [], [pid]
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    return seen


def _kib(path: str, key: str) -> int:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


class TreeMemory(threading.Thread):
    """Peak summed PSS and RSS of a process and its descendants, sampled every 20 ms."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak_pss = self.peak_rss = 0
        self.peak_procs = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            procs = _tree(self.pid)
            pss = sum(_kib(f"/proc/{p}/smaps_rollup", "Pss:") for p in procs)
            rss = sum(_kib(f"/proc/{p}/status", "VmRSS:") for p in procs)
            self.peak_pss = max(self.peak_pss, pss)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_procs = max(self.peak_procs, len(procs))
            self.done.wait(0.02)


def run_build(paths: list[str], cache: Path, dataset: str, root: Path) -> dict:
    """One build in a fresh process; wall, CPU and memory of its whole tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _DRIVER, str(cache), dataset, str(root), *paths],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    mem = TreeMemory(proc.pid)
    mem.start()
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    mem.done.set()
    mem.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"build failed ({proc.returncode}):\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    return {
        **res,
        "wall_s": wall,
        "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "messages_per_s": res["messages"] / wall,
        "messages_per_cpu_s": res["messages"]
        / ((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)),
        "tree_peak_pss_mib": mem.peak_pss / 1024,
        "tree_peak_rss_mib": mem.peak_rss / 1024,
        "processes": mem.peak_procs,
    }


# --------------------------------------------------------------------------- data
def write_captures(root: Path, messages: int, per_file: int, seed: int) -> int:
    """Synthetic captures totalling about ``messages``; returns the exact count."""
    import numpy as np
    from canids_data.synthetic import DoS, Fuzzing, generate_capture, make_vehicle
    from canids_data.writers import write_capture

    vehicle = make_vehicle("known", seed)
    rate = len(generate_capture(vehicle, 10.0, seed=seed)) / 10.0  # messages per second
    total, i = 0, 0
    seeds = np.random.SeedSequence(seed).spawn(max(1, messages // max(per_file, 1) + 2))
    while total < messages:
        n = min(per_file, messages - total)
        seconds = max(n / rate, 1.0)
        attacks = (DoS(0.3 * seconds, 0.05 * seconds), Fuzzing(0.6 * seconds, 0.05 * seconds))
        test = i % 5 == 4
        s = int(seeds[i % len(seeds)].generate_state(1)[0]) + i
        table = generate_capture(vehicle, seconds, attacks=attacks if i % 2 else (), seed=s)
        folder = "test_01_known_vehicle_known_attack" if test else "train_01_attack_free"
        if i % 2 and not test:
            folder = "train_02_with_attacks"
        write_capture(table, root / folder / f"capture-{i:04d}.parquet", "parquet")
        total += len(table)
        i += 1
    return total


def baseline_sources(tmp: Path) -> list[str]:
    """The baseline's canids-data and canids-core sources, from git (no worktree)."""
    out = tmp / "baseline"
    out.mkdir()
    archive = tmp / "baseline.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "-o", str(archive), BASELINE_COMMIT,
         "packages/data/src", "packages/core/src"],
        check=True,
    )  # fmt: skip
    with tarfile.open(archive) as tar:
        tar.extractall(out, filter="data")
    return [str(out / "packages/data/src"), str(out / "packages/core/src")]


# --------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[2, 8, 24], help="M messages")
    ap.add_argument("--file-messages", type=int, default=400_000)
    ap.add_argument("--one-file", action="store_true", help="each total as one capture")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tmp", type=Path, default=None, help="where captures and caches go")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    cmd = "uv run --no-sync python benchmarks/data_build_scale.py " + shlex.join(sys.argv[1:])
    print(f"command : {cmd}  (from {REPO})")
    print(f"machine : {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="canids-scale-", dir=args.tmp))
    results: dict[str, list[dict]] = {"canids": [], "baseline": []}
    try:
        base_paths = [] if args.no_baseline else baseline_sources(tmp)
        for size in args.sizes:
            want = int(size * 1e6)
            root = tmp / f"root-{size:g}M"
            per_file = want if args.one_file else args.file_messages
            t0 = time.perf_counter()
            n = write_captures(root, want, per_file, args.seed)
            files = len(list(root.rglob("*.parquet")))
            took = time.perf_counter() - t0
            print(f"\ndata    : {n:,} messages in {files} captures ({took:.0f} s to write)")
            runs = [("canids", [])] + ([] if args.no_baseline else [("baseline", base_paths)])
            for name, paths in runs:
                cache = tmp / f"cache-{name}"
                row = run_build(paths, cache, "demo", root)
                row.update(size_m=size, files=files)
                results[name].append(row)
                shutil.rmtree(cache, ignore_errors=True)
                label = "canids (this tree)" if name == "canids" else BASELINE_NAME
                print(
                    f"  {label:<30} wall {row['wall_s']:7.1f} s  cpu {row['cpu_s']:7.1f} s  "
                    f"{row['messages_per_s'] / 1e6:5.2f} M msg/s  tree PSS "
                    f"{row['tree_peak_pss_mib']:7.0f} MiB  tree RSS {row['tree_peak_rss_mib']:7.0f}"
                    f" MiB  largest process {row['largest_process_rss_mib']:6.0f} MiB"
                )
            shutil.rmtree(root, ignore_errors=True)
        print("\n== Side by side (ratios: baseline / canids; speed at each size / at the first) ==")
        head = f"{'M msg':>6} {'files':>5} {'canids M/s':>10} {'vs first':>8} {'M/cpu-s':>7}"
        head += f" {'vs first':>8} {'tree PSS MiB':>12} {'largest MiB':>11}"
        if results["baseline"]:
            head += f" {'base M/s':>9} {'base PSS MiB':>12} {'PSS ÷':>6} {'speed ×':>8}"
        print(head)
        rows = results["canids"]
        first, first_cpu = rows[0]["messages_per_s"], rows[0]["messages_per_cpu_s"]
        for i, row in enumerate(rows):
            line = (
                f"{row['size_m']:6g} {row['files']:5d} {row['messages_per_s'] / 1e6:10.2f} "
                f"{row['messages_per_s'] / first:8.2f} {row['messages_per_cpu_s'] / 1e6:7.2f} "
                f"{row['messages_per_cpu_s'] / first_cpu:8.2f} {row['tree_peak_pss_mib']:12.0f} "
                f"{row['largest_process_rss_mib']:11.0f}"
            )
            if results["baseline"]:
                b = results["baseline"][i]
                line += (
                    f" {b['messages_per_s'] / 1e6:9.2f} {b['tree_peak_pss_mib']:12.0f} "
                    f"{b['tree_peak_pss_mib'] / row['tree_peak_pss_mib']:6.1f} "
                    f"{row['messages_per_s'] / b['messages_per_s']:8.2f}"
                )
            print(line)
        print(verdicts(rows))
        if args.json:
            args.json.write_text(
                json.dumps({"command": cmd, "machine": machine(), **results}, indent=1) + "\n"
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


def verdicts(rows: list[dict]) -> str:
    """The two targets: memory flat (largest total's peak within 20 % of the first's)
    and speed at the largest total within 20 % of the first (wall and CPU)."""
    a, z = rows[0], rows[-1]
    grow = z["tree_peak_pss_mib"] / a["tree_peak_pss_mib"]
    slope = (z["tree_peak_pss_mib"] - a["tree_peak_pss_mib"]) / max(z["size_m"] - a["size_m"], 1e-9)
    wall = z["messages_per_s"] / a["messages_per_s"]
    cpu = z["messages_per_cpu_s"] / a["messages_per_cpu_s"]
    return (
        f"\ntargets : peak memory flat: tree PSS {a['tree_peak_pss_mib']:.0f} → "
        f"{z['tree_peak_pss_mib']:.0f} MiB (×{grow:.2f}, {slope:+.1f} MiB per M messages; "
        f"before: ~56 MiB per M) → {'met' if grow <= 1.2 else 'MISSED'}\n"
        f"          speed at {z['size_m']:g} M within 20 % of {a['size_m']:g} M: wall ×{wall:.2f} "
        f"→ {'met' if wall >= 0.8 else 'MISSED'}; per CPU second ×{cpu:.2f} → "
        f"{'met' if cpu >= 0.8 else 'MISSED'}"
    )


if __name__ == "__main__":
    sys.exit(main())
