"""The command a failed ``canids-submit pipeline`` prints to restart from the failed stage.

It is the submission as given: every option the user set (on the command line or through
its environment variable), with the executor, run and folders as resolved, so that the
restart does not depend on the shell it is typed in. Before canids-cli 0.9.0 it named only
the pipelines, dataset, executor, run and folders: a submission made with ``--set``,
``--config``, ``--workers``, ``--size`` or ``--stages`` restarted its later stages under
another config than the artifacts they read, so a restart silently mixed configs (since
canids-models 0.27.0 a stage refuses a done artifact its config does not describe, so
such a restart would now stop in preflight instead).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
from canids_core import quoted_command
from click.core import ParameterSource

__all__ = ["restart_command"]

# The restart appends its own --from-stage; a dry run restarts nothing.
_NOT_REPEATED = frozenset({"from_stage", "dry_run"})
_DEFAULTS = (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)


def _word(value: Any) -> str:
    return os.path.abspath(value) if isinstance(value, Path) else str(value)


def restart_command(ctx: click.Context, resolved: Mapping[str, Any]) -> str:
    """``canids-submit pipeline`` with ``ctx``'s arguments and every option given, in the
    command's own order; ``resolved`` (parameter name → value) are always written, with
    these values (the executor chosen, the folders found). Paths are made absolute."""
    words = ["canids-submit", "pipeline"]
    options: list[str] = []
    for param in ctx.command.params:
        name = param.name
        if name is None or name in _NOT_REPEATED:
            continue
        value = resolved[name] if name in resolved else ctx.params.get(name)
        if isinstance(param, click.Argument):
            words += [_word(v) for v in (value if param.multiple or param.nargs != 1 else [value])]
            continue
        if name not in resolved and ctx.get_parameter_source(name) in _DEFAULTS:
            continue
        flag = max(param.opts, key=len)
        if isinstance(param, click.Option) and param.is_flag:
            options += [flag] if value else []
            continue
        values = value if isinstance(param, click.Option) and param.multiple else [value]
        for v in values:
            options += [flag, _word(v)]
    return quoted_command([*words, *options])
