"""The tiny config loads into the real model config, per size, and later items win."""

from __future__ import annotations

import pytest
from canids_models import load_config
from canids_testkit import TINY_SIZES, set_args, tiny_overrides


@pytest.mark.parametrize("size", TINY_SIZES)
def test_every_item_is_a_real_config_key_and_value(size: str) -> None:
    config = load_config(size, None, tiny_overrides(size))
    assert config.train.epochs == 2
    assert config.train.device == "cpu"
    assert config.gat.layers == config.vgae.layers == 1
    assert config.dqn.steps == 50
    assert tuple(config.calibration.seconds_grid) == (0.2, 0.4)
    assert tuple(config.calibration.warmup_grid) == (0.0, 0.1)


def test_the_student_is_smaller_than_the_teacher() -> None:
    teacher = load_config("teacher", None, tiny_overrides("teacher"))
    student = load_config("student", None, tiny_overrides("student"))
    assert (teacher.gat.hidden, student.gat.hidden) == (8, 4)
    assert (teacher.vgae.latent, student.vgae.latent) == (4, 2)


def test_extra_items_come_last_and_win() -> None:
    items = tiny_overrides("teacher", "train.epochs=1")
    assert items[-1] == "train.epochs=1"
    assert load_config("teacher", None, items).train.epochs == 1


def test_an_unknown_size_is_refused_with_the_known_ones() -> None:
    expected = "no tiny config for size 'huge': use one of teacher, student"
    with pytest.raises(ValueError, match=expected):
        tiny_overrides("huge")


def test_set_args_pairs_each_item() -> None:
    assert set_args(["a=1", "b=2"]) == ["--set", "a=1", "--set", "b=2"]
    assert set_args([]) == []
