"""Argument checks shared by the sampler, the synthetic batches and the finder."""

from __future__ import annotations

from typing import Any, Literal, get_args

import numpy as np

from canids_batching.errors import BatchingError

__all__ = ["Key", "budgets_for", "check_int"]

Key = Literal["nodes", "edges", "both"]


def check_int(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int if it is an integer (not a bool) >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise BatchingError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def budgets_for(key: str, budget: Any) -> tuple[int, ...]:
    """The budget as a tuple of limits, one per constrained count (nodes, edges)."""
    if key not in get_args(Key):
        raise BatchingError(f"key must be 'nodes', 'edges' or 'both', got {key!r}")
    if key == "both":
        if not (isinstance(budget, tuple | list) and len(budget) == 2):
            raise BatchingError(
                "key='both' takes budget=(node_budget, edge_budget), a pair of positive "
                f"integers; got {budget!r}"
            )
        return (check_int("node budget", budget[0], 1), check_int("edge budget", budget[1], 1))
    if isinstance(budget, tuple | list):
        raise BatchingError(
            f"a (node_budget, edge_budget) pair needs key='both'; key={key!r} takes one integer"
        )
    return (check_int(f"budget ({key})", budget, 1),)
