"""canids-profile: sizes read from the cache's pointer arrays, recommendation, JSON and PNG."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from canids_batching import Profile
from canids_cli.profile_cmd import main as profile_main
from canids_data import CacheManager
from canids_data.feature_sets import FEATURE_SETS
from click.testing import CliRunner


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory, demo_captures: Path) -> Path:
    cache = tmp_path_factory.mktemp("profile") / "cache"
    CacheManager(cache).build("demo", demo_captures)
    return cache


def test_profile_of_one_split_matches_the_cache(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "train.json"
    png = tmp_path / "train.png"
    result = CliRunner().invoke(
        profile_main,
        [
            "--dataset",
            "demo",
            "--cache-dir",
            str(cache_dir),
            "--split",
            "train",
            "--json",
            str(out),
            "--plot",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == f"cache: {cache_dir.resolve()}"
    profile = Profile.from_json(out.read_text())
    sizes = CacheManager(cache_dir).sizes("demo", "train")
    assert profile.nodes.count == len(sizes.nodes)
    assert profile.nodes.mean == pytest.approx(float(np.mean(sizes.nodes)))
    assert profile.edges.max == int(sizes.edges.max())
    assert profile.node_feature_dim == len(FEATURE_SETS["invariant"][0])  # the default set
    assert profile.edge_feature_dim == len(FEATURE_SETS["invariant"][1])
    assert profile.bytes_per_graph == pytest.approx(sizes.bytes_per_graph)
    assert profile.recommendation.reason in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_profile_of_every_split_lists_train_first(cache_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.json"
    result = CliRunner().invoke(
        profile_main, ["--dataset", "demo", "--cache-dir", str(cache_dir), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert list(data)[:2] == ["train", "val"]
    assert set(data) == set(CacheManager(cache_dir).verify("demo").manifest.splits)


def test_profile_of_a_missing_cache_or_split_fails_with_the_fix(
    cache_dir: Path, tmp_path: Path
) -> None:
    missing = CliRunner().invoke(
        profile_main, ["--dataset", "demo", "--cache-dir", str(tmp_path / "none")]
    )
    assert missing.exit_code == 1
    assert "canids-cache build --dataset demo" in missing.output
    bad_split = CliRunner().invoke(
        profile_main,
        ["--dataset", "demo", "--cache-dir", str(cache_dir), "--split", "test_99_nope"],
    )
    assert bad_split.exit_code == 1
    assert "test_99_nope" in bad_split.output
    assert "train" in bad_split.output
