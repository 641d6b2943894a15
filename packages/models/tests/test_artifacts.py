"""The artifact store: layout, atomic writes, DONE last, safe names, weights-only loading."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from canids_models import ARTIFACT_KEYS, ArtifactError, ArtifactStore, resolve_runs_dir
from canids_models.checkpoints import load_model, model_record
from canids_models.config import GATConfig
from canids_models.nn import GATClassifier

DS, SIZE = "demo", "teacher"


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "runs", "r1")


def leftovers(folder: Path) -> list[str]:
    """Temporary files a write may have left (hidden ``.name.*.tmp``)."""
    return sorted(p.name for p in folder.rglob("*") if p.name.startswith(".") or ".tmp" in p.name)


def test_layout(store, tmp_path):
    assert store.runs_dir == (tmp_path / "runs").resolve()
    assert store.dir(DS, SIZE, "gat") == store.runs_dir / "r1" / DS / SIZE / "gat"
    assert store.path(DS, SIZE, "vgae", "checkpoint.pt").parent == store.dir(DS, SIZE, "vgae")
    assert ARTIFACT_KEYS == ("vgae", "gat", "fusion", "results")
    # Nothing is created by asking for a path.
    assert not store.runs_dir.exists()


def test_runs_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("CANIDS_RUNS_DIR", str(tmp_path / "from_env"))
    assert resolve_runs_dir() == (tmp_path / "from_env").resolve()
    assert resolve_runs_dir(tmp_path / "given") == (tmp_path / "given").resolve()
    monkeypatch.delenv("CANIDS_RUNS_DIR")
    monkeypatch.chdir(tmp_path)
    assert resolve_runs_dir() == (tmp_path / "runs").resolve()


def test_unknown_keys_and_files_are_refused(store):
    with pytest.raises(ArtifactError, match="unknown artifact 'dqn'; known: vgae, gat"):
        store.dir(DS, SIZE, "dqn")
    with pytest.raises(ArtifactError, match=r"unknown artifact file 'weights\.bin'"):
        store.path(DS, SIZE, "gat", "weights.bin")
    with pytest.raises(ArtifactError, match="unknown artifact file"):
        store.path(DS, SIZE, "gat", "../../checkpoint.pt")


@pytest.mark.parametrize(
    "bad", ["../x", "a/b", "$(id)", "..", ".", "", ".hidden", "a b", "x;rm", "-x", "a" * 65]
)
def test_unsafe_names_are_rejected(tmp_path, bad):
    """The one canids name rule (canids_core.check_name), each refusal naming its kind."""
    rule = r"is not allowed: use 1 to 64 characters"
    with pytest.raises(ArtifactError, match=f"^run name .* {rule}"):
        ArtifactStore(tmp_path, bad)
    store = ArtifactStore(tmp_path, "ok")
    with pytest.raises(ArtifactError, match=f"^dataset name .* {rule}"):
        store.dir(bad, SIZE, "gat")
    with pytest.raises(ArtifactError, match=f"^size name .* {rule}"):
        store.dir(DS, bad, "gat")
    with pytest.raises(ArtifactError, match=f"^pipeline name .* {rule}"):
        store.pipeline_record(DS, bad, "teacher")
    with pytest.raises(ArtifactError, match=f"^size name .* {rule}"):
        store.pipeline_record(DS, "teacher", bad)
    with pytest.raises(ArtifactError, match=f"^stage name .* {rule}"):
        store.stage_log(DS, "teacher", "teacher", bad)
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("good", ["default", "exp-1", "hcrl_sa", "set_01", "run.2", "a" * 64])
def test_safe_names_are_accepted(tmp_path, good):
    store = ArtifactStore(tmp_path, good)
    assert store.dir(good, SIZE, "gat").is_relative_to(tmp_path.resolve())
    assert store.dir(good, SIZE, "gat").name == "gat"
    assert store.stage_log(good, "teacher", "teacher", good).name == f"{good}.log"


def test_writes_are_atomic_and_leave_no_temp_files(store):
    d = store.begin(DS, SIZE, "gat")
    store.write_json(DS, SIZE, "gat", "metrics.json", {"f1": 0.5, "path": Path("/x")})
    store.write_text(DS, SIZE, "gat", "results.md", "| a |\n")
    store.save(DS, SIZE, "gat", "checkpoint.pt", {"w": torch.ones(3), "n": 1})
    assert sorted(p.name for p in d.iterdir()) == ["checkpoint.pt", "metrics.json", "results.md"]
    assert leftovers(store.runs_dir) == []
    assert store.read_json(DS, SIZE, "gat", "metrics.json") == {"f1": 0.5, "path": "/x"}


def test_a_failed_write_keeps_the_old_file_and_no_temp(store):
    store.save(DS, SIZE, "gat", "checkpoint.pt", {"w": torch.ones(2)})
    before = store.path(DS, SIZE, "gat", "checkpoint.pt").read_bytes()
    with pytest.raises(Exception):  # noqa: B017, PT011 (pickle's error type varies)
        store.save(DS, SIZE, "gat", "checkpoint.pt", {"f": lambda: 0})
    assert store.path(DS, SIZE, "gat", "checkpoint.pt").read_bytes() == before
    store.write_json(DS, SIZE, "gat", "metrics.json", {"a": 1})
    circular: dict = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference"):
        store.write_json(DS, SIZE, "gat", "metrics.json", circular)
    assert store.read_json(DS, SIZE, "gat", "metrics.json") == {"a": 1}
    assert leftovers(store.runs_dir) == []


def test_done_is_written_last_and_begin_removes_it(store):
    assert not store.is_done(DS, SIZE, "vgae")
    with pytest.raises(ArtifactError, match="is not done"):
        store.done_record(DS, SIZE, "vgae")
    store.begin(DS, SIZE, "vgae")
    store.save(DS, SIZE, "vgae", "train_state.pt", {"epoch": 3})
    store.save(DS, SIZE, "vgae", "checkpoint.pt", {"w": torch.zeros(1)})
    done = store.finish(DS, SIZE, "vgae", {"stage": "vgae"})
    assert store.is_done(DS, SIZE, "vgae")
    assert done == store.path(DS, SIZE, "vgae", "DONE.json")
    # finish dropped the resume state.
    assert not store.path(DS, SIZE, "vgae", "train_state.pt").exists()
    record = store.done_record(DS, SIZE, "vgae")
    assert record["stage"] == "vgae"
    assert (record["artifact"], record["size"], record["dataset"], record["run"]) == (
        "vgae",
        SIZE,
        DS,
        "r1",
    )
    assert "finished" in record
    # Rewriting starts by removing DONE: a half-rewritten artifact is never "done".
    store.save(DS, SIZE, "vgae", "train_state.pt", {"epoch": 0})
    store.begin(DS, SIZE, "vgae")
    assert not store.is_done(DS, SIZE, "vgae")
    assert store.path(DS, SIZE, "vgae", "train_state.pt").exists()  # kept for resume
    assert store.path(DS, SIZE, "vgae", "checkpoint.pt").exists()
    store.begin(DS, SIZE, "vgae", keep_train_state=False)
    assert not store.path(DS, SIZE, "vgae", "train_state.pt").exists()


def test_publish_writes_done_last(store, monkeypatch, demo):
    """Every file of a stage's artifact lands (by rename) before its DONE record, which
    names the cache the stage read."""
    from canids_models import RunConfig, StageContext
    from canids_models import artifacts as artifacts_module
    from canids_models.lineage import cache_identity
    from canids_models.stages.common import publish

    landed: list[str] = []
    real_replace = os.replace

    def spy(src: str, dst: str | Path) -> None:
        real_replace(src, dst)
        landed.append(Path(dst).name)

    monkeypatch.setattr(artifacts_module.os, "replace", spy)
    ctx = StageContext(DS, SIZE, RunConfig(), store, demo.cache_dir, log=lambda _: None)
    store.begin(DS, SIZE, "gat")
    store.save(DS, SIZE, "gat", "train_state.pt", {"epoch": 1})
    landed.clear()
    outcome = publish(
        ctx, "gat", "gat", {"w": torch.ones(1)}, {"f1": 0.5, "rows": []}, {"results.md": "x"}
    )
    assert landed == ["checkpoint.pt", "metrics.json", "config.json", "results.md", "DONE.json"]
    assert set(outcome.paths) == {"checkpoint", "metrics", "config", "results.md", "done"}
    assert all(Path(p).is_file() for p in outcome.paths.values())
    assert not store.path(DS, SIZE, "gat", "train_state.pt").exists()
    done = store.done_record(DS, SIZE, "gat")
    assert done["config_digest"] == RunConfig().digest
    assert done["summary"] == {"f1": 0.5}  # flat values only
    assert done["cache"] == cache_identity(demo.split("train").manifest.data)
    config = store.read_json(DS, SIZE, "gat", "config.json")
    assert config["config"] == RunConfig().to_dict()
    assert (config["backend"], config["device"]) == ("pyg", str(ctx.device))


def test_remove(store):
    store.finish(DS, SIZE, "fusion", {})
    store.remove(DS, SIZE, "fusion")
    assert not store.dir(DS, SIZE, "fusion").exists()
    store.remove(DS, SIZE, "fusion")  # absent: no error


def test_read_and_load_missing_files(store):
    with pytest.raises(ArtifactError, match="does not exist"):
        store.read_json(DS, SIZE, "gat", "metrics.json")
    with pytest.raises(ArtifactError, match="does not exist"):
        store.load(DS, SIZE, "gat")


def test_load_round_trips_tensors_and_plain_values(store):
    state = {"w": torch.arange(4.0), "meta": {"epoch": 2, "name": "x", "f": [0.5, None]}}
    store.save(DS, SIZE, "gat", "checkpoint.pt", state)
    back = store.load(DS, SIZE, "gat")
    assert torch.equal(back["w"], state["w"])
    assert back["meta"] == state["meta"]


class _Payload:
    """Unpickling this runs ``os.mkdir(marker)``: what a malicious checkpoint would do."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple:
        return (os.mkdir, (str(self.marker),))


