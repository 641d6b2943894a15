"""``benchmarks/family_detectors.py``: the pick against each detector alone on the held-out
families, read from a fusion stage's metrics as canids-models 0.25.0 writes them, and its
refusal of run folders that hold no such figures."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture
def bench(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("family_detectors")


def _selection(detectors: bool = True) -> dict:
    fams = {
        "DoS": {"frozen_f1": {"max": 0.9, "mean": 0.8}, "detector_f1": {"gat": 0.5, "vgae": 0.95}},
        "fuzzing": {
            "frozen_f1": {"max": 0.7, "mean": 0.9},
            "detector_f1": {"gat": 0.6, "vgae": 0.85},
        },
    }
    if not detectors:
        for f in fams.values():
            del f["detector_f1"]
    return {
        "method": "max",
        "families": fams,
        "family_mean_f1": {"max": 0.8, "mean": 0.85},
    }


def _write(root: Path, dataset: str, size: str, selection: dict) -> None:
    folder = root / dataset / size / "fusion"
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps({"selection": selection}))


def test_the_pick_is_set_against_its_better_detector_on_each_family(bench, tmp_path, monkeypatch):
    run = tmp_path / "set_01-s0"
    _write(run, "set_01", "teacher", _selection())
    out = tmp_path / "out"
    monkeypatch.setattr(sys, "argv", ["family_detectors.py", str(run), "--out", str(out)])
    bench.main()
    (row,) = json.loads((out / "family_detectors.json").read_text())["rows"]
    assert row["pick"] == "max"
    assert row["means"] == pytest.approx({"pick": 0.8, "gat": 0.55, "vgae": 0.9})
    assert row["better_detector"] == "vgae"
    assert row["gap"] == pytest.approx(-0.1)
    assert (row["best_candidate"], row["best_candidate_mean"]) == ("mean", 0.85)
    text = (out / "family_detectors.md").read_text()
    assert "| set_01-s0 | set_01 | teacher | `max` | DoS 0.900 / 0.500 / 0.950;" in text
    assert "more than 0.02 below its better detector alone in 1 of 1 runs" in text


def test_runs_without_detectors_alone_are_refused_with_the_version_needed(
    bench, tmp_path, monkeypatch
):
    run = tmp_path / "old"
    _write(run, "set_01", "teacher", _selection(detectors=False))
    assert bench.row("old", "set_01", "teacher", {"selection": _selection(False)}) is None
    monkeypatch.setattr(
        sys, "argv", ["family_detectors.py", str(run), "--out", str(tmp_path / "o")]
    )
    with pytest.raises(SystemExit, match=r"canids-models 0.25.0 or later"):
        bench.main()
    assert not (tmp_path / "o").exists()  # nothing written
