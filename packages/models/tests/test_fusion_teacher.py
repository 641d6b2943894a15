"""``fusion.select=teacher`` (canids-models 0.26.0): a distilled student deploys the fusion
its teacher deployed, fits every candidate on its own validation as before, and holds no
attack family out; a missing or unusable teacher fusion stops the stage before it writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from canids_data.cache.manifest import load_manifest
from canids_models import ArtifactStore, StageContext, load_config
from canids_models.catalog import PIPELINES
from canids_models.errors import ConfigError, ModelsError
from canids_models.families import attack_families
from canids_models.lineage import input_problems
from canids_models.plan import PipelinePlan, stage_command, stage_graph
from canids_models.stages import run_stage
from canids_testkit import tiny_overrides as tiny

DS = "demo"
TEACHER_SELECT = "fusion.select=teacher"


def make_context(demo, store, size: str, overrides: list[str], log: list[str] | None = None):
    lines = log if log is not None else []
    config = load_config(size, None, overrides)
    return StageContext(DS, size, config, store, demo.cache_dir, log=lines.append)


def _store(pipelines, root: Path, teacher_method: str | None, demo) -> ArtifactStore:
    """Copies of the session pipelines' detectors, and the teacher's fusion fitted again
    with ``fusion.method=teacher_method`` (none: no teacher fusion at all)."""
    store = ArtifactStore(root / "runs", "inherit")
    for size in ("teacher", "student"):
        for key in ("vgae", "gat"):
            shutil.copytree(pipelines.store.dir(DS, size, key), store.dir(DS, size, key))
    if teacher_method is not None:
        ctx = make_context(
            demo, store, "teacher", tiny("teacher", f"fusion.method={teacher_method}")
        )
        run_stage("fusion", ctx)
    return store


def _other_than(choice: str) -> str:
    return "max" if choice != "max" else "mean"


@pytest.fixture(scope="module")
def inherited(pipelines, demo, tmp_path_factory):
    """The student's fusion with ``fusion.select=teacher`` beside a teacher whose deployed
    fusion is not the one the student's validation chooses: (store, metrics, log)."""
    own = pipelines.metrics("student", "fusion")["selection"]["validation_choice"]
    store = _store(pipelines, tmp_path_factory.mktemp("inherit"), _other_than(own), demo)
    log: list[str] = []
    ctx = make_context(demo, store, "student", tiny("student", TEACHER_SELECT), log=log)
    return store, run_stage("fusion", ctx).metrics, log


def test_the_student_deploys_the_teacher_s_fusion_not_its_own_choice(inherited, pipelines):
    store, metrics, log = inherited
    own = pipelines.metrics("student", "fusion")["selection"]["validation_choice"]
    teacher = store.read_json(DS, "teacher", "fusion", "metrics.json")
    assert metrics["method"] == teacher["method"] == _other_than(own)
    selection = metrics["selection"]
    assert selection["rule"] == "teacher"
    assert selection["select"] == "teacher"
    assert selection["validation_choice"] == own  # reported, not deployed
    assert selection["teacher"] == {
        "teacher": "teacher",
        "method": teacher["method"],
        "rule": "validation",
        "chosen_by": "set by fusion.method",
        "finished": store.done_record(DS, "teacher", "fusion")["finished"],
    }
    assert selection["families"] is None
    assert selection["family_mean_f1"] == {}
    assert any(f"fusion: default {teacher['method']} (the fusion the teacher" in x for x in log)
    assert any("chosen by the teacher rule: fusion.select=teacher" in x for x in log)


def test_the_student_s_fusion_reads_its_teacher_s_and_goes_stale_with_it(inherited, demo, tmp_path):
    store, _, _ = inherited
    read = store.done_record(DS, "student", "fusion")["read"]
    assert read == {
        f"{size}/{key}": store.done_record(DS, size, key)["finished"]
        for size, key in (("student", "gat"), ("student", "vgae"), ("teacher", "fusion"))
    }
    # The teacher's fusion fitted again (in a copy): the student's pick may no longer be
    # what its teacher deploys, so its evaluate is refused until its fusion is fitted again.
    copy = ArtifactStore(tmp_path / "runs", store.run)
    shutil.copytree(store.runs_dir / store.run, copy.runs_dir / copy.run)
    run_stage("fusion", make_context(demo, copy, "teacher", tiny("teacher")))
    config = load_config("student", None, tiny("student", TEACHER_SELECT))
    (problem,) = input_problems(copy, DS, "student", "evaluate", config)
    assert problem.startswith("artifact fusion (student) of demo")
    assert f"was made from teacher/fusion finished {read['teacher/fusion']}" in problem


def test_only_the_choice_is_the_teacher_s_every_candidate_is_fitted_as_before(inherited, pipelines):
    """The frozen thresholds of every candidate equal those of the student's own run (the
    session pipeline, validation's rule): the same fit on the same validation."""
    _, metrics, _ = inherited
    own = pipelines.metrics("student", "fusion")
    assert metrics["thresholds"] == own["thresholds"]
    assert metrics["dqn_history"] == own["dqn_history"]
    assert set(metrics["selection"]["scores"]) == set(own["selection"]["scores"])


