"""Planning: stage selection, --from-stage skipping, preflight before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from canids_models import ArtifactStore, PreflightError, get_pipeline
from canids_orchestrate import LocalExecutor, PipelineError, plan_pipeline


def _mark_done(store: ArtifactStore, dataset: str, size: str, *keys: str) -> None:
    for key in keys:
        store.begin(dataset, size, key)
        store.finish(dataset, size, key, {"stage": key})


def test_full_plan_runs_every_stage(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    plan = plan_pipeline(store, get_pipeline("teacher"), "demo")
    assert plan.run_stages == ("vgae", "gat_curriculum", "fusion", "evaluate")
    assert plan.skipped == {}
    assert plan.size == "teacher"
    assert [s["status"] for s in plan.record(executor="local")["stages"]] == ["pending"] * 4


def test_from_stage_skips_done_stages_and_says_so(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    _mark_done(store, "demo", "teacher", "vgae", "gat")
    plan = plan_pipeline(store, get_pipeline("teacher"), "demo", from_stage="fusion")
    assert plan.run_stages == ("fusion", "evaluate")
    assert set(plan.skipped) == {"vgae", "gat_curriculum"}
    assert all("DONE" in reason for reason in plan.skipped.values())
    statuses = {s["stage"]: s["status"] for s in plan.record(executor="local")["stages"]}
    assert statuses == {
        "vgae": "skipped",
        "gat_curriculum": "skipped",
        "fusion": "pending",
        "evaluate": "pending",
    }


def test_from_stage_refuses_to_skip_an_unfinished_stage(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    _mark_done(store, "demo", "teacher", "vgae")
    with pytest.raises(PreflightError, match=r"skips gat_curriculum, but its artifact gat"):
        plan_pipeline(store, get_pipeline("teacher"), "demo", from_stage="fusion")


def test_unknown_from_stage_and_size_mismatch_are_errors(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    with pytest.raises(PreflightError, match="not a stage of pipeline teacher"):
        plan_pipeline(store, get_pipeline("teacher"), "demo", from_stage="gat")
    with pytest.raises(PreflightError, match="is for size teacher, not student"):
        plan_pipeline(store, get_pipeline("teacher"), "demo", size="student")
    with pytest.raises(PreflightError, match="needs --size"):
        plan_pipeline(store, get_pipeline("supervised_only"), "demo")


def test_preflight_runs_before_anything(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    with pytest.raises(PreflightError) as err:
        plan_pipeline(store, get_pipeline("custom", ["fusion", "evaluate"]), "demo", size="student")
    message = str(err.value)
    assert "stage fusion needs artifact vgae (student)" in message
    assert "canids-train vgae --dataset demo --size student" in message
    assert not (tmp_path / "runs").exists()


def test_student_pipeline_distils_only_the_distilling_stages(tmp_path: Path) -> None:
    """The detectors distil; the fusion reads the teacher's (its family runs or its
    pick: canids-models 0.26.0), so it names the teacher too; evaluate reads none."""
    store = ArtifactStore(tmp_path / "runs")
    _mark_done(store, "demo", "teacher", "vgae", "gat")
    with pytest.raises(PreflightError, match=r"stage fusion needs artifact fusion \(teacher\)"):
        plan_pipeline(store, get_pipeline("student"), "demo")
    _mark_done(store, "demo", "teacher", "fusion")
    plan = plan_pipeline(store, get_pipeline("student"), "demo")
    runner = LocalExecutor(store, cache_dir=tmp_path / "cache")
    commands = {s: runner.command(plan, s) for s in plan.run_stages}
    assert "--distill-from" in commands["vgae"]
    assert "--distill-from" in commands["gat"]
    assert commands["fusion"][commands["fusion"].index("--distill-from") + 1] == "teacher"
    assert "--distill-from" not in commands["evaluate"]


def test_stage_args_add_a_stage_s_own_arguments(tmp_path: Path) -> None:
    """canids-submit names each pipeline's W&B group through ``stage_args``."""
    store = ArtifactStore(tmp_path / "runs", "r1")
    plan = plan_pipeline(store, get_pipeline("custom", ["vgae", "gat"]), "demo", size="student")
    runner = LocalExecutor(
        store,
        cache_dir=tmp_path / "cache",
        extra_args=["--set", "train.epochs=2"],
        stage_args=lambda p, s: ["--wandb-group", f"{p.pipeline.name}-{p.size}", "--x", s],
    )
    for stage in plan.run_stages:
        cmd = runner.command(plan, stage)
        tail = ["--set", "train.epochs=2", "--wandb-group", "custom-student", "--x", stage]
        assert cmd[cmd.index("--set") :] == tail
    assert "--wandb-group" not in LocalExecutor(store, cache_dir=tmp_path).command(plan, "vgae")


def test_a_missing_train_command_fails_the_stage_with_a_restart_hint(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    plan = plan_pipeline(store, get_pipeline("teacher"), "demo")
    runner = LocalExecutor(
        store, cache_dir=tmp_path / "cache", train_command=[str(tmp_path / "no-such-canids-train")]
    )
    with pytest.raises(PipelineError) as err:
        runner.run(plan, restart_hint="canids-submit pipeline teacher --dataset demo")
    assert err.value.stage == "vgae"
    assert "--from-stage vgae" in str(err.value)
    record = err.value.record
    assert [s["status"] for s in record["stages"]] == [
        "failed",
        *["not run"] * 3,
    ]
    on_disk = store.pipeline_record("demo", "teacher", "teacher")
    assert on_disk.is_file()
    assert '"status": "failed"' in on_disk.read_text()
