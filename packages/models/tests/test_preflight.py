"""Stage catalogue and preflight: a missing input is named with its path, the stage that
makes it and the command; pipelines whose earlier stages make the inputs pass."""

from __future__ import annotations

import pytest
from canids_data import CacheManager
from canids_models import (
    ARTIFACT_KEYS,
    PIPELINES,
    STAGES,
    ArtifactRef,
    ArtifactStore,
    ConfigError,
    PreflightError,
    get_pipeline,
    preflight,
    stage_inputs,
)

DS = "demo"


@pytest.fixture
def store(tmp_path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "runs")


def failure(*args, **kw) -> str:
    with pytest.raises(PreflightError) as err:
        preflight(*args, **kw)
    return str(err.value)


# --- catalogue -----------------------------------------------------------------------


def test_catalogue_is_consistent():
    assert set(STAGES) == {"vgae", "gat", "gat_curriculum", "fusion", "evaluate"}
    for name, spec in STAGES.items():
        assert spec.name == name
        assert spec.produces in ARTIFACT_KEYS
        assert set(spec.consumes) <= set(ARTIFACT_KEYS)
        assert spec.resources.cpus >= 1
        assert spec.resources.gpus >= 0
        assert spec.resources.slurm_memory[-1] in "GM"
        assert spec.resources.slurm_time.count(":") == 2
    assert STAGES["fusion"].consumes == ("vgae", "gat")
    assert STAGES["evaluate"].consumes == ("vgae", "gat", "fusion")
    assert STAGES["gat_curriculum"].consumes == ("vgae",)
    assert STAGES["gat"].produces == STAGES["gat_curriculum"].produces == "gat"


def test_pipelines():
    assert PIPELINES["teacher"].stages == ("vgae", "gat_curriculum", "fusion", "evaluate")
    assert PIPELINES["student"].stages == ("vgae", "gat", "fusion", "evaluate")
    assert (PIPELINES["student"].size, PIPELINES["student"].distill_from) == ("student", "teacher")
    assert get_pipeline("teacher") is PIPELINES["teacher"]
    custom = get_pipeline("custom", ["vgae", "gat"])
    assert (custom.name, custom.stages) == ("custom", ("vgae", "gat"))
    with pytest.raises(ConfigError, match="needs a stage list"):
        get_pipeline("custom")
    with pytest.raises(ConfigError, match=r"unknown stage\(s\) \['dqn'\]"):
        get_pipeline("custom", ["vgae", "dqn"])
    with pytest.raises(ConfigError, match=r"unknown pipeline 'nightly'.*custom"):
        get_pipeline("nightly")


def test_stage_inputs_with_and_without_distillation():
    assert stage_inputs("fusion", "student", None) == [
        ArtifactRef("vgae", "student"),
        ArtifactRef("gat", "student"),
    ]
    assert stage_inputs("gat_curriculum", "student", "teacher") == [
        ArtifactRef("vgae", "student"),
        ArtifactRef("gat", "teacher"),
    ]
    assert stage_inputs("vgae", "student", "teacher") == [ArtifactRef("vgae", "teacher")]
    assert stage_inputs("gat", "teacher", None) == []
    # A student's fusion reads its teacher's (canids-models 0.26.0: the teacher's family
    # runs or its pick); evaluate reads no teacher artifact.
    assert stage_inputs("fusion", "student", "teacher") == [
        *stage_inputs("fusion", "student", None),
        ArtifactRef("fusion", "teacher"),
    ]
    assert stage_inputs("evaluate", "student", "teacher") == stage_inputs(
        "evaluate", "student", None
    )


# --- preflight -----------------------------------------------------------------------


def test_fusion_without_gat_and_vgae_names_both(store):
    msg = failure(store, DS, "teacher", ["fusion"])
    for key, producer in (("vgae", "vgae"), ("gat", "gat_curriculum")):
        assert f"stage fusion needs artifact {key} (teacher)" in msg
        assert str(store.dir(DS, "teacher", key)) in msg
        assert (
            f"canids-train {producer} --dataset demo --size teacher --runs-dir {store.runs_dir}"
            in msg
        )
    assert "produced by stage gat or gat_curriculum" in msg
    assert "produced by stage vgae" in msg
    assert "fusion (teacher)" not in msg  # fusion's own output is not an input


