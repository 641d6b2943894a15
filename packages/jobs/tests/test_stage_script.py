"""A stage's SLURM resources: the catalogue's canids-core Resources, global and per-stage
overrides, the profile's caps (said aloud), and what SLURM cannot take refused."""

from __future__ import annotations

import pytest
from canids_core import Resources
from canids_jobs import ResourcesError, load_profile, parse_stage_resources
from canids_jobs.stage_script import resolve_resources, validate_name

OSC = load_profile("osc")


def test_catalogue_then_overrides_then_stage_overrides() -> None:
    res, notes = resolve_resources(
        "gat_curriculum",
        OSC,
        {"walltime": "90", "mem": "8G"},
        parse_stage_resources(["gat_curriculum:mem=192G,cpus=8", "gat:time=1-12"]),
    )
    assert res == Resources(cpus=8, gpus=1, memory="192G", walltime="01:30:00")
    assert res.slurm_fields() == {"cpus": 8, "gpus": 1, "memory": "192G", "walltime": "01:30:00"}
    assert notes == []


def test_the_profile_caps_requests_aloud() -> None:
    res, notes = resolve_resources("gat", load_profile("local"), {"mem": "8G"}, {})
    assert res.slurm_fields() == {"cpus": 2, "gpus": 0, "memory": "4G", "walltime": "02:00:00"}
    assert notes == [
        "asks 4 CPUs, profile local allows 2",
        "asks 1 GPU, profile local allows 0",
        "asks 8G, profile local allows 4G",
    ]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"cpus": "0.5"},
            "SLURM allocates whole CPUs; 0.5 CPUs cannot be submitted: pass --cpus 1",
        ),
        ({"gpus": "1.5"}, "SLURM allocates whole GPUs; 1.5 GPUs"),
        ({"cpus": "two"}, "cpus='two' must be a whole number"),
        ({"cpus": "0"}, r"cpus: must be > 0"),
        ({"walltime": "2h"}, "not a SLURM time"),
        ({"mem": "lots"}, "not a SLURM memory size"),
        ({"nodes": "2"}, "unknown resource 'nodes'; use walltime, mem, cpus, gpus"),
    ],
)
def test_what_slurm_cannot_take_is_refused(overrides: dict, message: str) -> None:
    with pytest.raises(ResourcesError, match=message):
        resolve_resources("gat", OSC, overrides, {})


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("nosuch:mem=1G", "with a stage of vgae, gat"),
        ("gat", "write STAGE:walltime=HH:MM:SS"),
        ("gat:mem", "'mem' is not key=value"),
        ("gat:mem=1G,cpus=1.5", "pass --cpus 2"),
    ],
)
def test_stage_resources_are_checked_as_given(item: str, message: str) -> None:
    with pytest.raises(ResourcesError, match=message):
        resolve_resources("gat", OSC, {}, parse_stage_resources([item]))


def test_names_follow_the_one_rule() -> None:
    assert validate_name("set_01", "dataset") == "set_01"
    for bad in ("x; rm -rf ~", "$(id)", "a/b", "x" * 65):
        with pytest.raises(ValueError, match="is not allowed: use 1 to 64 characters"):
            validate_name(bad, "dataset")


def test_a_data_parallel_stage_asks_for_every_worker_aloud() -> None:
    res, notes = resolve_resources("gat_curriculum", OSC, {}, {}, workers=2)
    assert res == Resources(cpus=8, gpus=2, memory="64G", walltime="04:00:00")
    assert notes == ["2 data-parallel workers of 4 CPU, 1 GPU, 32G: asks 8 CPU, 2 GPU, 64G"]
    # Overrides size one worker; the job gets N of them.
    res, _ = resolve_resources("vgae", OSC, {"cpus": "2", "mem": "8G"}, {}, workers=3)
    assert (res.cpus, res.gpus, res.slurm_memory) == (6, 3, "24G")


def test_a_stage_that_is_not_data_parallel_keeps_one_worker_and_says_why() -> None:
    res, notes = resolve_resources("fusion", OSC, {}, {}, workers=2)
    one, _ = resolve_resources("fusion", OSC, {}, {})
    assert res == one
    (note,) = notes
    assert note.startswith("runs on 1 worker, not 2: ")
    assert len(note) > len("runs on 1 worker, not 2: ") + 10  # the catalogue's reason


def test_a_profile_with_fewer_gpus_than_workers_is_an_error_not_a_hang() -> None:
    two_gpus = OSC.model_copy(update={"limits": OSC.limits.model_copy(update={"gpus": 2})})
    with pytest.raises(ResourcesError, match=r"needs 4 GPUs .* allows 2 per job: pass --workers 2"):
        resolve_resources("gat", two_gpus, {}, {}, workers=4)
    assert resolve_resources("gat", two_gpus, {}, {}, workers=2)[0].gpus == 2


def test_a_profile_without_gpus_trains_every_worker_on_cpu() -> None:
    res, notes = resolve_resources("gat", load_profile("local"), {}, {}, workers=2)
    assert (res.gpus, res.cpus) == (0, 2)  # capped aloud, as for one worker
    assert "asks 2 GPU, profile local allows 0" in notes


def test_workers_below_one_are_refused() -> None:
    with pytest.raises(ResourcesError, match="--workers 0: a stage runs on at least 1 worker"):
        resolve_resources("gat", OSC, {}, {}, workers=0)
