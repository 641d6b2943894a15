"""``benchmarks/capture_units.py``: the test-split check of ``fusion.cut_units_at=capture``
read from finished run folders: both sets' tables and goal lines, and the cells that
differ between them."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture
def cu(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the script imports its sibling scripts
    return importlib.import_module("capture_units")


def _row(split: str, protocol: str, model: str, f1: float, default: bool) -> dict[str, Any]:
    return {
        "split": split,
        "protocol": protocol,
        "model": model,
        "held_out": split != "val",
        "default": default,
        "f1": f1,
        "flag_all_f1": 0.5,
        "auroc": 0.9,
        "fpr": 0.01,
        "dataset": "set_01",
    }


def _folder(root: Path, cut_max: float) -> Path:
    """A run folder of set_01 whose pick is cut_max at ``cut_max`` calibrated on t04."""
    rows = [_row("val", "frozen", "fusion:cut_max", 0.99, True)]
    for protocol in ("frozen", "calibrated"):
        rows.append(_row("test_04_unknown_vehicle", protocol, "gat", 0.4, True))
        rows.append(_row("test_04_unknown_vehicle", protocol, "vgae", 0.98, True))
        f1 = cut_max if protocol == "calibrated" else 0.9
        rows.append(_row("test_04_unknown_vehicle", protocol, "fusion:cut_max", f1, True))
    results = root / "set_01" / "teacher" / "results"
    results.mkdir(parents=True)
    calibration = {"cut_max": {"rule": "quantile", "param": 0.02, "seconds": 5.0, "warmup": 3.0}}
    metrics = {
        "fusion_method": "cut_max",
        "rows": rows,
        "calibration": calibration,
        "parameters": {"fusion": 10},
    }
    (results / "metrics.json").write_text(json.dumps(metrics))
    return root


def test_both_sets_and_their_differences_are_reported(cu: ModuleType, tmp_path: Path) -> None:
    pairs = [
        (_folder(tmp_path / "a0", 0.766), _folder(tmp_path / "b0", 0.951)),
        (_folder(tmp_path / "a1", 0.319), _folder(tmp_path / "b1", 0.960)),
    ]
    lines, data = cu.lines_for("set_01", pairs)
    text = "\n".join(lines)
    assert data["default"] == data["capture"] == ["cut_max", "cut_max"]
    assert "### set_01, teacher: the default (fusion.cut_units_at=validation)" in text
    # The default misses t04's calibrated goal on both runs, and falls below the VGAE.
    assert "run 0 test_04 calibrated 0.766 (goal 0.95)" in text
    assert "run 1 test_04 calibrated 0.319 (goal 0.95)" in text
    assert "run 1 test_04 calibrated -0.661" in text
    capture = text.split("fusion.cut_units_at=capture")[1].split("cells that differ")[0]
    assert "chosen fusion short of its F1 goal: none" in capture
    assert "| test_04 | calibrated | fusion:cut_max | 0.6410 | 0 of 2 |" in text
    assert "| test_04 | calibrated | chosen | 0.6410 | 0 of 2 |" in text
    assert "identical in every pair: 6 of 8 cells" in text
