"""Knowledge distillation losses: soft labels for the GAT, the latent space for the VGAE."""

from __future__ import annotations

import torch
from torch.nn import functional as F

__all__ = ["gat_distill_loss", "soft_label_kl"]


def soft_label_kl(
    student_logit: torch.Tensor, teacher_logit: torch.Tensor, temperature: float
) -> torch.Tensor:
    """KL(teacher ‖ student) between the Bernoulli soft labels at temperature T, times T²
    (Hinton et al.: keeps gradient scale comparable across temperatures)."""
    t = temperature
    p_t = torch.sigmoid(teacher_logit / t)
    log_s1 = F.logsigmoid(student_logit / t)
    log_s0 = F.logsigmoid(-student_logit / t)
    log_t1 = F.logsigmoid(teacher_logit / t)
    log_t0 = F.logsigmoid(-teacher_logit / t)
    kl = p_t * (log_t1 - log_s1) + (1 - p_t) * (log_t0 - log_s0)
    return kl.mean() * t * t


def gat_distill_loss(
    student_logit: torch.Tensor,
    teacher_logit: torch.Tensor,
    target: torch.Tensor,
    *,
    temperature: float,
    alpha: float,
) -> torch.Tensor:
    """(1 − α)·BCE(hard labels) + α·T²·KL(soft labels)."""
    hard = F.binary_cross_entropy_with_logits(student_logit, target)
    return (1 - alpha) * hard + alpha * soft_label_kl(student_logit, teacher_logit, temperature)
