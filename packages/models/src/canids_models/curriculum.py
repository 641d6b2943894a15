"""Curriculum: a schedule of the normal:attack ratio and a difficulty percentile, with
hard samples ranked by the VGAE's reconstruction error.

A normal graph the VGAE reconstructs badly looks like an attack (hard); an attack it
reconstructs well looks normal (hard). Early epochs see balanced, easy graphs; the ratio
and the difficulty ceiling rise to ``end_*`` over ``ramp_epochs``. Epochs sample index
views of the one training dataset: no graph is loaded twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import CurriculumConfig

__all__ = ["CurriculumSampler", "difficulty_percentiles"]


def difficulty_percentiles(scores: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per graph, 0-100: how hard it is within its class (100 = hardest)."""
    pct = np.empty(len(scores), np.float64)
    for cls, sign in ((0, 1.0), (1, -1.0)):
        idx = np.flatnonzero(labels == cls)
        if len(idx):
            ranks = np.argsort(np.argsort(sign * scores[idx], kind="stable"), kind="stable")
            pct[idx] = 100.0 * (ranks + 1) / len(idx)
    return pct


@dataclass
class CurriculumSampler:
    cfg: CurriculumConfig
    labels: np.ndarray
    difficulty: np.ndarray
    seed: int

    def schedule(self, epoch: int) -> tuple[float, float]:
        """(normal per attack, difficulty percentile ceiling) at ``epoch``."""
        ramp = self.cfg.ramp_epochs
        t = 1.0 if ramp <= 0 else min(1.0, epoch / ramp)  # no ramp: the end values at once
        ratio = self.cfg.start_ratio + (self.cfg.end_ratio - self.cfg.start_ratio) * t
        pct = self.cfg.start_percentile + (self.cfg.end_percentile - self.cfg.start_percentile) * t
        return ratio, pct

    def sample(self, epoch: int) -> tuple[np.ndarray, dict[str, float]]:
        """Sorted indices of the epoch's graphs and what was sampled."""
        ratio, pct = self.schedule(epoch)
        rng = np.random.default_rng([self.seed, epoch])
        eligible = self.difficulty <= pct + 1e-9
        attacks = np.flatnonzero((self.labels == 1) & eligible)
        normals = np.flatnonzero((self.labels == 0) & eligible)
        want = len(normals) if len(attacks) == 0 else round(ratio * len(attacks))
        chosen = rng.choice(normals, size=min(want, len(normals)), replace=False)
        idx = np.sort(np.concatenate((attacks, chosen)))
        info = {
            "curriculum_ratio": round(ratio, 4),
            "curriculum_percentile": round(pct, 2),
            "sampled_attack": float(len(attacks)),
            "sampled_normal": float(len(chosen)),
        }
        return idx, info
