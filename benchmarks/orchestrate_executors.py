"""Overhead of the Ray executor over the local executor, per stage, on the demo pipeline.

    uv run --no-sync python benchmarks/orchestrate_executors.py [--scale 0.3] [--json F]

Baseline: the local executor (stages as ``canids-train`` subprocesses, one after another).
Both executors run the same pipeline (``teacher``, tiny model settings so the stage work is
small and the overhead shows) from a fresh runs folder on the same seeded demo cache, each
as a fresh ``canids-submit`` process. Reported: wall time of the whole submission, the sum
of the stages' own seconds (from the run record), and the Ray overhead per stage:
(ray wall - local wall) / number of stages. Correctness check: both give the identical
held-out results table.
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

TINY = {
    "train.epochs": 2,
    "gat.layers": 1,
    "gat.heads": 2,
    "gat.hidden": 8,
    "vgae.layers": 1,
    "vgae.heads": 2,
    "vgae.hidden": 8,
    "dqn.steps": 50,
    "train.threads": 1,
}


def submit(root: Path, executor: str) -> tuple[float, dict]:
    cmd = [sys.executable, "-c", "from canids_cli.submit_cmd import main; main()"]
    cmd += ["pipeline", "teacher", "--dataset", "demo", "--executor", executor]
    cmd += ["--runs-dir", str(root / f"runs_{executor}"), "--cache-dir", str(root / "cache")]
    for key, value in TINY.items():
        cmd += ["--set", f"{key}={value}"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"{executor} run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    rec = root / f"runs_{executor}/default/demo/pipelines/teacher-teacher/pipeline.json"
    return wall, json.loads(rec.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="canids-bench-exec-") as tmp:
        root = Path(tmp)
        write_demo_dataset(root / "captures", seed=args.seed, scale=args.scale)
        CacheManager(root / "cache").build("demo", root / "captures")
        figures = {}
        for executor in ("local", "ray"):
            wall, record = submit(root, executor)
            stages = sum(s["seconds"] for s in record["stages"])
            figures[executor] = {"wall_s": round(wall, 2), "stage_s": round(stages, 2)}
        local_md = (root / "runs_local/default/demo/teacher/results/results.md").read_text()
        ray_md = (root / "runs_ray/default/demo/teacher/results/results.md").read_text()
    n = 4
    per_stage = (figures["ray"]["wall_s"] - figures["local"]["wall_s"]) / n
    print(f"teacher pipeline on demo (scale {args.scale}), {n} stages, tiny models")
    print(f"{'executor':10} {'wall s':>8} {'stages s':>9} {'ratio':>6}")
    for name, fig in figures.items():
        ratio = fig["wall_s"] / figures["local"]["wall_s"]
        print(f"{name:10} {fig['wall_s']:8.1f} {fig['stage_s']:9.1f} {ratio:6.2f}")
    print(f"ray overhead per stage: {per_stage:+.1f} s (cluster start included)")
    print(f"identical results table: {local_md == ray_md}")
    print(
        f"reproduce: uv run --no-sync python benchmarks/orchestrate_executors.py "
        f"--scale {args.scale} --seed {args.seed}"
    )
    if local_md != ray_md:
        sys.exit("the executors disagree: see the results tables")
    if args.json:
        figures["ray_overhead_per_stage_s"] = round(per_stage, 2)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
