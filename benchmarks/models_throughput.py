"""Training throughput: canids' BudgetBatchSampler + vectorised collate vs a plain PyG
DataLoader over Data objects with a fixed batch size, same model, same graphs.

    uv run python benchmarks/models_throughput.py [--cache-dir cache] [--dataset demo]
        [--size teacher] [--epochs 2] [--budget 4000]

Both sides train the same GAT for the same number of epochs over the training split and
report graphs/s of forward + backward + optimiser step (data loading included). The
baseline's Data objects are built once beforehand (not timed), as a PyG user would hold
an in-memory dataset; its batch size is chosen so the mean batch has as many nodes as the
budget, so both sides do the same work per step.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from canids_batching import BudgetBatchSampler
from canids_data import CachedGraphDataset
from canids_models import RunConfig
from canids_models.nn import GATClassifier
from torch.nn import functional as F
from torch_geometric.loader import DataLoader


def train_steps(model: torch.nn.Module, batches: object) -> tuple[int, float]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    graphs = 0
    t0 = time.perf_counter()
    for batch in batches:  # type: ignore[attr-defined]
        loss = F.binary_cross_entropy_with_logits(model(batch), batch.y.float())
        opt.zero_grad()
        loss.backward()
        opt.step()
        graphs += int(batch.num_graphs)
    return graphs, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache-dir", default="cache")
    ap.add_argument("--dataset", default="demo")
    ap.add_argument("--size", default="teacher", choices=["teacher", "student"])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--budget", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    train = CachedGraphDataset(args.cache_dir, args.dataset, "train", check_sources=False)
    nodes, _ = train.sizes()
    batch_size = max(1, round(args.budget / nodes.mean()))
    cfg = RunConfig.preset(args.size).gat
    inputs = {
        "num_ids": len(train.vocabulary),
        "node_dim": train.num_node_features,
        "edge_dim": train.num_edge_features,
    }

    t0 = time.perf_counter()
    data_list = [train[i] for i in range(len(train))]
    build_s = time.perf_counter() - t0

    results = {}
    for name in ("canids", "pyg"):
        torch.manual_seed(args.seed)
        model = GATClassifier(cfg, **inputs)
        total_graphs, total_s = 0, 0.0
        for epoch in range(args.epochs):
            if name == "canids":
                sampler = BudgetBatchSampler(
                    train, args.budget, key="nodes", seed=args.seed, packing="sorted"
                )
                sampler.set_epoch(epoch)
                loader = train.loader(sampler)
            else:
                gen = torch.Generator().manual_seed(args.seed + epoch)
                loader = DataLoader(data_list, batch_size=batch_size, shuffle=True, generator=gen)
            g, s = train_steps(model, loader)
            total_graphs += g
            total_s += s
        results[name] = {
            "graphs": total_graphs,
            "seconds": round(total_s, 3),
            "graphs_per_s": round(total_graphs / total_s, 1),
        }
    ratio = results["canids"]["graphs_per_s"] / results["pyg"]["graphs_per_s"]
    print(f"command: {' '.join(sys.argv)}")
    print(
        f"dataset {args.dataset}/train: {len(train)} graphs, mean {nodes.mean():.1f} nodes; "
        f"{args.size} GAT; {args.epochs} epochs; torch threads {torch.get_num_threads()}"
    )
    print(
        f"baseline: PyG DataLoader, batch_size={batch_size} (mean nodes ≈ budget), "
        f"Data objects built beforehand in {build_s:.1f} s (not timed)"
    )
    print(f"{'':10}{'graphs':>10}{'seconds':>10}{'graphs/s':>10}")
    for name, r in results.items():
        print(f"{name:10}{r['graphs']:>10}{r['seconds']:>10.2f}{r['graphs_per_s']:>10.1f}")
    print(f"ratio canids / pyg: {ratio:.2f}x")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "results": results,
                    "ratio": ratio,
                    "batch_size": batch_size,
                    "budget": args.budget,
                    "mean_nodes": float(nodes.mean()),
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
