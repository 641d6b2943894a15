"""A 16-trial canids-tune on demo: ASHA against the same search without early stopping.

    uv run --no-sync python benchmarks/orchestrate_tune.py [--trials 16] [--max-t 4]
        [--scale 0.3] [--json F]

Baseline: ``--no-asha`` (FIFO: every trial runs all ``--max-t`` epochs). Both runs use the
same seeded Optuna sampler, search space (the small one below, so 16 trials fit on a
laptop), cache and concurrency (2 trials at a time, 1 CPU each), each in a fresh
``canids-tune`` process with W&B disabled. Reported: wall time, epochs trained in total,
trials stopped early, and the best val_f1 each search found.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from canids_data import CacheManager
from canids_data.synthetic import write_demo_dataset

SPACE = """
[gat.hidden]
kind = "choice"
values = [8, 16, 32]
[gat.heads]
kind = "choice"
values = [1, 2, 4]
[gat.layers]
kind = "choice"
values = [1, 2]
[gat.dropout]
kind = "uniform"
low = 0.1
high = 0.5
[train.lr]
kind = "loguniform"
low = 1e-4
high = 3e-2
"""


def tune(root: Path, name: str, args: argparse.Namespace, *extra: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-c", "from canids_cli.tune_cmd import main; main()"]
    cmd += ["--dataset", "demo", "--cache-dir", str(root / "cache"), "--name", name]
    cmd += ["--storage-path", str(root / "tune"), "--space", str(root / "space.toml")]
    cmd += ["--num-samples", str(args.trials), "--max-t", str(args.max_t), "--num-cpus", "2"]
    cmd += ["--max-concurrent-trials", "2", "--seed", str(args.seed), "--wandb-mode"]
    cmd += ["disabled", "--set", "train.threads=1", *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{name} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return wall, json.loads((root / "tune" / name / "summary.json").read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=16)
    ap.add_argument("--max-t", type=int, default=4)
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory(prefix="canids-bench-tune-") as tmp:
        root = Path(tmp)
        write_demo_dataset(root / "captures", seed=args.seed, scale=args.scale)
        CacheManager(root / "cache").build("demo", root / "captures")
        (root / "space.toml").write_text(SPACE)
        for name, extra in (("no-asha", ("--no-asha",)), ("asha", ())):
            wall, summary = tune(root, name, args, *extra)
            trials = summary["trials"]
            rows[name] = {
                "wall_s": round(wall, 1),
                "epochs": sum(t["epochs"] for t in trials),
                "stopped_early": summary["stopped_early"],
                "failed": sum(t["status"] == "failed" for t in trials),
                "best_val_f1": summary["best_val_f1"],
            }
    print(f"{args.trials} trials, max_t {args.max_t}, demo scale {args.scale}, 2 at a time")
    print(
        f"{'search':8} {'wall s':>7} {'epochs':>7} {'stopped':>8} {'best f1':>8} {'time ratio':>10}"
    )
    for name, r in rows.items():
        ratio = r["wall_s"] / rows["no-asha"]["wall_s"]
        print(
            f"{name:8} {r['wall_s']:7.1f} {r['epochs']:7d} {r['stopped_early']:7d} "
            f"{r['best_val_f1']:7.4f} {ratio:10.2f}"
        )
    print(
        f"reproduce: uv run --no-sync python benchmarks/orchestrate_tune.py --trials "
        f"{args.trials} --max-t {args.max_t} --scale {args.scale} --seed {args.seed}"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
