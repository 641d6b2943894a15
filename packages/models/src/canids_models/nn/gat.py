"""GAT classifier: encoder → mean‖max pooling → MLP → one attack logit per graph."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import global_max_pool, global_mean_pool

from ..config import GATConfig
from .encoder import GraphEncoder

__all__ = ["GATClassifier"]


class GATClassifier(nn.Module):
    def __init__(
        self, cfg: GATConfig, *, num_ids: int, node_dim: int, edge_dim: int, backend: str = "pyg"
    ) -> None:
        super().__init__()
        self.encoder = GraphEncoder(
            num_ids=num_ids,
            node_dim=node_dim,
            edge_dim=edge_dim,
            hidden=cfg.hidden,
            heads=cfg.heads,
            layers=cfg.layers,
            dropout=cfg.dropout,
            embed_dim=cfg.embed_dim,
            id_dropout=cfg.id_dropout,
            id_embedding=cfg.id_embedding,
            backend=backend,
        )
        width = self.encoder.out_dim
        self.head = nn.Sequential(
            nn.Linear(2 * width, cfg.mlp_hidden),
            nn.ELU(),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.mlp_hidden, 1),
        )

    def embed(self, batch: object) -> torch.Tensor:
        """Graph embeddings [B, 2 * width] (mean and max of the node states)."""
        h = self.encoder(batch.x, batch.node_id, batch.edge_index, batch.edge_attr)  # type: ignore[attr-defined]
        b = batch.batch  # type: ignore[attr-defined]
        size = int(batch.num_graphs)  # type: ignore[attr-defined]
        return torch.cat((global_mean_pool(h, b, size), global_max_pool(h, b, size)), dim=-1)

    def forward(self, batch: object) -> torch.Tensor:
        return self.head(self.embed(batch)).squeeze(-1)
