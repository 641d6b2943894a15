"""A stage reads only artifacts its config describes, made from the inputs on disk now
(``canids_models.lineage``): another seed's detectors, a GAT of another ``gat.*``, a fusion
fitted on a GAT trained again since, an evaluate under another calibration than its
fusion's are refused before anything is written; per-stage settings (epochs, batching,
threads, workers) and fusion-only ones over finished detectors are not."""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

import pytest
from canids_models import LineageError, PreflightError, get_pipeline, load_config, plan_pipeline
from canids_models.lineage import (
    config_mismatches,
    input_problems,
    stale_inputs,
)

DS = "demo"


def _digests(root: Path) -> dict[str, str]:
    """Every file under ``root`` and the SHA-256 of its bytes: what a refusal must keep."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _set_items(command: str) -> list[str]:
    """The values of a command line's ``--set`` options, as the shell would pass them."""
    words = shlex.split(command)
    return [words[i + 1] for i, word in enumerate(words) if word == "--set"]


@pytest.fixture
def teacher_run(pipelines, copy_artifacts):
    """A private copy of the session teacher's four artifacts."""
    keys = ("vgae", "gat", "fusion", "results")
    return copy_artifacts(pipelines.store, [("teacher", k) for k in keys])


def test_the_session_pipelines_read_what_their_configs_describe(pipelines, tiny_overrides):
    store = pipelines.store
    for size, distil in (("teacher", None), ("student", "teacher")):
        config = load_config(size, None, tiny_overrides(size))
        for stage in ("fusion", "evaluate"):
            assert input_problems(store, DS, size, stage, config) == []
        assert input_problems(store, DS, size, "gat", config, distil) == []


def test_fusion_and_results_record_the_stamps_they_read(pipelines):
    store = pipelines.store

    def stamp(size: str, key: str) -> str:
        return store.done_record(DS, size, key)["finished"]

    # The student's own detectors (a student deploying its teacher's pick also reads the
    # teacher's fusion: test_fusion_teacher.py).
    assert store.done_record(DS, "student", "fusion")["read"] == {
        "student/gat": stamp("student", "gat"),
        "student/vgae": stamp("student", "vgae"),
    }
    assert store.done_record(DS, "teacher", "results")["read"] == {
        f"teacher/{k}": stamp("teacher", k) for k in ("vgae", "gat", "fusion")
    }


def test_another_seed_is_refused_before_anything_is_written(
    teacher_run, run_stage_on_demo, tiny_overrides
):
    before = _digests(teacher_run.runs_dir)
    with pytest.raises(LineageError) as err:
        run_stage_on_demo(
            teacher_run, "fusion", "teacher", tiny_overrides("teacher", "train.seed=1")
        )
    text = str(err.value)
    assert "stage fusion (teacher) of demo refuses its inputs" in text
    # Both detectors, each with the key, its value there and here, and its config file.
    for key in ("vgae", "gat"):
        assert f"artifact {key} (teacher) of demo was made under another config" in text
        assert str(teacher_run.path(DS, "teacher", key, "config.json")) in text
    assert text.count("train.seed: 0 there, 1 here") == 2
    assert "canids-train vgae --dataset demo --size teacher" in text
    assert "canids-train gat_curriculum --dataset demo --size teacher" in text
    assert _digests(teacher_run.runs_dir) == before


def test_the_fix_items_parse_back_to_the_values_they_name(teacher_run, tiny_overrides):
    config = load_config("teacher", None, tiny_overrides("teacher", "train.seed=3", "gat.hidden=5"))
    problems = input_problems(teacher_run, DS, "teacher", "fusion", config)
    gat = next(p for p in problems if p.startswith("artifact gat"))
    assert "gat.hidden: 8 there, 5 here" in gat
    theirs = _set_items(gat.rsplit("give the stages that read it its values: ", 1)[1])
    again = gat.split("Make it again under this one: ")[1].split(" (with the rest")[0]
    assert again.startswith("canids-train gat_curriculum --dataset demo --size teacher ")
    # Run with the artifact's values, this stage reads it; made again with ours, it would be ours.
    fixed = load_config(
        "teacher", None, [*tiny_overrides("teacher", "train.seed=3", "gat.hidden=5"), *theirs]
    )
    assert config_mismatches(teacher_run, DS, "teacher", "gat", fixed) == []
    remade = load_config("teacher", None, [*tiny_overrides("teacher"), *_set_items(again)])
    assert (remade.train.seed, remade.gat.hidden) == (3, 5)


