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

TEACHER = "7c85d7adedb058cb85e4495f9ae1279712efed2b10ec5de423063d6a32cf30d3"
STUDENT = "22aa76f028df434707e4ef22fbace1b99ae053ef4d45bef024baae10c35fc504"
# An int for a float field (train.lr=1, distill.alpha=0) is stored as a float: 1.0, 0.0.
TEACHER_SET = (
    "gat.heads=2",
    "train.lr=1",
    "train.device=cpu",
    "batching.mode=fixed",
    "curriculum.ramp_epochs=3",
    "dqn.gamma=0.5",
)
TEACHER_SET_DIGEST = "994f7b612baf20acedbe9dd3c29b837604fc2adff2b7ea46ad5dc4dd82891056"
STUDENT_SET = ("vgae.latent=4", "distill.alpha=0", "train.epochs=2", "train.seed=7")
STUDENT_SET_DIGEST = "206e3c820173370ee51fc306ac01c9bd6b25197546505e4543599a415c70ae3e"


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
