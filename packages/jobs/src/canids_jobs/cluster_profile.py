"""Cluster profiles: the site-specific part of a SLURM job (account, partitions, GPU
kinds, limits, environment setup), kept in a small TOML file and validated on load.

Shipped: ``osc`` (an OSC-like site with V100/A100/H100 partitions, an example to edit)
and ``local`` (the one-node SLURM of ``slurm/dev/local-cluster.sh``). A profile is a
frozen pydantic model that refuses unknown keys; an error names the file and the field
(``my_site.toml: gpus.a100.gres: …``).
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from canids_core import check_name, check_slurm_value, describe_validation_error, parse_memory
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from .errors import ProfileError

__all__ = [
    "BUILTIN_PROFILES",
    "ClusterProfile",
    "GpuKind",
    "Limits",
    "Setup",
    "load_profile",
]

BUILTIN_PROFILES = ("local", "osc")
_GRES_HELP = "gpu or gpu:<type>, e.g. gpu:a100 (without the count)"


def _empty_is_none(value: Any) -> Any:
    return None if value == "" else value


def _slurm_value(kind: str) -> AfterValidator:
    return AfterValidator(lambda v: None if v is None else check_slurm_value(kind, v))


def _gres(value: str) -> str:
    kind, _, rest = value.partition(":")
    if kind != "gpu" or ":" in rest or (rest and check_slurm_value("gres", rest) != rest):
        raise ValueError(f"gres must be {_GRES_HELP}")
    return value


SlurmValue = Annotated[str | None, BeforeValidator(_empty_is_none)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GpuKind(_Frozen):
    """One GPU kind of a site: the partition that has it and its GRES name."""

    partition: Annotated[str, _slurm_value("partition")]
    gres: Annotated[str, AfterValidator(_gres)] = "gpu"


class Limits(_Frozen):
    """Caps on what one job asks (``None``: no cap); requests above are lowered, aloud."""

    cpus: int | None = Field(default=None, ge=0)
    gpus: int | None = Field(default=None, ge=0)
    memory: int | None = Field(default=None, gt=0, description="bytes; SLURM text in files")

    @field_validator("memory", mode="before")
    @classmethod
    def _memory_text(cls, value: Any) -> Any:
        return parse_memory(value) if isinstance(value, str) else value


def _one_line(text: str) -> str:
    if "\n" in text:
        raise ValueError("a setup line must be one line")
    return text


class Setup(_Frozen):
    """Shell lines run before ``canids-train``; ``{venv}`` is the venv canids-submit uses."""

    lines: tuple[Annotated[str, AfterValidator(_one_line)], ...] = ()


class ClusterProfile(_Frozen):
    name: Annotated[str, AfterValidator(lambda v: check_name("profile", v))] = "site"
    partition: Annotated[SlurmValue, _slurm_value("partition")] = None
    account: Annotated[SlurmValue, _slurm_value("account")] = None
    qos: Annotated[SlurmValue, _slurm_value("qos")] = None
    gpus: dict[Annotated[str, AfterValidator(lambda v: check_name("GPU kind", v))], GpuKind] = (
        Field(default_factory=dict)
    )
    default_gpu: Annotated[str | None, BeforeValidator(_empty_is_none)] = None
    limits: Limits = Field(default_factory=Limits)
    setup: Setup = Field(default_factory=Setup)
    _source: str = PrivateAttr(default="")

    @field_validator("default_gpu")
    @classmethod
    def _default_gpu_is_known(cls, value: str | None, info: ValidationInfo) -> str | None:
        kinds = info.data.get("gpus", {})
        if value is not None and value not in kinds:
            raise ValueError(f"not a GPU kind under [gpus] (known: {', '.join(kinds) or 'none'})")
        return value

    @property
    def source(self) -> str:
        """Where the profile came from (``built-in profile local`` or a file path)."""
        return self._source

    def gpu_kind(self, name: str | None) -> GpuKind | None:
        chosen = name or self.default_gpu
        if chosen is None:
            return None
        if chosen not in self.gpus:
            raise ProfileError(
                f"profile {self.name} ({self.source}) has no GPU kind {chosen!r}; "
                f"known: {', '.join(self.gpus) or 'none'}"
            )
        return self.gpus[chosen]


_KNOWN = {"": sorted(ClusterProfile.model_fields), "limits": sorted(Limits.model_fields)}


def load_profile(name_or_path: str | Path) -> ClusterProfile:
    """A shipped profile by name (``local``, ``osc``) or a TOML file."""
    text_path = str(name_or_path)
    if text_path in BUILTIN_PROFILES:
        where = f"built-in profile {text_path}"
        text = (resources.files("canids_jobs.profiles") / f"{text_path}.toml").read_text()
    else:
        where = text_path
        try:
            text = Path(text_path).read_text()
        except OSError as exc:
            raise ProfileError(
                f"cluster profile {text_path}: {exc}; give a file or one of "
                f"{', '.join(BUILTIN_PROFILES)}"
            ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"{where}: not valid TOML ({exc})") from exc
    data.setdefault("name", Path(text_path).stem)
    try:
        profile = ClusterProfile.model_validate(data)
    except ValidationError as exc:
        raise ProfileError(describe_validation_error(exc, where, known=_KNOWN)) from exc
    profile._source = where
    return profile