@pytest.mark.parametrize(
    "items",
    [
        # Settings a stage sets for its own work only: another length of training, memory,
        # threads, workers, determinism; fusion-only settings over finished detectors.
        ("train.epochs=9", "train.lr=0.5", "train.patience=1", "train.weight_decay=0"),
        ("batching.budget=7", "batching.mode=fixed", "batching.batch_size=3"),
        ("curriculum.score_chunk=7",),
        ("train.threads=2", "train.workers=2", "train.deterministic=false"),
        ("fusion.select=auto", "calibration.rule=zscore", "dqn.steps=10"),
    ],
)
def test_per_stage_and_fusion_settings_read_the_detectors(teacher_run, tiny_overrides, items):
    config = load_config("teacher", None, tiny_overrides("teacher", *items))
    assert input_problems(teacher_run, DS, "teacher", "fusion", config) == []


def test_a_distilled_detector_is_described_by_the_distill_keys_its_training_reads(
    pipelines, tiny_overrides
):
    # The GAT reads the temperature, alpha and select; the VGAE the latent weight alone.
    for item, key, there, here in (
        ("distill.select=fidelity", "gat", '"f1"', '"fidelity"'),
        ("distill.latent_weight=2", "vgae", "1.0", "2.0"),
    ):
        config = load_config("student", None, tiny_overrides("student", item))
        (problem,) = input_problems(pipelines.store, DS, "student", "fusion", config)
        assert problem.startswith(f"artifact {key} (student) of demo was made under another")
        assert f"{item.split('=')[0]}: {there} there, {here} here" in problem


def test_evaluate_under_another_calibration_than_its_fusion_is_refused(teacher_run, tiny_overrides):
    config = load_config("teacher", None, tiny_overrides("teacher", "calibration.rule=zscore"))
    problems = input_problems(teacher_run, DS, "teacher", "evaluate", config)
    assert len(problems) == 1
    assert problems[0].startswith("artifact fusion (teacher) of demo was made under another")
    assert 'calibration.rule: "auto" there, "zscore" here' in problems[0]
    assert problems[0].endswith(
        "give the stages that read it its values: --set calibration.rule=auto"
    )
    assert "canids-train fusion --dataset demo --size teacher" in problems[0]


def test_a_gat_trained_again_makes_its_fusion_stale(teacher_run, run_stage_on_demo, tiny_overrides):
    old = teacher_run.done_record(DS, "teacher", "gat")["finished"]
    run_stage_on_demo(
        teacher_run, "gat_curriculum", "teacher", tiny_overrides("teacher", "train.epochs=3")
    )
    new = teacher_run.done_record(DS, "teacher", "gat")["finished"]
    assert stale_inputs(teacher_run, DS, "teacher", "fusion") == [("teacher/gat", old, new)]
    before = _digests(teacher_run.runs_dir)
    with pytest.raises(LineageError) as err:
        run_stage_on_demo(teacher_run, "evaluate", "teacher", tiny_overrides("teacher"))
    assert (
        f"artifact fusion (teacher) of demo ({teacher_run.dir(DS, 'teacher', 'fusion')}) was "
        f"made from teacher/gat finished {old}, but the teacher/gat there now finished {new}"
    ) in str(err.value)
    assert "canids-train fusion --dataset demo --size teacher" in str(err.value)
    assert _digests(teacher_run.runs_dir) == before
    # Fitted again on the new GAT, the fusion is current and evaluate runs.
    run_stage_on_demo(teacher_run, "fusion", "teacher", tiny_overrides("teacher"))
    assert (
        input_problems(
            teacher_run,
            DS,
            "teacher",
            "evaluate",
            load_config("teacher", None, tiny_overrides("teacher")),
        )
        == []
    )


def test_a_vgae_trained_again_makes_its_curriculum_gat_stale(
    teacher_run, run_stage_on_demo, tiny_overrides
):
    run_stage_on_demo(teacher_run, "vgae", "teacher", tiny_overrides("teacher"))
    config = load_config("teacher", None, tiny_overrides("teacher"))
    (problem,) = input_problems(teacher_run, DS, "teacher", "fusion", config)
    assert problem.startswith("artifact gat (teacher) of demo")
    assert "was made from teacher/vgae finished" in problem
    assert "canids-train gat_curriculum --dataset demo --size teacher" in problem


