"""Typed, frozen run configuration: presets per size, files and ``--set`` overrides.

Each section is a frozen pydantic model that refuses unknown keys. Types are strict, as
they were when this module coerced by hand: an int is accepted where a float is expected
(and stored as a float, so ``train.lr=1`` and ``train.lr=1.0`` share a digest), but a bool
is not an int and a string is not a number. NaN and infinity are refused everywhere. The
resolved config is recorded with every artifact so a checkpoint can rebuild its own model,
and its :attr:`RunConfig.digest` keys checkpoints and resume state: the digest is the
SHA-256 of the sorted-key JSON of :meth:`RunConfig.to_dict`, unchanged from the dataclass
implementation (``tests/test_config_digest.py`` holds golden values).

Every refusal is a :class:`ConfigError` in the canids config error format
(``canids_core.describe_validation_error``): ``source: section.key: what (got value)``,
where the source is the file or the ``--set`` item, and an unknown key lists the known ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from canids_core import describe_validation_error
from pydantic import (
    Field,
    ValidationError,
    model_validator,
)

from .config_fusion import (
    CUT_UNITS_AT,
    GUARD_FLOORS,
    PERIOD_OF,
    PERIOD_TIES,
    RULE_TIES,
    TIE_MARGIN,
    CalibrationConfig,
    DQNConfig,
    EvalConfig,
    FusionConfig,
)
from .config_training import (
    BatchingConfig,
    CurriculumConfig,
    DistillConfig,
    GATConfig,
    TrainConfig,
    VGAEConfig,
    _Section,
)
from .errors import ConfigError

# The sections live in config_training and config_fusion; every name is importable here,
# where a run's config is assembled (GUARD_FLOORS and the tie values too).
__all__ = [
    "CUT_UNITS_AT",
    "FUSION_ONLY_SECTIONS",
    "GUARD_FLOORS",
    "PERIOD_OF",
    "PERIOD_TIES",
    "RULE_TIES",
    "SIZES",
    "TIE_MARGIN",
    "BatchingConfig",
    "CalibrationConfig",
    "CurriculumConfig",
    "DQNConfig",
    "DistillConfig",
    "EvalConfig",
    "FusionConfig",
    "GATConfig",
    "RunConfig",
    "TrainConfig",
    "VGAEConfig",
    "load_config",
]

Size = Literal["teacher", "student"]
SIZES: tuple[str, ...] = ("teacher", "student")

# Read by the fusion and evaluate stages only: no detector's training reads them.
FUSION_ONLY_SECTIONS: tuple[str, ...] = ("calibration", "dqn", "fusion")


def _json_sha256(data: dict[str, Any]) -> str:
    blob = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


class RunConfig(_Section):
    """Everything a stage needs besides its data; ``size`` picks the model presets."""

    size: Size = "teacher"
    gat: GATConfig = Field(default_factory=GATConfig)
    vgae: VGAEConfig = Field(default_factory=VGAEConfig)
    dqn: DQNConfig = Field(default_factory=DQNConfig)
    batching: BatchingConfig = Field(default_factory=BatchingConfig)
    train: TrainConfig = Field(default_factory=TrainConfig)
    distill: DistillConfig = Field(default_factory=DistillConfig)
    curriculum: CurriculumConfig = Field(default_factory=CurriculumConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    fusion: FusionConfig = Field(default_factory=FusionConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)

    @model_validator(mode="after")
    def _teacher_select_needs_student(self) -> RunConfig:
        if self.fusion.select == "teacher" and self.size != "student":
            raise ValueError(
                "fusion.select=teacher deploys the fusion a distilled student's teacher "
                f"deployed, but size={self.size} has no teacher: set fusion.select=auto"
            )
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples as lists): what config.json holds and the digest hashes."""
        return self.model_dump(mode="json")

    @property
    def digest(self) -> str:
        """SHA-256 of the sorted-key JSON of :meth:`to_dict`. ``train.workers`` counts only
        when it is not 1, so every single-process config keeps the digest it had before
        the key existed (saved runs and tune trials stay valid); N workers train on other
        batches, so they are another config. ``fusion.select`` likewise counts only when it
        is not ``validation`` (the choice every run made before the key existed, and the
        default until 0.17.0's ``auto``, a new config),
        ``eval.frozen_warmup`` only when it is not 0 (0 keeps the digest of 0.12.0's
        default, which scored every window; the 2 s default is a new config),
        ``gat.ignore_features`` only when it names a feature,
        ``fusion.vgae_false_alarm_rate`` and ``train.cpu_capability`` only when set,
        ``calibration.guard_at`` only when it is not ``threshold`` (0.7.0-0.14.x's guard
        keeps their digest; the ``edge`` default is a new config), ``fusion.cut_fusions``
        only when true (false keeps 0.15.0's digest; more candidates are a new config),
        ``calibration.clean_validation`` only when true and ``calibration.tie_margin``
        only when set (false and None keep 0.17.0's digest), ``calibration.period_ties`` only
        when it is not ``first`` (``first`` keeps 0.18.0's digest; the ``longest`` default
        of 0.23.0 is a new config), ``fusion.tie_order``
        only when it is not ``simplest`` (``simplest`` keeps 0.18.0's digest),
        ``fusion.period_of`` only when it is not ``validation`` (``validation`` keeps
        0.19.0's digest), ``fusion.cut_units_at`` only when it is not ``validation``
        (``validation`` keeps 0.23.0's digest), ``calibration.rule_ties`` only when it is
        not ``first``
        (``first`` keeps 0.20.0's digest; the ``sensitive`` default of 0.23.0 is a new
        config), ``distill.select`` only when it is
        not ``f1`` (``f1`` keeps 0.21.0's digest).
        ``fusion.families_margin`` counts only with ``select=families`` or ``auto`` and when
        it is not 0: a families config with the default margin is a new config (its choice breaks
        near-ties where canids-models 0.8.0–0.11.0 did not), and margin 0, their rule, keeps
        their digest."""
        data = self.to_dict()
        fusion = data["fusion"]
        if fusion["select"] == "validation" or fusion["families_margin"] == 0.0:
            del fusion["families_margin"]
        if data["train"]["workers"] == 1:
            del data["train"]["workers"]
        if data["fusion"]["select"] == "validation":
            del data["fusion"]["select"]
        if data["eval"]["frozen_warmup"] == 0.0:
            del data["eval"]["frozen_warmup"]
        if not data["gat"]["ignore_features"]:
            del data["gat"]["ignore_features"]
        if not data["train"]["cpu_capability"]:
            del data["train"]["cpu_capability"]
        if data["fusion"]["vgae_false_alarm_rate"] is None:
            del data["fusion"]["vgae_false_alarm_rate"]
        if data["calibration"]["guard_at"] == "threshold":
            del data["calibration"]["guard_at"]
        if not fusion["cut_fusions"]:
            del fusion["cut_fusions"]
        if not data["calibration"]["clean_validation"]:
            del data["calibration"]["clean_validation"]
        if data["calibration"]["tie_margin"] is None:
            del data["calibration"]["tie_margin"]
        if fusion["tie_order"] == "simplest":
            del fusion["tie_order"]
        if fusion["period_of"] == "validation":
            del fusion["period_of"]
        if fusion["cut_units_at"] == "validation":
            del fusion["cut_units_at"]
        if data["calibration"]["rule_ties"] == "first":
            del data["calibration"]["rule_ties"]
        if data["calibration"]["period_ties"] == "first":
            del data["calibration"]["period_ties"]
        if data["distill"]["select"] == "f1":
            del data["distill"]["select"]
        return _json_sha256(data)

    @property
    def detector_digest(self) -> str:
        """SHA-256 of the sorted-key JSON of :meth:`to_dict` without
        :data:`FUSION_ONLY_SECTIONS`: two configs with the same one train the same
        detectors on the same data (canids-models 0.25.0: a family run reuses its detectors
        on it, :mod:`canids_models.detector_reuse`)."""
        data = self.to_dict()
        for section in FUSION_ONLY_SECTIONS:
            del data[section]
        return _json_sha256(data)

    @classmethod
    def preset(cls, size: str) -> RunConfig:
        """The original authors' sizes: teacher GAT 5x8x32, VGAE 3x4x32; student 2x4x16, 2x2x16.
        The student deploys its teacher's fusion (``fusion.select=teacher``)."""
        if size not in SIZES:
            raise ConfigError(f"size must be teacher or student, not {size!r}")
        if size == "teacher":
            return cls(size="teacher")
        return cls(
            size="student",
            gat=GATConfig(layers=2, heads=4, hidden=16, mlp_hidden=32, embed_dim=8),
            vgae=VGAEConfig(layers=2, heads=2, hidden=16, latent=8, embed_dim=8),
            dqn=DQNConfig(hidden=64),
            # canids-models 0.26.0: the student deploys its teacher's fusion, adopted by a
            # rule written before its runs (docs/results.md); fusion.select=auto is 0.25.0's.
            fusion=FusionConfig(select="teacher"),
        )

    def merged(self, data: dict[str, Any], source: str) -> RunConfig:
        """A copy with ``data`` (nested sections) applied and validated as a whole; unknown
        sections and keys are errors that name ``source`` and list the known ones."""
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: expected a mapping of sections, got {type(data).__name__}"
            )
        try:
            return RunConfig.model_validate(_deep_merged(self.to_dict(), data))
        except ValidationError as exc:
            raise ConfigError(describe_validation_error(exc, source, known=_known_keys())) from exc


