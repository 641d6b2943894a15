"""Start-up time of every canids command's ``--help``, side by side with a bare Python.

    uv run --no-sync python benchmarks/cli_startup.py [--repeats 7] [--json OUT]

Baseline: ``python -c pass`` with the same interpreter, started the same way (a fresh
process each time). Each command runs as its installed console script (what a user types)
``--repeats`` times, round-robin with the baseline so that load on the machine hits them
alike; the median wall time is reported, and its ratio to the baseline's median. Also
reported: the peak resident memory of one run (``ru_maxrss`` of the child) and whether the
command imported torch, torch_geometric, zarr or ray (a separate run with the import
probe). Target: every ``--help`` under 1 s on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = ("canids-train", "canids-submit", "canids-tune", "canids-jobs", "canids-cache")
HEAVY = ("torch", "torch_geometric", "zarr", "ray")
MODULES = {
    "canids-train": "train_cmd",
    "canids-submit": "submit_cmd",
    "canids-tune": "tune_cmd",
    "canids-jobs": "jobs_cmd",
    "canids-cache": "cache_cmd",
}
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: print('HEAVY', ','.join(m for m in {heavy} if m in sys.modules),"
    " file=sys.stderr))\n"
    "sys.argv = [{name!r}, '--help']\n"
    "from canids_cli.{module} import main\n"
    "main()\n"
)


def timed(argv: list[str]) -> float:
    """Wall seconds of one fresh process."""
    t0 = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def peak_rss_kib(argv: list[str]) -> int:
    """Peak resident memory of ``argv``, measured in its own parent (ru_maxrss of the
    children is a running maximum, so each command gets a fresh parent)."""
    code = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], "
        "stdout=subprocess.DEVNULL, check=True); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True)
    return int(out.stdout.strip())


def heavy_imports(name: str) -> str:
    code = PROBE.format(heavy=HEAVY, name=name, module=MODULES[name])
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    line = next((ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY ")), "HEAVY ?")
    return line.removeprefix("HEAVY ").strip() or "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"python -c pass": []}
    rss: dict[str, int] = {}
    argv = {"python -c pass": [sys.executable, "-c", "pass"]}
    for name in COMMANDS:
        path = BIN / name
        if not path.is_file():
            sys.exit(f"{path} is not installed: run `uv sync` first")
        argv[name] = [str(path), "--help"]
        runs[name] = []
    for command in argv.values():  # warm the file cache once, untimed
        timed(command)
    for _ in range(args.repeats):
        for label, command in argv.items():
            runs[label].append(timed(command))
    for label, command in argv.items():
        rss[label] = peak_rss_kib(command)
    base = statistics.median(runs["python -c pass"])
    rows = []
    for label, times in runs.items():
        median = statistics.median(times)
        heavy = "-" if label == "python -c pass" else heavy_imports(label)
        rows.append(
            {
                "command": label if label.startswith("python") else f"{label} --help",
                "median_s": round(median, 3),
                "min_s": round(min(times), 3),
                "ratio": round(median / base, 1),
                "peak_rss_mib": round(rss[label] / 1024, 1),
                "heavy_imports": heavy,
                "under_1s": median < 1.0,
            }
        )
    width = max(len(r["command"]) for r in rows)
    print(f"{'command':{width}}  median s   min s  × python  peak MiB  heavy imports")
    for r in rows:
        print(
            f"{r['command']:{width}}  {r['median_s']:8.3f}  {r['min_s']:6.3f}  "
            f"{r['ratio']:8.1f}  {r['peak_rss_mib']:8.1f}  {r['heavy_imports']}"
        )
    load = os.getloadavg()[0]
    print(
        f"\nmedian of {args.repeats} runs each, round-robin; load average {load:.2f} on "
        f"{os.cpu_count()} CPUs (timings on a shared machine are noisy: compare the ratios)"
    )
    print(f"reproduce: uv run --no-sync python benchmarks/cli_startup.py --repeats {args.repeats}")
    if args.json:
        args.json.write_text(json.dumps({"load": load, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
