"""Progress through callbacks: every batch of every epoch reaches ``on_progress``, with the
running loss that the epoch's record ends with; the library prints nothing."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest
from canids_models import ArtifactStore, Progress, StageContext, load_config
from canids_models.stages import run_stage


@pytest.mark.parametrize(("stage", "epochs"), [("vgae", 2), ("gat", 2)])
def test_every_batch_is_reported_with_the_epoch_s_loss(
    demo, tmp_path, tiny_overrides, stage, epochs, capsys
):
    seen: list[Progress] = []
    records: list[dict] = []
    store = ArtifactStore(tmp_path / "runs", "progress")
    ctx = StageContext(
        "demo",
        "teacher",
        load_config("teacher", None, tiny_overrides("teacher")),
        store,
        demo.cache_dir,
        log=lambda _line: None,
        on_epoch=records.append,
        on_progress=seen.append,
    )
    run_stage(stage, ctx)
    by_task: dict[str, list[Progress]] = defaultdict(list)
    for p in seen:
        by_task[p.task].append(p)
    epochs_seen = [t for t in by_task if " epoch " in t]
    assert epochs_seen == [f"{stage}/teacher epoch {e}" for e in range(epochs)]
    train = demo.split("train")
    normal = int(np.sum(train.labels() == 0))
    for epoch, task in enumerate(epochs_seen):
        reports = by_task[task]
        assert [p.done for p in reports] == list(range(1, reports[0].total + 1))
        last = reports[-1]
        assert last.done == last.total
        if stage == "vgae":
            assert last.graphs == normal  # the VGAE trains on normal graphs only
        assert last.values["loss"] == pytest.approx(records[epoch]["train_loss"], rel=1e-9)
        assert last.graphs_per_second > 0
    assert capsys.readouterr().out == ""  # libraries never print


def test_scoring_passes_are_reported_too(pipelines, demo, tiny_overrides):
    seen: list[Progress] = []
    ctx = StageContext(
        "demo",
        "teacher",
        load_config("teacher", None, tiny_overrides("teacher")),
        pipelines.store,
        demo.cache_dir,
        log=lambda _line: None,
        on_progress=seen.append,
    )
    from canids_models.stages.fusion import scores_of

    scores = scores_of(ctx, "val")
    assert {p.task for p in seen} == {"scoring val"}
    assert seen[-1].done == seen[-1].total
    assert seen[-1].graphs == len(scores)
