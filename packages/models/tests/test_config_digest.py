"""Golden config digests: checkpoints, resume state and tune trials are keyed by
``RunConfig.digest``, so a config that did not change must keep its digest across any
rewrite of the config code. The move to pydantic kept the dataclass digests (recorded at
commit aa484b4). The detection work then added settings (the calibration, fusion and eval
sections, gat/vgae.id_embedding, train.deterministic): a config with new settings is a new
config, so the values below were recorded once after that addition. A change here orphans
every saved run: only a change of the config's content may cause one."""

from __future__ import annotations

import pytest
from canids_models import RunConfig, load_config

TEACHER = "9141cb9b482f380823059930d4aa9e40600e2e9a8455a4615e25b4b769d4f5c4"
STUDENT = "41db825da35b06c24aba0c5e4c246e2ec178988ccb591aff3bbc907760322c9b"
# An int for a float field (train.lr=1, distill.alpha=0) is stored as a float: 1.0, 0.0.
TEACHER_SET = (
    "gat.heads=2",
    "train.lr=1",
    "train.device=cpu",
    "batching.mode=fixed",
    "curriculum.ramp_epochs=3",
    "dqn.gamma=0.5",
)
TEACHER_SET_DIGEST = "ae1e0276657128d6600bf6c9e7bc6b59c5f17eb77e86015da1c9bfba9d5d5157"
STUDENT_SET = ("vgae.latent=4", "distill.alpha=0", "train.epochs=2", "train.seed=7")
STUDENT_SET_DIGEST = "8af8cb4147f8ac82dbb4f8daf8bde0ce1f45cd9da7fe86fcc1f260abd5f74054"


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
