"""The epoch loop every training stage uses: early stopping and per-epoch checkpoints that a
killed job resumes from."""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from .context import StageContext
from .errors import ModelsError

__all__ = ["LoopResult", "run_epochs"]


@dataclass
class LoopResult:
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_metric: float
    history: list[dict[str, Any]] = field(default_factory=list)
    resumed_from: int | None = None
    stopped_early: bool = False


def run_epochs(
    ctx: StageContext,
    artifact: str,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_epoch: Callable[[int], dict[str, float]],
    validate: Callable[[], dict[str, float]],
    *,
    select: str,
    epochs: int | None = None,
    patience: int | None = None,
    on_best: Callable[[int], None] | None = None,
) -> LoopResult:
    """Train until ``epochs`` or ``patience`` epochs without a better ``select`` (higher is
    better) on validation. After each epoch the full state is saved; a rerun with the same
    config continues from it. ``on_best(epoch)`` is called when an epoch run here becomes
    the best, right after its ``validate()``: what validation computed is that of the
    weights kept."""
    epochs = epochs or ctx.config.train.epochs
    patience = patience or ctx.config.train.patience
    store, ds, size = ctx.store, ctx.dataset, ctx.size
    start, best_metric, best_epoch, bad = 0, float("-inf"), -1, 0
    best_state = copy.deepcopy(model.state_dict())
    history: list[dict[str, Any]] = []
    resumed_from = None
    ranks = ctx.ranks
    state_path = ctx.state_path(artifact)
    if state_path is not None:
        # Every rank reads the same state (rank 0 wrote it): the group restarts as one.
        state = store.load_file(state_path, artifact=(ds, size, artifact))
        if state.get("config_digest") == ctx.config.digest:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            best_state = state["best_state"]
            start, best_metric = int(state["epoch"]) + 1, float(state["best_metric"])
            best_epoch, bad = int(state["best_epoch"]), int(state["bad_epochs"])
            history = list(state["history"])
            rngs = state.get("rank_rngs")
            if ranks.parallel and rngs is not None and len(rngs) == ranks.world_size:
                torch.set_rng_state(rngs[ranks.rank])
            else:
                torch.set_rng_state(state["rng"])
            if state.get("cuda_rng") and torch.cuda.is_available() and not ranks.parallel:
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            resumed_from = start
            ctx.log(f"resuming {artifact} ({size}) at epoch {start} from {state_path}")
        else:
            ctx.log(f"ignoring {state_path}: written with another config")
    # Killed after saving the epoch that stopped it early: it is finished, not resumed.
    stopped = resumed_from is not None and bad >= patience
    for epoch in range(start, start if stopped else epochs):
        t0 = time.perf_counter()
        model.train()
        record: dict[str, Any] = {"epoch": epoch, **train_epoch(epoch)}
        model.eval()
        with torch.no_grad():
            record.update(validate())
        record["seconds"] = round(time.perf_counter() - t0, 3)
        # Decided once: rank 0's record (validation gathered from every rank) for all.
        record = ranks.broadcast(record)
        metric = float(record[select])
        if not math.isfinite(metric):
            # NaN never compares better: the run would publish its untrained weights.
            raise ModelsError(
                f"{artifact} ({size}) diverged: {select} is {metric} at epoch {epoch}; "
                f"lower train.lr (now {ctx.config.train.lr}) with --set train.lr=..."
            )
        if metric > best_metric:
            best_metric, best_epoch, bad = metric, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
            if on_best is not None:
                on_best(epoch)
        else:
            bad += 1
        record["best_epoch"] = best_epoch
        history.append(record)
        ctx.log(_line(artifact, ctx.size, record, select))
        rngs = ranks.gather(torch.get_rng_state()) if ranks.parallel else None
        if ranks.is_main:
            state = {
                "config_digest": ctx.config.digest,
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "best_state": best_state,
                "epoch": epoch,
                "best_metric": best_metric,
                "best_epoch": best_epoch,
                "bad_epochs": bad,
                "history": history,
                "rng": torch.get_rng_state(),
                "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            }
            if rngs is not None:
                state["rank_rngs"] = rngs
            store.save(ds, size, artifact, "train_state.pt", state)
        # Reported only once saved: a reporter that stops the run here (Ray Tune's ASHA)
        # or a kill right after it loses no finished epoch. Every rank reports (Ray Train's
        # report is a barrier); rank 0's carries the checkpoint.
        if ctx.on_epoch is not None:
            ctx.on_epoch(record)
        if bad >= patience:
            stopped = True
            ctx.log(
                f"early stop: no better {select} for {patience} epochs (best epoch {best_epoch})"
            )
            break
    return LoopResult(best_state, best_epoch, best_metric, history, resumed_from, stopped)


def _line(artifact: str, size: str, record: dict[str, Any], select: str) -> str:
    shown = ", ".join(
        f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}"
        for k, v in record.items()
        if k not in ("epoch", "best_epoch")
    )
    return f"[{artifact}/{size}] epoch {record['epoch']}: {shown} (select {select})"