def test_a_record_older_than_a_key_compares_its_default(teacher_run, tiny_overrides):
    path = teacher_run.path(DS, "teacher", "gat", "config.json")
    data = json.loads(path.read_text())
    del data["config"]["gat"]["id_dropout"]  # a key added after this record was written
    path.write_text(json.dumps(data))
    done = teacher_run.path(DS, "teacher", "fusion", "DONE.json")
    record = json.loads(done.read_text())
    del record["read"]  # a fusion finished before its stamps were recorded
    done.write_text(json.dumps(record))
    config = load_config("teacher", None, tiny_overrides("teacher"))
    assert input_problems(teacher_run, DS, "teacher", "evaluate", config) == []
    changed = load_config("teacher", None, tiny_overrides("teacher", "gat.id_dropout=0.5"))
    (problem,) = input_problems(teacher_run, DS, "teacher", "fusion", changed)
    assert "gat.id_dropout: 0.0 there, 0.5 here" in problem


def test_an_input_no_longer_in_the_store_is_not_compared(pipelines, copy_artifacts, tiny_overrides):
    # The student's detectors were distilled from the teacher's, which this copy lacks.
    store = copy_artifacts(pipelines.store, [("student", k) for k in ("vgae", "gat", "fusion")])
    assert stale_inputs(store, DS, "student", "gat") == []
    config = load_config("student", None, tiny_overrides("student"))
    assert input_problems(store, DS, "student", "evaluate", config) == []


def test_plan_refuses_a_from_stage_restart_under_another_seed(teacher_run, tiny_overrides):
    before = _digests(teacher_run.runs_dir)
    config = load_config("teacher", None, tiny_overrides("teacher", "train.seed=1"))
    with pytest.raises(PreflightError) as err:
        plan_pipeline(teacher_run, get_pipeline("teacher"), DS, from_stage="fusion", config=config)
    assert str(err.value).count("train.seed: 0 there, 1 here") == 2
    assert _digests(teacher_run.runs_dir) == before
    # Every stage made again under the new config: nothing done is read, nothing refused.
    plan = plan_pipeline(teacher_run, get_pipeline("teacher"), DS, config=config)
    assert plan.run_stages == ("vgae", "gat_curriculum", "fusion", "evaluate")


def test_a_detector_made_on_another_build_of_the_cache_is_refused(
    pipelines, demo, tmp_path, tiny_overrides
):
    from canids_data import BuildConfig, CacheManager
    from canids_data.cache.manifest import load_manifest
    from canids_models import StageContext
    from canids_models.lineage import cache_identity
    from canids_models.stages import run_stage

    def identity(cache_dir: Path) -> str:
        return cache_identity(load_manifest(cache_dir / DS, DS).data)

    built = identity(demo.cache_dir)
    assert {pipelines.store.done_record(DS, "teacher", k)["cache"] for k in ("gat", "vgae")} == {
        built
    }
    # The same captures under the same config built again: the same arrays, readable.
    CacheManager(tmp_path / "same").build(DS, demo.root, BuildConfig(), workers=1)
    assert identity(tmp_path / "same") == built
    # Another validation draw moves windows between training and validation.
    CacheManager(tmp_path / "other").build(DS, demo.root, BuildConfig(val_seed=1), workers=1)
    other = identity(tmp_path / "other")
    assert other != built
    config = load_config("teacher", None, tiny_overrides("teacher"))
    ctx = StageContext(DS, "teacher", config, pipelines.store, tmp_path / "other")
    before = _digests(pipelines.store.runs_dir)
    with pytest.raises(LineageError) as err:
        run_stage("evaluate", ctx)
    text = str(err.value)
    # Both detectors and the fusion were made on the first build.
    for key in ("vgae", "gat", "fusion"):
        assert f"artifact {key} (teacher) of demo (" in text
    assert (
        text.count(
            f"made on another build of the demo cache than the one there now "
            f"(identity {built[:12]}, now {other[:12]}"
        )
        == 3
    )
    assert _digests(pipelines.store.runs_dir) == before
    problems = input_problems(
        pipelines.store, DS, "teacher", "evaluate", config, cache=identity(tmp_path / "same")
    )
    assert problems == []