def test_load_is_weights_only(store, tmp_path):
    marker = tmp_path / "pwned"
    store.save(DS, SIZE, "gat", "checkpoint.pt", {"w": torch.ones(1), "x": _Payload(marker)})
    with pytest.raises(ArtifactError) as err:
        store.load(DS, SIZE, "gat")
    path = store.path(DS, SIZE, "gat", "checkpoint.pt")
    message = str(err.value)
    # Which file, why, and the fix: never torch's "weights_only=False will likely succeed".
    assert message.startswith(f"{path} is not a weights-only checkpoint: it holds a pickled ")
    assert "(posix.mkdir)" in message
    assert "weights_only=False" not in message
    assert "will likely succeed" not in message
    assert message.splitlines()[-1] == (
        f"  fix: delete it and retrain its stage: rm {path}, then "
        f"canids-train gat --dataset {DS} --size {SIZE} --runs-dir {store.runs_dir} "
        f"--run {store.run} or canids-train gat_curriculum --dataset {DS} --size {SIZE} "
        f"--runs-dir {store.runs_dir} --run {store.run}"
    )
    assert not marker.exists(), "unpickling ran code"
    # The same file does run code with weights_only=False: the test means something.
    torch.load(store.path(DS, SIZE, "gat", "checkpoint.pt"), weights_only=False)
    assert marker.is_dir()


