"""Distillation losses: zero when the student equals the teacher, positive otherwise."""

from __future__ import annotations

import math

import pytest
import torch
from canids_models.distill import gat_distill_loss, soft_label_kl
from torch.nn import functional as F

LOGITS = torch.tensor([-6.0, -1.5, -0.2, 0.0, 0.3, 2.0, 9.0])
TARGET = torch.tensor([0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("temperature", [0.5, 1.0, 4.0, 10.0])
def test_kl_is_zero_for_identical_logits(temperature):
    kl = soft_label_kl(LOGITS, LOGITS.clone(), temperature)
    assert abs(kl.item()) < 1e-6


def test_kl_has_zero_gradient_at_the_teacher():
    student = LOGITS.clone().requires_grad_(True)
    soft_label_kl(student, LOGITS, 4.0).backward()
    assert student.grad.abs().max().item() < 1e-6


@pytest.mark.parametrize("temperature", [1.0, 4.0])
def test_kl_is_positive_otherwise_and_matches_the_formula(temperature):
    student = LOGITS + torch.tensor([1.0, -0.5, 0.7, 2.0, -1.0, 0.1, -3.0])
    kl = soft_label_kl(student, LOGITS, temperature).item()
    assert kl > 0
    # Bernoulli KL(teacher ‖ student) at temperature T, times T², averaged.
    t = temperature
    want = 0.0
    for s, q in zip(student.tolist(), LOGITS.tolist(), strict=True):
        pt, ps = 1 / (1 + math.exp(-q / t)), 1 / (1 + math.exp(-s / t))
        want += pt * math.log(pt / ps) + (1 - pt) * math.log((1 - pt) / (1 - ps))
    assert kl == pytest.approx(want / len(LOGITS) * t * t, rel=1e-5)


def test_kl_is_asymmetric_and_grows_with_the_gap():
    small = soft_label_kl(LOGITS + 0.5, LOGITS, 2.0).item()
    large = soft_label_kl(LOGITS + 2.0, LOGITS, 2.0).item()
    assert 0 < small < large


@pytest.mark.parametrize("alpha", [0.0, 0.3, 0.7, 1.0])
def test_gat_distill_loss_reduces_to_weighted_bce_for_a_perfect_student(alpha):
    loss = gat_distill_loss(LOGITS, LOGITS.clone(), TARGET, temperature=4.0, alpha=alpha)
    bce = F.binary_cross_entropy_with_logits(LOGITS, TARGET)
    assert loss.item() == pytest.approx((1 - alpha) * bce.item(), abs=1e-6)


def test_gat_distill_loss_adds_the_kl_term_otherwise():
    student = LOGITS * 0.3
    alpha, t = 0.7, 4.0
    loss = gat_distill_loss(student, LOGITS, TARGET, temperature=t, alpha=alpha).item()
    bce = F.binary_cross_entropy_with_logits(student, TARGET).item()
    kl = soft_label_kl(student, LOGITS, t).item()
    assert kl > 0
    assert loss == pytest.approx((1 - alpha) * bce + alpha * kl, rel=1e-6)
    assert loss > (1 - alpha) * bce
    # alpha = 0 is plain supervised training: the teacher does not matter.
    plain = gat_distill_loss(student, LOGITS * 5, TARGET, temperature=t, alpha=0.0).item()
    assert plain == pytest.approx(bce, rel=1e-6)
