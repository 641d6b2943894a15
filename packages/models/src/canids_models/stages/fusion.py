"""Stage ``fusion``: a Double DQN mixes the GAT and VGAE scores; it is fitted on validation,
where fusion must never be worse than the better of its two inputs."""

from __future__ import annotations

import numpy as np
import torch

from ..checkpoints import count_parameters
from ..context import StageContext
from ..fusion_agent import FusionPolicy, train_dqn
from ..metrics import Threshold, fit_threshold
from ..nn import ALPHAS, QNetwork
from ..outputs import collect_outputs, fusion_state, gat_probability
from .common import StageOutcome, publish

__all__ = ["FusionModel", "load_fusion", "run_fusion", "vgae_normalised"]


def vgae_normalised(scores: np.ndarray, quantiles: np.ndarray) -> np.ndarray:
    """A VGAE score as the share of normal validation graphs scoring lower (0..1)."""
    return np.searchsorted(quantiles, scores, side="right") / len(quantiles)


class FusionModel:
    """The fitted fusion: a policy (or a constant α after a fallback) and a threshold."""

    def __init__(
        self,
        policy: FusionPolicy | None,
        constant_alpha: float | None,
        quantiles: np.ndarray,
        threshold: Threshold,
    ) -> None:
        self.policy, self.constant_alpha = policy, constant_alpha
        self.quantiles, self.threshold = quantiles, threshold

    def scores(self, out: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Fused scores and the α chosen per graph."""
        p = gat_probability(out)
        s_v = vgae_normalised(out["vgae_score"], self.quantiles)
        if self.constant_alpha is not None or self.policy is None:
            alpha = np.full(len(p), float(self.constant_alpha or 0.0))
        else:
            alpha = self.policy.alphas(fusion_state(out))
        return alpha * p + (1 - alpha) * s_v, alpha


def run_fusion(ctx: StageContext) -> StageOutcome:
    cfg, dev = ctx.config, ctx.device
    gat = ctx.load_model("gat")
    vgae = ctx.load_model("vgae")
    quantiles = ctx.store.load(ctx.dataset, ctx.size, "vgae")["normal_score_quantiles"].numpy()
    ctx.store.begin(ctx.dataset, ctx.size, "fusion")
    out = collect_outputs(gat, vgae, ctx.split("val"), cfg.batching, dev)
    y = out["y"]
    states = fusion_state(out)
    p = gat_probability(out)
    s_v = vgae_normalised(out["vgae_score"], quantiles)
    policy, history = train_dqn(states, p, s_v, y, cfg.dqn, cfg.train.seed)
    alpha = policy.alphas(states)
    fused = alpha * p + (1 - alpha) * s_v
    thr = fit_threshold(fused, y)
    inputs = {"gat": fit_threshold(p, y).val_f1, "vgae": fit_threshold(s_v, y).val_f1}
    f1 = {"fusion_dqn": thr.val_f1, **inputs}
    best_input = max(inputs, key=lambda k: inputs[k] or -1.0)
    fallback = None
    if (thr.val_f1 or -1.0) < (inputs[best_input] or -1.0):
        const = 1.0 if best_input == "gat" else 0.0
        fallback = {
            "reason": f"DQN fusion F1 {thr.val_f1} < {best_input} F1 "
            f"{inputs[best_input]} on validation",
            "alpha": const,
        }
        ctx.log(f"fusion: {fallback['reason']}: using {best_input} alone (alpha={const})")
        alpha = np.full(len(p), const)
        fused = const * p + (1 - const) * s_v
        thr = fit_threshold(fused, y)
    ckpt = {
        "kind": "fusion",
        "qnet": {k: v.cpu() for k, v in policy.qnet.state_dict().items()},
        "state_dim": int(states.shape[1]),
        "hidden": cfg.dqn.hidden,
        "state_mean": torch.from_numpy(policy.mean),
        "state_std": torch.from_numpy(policy.std),
        "constant_alpha": None if fallback is None else float(fallback["alpha"]),
        "threshold": thr.to_json(),
        "vgae_quantiles": torch.from_numpy(quantiles),
    }
    counts = np.bincount(np.searchsorted(ALPHAS.numpy(), alpha.round(2)), minlength=len(ALPHAS))
    metrics = {
        "val_f1": f1,
        "fallback": fallback,
        "threshold": thr.to_json(),
        "alpha_mean": float(alpha.mean()),
        "alpha_counts": counts.tolist(),
        "parameters": count_parameters(policy.qnet)
        + count_parameters(gat)
        + count_parameters(vgae),
        "dqn_parameters": count_parameters(policy.qnet),
        "dqn_history": history,
        "val_graphs": len(y),
    }
    return publish(ctx, "fusion", "fusion", ckpt, metrics)


def load_fusion(ctx: StageContext) -> FusionModel:
    ckpt = ctx.store.load(ctx.dataset, ctx.size, "fusion")
    qnet = QNetwork(int(ckpt["state_dim"]), int(ckpt["hidden"]))
    qnet.load_state_dict(ckpt["qnet"])
    qnet.eval()
    policy = FusionPolicy(qnet, ckpt["state_mean"].numpy(), ckpt["state_std"].numpy())
    return FusionModel(
        policy,
        ckpt["constant_alpha"],
        ckpt["vgae_quantiles"].numpy(),
        Threshold.from_json(ckpt["threshold"]),
    )
