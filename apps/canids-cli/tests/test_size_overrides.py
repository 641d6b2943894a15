"""``--set SIZE:SECTION.KEY=VALUE`` parsed: which items are shared, which one size's."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from canids_cli._size_overrides import split_size_overrides


def test_items_split_into_shared_and_per_size_in_order() -> None:
    sets = split_size_overrides(
        [
            "train.seed=1",
            "student:fusion.select=auto",
            "paths.note=a:b",  # a colon in the value is no prefix
            "teacher:train.epochs=2",
            "student:train.seed=4",
        ]
    )
    assert sets.shared == ["train.seed=1", "paths.note=a:b"]
    assert sets.per_size == {
        "student": ["fusion.select=auto", "train.seed=4"],
        "teacher": ["train.epochs=2"],
    }
    # The size's own items come after the shared ones: they win where both set a key.
    assert sets.for_size("student") == [
        "train.seed=1",
        "paths.note=a:b",
        "fusion.select=auto",
        "train.seed=4",
    ]
    assert sets.for_size("teacher") == ["train.seed=1", "paths.note=a:b", "train.epochs=2"]


def test_stage_args_add_the_plan_s_size_items_after_the_base_ones() -> None:
    sets = split_size_overrides(["student:fusion.select=auto"])
    args = sets.stage_args(lambda plan, stage: ["--wandb-group", f"g-{plan.size}-{stage}"])
    assert args is not None
    assert args(SimpleNamespace(size="student"), "fusion") == [
        "--wandb-group",
        "g-student-fusion",
        "--set",
        "fusion.select=auto",
    ]
    assert args(SimpleNamespace(size="teacher"), "fusion") == ["--wandb-group", "g-teacher-fusion"]
    no_base = sets.stage_args(None)
    assert no_base is not None
    assert no_base(SimpleNamespace(size="teacher"), "gat") == []
    # Without a size item the base callback is handed back as it is.
    base = object()
    assert split_size_overrides(["train.seed=1"]).stage_args(base) is base  # type: ignore[arg-type]


def test_a_prefix_names_a_planned_size() -> None:
    sets = split_size_overrides(["student:train.seed=1", "student:train.epochs=2"])
    sets.check_planned({"student", "teacher"})
    with pytest.raises(ValueError, match="no student pipeline is planned") as err:
        sets.check_planned({"teacher"})
    assert "--set student:train.seed=1 student:train.epochs=2" in str(err.value)
    with pytest.raises(ValueError, match="'gpu' is not a size"):
        split_size_overrides(["gpu:train.seed=1"])
