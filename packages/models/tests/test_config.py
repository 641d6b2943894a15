"""Run configuration: presets, ``--set`` parsing and type checks, files, refusals, digest."""

from __future__ import annotations

import json
import typing

import pytest
from canids_models import SIZES, ConfigError, GATConfig, RunConfig, TrainConfig, load_config
from pydantic import ValidationError

SECTIONS = (
    "gat",
    "vgae",
    "dqn",
    "batching",
    "train",
    "distill",
    "curriculum",
    "calibration",
    "fusion",
    "eval",
)


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
    ("item", "message"),
    [
        # a string is not a number, a float is not an int, a bool is not an int
        ("gat.heads=abc", "gat.heads: input should be a valid integer (got 'abc')"),
        ("gat.heads=2.5", "gat.heads: input should be a valid integer (got 2.5)"),
        ("gat.heads=2.0", "gat.heads: input should be a valid integer (got 2.0)"),
        ("gat.heads=true", "gat.heads: input should be a valid integer (got True)"),
        ("train.lr=fast", "train.lr: input should be a valid number (got 'fast')"),
        ("train.lr=true", "train.lr: input should be a valid number (got True)"),
        ('train.lr="0.1"', "train.lr: input should be a valid number (got '0.1')"),
        ("train.lr=NaN", "train.lr: input should be a finite number (got nan)"),
        ("train.device=3", "train.device: input should be a valid string (got 3)"),
        (
            "train.backend=tpu",
            "train.backend: must be one of 'pyg', 'cugraph' or 'auto' (got 'tpu')",
        ),
        ("batching.key=bytes", "batching.key: must be one of 'nodes' or 'edges' (got 'bytes')"),
        ("gat.dropout=1.0", "gat.dropout: must be < 1.0 (got 1.0)"),
        ("gat.id_dropout=-0.1", "gat.id_dropout: must be >= 0.0 (got -0.1)"),
        ("vgae.dropout=1", "vgae.dropout: must be < 1.0 (got 1)"),
        ("train.epochs=0", "train.epochs: must be >= 1 (got 0)"),
        ("train.patience=0", "train.patience: must be >= 1 (got 0)"),
        ("train.weight_decay=-1", "train.weight_decay: must be >= 0.0 (got -1)"),
        ("dqn.gamma=1.5", "dqn.gamma: must be < 1.0 (got 1.5)"),
        ("dqn.lr=0", "dqn.lr: must be > 0.0 (got 0)"),
        ("distill.alpha=2", "distill.alpha: must be <= 1.0 (got 2)"),
        ("distill.temperature=0", "distill.temperature: must be > 0.0 (got 0)"),
        ("curriculum.start_percentile=0", "curriculum.start_percentile: must be > 0.0 (got 0)"),
        ("curriculum.start_ratio=0", "curriculum.start_ratio: must be > 0.0 (got 0)"),
        ("curriculum.ramp_epochs=-1", "curriculum.ramp_epochs: must be >= 0 (got -1)"),
        (
            "curriculum.end_percentile=50",
            "curriculum.end_percentile: must be >= start_percentile (60.0) (got 50)",
        ),
        ("dqn.batch_size=100000", "dqn.batch_size: must be <= buffer (50000) (got 100000)"),
        ("gat.mlp_hidden=0", "gat.mlp_hidden: must be >= 1 (got 0)"),
        ("vgae.hidden=0", "vgae.hidden: must be >= 1 (got 0)"),
        ("vgae.latent=0", "vgae.latent: must be >= 1 (got 0)"),
        ("dqn.target_sync=0", "dqn.target_sync: must be >= 1 (got 0)"),
        ("dqn.steps=0", "dqn.steps: must be >= 1 (got 0)"),
        ("dqn.epsilon_start=1.5", "dqn.epsilon_start: must be <= 1.0 (got 1.5)"),
        ("train.lr=0", "train.lr: must be > 0.0 (got 0)"),
        ("train.threads=-1", "train.threads: must be >= 0 (got -1)"),
        ("curriculum.score_chunk=0", "curriculum.score_chunk: must be >= 1 (got 0)"),
        ("batching.budget=0", "batching.budget: must be >= 1 (got 0)"),
    ],
)
def test_set_type_and_value_checks(item, message):
    """The error is exactly ``--set ITEM: section.key: what (got value)``."""
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=[item])
    assert str(err.value) == f"--set {item}: {message}"


def test_a_cross_field_refusal_names_the_item_that_caused_it():
    # dqn.buffer=10 is fine alone as a number, but the default batch_size no longer fits.
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["train.epochs=2", "dqn.buffer=10"])
    assert str(err.value) == "--set dqn.buffer=10: dqn.batch_size: must be <= buffer (10) (got 256)"
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["dqn.epsilon_start=0.01"])
    assert str(err.value) == (
        "--set dqn.epsilon_start=0.01: dqn.epsilon_end: must be <= epsilon_start (0.01) (got 0.05)"
    )


