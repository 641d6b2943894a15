"""The fusion agent's Q-network over 21 mixing weights α ∈ {0, 0.05, …, 1}."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["ALPHAS", "QNetwork"]

ALPHAS = torch.linspace(0.0, 1.0, 21)


class QNetwork(nn.Module):
    def __init__(self, state_dim: int, hidden: int, n_actions: int = len(ALPHAS)) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(state_dim, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, n_actions),
        )

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        return self.net(state)
