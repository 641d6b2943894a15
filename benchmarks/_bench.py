"""What every benchmark script prints around its figures: the machine it ran on (with the
load average, since timings on a shared machine are only comparable as ratios), the
command that reproduces it, and where the real captures are.

Imported by the scripts as ``from _bench import ...`` (a script's own folder is on
``sys.path``); nothing here imports torch, so a build benchmark's timing starts clean.
"""

from __future__ import annotations

import os
import platform
import resource
import shlex
import sys
from pathlib import Path

__all__ = ["REPO", "command", "machine", "real_root", "rss_mib", "start_out"]

REPO = Path(__file__).resolve().parents[1]


def real_root(dataset: str) -> Path:
    """The real captures of ``dataset``: ``$CANIDS_REAL_DATA/DATASET``, else the shared
    folder beside the clone (``../shared/data/real/DATASET``)."""
    base = os.environ.get("CANIDS_REAL_DATA")
    return Path(base) / dataset if base else REPO.parent / "shared" / "data" / "real" / dataset


def machine() -> str:
    """Cores, CPU model, memory, GPU presence, Python and the load average now."""
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: the architecture name stands in for the model
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    gpu = "NVIDIA GPU present" if Path("/dev/nvidia0").exists() else "no GPU"
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPU cores ({cpu}), {mem:.1f} GiB RAM, {gpu}, "
        f"Python {platform.python_version()}, load average {load}"
    )


def command() -> str:
    """The command line that ran this script, as a user types it from the repository."""
    script = Path(sys.argv[0]).resolve()
    shown = str(script.relative_to(REPO)) if script.is_relative_to(REPO) else sys.argv[0]
    return "uv run --no-sync python " + " ".join(shlex.quote(a) for a in [shown, *sys.argv[1:]])


def rss_mib() -> float:
    """Resident memory now (Linux /proc), else the peak so far."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def start_out(out: str, name: str) -> tuple[Path, Path]:
    """The ``--out`` folder (made) and ``<name>.log`` in it, after printing the machine,
    the command and where the log is."""
    folder = Path(out).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{name}.log"
    print(f"{machine()}\ncommand: {command()}\nlog: {log}", flush=True)
    return folder, log