def test_each_set_item_is_checked_in_order():
    """As before pydantic: every item is validated on the config so far, so a bad value
    is refused even when a later item sets the key again, and the first bad item is named."""
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["train.epochs=many", "train.epochs=2"])
    assert str(err.value) == (
        "--set train.epochs=many: train.epochs: input should be a valid integer (got 'many')"
    )
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["gat.heads=0", "train.epochs=3", "vgae.latent=x"])
    assert str(err.value) == "--set gat.heads=0: gat.heads: must be >= 1 (got 0)"
    # Values that must agree are set in an order that keeps them valid.
    cfg = load_config("teacher", overrides=["dqn.batch_size=50", "dqn.buffer=100"])
    assert (cfg.dqn.buffer, cfg.dqn.batch_size) == (100, 50)
    with pytest.raises(ConfigError, match=r"^--set dqn\.buffer=100: dqn\.batch_size: must be <="):
        load_config("teacher", overrides=["dqn.buffer=100", "dqn.batch_size=50"])


@pytest.mark.parametrize("item", ["train.epochs", "epochs=3", "train.=3", "a.b.c=1", ".x=1"])
def test_malformed_set_items(item):
    with pytest.raises(ConfigError, match=r"expected section\.key=value"):
        load_config("teacher", overrides=[item])


def test_unknown_section_lists_the_known_ones():
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["model.heads=4"])
    assert str(err.value) == (
        "--set model.heads=4: model: unknown key; known: size, " + ", ".join(SECTIONS)
    )


def test_unknown_key_lists_the_known_keys():
    with pytest.raises(ConfigError) as err:
        load_config("teacher", overrides=["gat.head=4"])
    known = ", ".join(GATConfig.model_fields)
    assert known.startswith("layers, heads, hidden")
    # where the bad key came from, its path, and what would have been valid
    assert str(err.value) == f"--set gat.head=4: gat.head: unknown key; known: {known}"


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
    with pytest.raises(ConfigError) as err:
        load_config("teacher", path)
    known = ", ".join(TrainConfig.model_fields)
    assert str(err.value) == f"{path}: train.epoch: unknown key; known: {known}"


def test_a_bad_value_in_a_file_names_the_file_and_the_field(tmp_path):
    path = tmp_path / "best.toml"
    path.write_text('[gat]\nheads = 0\n[train]\nlr = "fast"\n')
    with pytest.raises(ConfigError) as err:
        load_config("teacher", path, ["gat.heads=4"])  # the file is checked before --set
    assert str(err.value).splitlines() == [
        f"{path}: gat.heads: must be >= 1 (got 0)",
        f"{path}: train.lr: input should be a valid number (got 'fast')",
    ]


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
    with pytest.raises(ConfigError) as err:
        load_config("teacher", path)
    assert str(err.value) == (
        f"{path}: gat: input should be a valid dictionary or instance of GATConfig (got 3)"
    )


def _other_value(value: object, hint: object) -> list[object]:
    """Candidate values of the same type as ``value`` that differ from it."""
    if typing.get_origin(hint) is typing.Literal:
        return [v for v in typing.get_args(hint) if v != value]
    if value is None:  # optional settings: None means "chosen on validation" (or a rate)
        return [4.0, 1.0, 0.5, 0.01]
    if isinstance(value, tuple):
        # An empty tuple is a list of names (gat.ignore_features); grids grow by one.
        return [[*value, value[-1] * 2]] if value else [["bus_load"]]
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
        for name, info in type(obj).model_fields.items():
            for candidate in _other_value(getattr(obj, name), info.annotation):
                # calibration.param only exists with a rule (under "auto" it is chosen),
                # fusion.families_margin only with the families rule.
                companion = {
                    ("calibration", "param"): {"rule": "zscore"},
                    ("fusion", "families_margin"): {"select": "families"},
                }.get((section, name), {})
                try:
                    cfg = base.merged({section: {name: candidate, **companion}}, "test")
                except ConfigError:
                    continue
                assert cfg.digest != base.digest, f"{section}.{name}"
                digests.add(cfg.digest)
                changed += 1
                break
            else:
                raise AssertionError(f"could not change {section}.{name}")
    n_fields = sum(len(type(getattr(base, s)).model_fields) for s in SECTIONS)
    assert changed == n_fields
    assert len(digests) == n_fields + 1  # every change gives its own digest
    assert RunConfig.preset("student").digest != base.digest
    # The digest depends on values only: an equal config has an equal digest.
    assert load_config("teacher").digest == base.digest


def test_configs_are_frozen():
    cfg = RunConfig()
    with pytest.raises(ValidationError, match="frozen"):
        cfg.train.epochs = 3  # type: ignore[misc]
    with pytest.raises(ValidationError, match="frozen"):
        cfg.size = "student"  # type: ignore[misc]
    assert cfg.train.epochs == 12
    assert hash(cfg) == hash(RunConfig())  # frozen configs are hashable, equal ones alike


def test_sections_built_in_code_are_checked_too():
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        GATConfig(heads=0)
    with pytest.raises(ValidationError, match="extra"):
        TrainConfig(epoch=3)  # type: ignore[call-arg]
    assert TrainConfig(lr=1).lr == 1.0
