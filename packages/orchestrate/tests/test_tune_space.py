"""The search space file: its shape is a frozen pydantic model (unknown keys refused) and
every value at the edges of every range is checked against the real run config, all
before any trial starts. Errors name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from canids_core import CanidsError
from canids_orchestrate import TuneConfigError
from canids_orchestrate.tune import DEFAULT_SPACE, load_space
from canids_orchestrate.tune.space import Param, parse_space


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # the run config's own refusals, named by key
        ('[gat.head]\nkind = "choice"\nvalues = [2]\n', r"gat\.head: the run config refuses 2"),
        (
            '[gat.heads]\nkind = "choice"\nvalues = [0, 2]\n',
            r"gat\.heads: the run config refuses 0",
        ),
        # the file's shape, by field path
        (
            '[gat.heads]\nkind = "normal"\nvalues = [2]\n',
            r"gat\.heads\.kind: must be one of 'choice', 'uniform', 'loguniform' or 'randint' "
            r"\(got 'normal'\)",
        ),
        ("[gat.heads]\nvalues = [2]\n", r"gat\.heads\.kind: missing \(required\)"),
        (
            '[gat.heads]\nkind = "choice"\nvalues = [2]\nstep = 1\n',
            r"gat\.heads\.step: unknown key",
        ),
        ('[train.lr]\nkind = "loguniform"\nlow = 0.0\nhigh = 1.0\n', r"train\.lr: .*needs low > 0"),
        ('[train.lr]\nkind = "uniform"\nlow = 0.5\nhigh = 0.1\n', r"train\.lr: .*needs low < high"),
        ('[train.lr]\nkind = "uniform"\nlow = "a"\nhigh = 0.1\n', r"train\.lr\.low: must be a fin"),
        ('[train.lr]\nkind = "uniform"\nlow = nan\nhigh = 0.1\n', r"train\.lr\.low: must be a fin"),
        ('[train.lr]\nkind = "uniform"\nvalues = [1]\n', r"train\.lr: .*takes low and high"),
        ('[gat.heads]\nkind = "randint"\nlow = 1.5\nhigh = 4\n', r"randint needs integers"),
        ('[gat.heads]\nkind = "choice"\nvalues = []\n', r"choice needs a non-empty list"),
        ('[gat.heads]\nkind = "choice"\nlow = 1\nhigh = 2\n', r"not low and high"),
        ("gat = 3\n", r"space\.toml: gat: input should be a valid dictionary"),
        ("", r"the search space is empty"),
        ("[gat\n", r"cannot read the search space"),
    ],
)
def test_a_bad_search_space_is_refused_before_any_trial(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "space.toml"
    path.write_text(text)
    with pytest.raises(TuneConfigError, match=message) as err:
        load_space(path)
    assert str(err.value).startswith(f"{path}: ")  # the one config error format
    assert isinstance(err.value, CanidsError)


def test_the_default_space_is_the_seed_space() -> None:
    keys = {p.key: p for p in load_space()}
    assert keys["gat.heads"].values == (2, 4, 8)
    assert all(isinstance(v, int) for v in keys["batching.budget"].values)
    assert keys["batching.budget"].values == (2000, 4000, 8000, 16000)
    assert (keys["dqn.lr"].kind, keys["dqn.lr"].low, keys["dqn.lr"].high) == (
        "loguniform",
        1e-5,
        1e-2,
    )
    assert len(keys) == 13
    assert DEFAULT_SPACE.read_text().startswith("# canids-tune search space")


def test_params_cover_their_edges() -> None:
    params = {
        p.key: p
        for p in parse_space(
            {
                "gat": {"layers": {"kind": "randint", "low": 1, "high": 4}},
                "train": {"lr": {"kind": "uniform", "low": 0.1, "high": 0.5}},
            },
            "inline",
        )
    }
    assert params["gat.layers"] == Param(key="gat.layers", kind="randint", low=1, high=4)
    assert params["gat.layers"].samples() == [1, 3]  # high is exclusive, as in Tune
    assert params["train.lr"].samples() == [0.1, 0.5]
    assert params["train.lr"].section == "train"


def test_params_are_frozen() -> None:
    (param,) = parse_space({"gat": {"heads": {"kind": "choice", "values": [2]}}}, "inline")
    with pytest.raises(ValueError, match="frozen"):
        param.kind = "uniform"  # type: ignore[misc]
