"""The GATv2 encoder both detectors share: CAN-ID embedding + node features → node states."""

from __future__ import annotations

import torch
from torch import nn

from ..backend import make_conv

__all__ = ["GraphEncoder"]


class GraphEncoder(nn.Module):
    """``layers`` GATv2 layers with edge features, residual connections and layer norm.

    Input: node features ``x`` [N, F], vocabulary indices ``node_id`` [N] (0 = OOV),
    ``edge_index`` [2, E], ``edge_attr`` [E, Fe]. Output: [N, hidden * heads].
    """

    def __init__(
        self,
        *,
        num_ids: int,
        node_dim: int,
        edge_dim: int,
        hidden: int,
        heads: int,
        layers: int,
        dropout: float,
        embed_dim: int,
        id_dropout: float = 0.0,
        id_embedding: bool = True,
        backend: str = "pyg",
    ) -> None:
        super().__init__()
        self.id_dropout = id_dropout
        width = hidden * heads
        self.out_dim = width
        # Without it the encoder sees what each CAN ID does (its node features), never which
        # ID it is: nothing to look up on a vehicle whose IDs it never saw.
        self.embed = nn.Embedding(num_ids, embed_dim) if id_embedding else None
        self.inp = nn.Linear(node_dim + (embed_dim if id_embedding else 0), width)
        self.convs = nn.ModuleList(
            make_conv(backend, width, hidden, heads=heads, edge_dim=edge_dim, dropout=dropout)
            for _ in range(layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(width) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.act = nn.ELU()

    def forward(
        self,
        x: torch.Tensor,
        node_id: torch.Tensor,
        edge_index: torch.Tensor,
        edge_attr: torch.Tensor,
    ) -> torch.Tensor:
        if self.embed is None:
            h = self.act(self.inp(x))
            for conv, norm in zip(self.convs, self.norms, strict=True):
                h = h + self.dropout(self.act(norm(conv(h, edge_index, edge_attr))))
            return h
        if self.training and self.id_dropout > 0:
            # Hide some CAN IDs (as OOV) while training, so the model cannot lean on IDs
            # alone: another vehicle's IDs mean something else, or nothing.
            hide = torch.rand(node_id.shape, device=node_id.device) < self.id_dropout
            node_id = torch.where(hide, torch.zeros_like(node_id), node_id)
        h = self.act(self.inp(torch.cat((x, self.embed(node_id)), dim=-1)))
        for conv, norm in zip(self.convs, self.norms, strict=True):
            # Residual: deep GAT stacks (the teacher has 5) otherwise over-smooth.
            h = h + self.dropout(self.act(norm(conv(h, edge_index, edge_attr))))
        return h
