"""Typed, frozen run configuration: presets per size, files and ``--set`` overrides.

Unknown sections or keys are refused, values are type-checked, and the resolved config
is recorded with every artifact so a checkpoint can rebuild its own model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import ConfigError

__all__ = [
    "SIZES",
    "BatchingConfig",
    "CurriculumConfig",
    "DQNConfig",
    "DistillConfig",
    "GATConfig",
    "RunConfig",
    "TrainConfig",
    "VGAEConfig",
    "load_config",
]

Size = Literal["teacher", "student"]
SIZES: tuple[str, ...] = ("teacher", "student")


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise ConfigError(msg)


@dataclass(frozen=True)
class GATConfig:
    layers: int = 5
    heads: int = 8
    hidden: int = 32
    dropout: float = 0.2
    embed_dim: int = 16
    mlp_hidden: int = 64
    id_dropout: float = 0.0

    def __post_init__(self) -> None:
        _check(
            min(self.layers, self.heads, self.hidden, self.embed_dim, self.mlp_hidden) >= 1,
            "gat sizes (layers, heads, hidden, embed_dim, mlp_hidden) must be >= 1",
        )
        _check(0.0 <= self.dropout < 1.0, f"gat.dropout must be in [0, 1), got {self.dropout}")
        _check(0.0 <= self.id_dropout < 1.0, f"gat.id_dropout: [0, 1), not {self.id_dropout}")


@dataclass(frozen=True)
class VGAEConfig:
    layers: int = 3
    heads: int = 4
    hidden: int = 32
    latent: int = 16
    dropout: float = 0.1
    embed_dim: int = 16
    id_dropout: float = 0.0
    kl_weight: float = 0.001
    logvar_clamp: float = 10.0

    def __post_init__(self) -> None:
        _check(
            min(self.layers, self.heads, self.hidden, self.latent, self.embed_dim) >= 1,
            "vgae sizes (layers, heads, hidden, latent, embed_dim) must be >= 1",
        )
        _check(0.0 <= self.dropout < 1.0, f"vgae.dropout must be in [0, 1), got {self.dropout}")
        _check(0.0 <= self.id_dropout < 1.0, f"vgae.id_dropout: [0, 1), not {self.id_dropout}")


@dataclass(frozen=True)
class DQNConfig:
    hidden: int = 128
    lr: float = 1e-3
    gamma: float = 0.9
    buffer: int = 50_000
    batch_size: int = 256
    steps: int = 6_000
    target_sync: int = 200
    epsilon_start: float = 1.0
    epsilon_end: float = 0.05

    def __post_init__(self) -> None:
        _check(0.0 <= self.gamma < 1.0, f"dqn.gamma must be in [0, 1), got {self.gamma}")
        _check(self.buffer >= self.batch_size >= 1, "dqn.buffer must be >= dqn.batch_size >= 1")
        _check(
            min(self.hidden, self.steps, self.target_sync) >= 1,
            "dqn.hidden, dqn.steps and dqn.target_sync must be >= 1",
        )
        _check(self.lr > 0, f"dqn.lr must be > 0, got {self.lr}")
        _check(
            0.0 <= self.epsilon_end <= self.epsilon_start <= 1.0,
            "dqn epsilons: 0 <= epsilon_end <= epsilon_start <= 1",
        )


@dataclass(frozen=True)
class BatchingConfig:
    mode: Literal["budget", "fixed"] = "budget"
    key: Literal["nodes", "edges"] = "nodes"
    budget: int = 4000
    batch_size: int = 64
    packing: Literal["sequential", "sorted"] = "sorted"

    def __post_init__(self) -> None:
        _check(
            self.mode in ("budget", "fixed"), f"batching.mode: budget or fixed, not {self.mode!r}"
        )
        _check(self.key in ("nodes", "edges"), f"batching.key: nodes or edges, not {self.key!r}")
        _check(self.packing in ("sequential", "sorted"), "batching.packing: sequential or sorted")
        _check(self.budget >= 1 and self.batch_size >= 1, "batching budget/batch_size must be >= 1")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 12
    lr: float = 1e-3
    weight_decay: float = 1e-4
    patience: int = 4
    seed: int = 0
    device: str = "auto"
    backend: Literal["pyg", "cugraph", "auto"] = "pyg"
    threads: int = 0

    def __post_init__(self) -> None:
        _check(self.epochs >= 1, f"train.epochs must be >= 1, got {self.epochs}")
        _check(self.patience >= 1, f"train.patience must be >= 1, got {self.patience}")
        _check(self.lr > 0, f"train.lr must be > 0, got {self.lr}")
        _check(self.weight_decay >= 0, f"train.weight_decay must be >= 0, got {self.weight_decay}")
        _check(
            self.threads >= 0,
            f"train.threads must be >= 0 (0: torch's default), got {self.threads}",
        )
        _check(self.backend in ("pyg", "cugraph", "auto"), "train.backend: pyg, cugraph or auto")


@dataclass(frozen=True)
class DistillConfig:
    temperature: float = 4.0
    alpha: float = 0.7
    latent_weight: float = 1.0

    def __post_init__(self) -> None:
        _check(self.temperature > 0, "distill.temperature must be > 0")
        _check(0.0 <= self.alpha <= 1.0, "distill.alpha must be in [0, 1]")


@dataclass(frozen=True)
class CurriculumConfig:
    start_ratio: float = 1.0
    end_ratio: float = 4.0
    start_percentile: float = 60.0
    end_percentile: float = 100.0
    ramp_epochs: int = 10
    score_chunk: int = 2048

    def __post_init__(self) -> None:
        _check(self.start_ratio > 0 and self.end_ratio > 0, "curriculum ratios must be > 0")
        _check(
            0 < self.start_percentile <= self.end_percentile <= 100,
            "curriculum percentiles: 0 < start <= end <= 100",
        )
        _check(self.ramp_epochs >= 0, "curriculum.ramp_epochs must be >= 0")
        _check(self.score_chunk >= 1, "curriculum.score_chunk must be >= 1")


@dataclass(frozen=True)
class RunConfig:
    """Everything a stage needs besides its data; ``size`` picks the model presets."""

    size: Size = "teacher"
    gat: GATConfig = field(default_factory=GATConfig)
    vgae: VGAEConfig = field(default_factory=VGAEConfig)
    dqn: DQNConfig = field(default_factory=DQNConfig)
    batching: BatchingConfig = field(default_factory=BatchingConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    distill: DistillConfig = field(default_factory=DistillConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def digest(self) -> str:
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":")).encode()
        return hashlib.sha256(blob).hexdigest()

    @classmethod
    def preset(cls, size: str) -> RunConfig:
        """The original authors' sizes: teacher GAT 5x8x32, VGAE 3x4x32; student 2x4x16, 2x2x16."""
        _check(size in SIZES, f"size must be teacher or student, not {size!r}")
        if size == "teacher":
            return cls(size="teacher")
        return cls(
            size="student",
            gat=GATConfig(layers=2, heads=4, hidden=16, mlp_hidden=32, embed_dim=8),
            vgae=VGAEConfig(layers=2, heads=2, hidden=16, latent=8, embed_dim=8),
            dqn=DQNConfig(hidden=64),
        )

    def merged(self, data: dict[str, Any], source: str) -> RunConfig:
        """A copy with ``data`` (nested sections) applied; unknown keys are errors."""
        if not isinstance(data, dict):
            raise ConfigError(
                f"{source}: expected a mapping of sections, got {type(data).__name__}"
            )
        changes: dict[str, Any] = {}
        for section, values in data.items():
            if section == "size":
                changes["size"] = values
                continue
            current = getattr(self, section, None) if section in _SECTIONS else None
            if current is None:
                raise ConfigError(
                    f"{source}: unknown section {section!r}; known: size, " + ", ".join(_SECTIONS)
                )
            if not isinstance(values, dict):
                raise ConfigError(f"{source}: section {section!r} must be a mapping")
            changes[section] = _replace(current, values, f"{source}: {section}")
        return dataclasses.replace(self, **changes)


