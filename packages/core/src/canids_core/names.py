"""The one name rule (datasets, runs, stages, pipelines, sizes, profiles) and the rule for
values handed to SLURM (partitions, accounts, QOS, GRES, module names).

A name becomes a folder, a SLURM job name and a word on a command line, so it must be
safe as all three. It is checked where it enters (the command line, a config file), with
the same rule everywhere: a name accepted for a local run is accepted by SLURM too.
"""

from __future__ import annotations

import re
import shlex

from .errors import CoreError

__all__ = [
    "NAME_MAX",
    "NAME_RULE",
    "NameRuleError",
    "check_name",
    "check_slurm_value",
    "is_name",
    "quoted_command",
    "shown",
]

NAME_MAX = 64  # SLURM job names are `canids-<dataset>-<size>-<stage>`; keep each part short
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_.-]{{0,{NAME_MAX - 1}}}")
NAME_RULE = (
    f"1 to {NAME_MAX} characters: letters, digits, '_', '-' and '.', starting with a letter "
    "or digit"
)
# Partition, account, QOS and GRES values: SLURM's own words (``gpu:a100:2``, ``v100-32g``).
_SLURM_VALUE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:+-]{0,127}")


class NameRuleError(CoreError):
    """A name that would be unsafe as a folder, a SLURM job name or a shell word."""


def shown(value: object, limit: int = 80) -> str:
    """``value`` quoted for an error message, cut to ``limit`` characters (a 5,000-character
    name must not flood the terminal)."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_name(value: object) -> bool:
    return isinstance(value, str) and _NAME.fullmatch(value) is not None


def check_name(kind: str, value: object) -> str:
    """``value`` if it is a valid ``kind`` name (``dataset``, ``run``, ``stage`` …), else
    :class:`NameRuleError` saying what the rule is."""
    if not is_name(value):
        raise NameRuleError(f"{kind} name {shown(value)} is not allowed: use {NAME_RULE}")
    return str(value)


def check_slurm_value(kind: str, value: object) -> str:
    """A value passed to SLURM as one option word (partition, account, qos, gres)."""
    if not isinstance(value, str) or _SLURM_VALUE.fullmatch(value) is None:
        raise NameRuleError(
            f"{kind} {shown(value)} is not a SLURM value canids passes on: use letters, digits "
            "and '_.:+-' (at most 128 characters)"
        )
    return value


def quoted_command(argv: list[str]) -> str:
    """A command line to paste into a shell: every word quoted where it needs to be."""
    return shlex.join(argv)
