"""The epoch loop alone: model selection, early stopping, reporting after saving, and
refusing a diverged run."""

from __future__ import annotations

import math

import pytest
import torch
from canids_models import ArtifactStore, ModelsError, RunConfig, StageContext
from canids_models.loop import run_epochs

DS, SIZE = "demo", "teacher"


def context(tmp_path, epochs: int, patience: int, on_epoch=None) -> StageContext:
    cfg = RunConfig().merged(
        {"train": {"epochs": epochs, "patience": patience, "device": "cpu"}}, "test"
    )
    return StageContext(
        DS, SIZE, cfg, ArtifactStore(tmp_path / "runs"), log=lambda _: None, on_epoch=on_epoch
    )


def scripted(values: list[float]):
    """A model whose weight is the epoch number, validated by ``values`` in turn."""
    model = torch.nn.Linear(1, 1, bias=False)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)

    def train_epoch(epoch: int) -> dict[str, float]:
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        return {"train_loss": 1.0 / (epoch + 1)}

    def validate() -> dict[str, float]:
        return {"score": values[int(model.weight.item())]}

    return model, opt, train_epoch, validate


def test_the_best_epoch_is_kept_and_patience_stops(tmp_path):
    saved_when_reported: list[bool] = []
    store_holder: list[ArtifactStore] = []

    def on_epoch(record: dict) -> None:
        state = store_holder[0].load(DS, SIZE, "gat", "train_state.pt")
        saved_when_reported.append(state["epoch"] == record["epoch"])

    ctx = context(tmp_path, epochs=10, patience=2, on_epoch=on_epoch)
    store_holder.append(ctx.store)
    model, opt, train_epoch, validate = scripted([0.5, 0.7, 0.6, 0.65, 0.9, 1.0])
    kept: list[tuple[int, float]] = []

    def on_best(epoch: int) -> None:
        kept.append((epoch, model.weight.item()))

    result = run_epochs(
        ctx, "gat", model, opt, train_epoch, validate, select="score", on_best=on_best
    )
    # Called for each new best, with the model still holding that epoch's weights.
    assert kept == [(0, 0.0), (1, 1.0)]
    assert result.best_epoch == 1
    assert result.best_metric == 0.7
    assert result.stopped_early
    assert [h["epoch"] for h in result.history] == [0, 1, 2, 3]
    assert [h["best_epoch"] for h in result.history] == [0, 1, 1, 1]
    assert result.best_state["weight"].item() == 1.0  # the weights of epoch 1
    assert result.resumed_from is None
    # Every epoch was reported only after its resume state was on disk.
    assert saved_when_reported == [True] * 4


def test_all_epochs_without_patience_running_out(tmp_path):
    ctx = context(tmp_path, epochs=3, patience=5)
    model, opt, train_epoch, validate = scripted([0.1, 0.2, 0.3])
    result = run_epochs(ctx, "vgae", model, opt, train_epoch, validate, select="score")
    assert not result.stopped_early
    assert result.best_epoch == 2
    assert len(result.history) == 3


@pytest.mark.parametrize("bad", [math.nan, -math.inf])
def test_a_diverged_run_fails_loudly(tmp_path, bad):
    ctx = context(tmp_path, epochs=5, patience=5)
    model, opt, train_epoch, validate = scripted([0.3, 0.4, bad, 0.9])
    with pytest.raises(
        ModelsError, match=r"gat \(teacher\) diverged: score is .* at epoch 2"
    ) as err:
        run_epochs(ctx, "gat", model, opt, train_epoch, validate, select="score")
    assert "--set train.lr=" in str(err.value)
