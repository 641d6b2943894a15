"""GAT classifier: encoder → mean‖max pooling → MLP → one attack logit per graph."""

from __future__ import annotations

import torch
from torch import nn
from torch_geometric.nn import global_max_pool, global_mean_pool

from ..config import GATConfig
from ..errors import ConfigError
from .encoder import GraphEncoder

__all__ = ["GATClassifier", "seen_columns"]


def seen_columns(names: list[str] | tuple[str, ...], ignore: tuple[str, ...]) -> list[int]:
    """The cache's node feature columns a GAT with ``gat.ignore_features=ignore`` sees."""
    unknown = sorted(set(ignore) - set(names))
    if unknown:
        raise ConfigError(
            f"gat.ignore_features names {', '.join(unknown)}, which this cache's node features "
            f"do not include ({', '.join(names)}); build the cache with the feature set that "
            "has them (canids-cache build --features invariant_load --force) or drop the "
            "setting (--set gat.ignore_features=[])"
        )
    kept = [i for i, name in enumerate(names) if name not in ignore]
    if not kept:
        raise ConfigError("gat.ignore_features names every node feature; the GAT would see none")
    return kept


class GATClassifier(nn.Module):
    def __init__(
        self,
        cfg: GATConfig,
        *,
        num_ids: int,
        node_dim: int,
        edge_dim: int,
        backend: str = "pyg",
        node_columns: list[int] | None = None,
    ) -> None:
        super().__init__()
        # Saved in the checkpoint's inputs (not the state dict), so an older checkpoint,
        # which has none, loads as a GAT that sees every column.
        columns = None if node_columns is None else torch.tensor(node_columns, dtype=torch.long)
        self.node_columns: torch.Tensor | None
        self.register_buffer("node_columns", columns, persistent=False)
        self.encoder = GraphEncoder(
            num_ids=num_ids,
            node_dim=node_dim if node_columns is None else len(node_columns),
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
        x = batch.x  # type: ignore[attr-defined]
        if self.node_columns is not None:
            x = x.index_select(1, self.node_columns)
        h = self.encoder(x, batch.node_id, batch.edge_index, batch.edge_attr)  # type: ignore[attr-defined]
        b = batch.batch  # type: ignore[attr-defined]
        size = int(batch.num_graphs)  # type: ignore[attr-defined]
        return torch.cat((global_mean_pool(h, b, size), global_max_pool(h, b, size)), dim=-1)

    def forward(self, batch: object) -> torch.Tensor:
        return self.head(self.embed(batch)).squeeze(-1)
