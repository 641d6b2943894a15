"""Stages ``gat`` and ``gat_curriculum``: the supervised GAT (optionally distilled)."""

from __future__ import annotations

import gc

import numpy as np
import torch
from torch.nn import functional as F

from ..checkpoints import count_parameters, model_record
from ..config import BatchingConfig
from ..context import StageContext, batch_indices
from ..curriculum import CurriculumSampler, difficulty_percentiles
from ..detector_reuse import training_record
from ..distill import gat_distill_loss, soft_label_kl
from ..loop import run_epochs
from ..metrics import binary_metrics, fit_threshold
from ..nn import GATClassifier
from ..outputs import collect_outputs, gat_probability
from ..ranks import LossStep
from .common import StageOutcome, publish, require_two_classes

__all__ = ["run_gat"]


def _vgae_scores(ctx: StageContext) -> np.ndarray:
    """Score every training graph with this size's VGAE, in chunks; the VGAE is on the
    device only while it scores."""
    vgae = ctx.load_model("vgae")
    chunks = BatchingConfig(mode="fixed", batch_size=ctx.config.curriculum.score_chunk)
    train = ctx.split("train")
    scores = collect_outputs(
        None,
        vgae,
        train,
        chunks,
        ctx.device,
        track=lambda n: ctx.tracker("curriculum scoring", n),
        ranks=ctx.ranks,
    )["vgae_score"]
    vgae.cpu()
    del vgae
    gc.collect()
    if ctx.device.type == "cuda":
        torch.cuda.empty_cache()
    return scores


def run_gat(ctx: StageContext, *, curriculum: bool) -> StageOutcome | None:
    """Train and publish the GAT; on a data-parallel rank other than 0, train only (rank 0
    publishes) and return ``None``."""
    stage = "gat_curriculum" if curriculum else "gat"
    cfg, dev, ranks = ctx.config, ctx.device, ctx.ranks
    train, val = ctx.split("train"), ctx.split("val")
    require_two_classes(ctx, val.labels())
    # Before the curriculum's VGAE scoring: a column the cache lacks fails at once.
    inputs = ctx.gat_inputs()
    labels = train.labels()
    sampler = None
    if curriculum:
        scores = _vgae_scores(ctx)
        sampler = CurriculumSampler(
            cfg.curriculum, labels, difficulty_percentiles(scores, labels), cfg.train.seed
        )
    model = GATClassifier(cfg.gat, **inputs, backend=ctx.backend).to(dev)
    teacher, teacher_val = None, None
    if ctx.distill_from:
        teacher = ctx.load_model("gat", ctx.distill_from)
        teacher.eval()
        with torch.no_grad():
            teacher_val = torch.from_numpy(
                collect_outputs(teacher, None, val, cfg.batching, dev, ranks=ranks)["gat_logit"]
            )
    # A distilled student kept by validation F1 stops at its first epochs (F1 saturates
    # there); by fidelity it keeps the epoch that best reproduces its teacher.
    by_fidelity = teacher is not None and cfg.distill.select == "fidelity"
    select = "val_fidelity" if by_fidelity else "val_f1"
    opt = torch.optim.AdamW(
        model.parameters(), lr=cfg.train.lr, weight_decay=cfg.train.weight_decay
    )
    if ranks.is_main:
        ctx.store.begin(ctx.dataset, ctx.size, "gat")

    def loss_of(net: torch.nn.Module, batch: object) -> torch.Tensor:
        logit = net(batch)
        target = batch.y.float()  # type: ignore[attr-defined]
        if teacher is not None:
            with torch.no_grad():
                t_logit = teacher(batch)
            return gat_distill_loss(
                logit,
                t_logit,
                target,
                temperature=cfg.distill.temperature,
                alpha=cfg.distill.alpha,
            )
        return F.binary_cross_entropy_with_logits(logit, target)

    step = ranks.wrap(LossStep(loss_of, model), dev)

    def train_epoch(epoch: int) -> dict[str, float]:
        view, info = train, {}
        if sampler is not None:
            idx, info = sampler.sample(epoch)
            view = train.subset(idx)
        total = n = 0.0
        batches = batch_indices(
            view, cfg.batching, seed=cfg.train.seed, epoch=epoch, shuffle=True, ranks=ranks
        )
        track = ctx.tracker(f"{stage}/{ctx.size} epoch {epoch}", len(batches))
        for idx in batches:
            batch = view.collate(idx).to(dev)
            loss = step(batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            value = loss.item()
            total += value * len(idx)
            n += len(idx)
            track.advance(len(idx), loss=value)
        total, n = ranks.sum(total, n)
        return {"train_loss": total / max(n, 1), "train_graphs": float(len(view)), **info}

    # Validation's outputs of the latest epoch, and of the best one run in this process:
    # the kept weights' val scores without scoring validation once more (identical: the
    # same weights, batches and eval mode).
    outputs: dict[str, dict[str, np.ndarray]] = {}

    def validate() -> dict[str, float]:
        out = collect_outputs(model, None, val, cfg.batching, dev, ranks=ranks)
        outputs["latest"] = out
        p = gat_probability(out)
        thr = fit_threshold(p, out["y"], one_class=cfg.eval.one_class_fit)
        m = binary_metrics(out["y"], thr.apply(p), p)
        logit = torch.from_numpy(out["gat_logit"])
        loss = float(F.binary_cross_entropy_with_logits(logit, torch.from_numpy(out["y"]).float()))
        record = {
            "val_f1": m["f1"] or 0.0,
            "val_loss": loss,
            "precision": m["precision"] or 0.0,
            "recall": m["recall"] or 0.0,
        }
        if teacher_val is not None:
            kl = float(soft_label_kl(logit, teacher_val, cfg.distill.temperature))
            record["val_kl"] = kl
            record["val_fidelity"] = -kl
        return record

    def on_best(epoch: int) -> None:
        outputs["best"] = outputs["latest"]

    result = run_epochs(
        ctx, "gat", model, opt, train_epoch, validate, select=select, on_best=on_best
    )
    if not ranks.is_main:
        return None
    model.load_state_dict(result.best_state)
    model.eval()
    # Scored again only where the best epoch ran before a resume.
    out = outputs.get("best") or collect_outputs(model, None, val, cfg.batching, dev)
    p = gat_probability(out)
    threshold = fit_threshold(p, out["y"], one_class=cfg.eval.one_class_fit)
    ckpt = model_record("gat", model, cfg.gat, inputs, ctx.vocabulary_digest(), ctx.backend)
    ckpt["threshold"] = threshold.to_json()
    metrics = {
        "stage": stage,
        "parameters": count_parameters(model),
        "best_epoch": result.best_epoch,
        "best_val_f1": next(h["val_f1"] for h in result.history if h["epoch"] == result.best_epoch),
        "selected_by": select,
        "epochs_run": len(result.history),
        "stopped_early": result.stopped_early,
        "resumed_from": result.resumed_from,
        "threshold": threshold.to_json(),
        "val": binary_metrics(out["y"], threshold.apply(p), p),
        "history": result.history,
        "distilled_from": ctx.distill_from,
    }
    return publish(ctx, stage, "gat", ckpt, metrics, training=training_record(ctx, "gat", stage))
