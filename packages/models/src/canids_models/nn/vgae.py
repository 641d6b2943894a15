"""VGAE: GATv2 encoder → μ, log σ² → z; decoders for edges, node features and CAN IDs.

Trained on normal graphs only. A graph's anomaly score is its reconstruction error:
node-feature MSE + CAN-ID cross-entropy + edge BCE, each averaged per graph.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import scatter

from ..config import VGAEConfig
from .encoder import GraphEncoder

__all__ = ["VGAE"]


class VGAE(nn.Module):
    def __init__(
        self, cfg: VGAEConfig, *, num_ids: int, node_dim: int, edge_dim: int, backend: str = "pyg"
    ) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = GraphEncoder(
            num_ids=num_ids,
            node_dim=node_dim,
            edge_dim=edge_dim,
            hidden=cfg.hidden,
            heads=cfg.heads,
            layers=cfg.layers,
            dropout=cfg.dropout,
            embed_dim=cfg.embed_dim,
            backend=backend,
        )
        width = self.encoder.out_dim
        self.mu = nn.Linear(width, cfg.latent)
        self.logvar = nn.Linear(width, cfg.latent)
        self.feat_dec = nn.Sequential(
            nn.Linear(cfg.latent, width), nn.ELU(), nn.Linear(width, node_dim)
        )
        self.id_dec = nn.Linear(cfg.latent, num_ids)

    def encode(self, batch: object) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(batch.x, batch.node_id, batch.edge_index, batch.edge_attr)  # type: ignore[attr-defined]
        c = self.cfg.logvar_clamp
        return self.mu(h), self.logvar(h).clamp(-c, c)

    def reconstruction(
        self, batch: object, z: torch.Tensor, generator: torch.Generator | None = None
    ) -> dict[str, torch.Tensor]:
        """Per-graph reconstruction errors; negative edges are sampled within each graph."""
        b = batch.batch  # type: ignore[attr-defined]
        g = int(batch.num_graphs)  # type: ignore[attr-defined]
        feat = F.mse_loss(self.feat_dec(z), batch.x, reduction="none").mean(-1)  # type: ignore[attr-defined]
        ids = F.cross_entropy(self.id_dec(z), batch.node_id, reduction="none")  # type: ignore[attr-defined]
        src, dst = batch.edge_index  # type: ignore[attr-defined]
        pos = F.binary_cross_entropy_with_logits(
            (z[src] * z[dst]).sum(-1), torch.ones_like(src, dtype=z.dtype), reduction="none"
        )
        edge_graph = b[src]
        parts = {
            "feat": scatter(feat, b, 0, dim_size=g, reduce="mean"),
            "id": scatter(ids, b, 0, dim_size=g, reduce="mean"),
            "edge": scatter(pos, edge_graph, 0, dim_size=g, reduce="mean"),
        }
        if generator is not None:
            # One negative per edge: a random node of the same graph as the source.
            ptr = batch.ptr  # type: ignore[attr-defined]
            counts = (ptr[1:] - ptr[:-1])[edge_graph]
            r = torch.rand(len(src), generator=generator, device="cpu").to(z.device)
            neg_dst = ptr[edge_graph] + (r * counts).long().clamp(max=counts - 1)
            neg = F.binary_cross_entropy_with_logits(
                (z[src] * z[neg_dst]).sum(-1),
                torch.zeros_like(src, dtype=z.dtype),
                reduction="none",
            )
            parts["edge_neg"] = scatter(neg, edge_graph, 0, dim_size=g, reduce="mean")
        return parts

    def loss(
        self, batch: object, generator: torch.Generator
    ) -> tuple[torch.Tensor, dict[str, float]]:
        mu, logvar = self.encode(batch)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if self.training else mu
        parts = self.reconstruction(batch, z, generator)
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mu.pow(2) - logvar.exp(), dim=-1))
        recon = sum(p.mean() for p in parts.values())
        total = recon + self.cfg.kl_weight * kl
        shown = {k: float(v.detach().mean()) for k, v in parts.items()} | {"kl": float(kl.detach())}
        return total, shown, mu

    @torch.no_grad()
    def score(self, batch: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Anomaly score per graph and its components [B, 6]: feat, id, edge errors,
        latent mean norm, latent σ mean, log of the total."""
        mu, logvar = self.encode(batch)
        parts = self.reconstruction(batch, mu, None)
        total = parts["feat"] + parts["id"] + parts["edge"]
        b = batch.batch  # type: ignore[attr-defined]
        g = int(batch.num_graphs)  # type: ignore[attr-defined]
        mu_norm = scatter(mu.norm(dim=-1), b, 0, dim_size=g, reduce="mean")
        sigma = scatter(torch.exp(0.5 * logvar).mean(-1), b, 0, dim_size=g, reduce="mean")
        comps = torch.stack(
            (parts["feat"], parts["id"], parts["edge"], mu_norm, sigma, torch.log(total + 1e-8)),
            dim=-1,
        )
        return total, comps
