"""The Ray executor's task graph and resource fitting (no cluster needed for these)."""

from __future__ import annotations

from pathlib import Path

import pytest
from canids_models import (
    STAGES,
    ArtifactStore,
    PreflightError,
    get_pipeline,
    stage_graph,
)
from canids_orchestrate import (
    RayCluster,
    RayExecutor,
    ResourceOverrideError,
    check_overrides,
    plan_pipelines,
)


def _executor(tmp_path: Path, totals: dict[str, float]) -> RayExecutor:
    cluster = RayCluster()
    cluster.totals = totals
    return RayExecutor(ArtifactStore(tmp_path / "runs"), cache_dir=tmp_path, cluster=cluster)


def test_graph_chains_by_inputs_and_leaves_branches_free(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    plans = plan_pipelines(
        store, [(get_pipeline("supervised_only"), "student")], "demo", check_sources=False
    )
    graph = stage_graph(plans)
    assert graph == {
        "supervised_only/student/vgae": [],
        "supervised_only/student/gat": [],
        "supervised_only/student/fusion": [
            "supervised_only/student/gat",
            "supervised_only/student/vgae",
        ],
        "supervised_only/student/evaluate": [
            "supervised_only/student/fusion",
            "supervised_only/student/gat",
            "supervised_only/student/vgae",
        ],
    }


def test_teacher_and_student_submitted_together(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    pipes = [(get_pipeline("teacher"), None), (get_pipeline("student"), None)]
    plans = plan_pipelines(store, pipes, "demo", check_sources=False)  # preflight passes
    graph = stage_graph(plans)
    # The distilling student stages wait for the teacher's models, nothing else.
    assert graph["student/student/vgae"] == ["teacher/teacher/vgae"]
    assert graph["student/student/gat"] == ["teacher/teacher/gat_curriculum"]
    assert graph["teacher/teacher/gat_curriculum"] == ["teacher/teacher/vgae"]
    # The student first, alone: the teacher's artifacts are missing, preflight says so.
    with pytest.raises(PreflightError, match=r"needs artifact vgae \(teacher\)"):
        plan_pipelines(store, pipes[::-1], "demo", check_sources=False)


def test_two_pipelines_writing_one_artifact_are_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "runs")
    pipes = [(get_pipeline("supervised_only"), "student"), (get_pipeline("student"), None)]
    with pytest.raises(PreflightError, match="both write artifact vgae"):
        plan_pipelines(store, [pipes[0], (get_pipeline("teacher"), None), pipes[1]], "demo")


def test_task_options_fit_the_cluster_and_say_so(tmp_path: Path) -> None:
    laptop = _executor(tmp_path, {"CPU": 2.0, "memory": 8.0 * (1 << 30)})
    options, notes = laptop.cluster.task_options(STAGES["gat"])
    assert options == {"num_cpus": 2.0, "num_gpus": 0.0, "memory": 8 << 30}
    assert notes == [
        "asks 4 CPUs, the cluster has 2: using 2",
        "asks 1 GPU, the cluster has 0: running on CPU",
        "asks 16G memory, the cluster has 8.0 GiB for tasks: reserving 8.0 GiB",
    ]
    gpu_node = _executor(tmp_path, {"CPU": 64.0, "GPU": 4.0, "memory": 500.0 * (1 << 30)})
    options, notes = gpu_node.cluster.task_options(STAGES["gat"], {"cpus": 8, "memory": "32G"})
    assert options == {"num_cpus": 8.0, "num_gpus": 1.0, "memory": 32 << 30}
    assert notes == []
    # Ray takes fractions of a CPU and a GPU (SLURM refuses them: see canids-jobs).
    options, _ = gpu_node.cluster.task_options(STAGES["gat"], {"cpus": 0.5, "gpus": 0.25})
    assert (options["num_cpus"], options["num_gpus"]) == (0.5, 0.25)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"memory": "8 gigs"}, "not a SLURM memory size"),
        ({"cpus": -1}, r"cpus: must be > 0(\.0)? \(got -1\)"),
        ({"cpus": 0}, r"cpus: must be > 0(\.0)? \(got 0\)"),
        ({"gpus": -1}, r"gpus: must be >= 0(\.0)? \(got -1\)"),
        ({"walltime": "1:00:00"}, r"unknown resource override\(s\) \['walltime'\]"),
    ],
)
def test_bad_resource_overrides_fail_before_anything_runs(
    tmp_path: Path, overrides: dict, message: str
) -> None:
    with pytest.raises(ResourceOverrideError, match=message):
        check_overrides(overrides)
    cluster = RayCluster()
    with pytest.raises(ResourceOverrideError, match=message):
        RayExecutor(
            ArtifactStore(tmp_path), cache_dir=tmp_path, cluster=cluster, resources=overrides
        )


def test_unset_overrides_keep_the_catalogue() -> None:
    assert check_overrides({"cpus": None, "gpus": None, "memory": None}) == {}
