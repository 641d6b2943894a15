"""Double DQN choosing α from 21 values to mix the GAT probability and the VGAE score.

Each step acts on a batch of graphs: the fused score α·p_gat + (1−α)·s_vgae is a
decision at 0.5, rewarded +w_y when right and −w_y when wrong, with class weights w_y so
that attacks and normal traffic count alike. The next state is another graph's, as in
the original formulation; targets use the online network to choose and the target
network to value (Double DQN), from a replay buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from .config import DQNConfig
from .nn import ALPHAS, QNetwork

__all__ = ["FusionPolicy", "train_dqn"]

_ACT_BATCH = 64


@dataclass
class FusionPolicy:
    qnet: QNetwork
    mean: np.ndarray
    std: np.ndarray

    @torch.no_grad()
    def alphas(self, states: np.ndarray) -> np.ndarray:
        x = torch.from_numpy((states - self.mean) / self.std).float()
        return ALPHAS[self.qnet(x).argmax(-1)].numpy()


def train_dqn(
    states: np.ndarray,
    p_gat: np.ndarray,
    s_vgae: np.ndarray,
    labels: np.ndarray,
    cfg: DQNConfig,
    seed: int,
) -> tuple[FusionPolicy, list[dict[str, float]]]:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    mean = states.mean(0)
    std = states.std(0) + 1e-6
    x = ((states - mean) / std).astype(np.float32)
    y = labels.astype(np.int64)
    n = len(y)
    n_pos = max(int(y.sum()), 1)
    weights = np.where(y == 1, n / (2 * n_pos), n / (2 * max(n - n_pos, 1)))
    online = QNetwork(x.shape[1], cfg.hidden)
    target = QNetwork(x.shape[1], cfg.hidden)
    target.load_state_dict(online.state_dict())
    opt = torch.optim.Adam(online.parameters(), lr=cfg.lr)
    alphas = ALPHAS.numpy()
    cap = cfg.buffer
    buf_s = np.zeros((cap, x.shape[1]), np.float32)
    buf_a = np.zeros(cap, np.int64)
    buf_r = np.zeros(cap, np.float32)
    buf_n = np.zeros((cap, x.shape[1]), np.float32)
    size = pos = 0
    history: list[dict[str, float]] = []
    for step in range(cfg.steps):
        eps = cfg.epsilon_end + (cfg.epsilon_start - cfg.epsilon_end) * max(
            0.0, 1.0 - step / (0.7 * cfg.steps)
        )
        i = rng.integers(n, size=_ACT_BATCH)
        with torch.no_grad():
            greedy = online(torch.from_numpy(x[i])).argmax(-1).numpy()
        explore = rng.random(_ACT_BATCH) < eps
        a = np.where(explore, rng.integers(len(alphas), size=_ACT_BATCH), greedy)
        fused = alphas[a] * p_gat[i] + (1 - alphas[a]) * s_vgae[i]
        correct = (fused >= 0.5) == (y[i] == 1)
        r = np.where(correct, weights[i], -weights[i]).astype(np.float32)
        j = rng.integers(n, size=_ACT_BATCH)
        slots = (pos + np.arange(_ACT_BATCH)) % cap
        buf_s[slots], buf_a[slots], buf_r[slots], buf_n[slots] = x[i], a, r, x[j]
        pos = int((pos + _ACT_BATCH) % cap)
        size = min(size + _ACT_BATCH, cap)
        if size < cfg.batch_size:
            continue
        k = rng.integers(size, size=cfg.batch_size)
        s_t, a_t = torch.from_numpy(buf_s[k]), torch.from_numpy(buf_a[k])
        r_t, n_t = torch.from_numpy(buf_r[k]), torch.from_numpy(buf_n[k])
        with torch.no_grad():
            best_next = online(n_t).argmax(-1, keepdim=True)
            target_q = r_t + cfg.gamma * target(n_t).gather(1, best_next).squeeze(1)
        q = online(s_t).gather(1, a_t[:, None]).squeeze(1)
        loss = F.smooth_l1_loss(q, target_q)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(online.parameters(), 10.0)
        opt.step()
        if step % cfg.target_sync == 0:
            target.load_state_dict(online.state_dict())
        if step % max(cfg.steps // 20, 1) == 0:
            history.append(
                {
                    "step": step,
                    "epsilon": round(eps, 4),
                    "loss": loss.item(),
                    "reward": float(r.mean()),
                }
            )
    online.eval()
    return FusionPolicy(online, mean, std), history
