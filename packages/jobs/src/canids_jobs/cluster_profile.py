"""Cluster profiles: the site-specific part of a SLURM job (account, partitions, GPU
kinds, limits, environment setup), kept in a small TOML file and validated on load.

Shipped: ``osc`` (an OSC-like site with V100/A100/H100 partitions, an example to edit)
and ``local`` (the one-node SLURM of ``slurm/dev/local-cluster.sh``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from canids_models import ConfigError, parse_memory

__all__ = ["BUILTIN_PROFILES", "ClusterProfile", "GpuKind", "load_profile"]

BUILTIN_PROFILES = ("local", "osc")
SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}")
GRES = re.compile(r"gpu(?::[A-Za-z0-9_.-]+)?")


@dataclass(frozen=True)
class GpuKind:
    partition: str
    gres: str  # without the count: gpu or gpu:a100


@dataclass(frozen=True)
class ClusterProfile:
    name: str
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gpus: dict[str, GpuKind] = field(default_factory=dict)
    default_gpu: str | None = None
    limits: dict[str, Any] = field(default_factory=dict)  # cpus, memory, gpus caps
    setup: tuple[str, ...] = ()
    source: str = ""

    def gpu_kind(self, name: str | None) -> GpuKind | None:
        chosen = name or self.default_gpu
        if chosen is None:
            return None
        if chosen not in self.gpus:
            raise ConfigError(
                f"profile {self.name} ({self.source}) has no GPU kind {chosen!r}; "
                f"known: {', '.join(self.gpus) or 'none'}"
            )
        return self.gpus[chosen]


def _safe(value: Any, what: str, where: str) -> str | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or not SAFE.fullmatch(value):
        raise ConfigError(f"{where}: {what} {value!r}: letters, digits and _ . : + - only")
    return value


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
            raise ConfigError(
                f"cluster profile {text_path}: {exc}; give a file or one of "
                f"{', '.join(BUILTIN_PROFILES)}"
            ) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML ({exc})") from exc
    known = {"name", "partition", "account", "qos", "gpus", "default_gpu", "limits", "setup"}
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    gpus: dict[str, GpuKind] = {}
    for kind, spec in (data.get("gpus") or {}).items():
        partition = _safe(spec.get("partition"), f"gpus.{kind}.partition", where)
        gres = spec.get("gres", "gpu")
        if partition is None or not isinstance(gres, str) or not GRES.fullmatch(gres):
            raise ConfigError(f"{where}: gpus.{kind} needs partition and gres like gpu:a100")
        gpus[kind] = GpuKind(partition, gres)
    limits = dict(data.get("limits") or {})
    if set(limits) - {"cpus", "memory", "gpus"}:
        raise ConfigError(f"{where}: limits take cpus, memory and gpus")
    if "memory" in limits:
        parse_memory(str(limits["memory"]))
    for key in ("cpus", "gpus"):
        if key in limits and (not isinstance(limits[key], int) or limits[key] < 0):
            raise ConfigError(f"{where}: limits.{key} must be an integer >= 0")
    lines = (data.get("setup") or {}).get("lines", [])
    if not isinstance(lines, list) or any(not isinstance(x, str) or "\n" in x for x in lines):
        raise ConfigError(f"{where}: setup.lines must be a list of one-line strings")
    default_gpu = data.get("default_gpu") or None
    if default_gpu is not None and default_gpu not in gpus:
        raise ConfigError(f"{where}: default_gpu {default_gpu!r} is not under [gpus]")
    return ClusterProfile(
        name=_safe(data.get("name", Path(text_path).stem), "name", where) or "site",
        partition=_safe(data.get("partition"), "partition", where),
        account=_safe(data.get("account"), "account", where),
        qos=_safe(data.get("qos"), "qos", where),
        gpus=gpus,
        default_gpu=default_gpu,
        limits=limits,
        setup=tuple(lines),
        source=where,
    )
