"""The search space file: loaded, validated against the real config, turned into Tune's.

A typo in a key (``gat.head``) or a value the model refuses (``gat.heads = 0``) must stop
the search before any trial starts, not fail 16 trials one after another.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from canids_models import ConfigError, load_config

__all__ = ["DEFAULT_SPACE", "Param", "load_space", "to_tune"]

DEFAULT_SPACE = resources.files("canids_orchestrate.tune") / "search_space.toml"
KINDS = ("choice", "uniform", "loguniform", "randint")


@dataclass(frozen=True)
class Param:
    key: str  # section.key, as --set names it
    kind: str
    values: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def section(self) -> str:
        return self.key.split(".", 1)[0]

    def samples(self) -> list[Any]:
        """Values that cover the range's edges, for validation against the config."""
        if self.kind == "choice":
            return list(self.values)
        assert self.low is not None
        assert self.high is not None
        if self.kind == "randint":
            return [int(self.low), int(self.high) - 1]
        return [self.low, self.high]


def _param(key: str, spec: Any, where: str) -> Param:
    if not isinstance(spec, dict):
        raise ConfigError(f"{where}: [{key}] must be a table with kind = ...")
    kind = spec.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{where}: [{key}] kind {kind!r} is not one of {', '.join(KINDS)}")
    allowed = {"kind", "values"} if kind == "choice" else {"kind", "low", "high"}
    extra = set(spec) - allowed
    if extra:
        raise ConfigError(f"{where}: [{key}] ({kind}) has unknown fields {sorted(extra)}")
    if kind == "choice":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{where}: [{key}] choice needs a non-empty list: values = [...]")
        return Param(key, kind, tuple(values))
    low, high = spec.get("low"), spec.get("high")
    if not all(isinstance(v, int | float) and math.isfinite(v) for v in (low, high)):
        raise ConfigError(f"{where}: [{key}] {kind} needs numbers low and high")
    if not low < high:
        raise ConfigError(f"{where}: [{key}] needs low < high, got {low} and {high}")
    if kind == "loguniform" and low <= 0:
        raise ConfigError(f"{where}: [{key}] loguniform needs low > 0, got {low}")
    if kind == "randint" and not (isinstance(low, int) and isinstance(high, int)):
        raise ConfigError(f"{where}: [{key}] randint needs integers")
    return Param(key, kind, low=float(low) if kind != "randint" else low, high=high)


def load_space(path: str | Path | None = None, size: str = "teacher") -> list[Param]:
    """Read and check a search space (default: the packaged one)."""
    where = str(path or DEFAULT_SPACE)
    try:
        text = Path(path).read_text() if path else DEFAULT_SPACE.read_text()
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read the search space ({exc})") from exc
    params: list[Param] = []
    for section, keys in data.items():
        if not isinstance(keys, dict):
            raise ConfigError(f"{where}: {section} must be a table of [section.key] tables")
        for key, spec in keys.items():
            param = _param(f"{section}.{key}", spec, where)
            for value in param.samples():
                try:
                    load_config(size, None, [f"{param.key}={_literal(value)}"])
                except ConfigError as exc:
                    raise ConfigError(f"{where}: [{param.key}] value {value!r}: {exc}") from exc
            params.append(param)
    if not params:
        raise ConfigError(f"{where}: the search space is empty")
    return params


def _literal(value: Any) -> str:
    return json.dumps(value)  # what --set parses back to the same int, float or bool


def to_tune(params: list[Param]) -> dict[str, Any]:
    """Tune's param space (flat ``section.key`` names, which trials turn into ``--set``)."""
    from ..ray_cluster import import_ray

    import_ray()
    from ray import tune

    space: dict[str, Any] = {}
    for p in params:
        if p.kind == "choice":
            space[p.key] = tune.choice(list(p.values))
        elif p.kind == "uniform":
            space[p.key] = tune.uniform(p.low, p.high)
        elif p.kind == "loguniform":
            space[p.key] = tune.loguniform(p.low, p.high)
        else:
            space[p.key] = tune.randint(int(p.low or 0), int(p.high or 0))
    return space