def test_a_damaged_checkpoint_is_an_artifact_error(store):
    store.path(DS, SIZE, "gat", "checkpoint.pt").parent.mkdir(parents=True)
    store.path(DS, SIZE, "gat", "checkpoint.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ArtifactError, match="cannot be loaded: damaged or not a torch") as err:
        store.load(DS, SIZE, "gat")
    assert "weights_only=False" not in str(err.value)
    assert "fix: delete it and retrain its stage" in str(err.value)


def test_model_checkpoint_rebuilds_its_own_model(store, batch, model_inputs):
    torch.manual_seed(0)
    cfg = GATConfig(layers=1, heads=2, hidden=4, embed_dim=2, mlp_hidden=8)
    model = GATClassifier(cfg, **model_inputs).eval()
    store.begin(DS, SIZE, "gat")
    store.save(
        DS, SIZE, "gat", "checkpoint.pt", model_record("gat", model, cfg, model_inputs, "v1", "pyg")
    )
    with pytest.raises(ArtifactError, match="is not done"):
        load_model(store, DS, SIZE, "gat", vocab_digest="v1", device=torch.device("cpu"))
    store.finish(DS, SIZE, "gat", {})
    again = load_model(store, DS, SIZE, "gat", vocab_digest="v1", device=torch.device("cpu"))
    assert not again.training
    with torch.no_grad():
        torch.testing.assert_close(again(batch), model(batch), rtol=0, atol=0)
    with pytest.raises(ArtifactError, match="another CAN-ID vocabulary") as err:
        load_model(store, DS, SIZE, "gat", vocab_digest="v2", device=torch.device("cpu"))
    assert "canids-train gat --dataset demo --size teacher" in str(err.value)
    record = json.loads(store.path(DS, SIZE, "gat", "DONE.json").read_text())
    assert record["artifact"] == "gat"


def test_the_train_command_every_fix_names(tmp_path: Path) -> None:
    """One form for every fix that names a stage to run: ``--run`` only where the run is
    not the default, ``--cache-dir`` where the store was given the cache its stages read
    (else the fix would train on $CANIDS_CACHE_DIR or ./cache), and a path with a space
    shell-quoted, so it can be pasted."""
    default = ArtifactStore(tmp_path / "my runs")
    assert default.train_command("fusion", DS, "student") == (
        f"canids-train fusion --dataset {DS} --size student --runs-dir '{tmp_path}/my runs'"
    )
    named = ArtifactStore(tmp_path / "runs", "exp7")
    assert named.train_command("vgae", DS, "teacher") == (
        f"canids-train vgae --dataset {DS} --size teacher --runs-dir {tmp_path}/runs --run exp7"
    )
    cached = ArtifactStore(tmp_path / "runs", cache_dir=tmp_path / "my cache")
    assert cached.cache_dir == (tmp_path / "my cache").resolve()
    assert cached.train_command("gat", DS, "teacher") == (
        f"canids-train gat --dataset {DS} --size teacher --runs-dir {tmp_path}/runs "
        f"--cache-dir '{tmp_path}/my cache'"
    )
