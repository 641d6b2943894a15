"""Golden config digests: checkpoints, resume state and tune trials are keyed by
``RunConfig.digest``, so a config that did not change must keep its digest across any
rewrite of the config code. These values were recorded from the dataclass implementation
(commit aa484b4) before the move to pydantic; a change here orphans every saved run."""

from __future__ import annotations

import pytest
from canids_models import RunConfig, load_config

TEACHER = "f0f532b490237ca9285bc811728daea73cf45237d733f363429139da5fbfd9f6"
STUDENT = "fe085aa5b805b1b700e24fea6ca770057b6c12e880e7875e89f6542ab1343dcf"
# An int for a float field (train.lr=1, distill.alpha=0) is stored as a float: 1.0, 0.0.
TEACHER_SET = (
    "gat.heads=2",
    "train.lr=1",
    "train.device=cpu",
    "batching.mode=fixed",
    "curriculum.ramp_epochs=3",
    "dqn.gamma=0.5",
)
TEACHER_SET_DIGEST = "ddb6bc1ac54984c661ac7abc513d4fbb639936b9489cd7f3daccd992e1ab698d"
STUDENT_SET = ("vgae.latent=4", "distill.alpha=0", "train.epochs=2", "train.seed=7")
STUDENT_SET_DIGEST = "fe38eed0efcfa0df8d169aab7221813c943260d81db8630ba88a302c663c2723"


def test_preset_digests_are_unchanged():
    assert RunConfig.preset("teacher").digest == TEACHER
    assert RunConfig.preset("student").digest == STUDENT
    assert load_config("teacher").digest == TEACHER


@pytest.mark.parametrize(
    ("size", "overrides", "digest"),
    [("teacher", TEACHER_SET, TEACHER_SET_DIGEST), ("student", STUDENT_SET, STUDENT_SET_DIGEST)],
)
def test_overridden_digests_are_unchanged(size, overrides, digest):
    assert load_config(size, overrides=list(overrides)).digest == digest


def test_int_for_a_float_is_recorded_as_a_float():
    data = load_config("teacher", overrides=list(TEACHER_SET)).to_dict()
    assert data["train"]["lr"] == 1.0
    assert isinstance(data["train"]["lr"], float)
    assert isinstance(load_config("student", overrides=list(STUDENT_SET)).distill.alpha, float)