def _deep_merged(base: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for section, values in data.items():
        if isinstance(values, dict) and isinstance(merged.get(section), dict):
            merged[section] = {**merged[section], **values}
        else:  # size, or a value that is not a mapping: validation says what is wrong
            merged[section] = values
    return merged


@functools.cache
def _known_keys() -> dict[str, list[str]]:
    """Section → its keys (``""`` → the sections), in declaration order, listed after an
    unknown key."""
    known = {"": list(RunConfig.model_fields)}
    for name, info in RunConfig.model_fields.items():
        if isinstance(info.annotation, type) and issubclass(info.annotation, _Section):
            known[name] = list(info.annotation.model_fields)
    return known


def _parse_override(item: str) -> tuple[str, str, Any]:
    """``section.key=value`` → its parts; the value is JSON when it parses as JSON (``4``,
    ``0.5``, ``true``, ``"auto"``), else the bare word as a string (``cpu``)."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected section.key=value (e.g. gat.heads=4)")
    key, raw = item.split("=", 1)
    parts = key.strip().split(".")
    if len(parts) != 2 or not all(parts):
        raise ConfigError(f"--set {item!r}: expected section.key=value (e.g. train.epochs=5)")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return parts[0], parts[1], value


def _apply_overrides(config: RunConfig, overrides: list[str] | tuple[str, ...]) -> RunConfig:
    """``--set`` items applied one after another, each validated on the config so far (as
    before the move to pydantic): a bad value is refused even when a later item sets the
    key again, and each refusal names its item. Values that must agree with each other
    are set in an order that keeps them valid (``dqn.batch_size`` before a smaller
    ``dqn.buffer``), which the error says."""
    for item in overrides:
        section, key, value = _parse_override(item)
        config = config.merged({section: {key: value}}, f"--set {item}")
    return config


def load_config(
    size: str, path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> RunConfig:
    """Preset for ``size``, then the file at ``path`` (JSON or TOML; the artifact store's
    ``config.json`` with its ``config`` wrapper key too), then ``--set`` items."""
    config = RunConfig.preset(size)
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the config ({exc})") from exc
        data = data.get("config", data) if isinstance(data, dict) else data
        if isinstance(data, dict) and data.get("size", size) != size:
            raise ConfigError(
                f"{path} is a {data['size']} config; this stage runs size {size} "
                f"(pass --size {data['size']}, or remove size from the file)"
            )
        config = config.merged(data, str(path))
    return _apply_overrides(config, overrides)
