"""The search space file: loaded, validated against the real config, turned into Tune's.

A typo in a key (``gat.head``) or a value the model refuses (``gat.heads = 0``) must stop
the search before any trial starts, not fail 16 trials one after another. The file's shape
is a frozen pydantic model (unknown keys refused); every error names the file and the
field: ``space.toml: gat.heads.values: …``.
"""

from __future__ import annotations

import json
import math
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from canids_core import describe_validation_error
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from ..errors import TuneConfigError

__all__ = ["DEFAULT_SPACE", "KINDS", "Param", "load_space", "parse_space", "to_tune"]

DEFAULT_SPACE = resources.files("canids_orchestrate.tune") / "search_space.toml"
KINDS = ("choice", "uniform", "loguniform", "randint")

Scalar = bool | int | float | str


def _number(value: Any) -> Any:
    # One clear message, before the int | float union would report two.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError("must be a finite number")
    return value


Number = Annotated[int | float, BeforeValidator(_number)]


class _ParamSpec(BaseModel):
    """One ``[section.key]`` table: ``kind`` and either ``values`` or ``low`` and ``high``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["choice", "uniform", "loguniform", "randint"]
    values: tuple[Scalar, ...] | None = None
    low: Number | None = None
    high: Number | None = None  # exclusive for randint, as Tune's

    @model_validator(mode="after")
    def _consistent(self) -> _ParamSpec:
        kind, low, high = self.kind, self.low, self.high
        if kind == "choice":
            if low is not None or high is not None:
                raise ValueError("choice takes values = [...], not low and high")
            if not self.values:
                raise ValueError("choice needs a non-empty list: values = [...]")
            return self
        if self.values is not None:
            raise ValueError(f"{kind} takes low and high, not values")
        if low is None or high is None:
            raise ValueError(f"{kind} needs numbers low and high")
        if not low < high:
            raise ValueError(f"{kind} needs low < high, got {low} and {high}")
        if kind == "loguniform" and low <= 0:
            raise ValueError(f"loguniform needs low > 0, got {low}")
        if kind == "randint" and not (isinstance(low, int) and isinstance(high, int)):
            raise ValueError(f"randint needs integers, got {low} and {high}")
        return self


class Param(BaseModel):
    """One searched config key (``section.key``, as ``--set`` names it) and its range."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str
    kind: Literal["choice", "uniform", "loguniform", "randint"]
    values: tuple[Scalar, ...] = ()
    low: int | float | None = None
    high: int | float | None = None

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


_SECTIONS = TypeAdapter(dict[str, dict[str, _ParamSpec]])


def parse_space(data: dict[str, Any], where: str) -> list[Param]:
    """The parameters of a parsed search-space file (its shape only; see
    :func:`load_space` for the check against the real config)."""
    try:
        sections = _SECTIONS.validate_python(data)
    except ValidationError as exc:
        raise TuneConfigError(describe_validation_error(exc, where)) from exc
    params = []
    for section, keys in sections.items():
        for key, spec in keys.items():
            fields = spec.model_dump(exclude_none=True)
            params.append(Param(key=f"{section}.{key}", **fields))
    return params


def load_space(path: str | Path | None = None, size: str = "teacher") -> list[Param]:
    """Read and check a search space (default: the packaged one): its shape, then every
    value at the edges of every range against the real run config of ``size``."""
    from canids_models import ConfigError, load_config

    where = str(path or DEFAULT_SPACE)
    try:
        text = Path(path).read_text() if path else DEFAULT_SPACE.read_text()
        data = tomllib.loads(text)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise TuneConfigError(f"{where}: cannot read the search space ({exc})") from exc
    params = parse_space(data, where)
    if not params:
        raise TuneConfigError(f"{where}: the search space is empty; add [section.key] tables")
    for param in params:
        for value in param.samples():
            try:
                load_config(size, None, [f"{param.key}={_literal(value)}"])
            except ConfigError as exc:
                raise TuneConfigError(
                    f"{where}: {param.key}: the run config refuses {value!r} ({exc})"
                ) from exc
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
