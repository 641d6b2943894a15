"""Both detectors' outputs over a dataset, batch by batch: the inputs of fusion and evaluation."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from canids_data import CachedGraphDataset
from torch import nn

from .config import BatchingConfig
from .context import BatchTracker, batch_indices
from .ranks import Ranks

__all__ = ["collect_outputs", "fusion_state", "gat_probability"]


@torch.no_grad()
def collect_outputs(
    gat: nn.Module | None,
    vgae: nn.Module | None,
    ds: CachedGraphDataset,
    batching: BatchingConfig,
    device: torch.device,
    *,
    track: Callable[[int], BatchTracker] | None = None,
    ranks: Ranks | None = None,
) -> dict[str, np.ndarray]:
    """Per graph: labels, sizes, GAT logit + embedding statistics, VGAE score + components.
    ``track(batches)``, when given, returns the tracker each batch is reported to. With
    data-parallel ``ranks``, each rank scores every N-th batch and the outputs are gathered
    onto every rank, in dataset order (every graph scored once)."""
    chunks: dict[str, list[np.ndarray]] = {}

    def add(name: str, value: torch.Tensor) -> None:
        chunks.setdefault(name, []).append(value.detach().cpu().numpy())

    order = []
    batches = batch_indices(ds, batching, seed=0, epoch=0, shuffle=False)
    if ranks is not None and ranks.parallel:
        batches = batches[ranks.rank :: ranks.world_size]
    tracker = track(len(batches)) if track is not None else None
    for idx in batches:
        batch = ds.collate(idx).to(device)
        order.append(idx)
        if gat is not None:
            emb = gat.embed(batch)  # type: ignore[operator]
            add("gat_logit", gat.head(emb).squeeze(-1))  # type: ignore[union-attr,operator]
            add("gat_emb", torch.stack((emb.norm(dim=-1), emb.mean(-1), emb.std(-1)), -1))
        if vgae is not None:
            score, comps = vgae.score(batch)  # type: ignore[operator]
            add("vgae_score", score)
            add("vgae_comps", comps)
        if tracker is not None:
            tracker.advance(len(idx))
    if len(ds) == 0:
        raise ValueError(f"{ds!r} is empty: nothing to score")
    if ranks is not None and ranks.parallel:
        shards = ranks.gather((order, chunks))
        order = [idx for shard, _ in shards for idx in shard]
        keys = sorted({k for _, part in shards for k in part})
        chunks = {k: [c for _, part in shards for c in part.get(k, [])] for k in keys}
        place = np.argsort(np.concatenate(order), kind="stable")
        order = [np.concatenate(order)[place]]
        chunks = {k: [np.concatenate(v)[place]] for k, v in chunks.items()}
    out = {k: np.concatenate(v) for k, v in chunks.items()}
    # Batches are in dataset order (no shuffle), so rows line up with ds.indices.
    if not np.array_equal(np.concatenate(order), np.arange(len(ds))):
        raise RuntimeError("unshuffled batches did not cover the dataset in order")
    nodes, edges = ds.sizes()
    out["nodes"], out["edges"], out["y"] = nodes, edges, ds.labels().astype(np.int64)
    return out


def gat_probability(out: dict[str, np.ndarray]) -> np.ndarray:
    """The GAT's attack probability per graph, from its logits (clipped: no overflow)."""
    return 1.0 / (1.0 + np.exp(-np.clip(out["gat_logit"], -30, 30)))


def fusion_state(out: dict[str, np.ndarray]) -> np.ndarray:
    """The DQN's 15 state values per graph: VGAE errors and latent statistics (6), GAT
    probability, logit, confidence, entropy and embedding statistics (7), graph size (2)."""
    logit = np.clip(out["gat_logit"], -30, 30)
    p = gat_probability(out)
    eps = 1e-7
    entropy = -(p * np.log(p + eps) + (1 - p) * np.log(1 - p + eps))
    return np.column_stack(
        (
            out["vgae_comps"],
            p,
            logit,
            np.abs(2 * p - 1),
            entropy,
            out["gat_emb"],
            np.log1p(out["nodes"]),
            np.log1p(out["edges"]),
        )
    ).astype(np.float32)
