"""VGAE: GATv2 encoder → μ, log σ² → z; decoders for edges, node features and CAN IDs.

Trained on normal graphs only. A graph's anomaly score is built from its reconstruction:
per graph, the node-feature MSE, CAN-ID cross-entropy, edge BCE and KL term (logs),
plus the mean latent norm and σ. Attacks move these in *both* directions (a fuzzing
window of one-off IDs reconstructs its features more easily than normal traffic, and
sits closer to the prior), so the score is the Mahalanobis distance of that vector from
the normal training graphs' (:meth:`VGAE.fit_score`), not the raw error.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.utils import scatter

from ..config import VGAEConfig
from .encoder import GraphEncoder

__all__ = ["COMPONENTS", "N_COMPONENTS", "VGAE"]

COMPONENTS = ("log_feat", "log_id", "log_edge", "log_kl", "mu_norm", "sigma")
N_COMPONENTS = len(COMPONENTS)


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
            id_dropout=cfg.id_dropout,
            id_embedding=cfg.id_embedding,
            backend=backend,
        )
        width = self.encoder.out_dim
        self.mu = nn.Linear(width, cfg.latent)
        self.logvar = nn.Linear(width, cfg.latent)
        self.feat_dec = nn.Sequential(
            nn.Linear(cfg.latent, width), nn.ELU(), nn.Linear(width, node_dim)
        )
        # CAN-ID reconstruction only where the encoder knows IDs; else that error is 0.
        self.id_dec = nn.Linear(cfg.latent, num_ids) if cfg.id_embedding else None
        # Normal-graph statistics of the score components, fitted after training; kept as
        # buffers so they travel in the state dict with the weights.
        self.register_buffer("score_mean", torch.zeros(N_COMPONENTS))
        self.register_buffer("score_precision", torch.eye(N_COMPONENTS))

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
        if self.id_dec is not None:
            ids = F.cross_entropy(self.id_dec(z), batch.node_id, reduction="none")  # type: ignore[attr-defined]
        else:
            ids = torch.zeros_like(feat)
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
    def components(self, batch: object) -> torch.Tensor:
        """Per graph [B, 6]: log feature/ID/edge errors, log KL, latent norm, latent σ."""
        mu, logvar = self.encode(batch)
        parts = self.reconstruction(batch, mu, None)
        b = batch.batch  # type: ignore[attr-defined]
        g = int(batch.num_graphs)  # type: ignore[attr-defined]
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
        eps = 1e-8
        return torch.stack(
            (
                torch.log(parts["feat"] + eps),
                torch.log(parts["id"] + eps),
                torch.log(parts["edge"] + eps),
                torch.log(scatter(kl, b, 0, dim_size=g, reduce="mean") + eps),
                scatter(mu.norm(dim=-1), b, 0, dim_size=g, reduce="mean"),
                scatter(torch.exp(0.5 * logvar).mean(-1), b, 0, dim_size=g, reduce="mean"),
            ),
            dim=-1,
        )

    @torch.no_grad()
    def fit_score(self, components: torch.Tensor, shrinkage: float = 1e-3) -> None:
        """Fit the normal statistics from the components of normal graphs [N, 6]."""
        c = components.double()
        mean = c.mean(0)
        cov = torch.cov(c.T) if len(c) > 1 else torch.eye(c.shape[1], dtype=c.dtype)
        # Ridge proportional to the mean variance keeps the inverse stable.
        ridge = shrinkage * (cov.diagonal().mean() + 1e-12)
        cov = cov + ridge * torch.eye(len(mean), dtype=c.dtype)
        self.score_mean.copy_(mean.float())
        self.score_precision.copy_(torch.linalg.inv(cov).float())

    @torch.no_grad()
    def score(self, batch: object) -> tuple[torch.Tensor, torch.Tensor]:
        """Anomaly score per graph (Mahalanobis distance from normal graphs) and its
        components [B, 6]."""
        comps = self.components(batch)
        d = comps - self.score_mean
        dist = torch.sqrt(torch.clamp(((d @ self.score_precision) * d).sum(-1), min=0.0))
        return dist, comps
