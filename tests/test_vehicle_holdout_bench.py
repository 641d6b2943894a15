"""``benchmarks/vehicle_holdout.py``: the figures it reads from a finished run folder, for
every pick, including ``either``, which has no fused score and so no calibration of its
own (the shared ``detection_ablation.calibration_label`` names both detectors')."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture
def vh(script: Callable[[str], ModuleType]) -> ModuleType:
    return script("vehicle_holdout")


def _run(vh: ModuleType, root: Path, pick: str, calibration: dict[str, Any]) -> Path:
    rows = [
        {"split": "val", "protocol": "frozen", "model": "gat", "f1": 0.99},
    ]
    for protocol, scale in (("frozen", 0.5), ("calibrated", 1.0)):
        for model, f1 in (("vgae", 0.9), ("gat", 0.2), (f"fusion:{pick}", 0.8)):
            rows.append(
                {"split": vh.ATTACK, "protocol": protocol, "model": model, "f1": f1 * scale}
            )
            rows.append(
                {
                    "split": vh.NORMAL,
                    "protocol": protocol,
                    "model": model,
                    "f1": None,
                    "false_alarms_per_hour": 100.0 * scale,
                }
            )
    results = root / "hcrl_sa_kia" / "teacher" / "results"
    results.mkdir(parents=True)
    metrics = {"fusion_method": pick, "rows": rows, "calibration": calibration}
    (results / "metrics.json").write_text(json.dumps(metrics))
    return root


def test_figures_name_either_by_both_detectors_calibrations(vh: ModuleType, tmp_path: Path) -> None:
    calibration = {
        "vgae": {"rule": "quantile", "param": 0.02, "guard": False, "seconds": 5.0, "warmup": 3},
        "gat": {"rule": "zscore", "param": 6.0, "guard": True, "seconds": 5.0, "warmup": 3},
    }
    fig = vh.figures(_run(vh, tmp_path, "either", calibration), "hcrl_sa_kia")
    assert fig["pick"] == "either"
    assert fig["rule"] == (
        "either: vgae quantile 0.02, 5 s after 3 s; gat zscore 6 guarded, 5 s after 3 s"
    )
    assert fig["models"]["pick"] == {
        "frozen_f1": pytest.approx(0.4),
        "frozen_alarms_h": pytest.approx(50.0),
        "calibrated_f1": pytest.approx(0.8),
        "calibrated_alarms_h": pytest.approx(100.0),
    }
    assert fig["every"] == {"vgae": 0.9, "gat": 0.2, "either": 0.8}


def test_figures_name_a_fused_scores_own_calibration(vh: ModuleType, tmp_path: Path) -> None:
    calibration = {
        "max": {"rule": "zscore", "param": 8.0, "guard": True, "seconds": 2.5, "warmup": 1},
    }
    fig = vh.figures(_run(vh, tmp_path, "max", calibration), "hcrl_sa_kia")
    assert fig["rule"] == "max: zscore 8 guarded, 2.5 s after 1 s"
