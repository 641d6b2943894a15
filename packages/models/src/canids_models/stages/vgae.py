"""Stage ``vgae``: the VGAE on normal training graphs (optionally distilled from a teacher)."""

from __future__ import annotations

import numpy as np
import torch
from canids_data import CachedGraphDataset
from torch import nn
from torch.nn import functional as F

from ..checkpoints import count_parameters, model_record
from ..config import BatchingConfig
from ..context import StageContext, batch_indices
from ..detector_reuse import training_record
from ..loop import run_epochs
from ..metrics import binary_metrics, fit_threshold
from ..nn import VGAE
from ..outputs import collect_outputs
from ..ranks import LossStep
from .common import StageOutcome, publish

__all__ = ["run_vgae"]

_FIT_GRAPHS = 8000


def _fit_normal_statistics(
    model: VGAE,
    normal_train: CachedGraphDataset,
    batching: BatchingConfig,
    device: torch.device,
    seed: int,
) -> None:
    """Score statistics of (up to 8000, seeded) normal training graphs."""
    n = len(normal_train)
    pick = np.sort(np.random.default_rng(seed).choice(n, size=min(n, _FIT_GRAPHS), replace=False))
    view = normal_train.subset(pick)
    comps = [
        model.components(view.collate(idx).to(device)).cpu()
        for idx in batch_indices(view, batching, seed=0, epoch=0, shuffle=False)
    ]
    model.fit_score(torch.cat(comps))


def run_vgae(ctx: StageContext) -> StageOutcome | None:
    """Train and publish the VGAE; on a data-parallel rank other than 0, train only (rank 0
    publishes) and return ``None``."""
    cfg, dev, ranks = ctx.config, ctx.device, ctx.ranks
    train, val = ctx.split("train"), ctx.split("val")
    normal_train = train.subset(np.flatnonzero(train.labels() == 0))
    normal_val = val.subset(np.flatnonzero(val.labels() == 0))
    if len(normal_train) == 0 or len(normal_val) == 0:
        raise ValueError(
            f"{ctx.dataset}: the VGAE needs normal graphs in train and val "
            f"(found {len(normal_train)} and {len(normal_val)})"
        )
    model = VGAE(cfg.vgae, **ctx.model_inputs(), backend=ctx.backend).to(dev)
    params = list(model.parameters())
    teacher, proj = None, None
    if ctx.distill_from:
        teacher = ctx.load_model("vgae", ctx.distill_from)
        proj = nn.Linear(cfg.vgae.latent, teacher.cfg.latent).to(dev)  # type: ignore[union-attr]
        params += list(proj.parameters())
    opt = torch.optim.AdamW(params, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    if ranks.is_main:
        ctx.store.begin(ctx.dataset, ctx.size, "vgae")

    def loss_of(*parts: object) -> torch.Tensor:
        net, batch, gen = parts[0], parts[-2], parts[-1]
        loss, _, mu = net.loss(batch, gen)  # type: ignore[attr-defined]
        if teacher is not None and proj is not None:
            with torch.no_grad():
                t_mu, _ = teacher.encode(batch)  # type: ignore[operator]
            loss = loss + cfg.distill.latent_weight * F.mse_loss(proj(mu), t_mu)
        return loss

    step = ranks.wrap(LossStep(loss_of, *([model] if proj is None else [model, proj])), dev)

    def train_epoch(epoch: int) -> dict[str, float]:
        # Negatives seeded per epoch: a resumed run draws what the uninterrupted one would
        # (per rank on several ranks: each draws for its own batches).
        gen = ctx.generator(1, epoch) if not ranks.parallel else ctx.generator(1, epoch, ranks.rank)
        total = n = 0.0
        batches = batch_indices(
            normal_train, cfg.batching, seed=cfg.train.seed, epoch=epoch, shuffle=True, ranks=ranks
        )
        track = ctx.tracker(f"vgae/{ctx.size} epoch {epoch}", len(batches))
        for idx in batches:
            batch = normal_train.collate(idx).to(dev)
            loss = step(batch, gen)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 5.0)
            opt.step()
            value = loss.item()
            total += value * len(idx)
            n += len(idx)
            track.advance(len(idx), loss=value)
        total, n = ranks.sum(total, n)
        return {"train_loss": total / max(n, 1)}

    def validate() -> dict[str, float]:
        # Same negatives every epoch (comparable); each rank scores every N-th batch.
        g = torch.Generator().manual_seed(12345 if not ranks.parallel else 12345 + ranks.rank)
        total = n = 0.0
        batches = batch_indices(normal_val, cfg.batching, seed=0, epoch=0, shuffle=False)
        for idx in batches[ranks.rank :: ranks.world_size]:
            loss, _, _ = model.loss(normal_val.collate(idx).to(dev), g)
            total += loss.item() * len(idx)
            n += len(idx)
        total, n = ranks.sum(total, n)
        return {"val_loss": total / max(n, 1), "neg_val_loss": -total / max(n, 1)}

    result = run_epochs(ctx, "vgae", model, opt, train_epoch, validate, select="neg_val_loss")
    if not ranks.is_main:
        return None
    model.load_state_dict(result.best_state)
    model.eval()
    _fit_normal_statistics(model, normal_train, cfg.batching, dev, cfg.train.seed)
    out = collect_outputs(None, model, val, cfg.batching, dev)
    threshold = fit_threshold(out["vgae_score"], out["y"], one_class=True)
    val_metrics = binary_metrics(out["y"], threshold.apply(out["vgae_score"]), out["vgae_score"])
    # The distribution of normal validation scores: fusion maps scores to [0, 1] with it.
    normal_scores = np.sort(out["vgae_score"][out["y"] == 0])
    reference = np.quantile(normal_scores, np.linspace(0, 1, 1001))
    ckpt = model_record(
        "vgae", model, cfg.vgae, ctx.model_inputs(), ctx.vocabulary_digest(), ctx.backend
    )
    ckpt["threshold"] = threshold.to_json()
    ckpt["normal_score_quantiles"] = torch.from_numpy(reference)
    metrics = {
        "parameters": count_parameters(model),
        "best_epoch": result.best_epoch,
        "best_val_loss": -result.best_metric,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "resumed_from": result.resumed_from,
        "threshold": threshold.to_json(),
        "val": val_metrics,
        "history": result.history,
        "train_graphs": len(normal_train),
        "distilled_from": ctx.distill_from,
    }
    return publish(
        ctx, "vgae", "vgae", ckpt, metrics, training=training_record(ctx, "vgae", "vgae")
    )