_SECTIONS = ("gat", "vgae", "dqn", "batching", "train", "distill", "curriculum")


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is Literal:
        if value not in typing.get_args(hint):
            raise ConfigError(f"{where}: {value!r} is not one of {typing.get_args(hint)}")
        return value
    if origin in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _coerce(value, args[0], where)
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if hint is str and isinstance(value, str):
        return value
    if hint is bool and isinstance(value, bool):
        return value
    raise ConfigError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def _replace(obj: Any, values: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(type(obj))
    names = {f.name for f in dataclasses.fields(obj)}
    unknown = set(values) - names
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown)}; known: {sorted(names)}")
    return dataclasses.replace(
        obj, **{k: _coerce(v, hints[k], f"{where}.{k}") for k, v in values.items()}
    )


def _parse_override(item: str) -> tuple[list[str], Any]:
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
    return parts, value


def load_config(
    size: str, path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> RunConfig:
    """Preset for ``size``, then the file at ``path`` (JSON or TOML), then ``--set`` items."""
    config = RunConfig.preset(size)
    if path is not None:
        path = Path(path)
        try:
            text = path.read_text()
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read the config ({exc})") from exc
        data = data.get("config", data) if isinstance(data, dict) else data
        if isinstance(data, dict) and data.get("size", size) != size:
            raise ConfigError(f"{path} is a {data['size']} config; this stage runs size {size}")
        config = config.merged(data, str(path))
    for item in overrides:
        (section, key), value = _parse_override(item)
        config = config.merged({section: {key: value}}, f"--set {item}")
    return config
