"""On a CUDA device: the teacher pipeline runs there (skipped without CUDA)."""

from __future__ import annotations

import pytest
import torch
from canids_models import ArtifactStore

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_stages_run_on_cuda(tmp_path, run_stage_on_demo, tiny_overrides):
    store = ArtifactStore(tmp_path / "runs")
    overrides = tiny_overrides("teacher", "train.device=cuda", "train.backend=auto")
    log: list[str] = []
    for stage in ("vgae", "gat_curriculum", "fusion", "evaluate"):
        outcome = run_stage_on_demo(store, stage, "teacher", overrides, log=log)
        config = store.read_json("demo", "teacher", outcome.artifact, "config.json")
        assert config["device"].startswith("cuda")
    rows = store.read_json("demo", "teacher", "results", "metrics.json")["rows"]
    assert "val" in {r["split"] for r in rows}
    assert torch.cuda.max_memory_allocated() > 0