def test_student_distilling_without_teacher_artifacts(store):
    msg = failure(store, DS, "student", ["gat"], distill_from="teacher")
    assert "stage gat needs artifact gat (teacher)" in msg
    assert str(store.dir(DS, "teacher", "gat")) in msg
    assert "canids-train gat_curriculum --dataset demo --size teacher" in msg
    # Without distillation the student's gat has no inputs.
    assert preflight(store, DS, "student", ["gat"]) is None
    # The whole student pipeline lists both teacher artifacts, and nothing of its own.
    msg = failure(store, DS, "student", list(PIPELINES["student"].stages), distill_from="teacher")
    assert "artifact vgae (teacher)" in msg
    assert "artifact gat (teacher)" in msg
    assert "(student)" not in msg


def test_a_named_run_is_in_the_fix(tmp_path):
    store = ArtifactStore(tmp_path / "runs", "exp7")
    msg = failure(store, DS, "teacher", ["gat_curriculum"])
    want = f"canids-train vgae --dataset demo --size teacher --runs-dir {store.runs_dir} --run exp7"
    assert want in msg


@pytest.mark.parametrize("name", ["teacher", "supervised_only", "curriculum_only"])
def test_pipelines_whose_earlier_stages_make_the_inputs_pass(store, name):
    assert preflight(store, DS, "teacher", list(PIPELINES[name].stages)) is None
    assert not store.runs_dir.exists()  # preflight writes nothing


def test_order_matters(store):
    msg = failure(store, DS, "teacher", ["fusion", "vgae", "gat"])
    assert "stage fusion needs artifact vgae" in msg
    assert "stage fusion needs artifact gat" in msg


def test_an_input_of_another_size_is_not_made_by_this_pipeline(store):
    """A teacher pipeline's gat does not satisfy a student stage."""
    msg = failure(store, DS, "student", ["fusion"])
    assert "artifact gat (student)" in msg


def test_done_artifacts_satisfy_inputs(pipelines):
    store = pipelines.store
    assert preflight(store, DS, "teacher", ["fusion", "evaluate"]) is None
    assert preflight(store, DS, "student", ["gat"], distill_from="teacher") is None
    # Another run under the same runs dir has none of them.
    other = ArtifactStore(store.runs_dir, "other-run")
    assert "needs artifact vgae" in failure(other, DS, "teacher", ["fusion"])


def test_an_artifact_being_rewritten_is_missing(pipelines, copy_artifacts):
    store = copy_artifacts(pipelines.store, [("teacher", "vgae"), ("teacher", "gat")])
    assert preflight(store, DS, "teacher", ["fusion"]) is None
    store.begin(DS, "teacher", "gat")  # a rerun of the gat stage has started
    assert store.path(DS, "teacher", "gat", "checkpoint.pt").is_file()  # old weights remain
    msg = failure(store, DS, "teacher", ["fusion"])
    assert "needs artifact gat (teacher)" in msg
    assert "needs artifact vgae" not in msg


def test_unknown_stage(store):
    with pytest.raises(PreflightError, match="unknown stage 'train'"):
        preflight(store, DS, "teacher", ["train"])


def test_a_missing_cache_is_reported_with_the_build_command(store, tmp_path):
    cache = CacheManager(tmp_path / "no_cache")
    msg = failure(store, DS, "teacher", ["vgae"], cache=cache)
    assert "graph cache of demo is missing" in msg
    assert f"canids-cache build --dataset demo --cache-dir {cache.cache_dir}" in msg
    # Cache problems and missing artifacts are reported together.
    msg = failure(store, DS, "teacher", ["fusion"], cache=cache)
    assert "graph cache of demo is missing" in msg
    assert "needs artifact gat" in msg


def test_a_good_cache_passes(store, demo):
    assert preflight(store, DS, "teacher", ["vgae"], cache=CacheManager(demo.cache_dir)) is None
