"""One error format for every config file and override: the source, the field path, what
is wrong and the value that was given.

``runs/best.toml: gat.heads: must be >= 1 (got 0)`` reads the same for the run config,
the datasets file, a cluster profile and a tune space.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from .names import shown

__all__ = ["describe_validation_error", "field_path"]


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("gat", "heads")`` → ``gat.heads``; list positions as ``[2]``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _message(err: Any) -> str:
    kind, msg = err["type"], err["msg"]
    ctx = err.get("ctx") or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing (required)"
    if kind in ("greater_than_equal", "greater_than", "less_than", "less_than_equal"):
        op = {"greater_than_equal": ">=", "greater_than": ">", "less_than": "<"}.get(kind, "<=")
        bound = next(iter(ctx.values()), "?")
        return f"must be {op} {bound}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected', '?')}"
    if kind == "value_error":
        return str(ctx.get("error", msg)).removeprefix("Value error, ")
    return msg[0].lower() + msg[1:] if msg else kind


def describe_validation_error(
    exc: ValidationError, source: str, *, known: dict[str, list[str]] | None = None
) -> str:
    """One line per problem: ``source: field.path: what (got value)``.

    ``known`` maps a section path to its valid keys, listed after an unknown key.
    """
    lines = []
    for err in exc.errors(include_url=False):
        path = field_path(tuple(err["loc"]))
        text = f"{source}: {path}: {_message(err)}"
        if err["type"] == "extra_forbidden":
            section = path.rsplit(".", 1)[0] if "." in path else ""
            valid = (known or {}).get(section)
            if valid:
                text += f"; known: {', '.join(valid)}"
        elif err["type"] != "missing":
            text += f" (got {shown(err.get('input'), 60)})"
        lines.append(text)
    return "\n".join(lines)
