"""Run configuration: presets, ``--set`` parsing and type checks, files, refusals, digest."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest
from canids_models import SIZES, ConfigError, RunConfig, load_config

SECTIONS = ("gat", "vgae", "dqn", "batching", "train", "distill", "curriculum")


def test_presets():
    assert SIZES == ("teacher", "student")
    teacher, student = load_config("teacher"), load_config("student")
    assert teacher == RunConfig.preset("teacher") == RunConfig()
    assert student == RunConfig.preset("student")
    assert (teacher.size, student.size) == ("teacher", "student")
    assert (student.gat.layers, student.gat.heads, student.gat.hidden) == (2, 4, 16)
    assert (student.vgae.layers, student.vgae.heads, student.vgae.hidden) == (2, 2, 16)
    assert student.vgae.latent < teacher.vgae.latent
    assert student.dqn.hidden < teacher.dqn.hidden
    # What is not a model size is shared.
    assert student.train == teacher.train
    assert student.batching == teacher.batching
    with pytest.raises(ConfigError, match="teacher or student"):
        RunConfig.preset("medium")


def test_set_parses_json_values_and_coerces_int_to_float():
    cfg = load_config(
        "student",
        overrides=[
            "train.epochs=3",
            "train.lr=1",  # int for a float field: accepted as 1.0
            "train.device=cpu",  # bare word: a string
            'train.backend="auto"',  # JSON string
            "gat.dropout=0.5",
            "batching.mode=fixed",
        ],
    )
    assert cfg.train.epochs == 3
    assert cfg.train.lr == 1.0
    assert isinstance(cfg.train.lr, float)
    assert cfg.train.device == "cpu"
    assert cfg.train.backend == "auto"
    assert cfg.gat.dropout == 0.5
    assert cfg.batching.mode == "fixed"
    # Untouched values keep the preset.
    assert cfg.gat.heads == RunConfig.preset("student").gat.heads


def test_later_overrides_win():
    cfg = load_config("teacher", overrides=["train.epochs=3", "train.epochs=7"])
    assert cfg.train.epochs == 7


@pytest.mark.parametrize(
    ("item", "match"),
    [
        ("gat.heads=abc", r"gat\.heads: expected int, got 'abc'"),
        ("gat.heads=2.5", r"gat\.heads: expected int, got 2\.5"),
        ("gat.heads=true", r"gat\.heads: expected int, got True"),
        ("train.lr=fast", r"train\.lr: expected float"),
        ("train.device=3", r"train\.device: expected str, got 3"),
        ("train.backend=tpu", r"'tpu' is not one of \('pyg', 'cugraph', 'auto'\)"),
        ("batching.key=bytes", r"'bytes' is not one of"),
        ("gat.dropout=1.0", r"gat\.dropout must be in \[0, 1\)"),
        ("train.epochs=0", r"train\.epochs must be >= 1"),
        ("dqn.gamma=1.5", r"dqn\.gamma"),
        ("distill.alpha=2", r"distill\.alpha"),
        ("curriculum.start_percentile=0", r"curriculum percentiles"),
        ("dqn.batch_size=100000", r"dqn\.buffer must be >= dqn\.batch_size"),
        ("gat.mlp_hidden=0", r"gat sizes"),
        ("vgae.hidden=0", r"vgae sizes"),
        ("dqn.target_sync=0", r"dqn\.target_sync must be >= 1"),
        ("dqn.steps=0", r"dqn\.steps"),
        ("dqn.epsilon_start=0.01", r"epsilon_end <= epsilon_start"),
        ("train.lr=0", r"train\.lr must be > 0"),
        ("train.threads=-1", r"train\.threads must be >= 0"),
        ("curriculum.score_chunk=0", r"curriculum\.score_chunk must be >= 1"),
    ],
)
def test_set_type_and_value_checks(item, match):
    with pytest.raises(ConfigError, match=match):
        load_config("teacher", overrides=[item])


@pytest.mark.parametrize("item", ["train.epochs", "epochs=3", "train.=3", "a.b.c=1", ".x=1"])
def test_malformed_set_items(item):
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        load_config("teacher", overrides=[item])


def test_unknown_section_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["model.heads=4"])
    msg = str(err.value)
    assert "unknown section 'model'" in msg
    assert "known: size, " + ", ".join(SECTIONS) in msg


def test_unknown_key_lists_the_known_keys():
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["gat.head=4"])
    msg = str(err.value)
    assert "unknown key(s) ['head']" in msg
    known = sorted(f.name for f in dataclasses.fields(RunConfig().gat))
    assert f"known: {known}" in msg
    assert "--set gat.head=4" in msg  # where the bad key came from


def test_json_and_toml_files(tmp_path):
    data = {"gat": {"heads": 3, "dropout": 0.25}, "train": {"epochs": 4, "lr": 0.01}}
    js = tmp_path / "best.json"
    js.write_text(json.dumps(data))
    toml = tmp_path / "best.toml"
    toml.write_text("[gat]\nheads = 3\ndropout = 0.25\n[train]\nepochs = 4\nlr = 0.01\n")
    a, b = load_config("teacher", js), load_config("teacher", toml)
    assert a == b
    assert (a.gat.heads, a.gat.dropout, a.train.epochs, a.train.lr) == (3, 0.25, 4, 0.01)
    # --set is applied after the file.
    c = load_config("teacher", toml, ["gat.heads=5"])
    assert c.gat.heads == 5
    assert c.train.epochs == 4


def test_a_recorded_config_reloads_to_the_same_digest(tmp_path):
    """config.json as the artifact store records it ({"config": {...}, ...}) is a valid file."""
    cfg = load_config("student", overrides=["gat.heads=2", "train.seed=9"])
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"stage": "gat", "config": cfg.to_dict(), "backend": "pyg"}))
    again = load_config("student", path)
    assert again == cfg
    assert again.digest == cfg.digest


def test_size_mismatch_of_a_config_file_is_refused(tmp_path):
    path = tmp_path / "teacher.json"
    path.write_text(json.dumps(RunConfig.preset("teacher").to_dict()))
    with pytest.raises(ConfigError, match="is a teacher config; this stage runs size student"):
        load_config("student", path)


def test_unknown_key_in_a_file_names_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[train]\nepoch = 3\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: train: unknown key\(s\) \['epoch'\]"):
        load_config("teacher", path)


@pytest.mark.parametrize(
    ("name", "text"),
    [("broken.json", "{not json"), ("broken.toml", "[gat\nheads = 1"), ("missing.json", None)],
)
def test_unreadable_files(tmp_path, name, text):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    with pytest.raises(ConfigError, match="cannot read the config"):
        load_config("teacher", path)


def test_a_file_must_hold_sections(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config("teacher", path)
    path.write_text('{"gat": 3}')
    with pytest.raises(ConfigError, match="section 'gat' must be a mapping"):
        load_config("teacher", path)


def _other_value(value: object, hint: object) -> list[object]:
    """Candidate values of the same type as ``value`` that differ from it."""
    if typing.get_origin(hint) is typing.Literal:
        return [v for v in typing.get_args(hint) if v != value]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    if isinstance(value, float):
        return [c for c in (value * 0.5, value + 0.01, value - 0.01) if c != value]
    if isinstance(value, str):
        return ["cpu", "cuda"] if value != "cpu" else ["cuda"]
    raise AssertionError(f"no candidate for {value!r}")


def test_digest_changes_with_every_value():
    base = RunConfig.preset("teacher")
    digests = {base.digest}
    assert len(base.digest) == 64
    changed = 0
    for section in SECTIONS:
        obj = getattr(base, section)
        hints = typing.get_type_hints(type(obj))
        for f in dataclasses.fields(obj):
            for candidate in _other_value(getattr(obj, f.name), hints[f.name]):
                try:
                    cfg = base.merged({section: {f.name: candidate}}, "test")
                except ConfigError:
                    continue
                assert cfg.digest != base.digest, f"{section}.{f.name}"
                digests.add(cfg.digest)
                changed += 1
                break
            else:
                raise AssertionError(f"could not change {section}.{f.name}")
    n_fields = sum(len(dataclasses.fields(getattr(base, s))) for s in SECTIONS)
    assert changed == n_fields
    assert len(digests) == n_fields + 1  # every change gives its own digest
    assert RunConfig.preset("student").digest != base.digest
    # The digest depends on values only: an equal config has an equal digest.
    assert load_config("teacher").digest == base.digest


def test_configs_are_frozen():
    cfg = RunConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.train.epochs = 3  # type: ignore[misc]
