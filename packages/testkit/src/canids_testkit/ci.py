"""Whether the tests run in CI: there a test that cannot run (no SLURM, no real data, no
shellcheck) must fail, not skip, or CI would report green without having run it."""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["ci_is_set"]

_OFF = {"", "0", "false"}


def ci_is_set(environ: Mapping[str, str] | None = None) -> bool:
    """``CI`` counts as set for any non-empty value other than ``0`` or ``false`` (any
    case): GitHub sets ``true``, GitLab ``true``, others ``1`` or ``yes``."""
    value = (os.environ if environ is None else environ).get("CI", "")
    return value.strip().lower() not in _OFF
