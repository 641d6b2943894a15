"""1 vs 2 data-parallel workers (Ray Train, DDP over gloo) on the GAT stage of the demo.

    uv run --no-sync python benchmarks/distributed_training.py [--scale 0.3] [--epochs 6]
        [--two-node] [--json F]

Baseline: the same stage in this process on one worker (``run_stage``, today's path),
same config, seed and global node budget per step (each of N ranks packs budget / N).
Then, on a Ray started here (and with ``--two-node`` on a two-node Ray cluster on this
machine, ``canids_testkit.LocalRayCluster``, placement SPREAD):

- ``2 workers``: DDP as it runs in production (its all-reduce overlaps the backward pass);
- ``2 workers, timed all-reduce``: the same with a synchronous comm hook that times every
  gradient all-reduce (``Ranks(measure_comm=True)``). That serialises the communication,
  so its epoch is slower; its all-reduce seconds over its epoch seconds is the measured
  communication share (an upper bound of what DDP cannot hide).

Reported per run: epoch time (median over epochs after the first), training graphs/s,
speed-up and scaling efficiency (T1 / (N · TN)) against the baseline, and the held-out
validation F1. Then what a GPU node would need: the gradient bytes one all-reduce moves
and the bandwidth at which it takes at most 10 % of a step (efficiency ≥ 0.9), for the
measured CPU step and for a step 20× faster (a GPU).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from canids_data import BuildConfig, CacheManager
from canids_data.synthetic import write_demo_dataset

GAT = [
    "train.threads=1",
    "train.device=cpu",
    "train.patience=100",
    "gat.layers=3",
    "gat.heads=4",
    "gat.hidden=32",
    "gat.mlp_hidden=32",
]


def _summary(name: str, metrics: dict[str, Any], workers: int, comm: float = 0.0) -> dict:
    history = metrics["history"]
    times = [h["seconds"] for h in history[1:]] or [history[0]["seconds"]]
    epoch = statistics.median(times)
    graphs = history[-1].get("train_graphs", 0.0)
    return {
        "run": name,
        "workers": workers,
        "epoch_seconds": epoch,
        "graphs_per_second": graphs / epoch if epoch else 0.0,
        "val_f1": metrics["best_val_f1"],
        "comm_seconds": comm,
        "total_seconds": sum(h["seconds"] for h in history),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=0.3)
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--budget", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--two-node", action="store_true", help="also on a two-node Ray cluster")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    cluster = None
    if args.two_node:
        from canids_testkit import LocalRayCluster

        cluster = LocalRayCluster().start()
        # Ray reads its auth settings once per process, at import: set before anything
        # imports ray, they let the one-node Ray below and the two-node cluster share the
        # cluster's token, so that this process can join both.
        os.environ.update({k: v for k, v in cluster.env.items() if k != "RAY_ADDRESS"})

    from canids_models import ArtifactStore, StageContext, load_config, run_stage
    from canids_orchestrate import DataParallelJob, run_data_parallel
    from canids_orchestrate.ray_cluster import import_ray

    tmp = Path(tempfile.mkdtemp(prefix="canids-dist-bench-"))
    write_demo_dataset(tmp / "root", seed=args.seed, scale=args.scale)
    CacheManager(tmp / "cache").build("demo", tmp / "root", BuildConfig(), workers=1)
    sets = [*GAT, f"train.epochs={args.epochs}", f"train.seed={args.seed}"]
    sets.append(f"batching.budget={args.budget}")
    cfg = load_config("teacher", None, sets)
    rows = []

    store = ArtifactStore(tmp / "runs", "w1")
    ctx = StageContext("demo", "teacher", cfg, store, tmp / "cache", None, log=lambda s: None)
    outcome = run_stage("gat", ctx)
    assert outcome is not None
    rows.append(_summary("1 worker (baseline, in process)", outcome.metrics, 1))

    def data_parallel(name: str, run: str, *, measure: bool, placement: str = "PACK") -> None:
        job = DataParallelJob(
            "gat",
            "demo",
            "teacher",
            cfg.merged({"train": {"workers": 2}}, "bench"),
            run,
            str(tmp / "runs"),
            str(tmp / "cache"),
            2,
            placement_strategy=placement,
            measure_comm=measure,
        )
        result = run_data_parallel(job, echo=lambda s: print(s, file=sys.stderr))
        comm = result.comm_seconds[0] if measure else 0.0
        row = _summary(name, result.metrics, 2, comm)
        row["nodes"] = len({p["node"] for p in result.placement})
        rows.append(row)

    ray = import_ray()
    try:
        ray.init(include_dashboard=False, log_to_driver=False)
        data_parallel("2 workers, one node", "w2", measure=False)
        data_parallel("2 workers, one node, timed all-reduce", "w2c", measure=True)
        ray.shutdown()
        if cluster is not None:
            ray.init(address=cluster.address, log_to_driver=False)
            data_parallel("2 workers, two nodes", "n2", measure=False, placement="SPREAD")
            data_parallel("2 workers, two nodes, timed", "n2c", measure=True, placement="SPREAD")
            ray.shutdown()
    finally:
        if cluster is not None:
            cluster.stop()

    base = rows[0]
    print(
        f"\nGAT stage, demo scale {args.scale}, {args.epochs} epochs, global budget "
        f"{args.budget} nodes per step (per rank: budget / workers)"
    )
    head = f"{'run':42} {'epoch s':>8} {'graphs/s':>9} {'speed-up':>9} {'efficiency':>10} "
    print(head + f"{'comm share':>10} {'val F1':>7}")
    for r in rows:
        r["speedup"] = base["epoch_seconds"] / r["epoch_seconds"]
        r["efficiency"] = r["speedup"] / r["workers"]
        r["comm_share"] = r["comm_seconds"] / r["total_seconds"] if r["comm_seconds"] else None
        share = f"{r['comm_share']:.1%}" if r["comm_share"] is not None else "-"
        print(
            f"{r['run']:42} {r['epoch_seconds']:8.3f} {r['graphs_per_second']:9.1f} "
            f"{r['speedup']:8.2f}x {r['efficiency']:10.2f} {share:>10} {r['val_f1']:7.3f}"
        )
    params = outcome.metrics["parameters"]
    grad_bytes = 4 * params
    timed = next(r for r in rows if r["comm_share"] is not None)
    from canids_models import Ranks
    from canids_models.context import batch_indices

    train = ctx.split("train")
    steps = len(
        batch_indices(train, cfg.batching, seed=args.seed, epoch=1, shuffle=True, ranks=Ranks(0, 2))
    )
    # Ring all-reduce moves 2(N-1)/N of the gradient per rank; at efficiency 0.9 it may
    # take a ninth of a step's compute.
    step_compute = timed["epoch_seconds"] * (1 - timed["comm_share"]) / max(steps, 1)
    print(f"2 workers: {steps} steps per epoch, {params:,} parameters")
    need = []
    for label, compute in (
        ("CPU step as measured", step_compute),
        ("GPU step, 20x faster", step_compute / 20),
    ):
        allowed = compute / 9
        gbps = (2 * (2 - 1) / 2) * grad_bytes / allowed / 1e9
        need.append({"step": label, "compute_s": compute, "bandwidth_GBps": gbps})
        print(
            f"efficiency >= 0.9 with 2 workers, {label}: compute {compute * 1e3:.1f} ms/step, "
            f"all-reduce of {grad_bytes / 1e6:.2f} MB must take <= {allowed * 1e3:.2f} ms: "
            f"{gbps:.2f} GB/s per rank"
        )
    print(
        "reproduce: uv run --no-sync python benchmarks/distributed_training.py "
        f"--scale {args.scale} --epochs {args.epochs} --budget {args.budget}"
        + (" --two-node" if args.two_node else "")
    )
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "gpu_need": need}, indent=1))


if __name__ == "__main__":
    main()