def test_no_attack_family_is_held_out_for_the_student(inherited, demo):
    """The demo's training captures hold the families that ``fusion.select=auto`` would
    hold out under the same config (so the empty families folder means something), and
    the student with the teacher's pick trains none of them."""
    store, metrics, _ = inherited
    manifest = load_manifest(demo.cache_dir / DS, DS).data
    held = len(attack_families(manifest))
    assert held >= 2
    assert load_config(
        "student", None, tiny("student", "fusion.select=auto")
    ).fusion.holds_out_families(held)
    assert not load_config(
        "student", None, tiny("student", TEACHER_SELECT)
    ).fusion.holds_out_families(held)
    assert not (store.runs_dir / store.run / DS / "families").exists()
    assert metrics["selection"]["families"] is None


def test_evaluate_says_the_teacher_chose(inherited, demo):
    store, metrics, _ = inherited
    ctx = make_context(demo, store, "student", tiny("student", TEACHER_SELECT))
    results = run_stage("evaluate", ctx).metrics
    assert results["fusion_method"] == metrics["method"]
    assert results["fusion_chosen_by"].startswith("the teacher's deployed fusion (set by")
    assert (
        f"validation alone chose {metrics['selection']['validation_choice']}"
        in (results["fusion_chosen_by"])
    )


def _listing(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*"))


def test_a_teacher_without_a_finished_fusion_is_refused_before_anything_is_written(
    pipelines, demo, tmp_path
):
    store = _store(pipelines, tmp_path, None, demo)
    before = _listing(tmp_path)
    ctx = make_context(demo, store, "student", tiny("student", TEACHER_SELECT))
    with pytest.raises(
        ModelsError,
        match=r"teacher's fusion, which is not done .*canids-train "
        r"fusion --dataset demo --size teacher --runs-dir .* --run inherit first",
    ):
        run_stage("fusion", ctx)
    assert _listing(tmp_path) == before


def test_a_student_that_was_not_distilled_is_refused(pipelines, demo, tmp_path):
    store = _store(pipelines, tmp_path, "max", demo)
    config = store.path(DS, "student", "gat", "config.json")
    config.write_text(json.dumps({**json.loads(config.read_text()), "distill_from": None}))
    before = _listing(tmp_path)
    ctx = make_context(demo, store, "student", tiny("student", TEACHER_SELECT))
    with pytest.raises(ModelsError, match=r"trained without --distill-from"):
        run_stage("fusion", ctx)
    assert _listing(tmp_path) == before


def test_a_teacher_pick_the_student_does_not_fit_is_refused(pipelines, demo, tmp_path):
    store = _store(pipelines, tmp_path, "cut_max", demo)
    before = _listing(tmp_path)
    extra = (TEACHER_SELECT, "fusion.cut_fusions=false")
    ctx = make_context(demo, store, "student", tiny("student", *extra))
    with pytest.raises(ModelsError, match=r"deployed fusion cut_max .*does not fit .*cut_fusions"):
        run_stage("fusion", ctx)
    assert _listing(tmp_path) == before


def test_a_teacher_has_no_teacher_to_follow():
    with pytest.raises(ConfigError, match=r"size=teacher has no teacher: set fusion.select=auto"):
        load_config("teacher", None, [TEACHER_SELECT])
    with pytest.raises(ConfigError, match=r"fusion.method=max fixes it"):
        load_config("student", None, ["fusion.method=max", TEACHER_SELECT])
    # The student's default since canids-models 0.26.0; auto (0.25.0's) is another config.
    default = load_config("student", None, [])
    assert default.fusion.select == "teacher"
    assert load_config("student", None, [TEACHER_SELECT]).digest == default.digest
    assert load_config("student", None, ["fusion.select=auto"]).digest != default.digest
    assert load_config("teacher", None, []).fusion.select == "auto"


def test_a_student_s_fusion_waits_for_its_teacher_s_and_names_it(tmp_path):
    """The student's fusion reads its teacher's (its pick, or its held-out family runs):
    executors that run stages at once must not start it before the teacher's is done."""
    plans = [
        PipelinePlan(
            PIPELINES[name], DS, name, PIPELINES[name].distill_from, PIPELINES[name].stages
        )
        for name in ("teacher", "student")
    ]
    graph = stage_graph(plans)
    assert graph["student/student/fusion"] == [
        "student/student/gat",
        "student/student/vgae",
        "teacher/teacher/fusion",
    ]
    store = ArtifactStore(tmp_path, "r")
    cmd = stage_command(plans[1], "fusion", store, tmp_path / "cache")
    assert cmd[cmd.index("--distill-from") + 1] == "teacher"
    assert "--distill-from" not in stage_command(plans[1], "evaluate", store, tmp_path / "cache")
