import pytest
from canids_core import (
    NAME_MAX,
    CanidsError,
    CoreError,
    NameRuleError,
    Resources,
    check_name,
    check_slurm_value,
    quoted_command,
)
from pydantic import ValidationError


@pytest.mark.parametrize("name", ["hcrl_sa", "set_01", "run.2", "a", "A-b_c.d", "x" * NAME_MAX])
def test_valid_names(name):
    assert check_name("run", name) == name


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "-x", "_x", "x; rm -rf ~", "$(id)", "a/b", "a b", "x" * (NAME_MAX + 1), "é"],
)
def test_invalid_names_are_refused_with_the_rule(name):
    with pytest.raises(NameRuleError, match=r"run name .* is not allowed: use 1 to 64") as info:
        check_name("run", name)
    assert isinstance(info.value, CanidsError)
    assert isinstance(info.value, ValueError)


def test_a_huge_name_is_cut_in_the_message():
    with pytest.raises(NameRuleError) as info:
        check_name("dataset", "x" * 5000)
    assert len(str(info.value)) < 300


def test_non_string_name():
    with pytest.raises(NameRuleError):
        check_name("stage", 3)


def test_slurm_values():
    assert check_slurm_value("gres", "gpu:a100:2") == "gpu:a100:2"
    with pytest.raises(NameRuleError, match="partition"):
        check_slurm_value("partition", "gpu;reboot")


def test_quoted_command_is_safe_to_paste():
    line = quoted_command(["canids-cache", "build", "--dataset", "x; rm -rf ~"])
    assert line == "canids-cache build --dataset 'x; rm -rf ~'"


def test_resources_from_text_and_back():
    r = Resources(cpus=4, gpus=1, memory="16G", walltime="1-12")
    assert (r.memory, r.walltime) == (16 << 30, 36 * 3600)
    assert (r.slurm_memory, r.slurm_time, r.slurm_cpus) == ("16G", "1-12:00:00", 4)
    assert r.replaced(memory="32G", cpus=None).slurm_memory == "32G"
    assert r.replaced(memory="32G").cpus == 4


def test_fractional_cpus_are_for_ray_only():
    r = Resources(cpus=0.5, gpus=0, memory="1G", walltime="10")
    assert r.cpus == 0.5
    with pytest.raises(CoreError, match=r"whole CPUs; 0.5 CPUs .* --cpus 1"):
        _ = r.slurm_cpus


def test_fractional_gpus_are_for_ray_only():
    r = Resources(cpus=2, gpus=0.5, memory="1G", walltime="10")
    assert r.describe() == "2 CPU, 0.5 GPU, 1G memory, 00:10:00 walltime"
    with pytest.raises(CoreError, match=r"whole GPUs; 0.5 GPUs .* --gpus 1"):
        r.slurm_fields()
    whole = r.replaced(gpus=1)
    assert whole.slurm_fields() == {"cpus": 2, "gpus": 1, "memory": "1G", "walltime": "00:10:00"}


@pytest.mark.parametrize(
    "changes", [{"cpus": 0}, {"gpus": -1}, {"memory": "0"}, {"walltime": "UNLIMITED"}, {"x": 1}]
)
def test_bad_resources(changes):
    base = {"cpus": 1, "gpus": 0, "memory": "1G", "walltime": "10"}
    with pytest.raises((ValidationError, CoreError)):
        Resources(**{**base, **changes})


def test_resources_are_frozen():
    r = Resources(cpus=1, gpus=0, memory="1G", walltime="10")
    with pytest.raises(ValidationError):
        r.cpus = 2  # type: ignore[misc]
