"""Search for the largest budget that fits in memory, over any ``probe(budget) -> peak``.

The search models peak memory as ``a + b * budget`` (activations grow linearly with the
nodes or edges in a batch; ``a`` is weights, gradients and workspace). From the first
probe it takes a budget that surely fits (the line through the origin overestimates
``b``), steps half-way to the memory when the probes so far span too little of it for a
trustworthy slope, then jumps just under the predicted maximum and verifies it; inside
a bracket it follows the line through the two largest fitting probes (a secant step),
kept away from the bracket's ends so a wrong model still shrinks it. Over [100, 100000]
with a 3 % stopping bracket a linear curve takes 5 probes, a curve with 1 % noise a
median of 5; plain binary search takes 10-11 (benchmarks/batching_finder.py).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from canids_batching._io import atomic_write_text, load_record, record
from canids_batching.errors import BatchingError, BatchingWarning, DoesNotFit

__all__ = ["BudgetResult", "ProbeRecord", "search_max_budget"]

_KIND, _VERSION = "canids-batching.budget", 1
NOT_FIT = (DoesNotFit, torch.OutOfMemoryError)
COVER = 0.5
LOCAL = 0.1


@dataclass(frozen=True)
class ProbeRecord:
    """One probe: its budget and peak bytes, ``None`` when it did not fit."""

    budget: int
    peak_bytes: int | None

    @property
    def fits(self) -> bool:
        return self.peak_bytes is not None


@dataclass(frozen=True)
class BudgetResult:
    """Outcome of a budget search.

    ``budget`` is the largest budget that fitted; ``safe_budget = floor(safety * budget)``
    is the one to train with (real batches vary around the probe batch and memory
    fragments over a run). ``upper_bound`` is the smallest budget that did not fit
    (``None`` if none was met); ``capped`` says the search reached ``high`` rather than
    the memory limit. ``intercept_bytes`` and ``bytes_per_unit`` are the fitted
    ``a + b * budget`` peak-memory line. Device fields are ``None`` for injected probes.
    """

    key: str
    budget: int
    safe_budget: int
    safety: float
    probes: tuple[ProbeRecord, ...]
    capacity_bytes: int
    low: int
    high: int
    upper_bound: int | None
    capped: bool
    converged: bool
    intercept_bytes: float | None
    bytes_per_unit: float | None
    device_name: str | None = None
    total_memory: int | None = None
    memory_limit: int | None = None

    @property
    def num_probes(self) -> int:
        return len(self.probes)

    def to_json(self) -> str:
        return record(_KIND, _VERSION, asdict(self))

    @classmethod
    def from_json(cls, text: str) -> BudgetResult:
        body = load_record(text, _KIND, _VERSION, {f.name for f in fields(cls)})
        try:
            probes = tuple(ProbeRecord(**p) for p in body["probes"])
        except TypeError as exc:
            raise BatchingError(f"malformed {_KIND} record: {exc}") from exc
        return cls(**{**body, "probes": probes})

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` to ``path`` atomically."""
        return atomic_write_text(path, self.to_json() + "\n")


def _fit(points: list[tuple[int, int]]) -> tuple[float, float] | None:
    """Least-squares ``(a, b)`` of ``peak = a + b * budget``; ``None`` if not increasing."""
    if len(points) == 1:
        x, p = points[0]
        # Through the origin: b is overestimated when a > 0, so the predicted maximum
        # C * x / p is below the true one and the second probe almost surely fits.
        return (0.0, p / x) if p > 0 else None
    x = np.array([q[0] for q in points], dtype=np.float64)
    p = np.array([q[1] for q in points], dtype=np.float64)
    b, a = np.polyfit(x, p, 1)
    return (float(a), float(b)) if b > 0 else None


def _local_fit(fits: list[tuple[int, int]], capacity: int) -> tuple[float, float] | None:
    """Line through the probes nearest the limit, or over all probes when those are noise.

    Memory curves bend (attention, workspace choices), so the two largest fitting
    budgets, a secant step, predict the limit best; but when their peaks differ by less
    than a tenth of the memory left, the slope between them is mostly noise.
    """
    if len(fits) >= 3:
        top = sorted(fits)[-2:]
        base = min(p for _, p in fits)
        if top[1][1] - top[0][1] >= LOCAL * (capacity - base):
            return _fit(top)
    return _fit(fits)


def _next_budget(
    fits: list[tuple[int, int]], lb: int, ub: int | None, high: int, capacity: int, tol: float
) -> int:
    model = _local_fit(fits, capacity)
    pred = (capacity - model[0]) / model[1] if model else None
    peaks = [p for _, p in fits]
    base = min(peaks)
    # Share of the memory between the smallest probe and the capacity that the fitting
    # probes span: a slope measured over a sliver of it is mostly noise.
    cover = (max(peaks) - base) / max(1.0, capacity - base)
    if ub is None:
        verify = max(lb + 1, math.floor(lb / (1 - tol)))
        if model is None:
            c = 2 * lb
        elif len(fits) > 1 and cover < COVER:
            # Go half-way to the capacity in memory, not in budget: it fits even if the
            # slope is off by half, and spans enough memory for the next fit.
            p_lb = dict(fits)[lb]
            c = max(verify, math.floor(lb + 0.5 * (capacity - p_lb) / model[1]))
        else:
            # Land just under the predicted maximum, but far enough above lb that a
            # failure there settles the answer within tol.
            c = max(math.floor(pred * (1 - tol / 2)), verify)
        return min(c, high)
    finishing = math.ceil(ub * (1 - tol))
    span = ub - lb
    trusted = pred is not None and cover >= COVER
    if pred is not None and lb < pred < ub:
        guess = pred * (1 - tol / 2)
        # Keep a model-guided probe inside the middle of the bracket: a wrong model
        # then still shrinks it by a fifth per probe.
        guess = min(max(guess, lb + 0.2 * span), ub - 0.2 * span)
    elif trusted and pred is not None and pred >= ub:
        # A model spanning most of the memory overshot by noise: the maximum is then
        # just below the failure.
        guess = finishing
    elif trusted:
        guess = lb / (1 - tol)
    else:
        # No usable model: bisect in log space, the right scale for budgets.
        guess = math.sqrt(lb * ub)
    c = finishing if guess >= finishing - 1 else math.floor(guess)
    return int(min(max(c, lb + 1), ub - 1))


def search_max_budget(
    probe: Callable[[int], int],
    *,
    low: int,
    high: int,
    capacity: int,
    key: str = "nodes",
    safety: float = 0.85,
    rel_tol: float = 0.03,
    max_probes: int = 12,
) -> BudgetResult:
    """Find the largest budget in ``[low, high]`` for which ``probe`` fits.

    ``probe(budget)`` returns the peak bytes of a training step at that budget, or raises
    :class:`~canids_batching.DoesNotFit` or ``torch.OutOfMemoryError`` when it does not
    fit; any other exception propagates. ``capacity`` is the memory the budget must fit in
    (bytes), used by the model that picks the next budget. The search stops when the
    smallest failing and the largest fitting budgets are within ``rel_tol`` of each other,
    after ``max_probes`` probes (warning, ``converged=False``), or at ``high``.
    """
    for name, v in (
        ("low", low),
        ("high", high),
        ("capacity", capacity),
        ("max_probes", max_probes),
    ):
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
            raise BatchingError(f"{name} must be a positive integer, got {v!r}")
    if low > high:
        raise BatchingError(f"low ({low}) must not exceed high ({high})")
    if not 0 < safety <= 1:
        raise BatchingError(f"safety must be in (0, 1], got {safety!r}")
    if not 0 < rel_tol < 1:
        raise BatchingError(f"rel_tol must be in (0, 1), got {rel_tol!r}")

    records: list[ProbeRecord] = []

    def run(budget: int) -> int | None:
        try:
            peak = int(probe(budget))
        except NOT_FIT:
            records.append(ProbeRecord(budget, None))
            return None
        records.append(ProbeRecord(budget, peak))
        return peak

    first = run(low)
    if first is None:
        raise BatchingError(
            f"the first probe, at low={low} {key}, already does not fit in {capacity} bytes; "
            "lower `low`, free memory on the device (other processes, cached tensors), "
            "raise memory_limit, or use a smaller model"
        )
    fits = [(low, first)]
    lb, ub = low, None
    converged = False
    while True:
        if lb >= high or (ub is not None and ub - lb <= max(1.0, rel_tol * ub)):
            converged = True
            break
        if len(records) >= max_probes:
            break
        c = _next_budget(fits, lb, ub, high, capacity, rel_tol)
        peak = run(c)
        if peak is None:
            ub = c
        else:
            lb = c
            fits.append((c, peak))
    if not converged:
        warnings.warn(
            f"budget search stopped after {max_probes} probes with the maximum between {lb} "
            f"and {ub if ub is not None else high}; returning {lb}. Raise max_probes or "
            "rel_tol for a tighter answer.",
            BatchingWarning,
            stacklevel=2,
        )
    model = _fit(fits) if len(fits) > 1 else None
    return BudgetResult(
        key=key,
        budget=lb,
        safe_budget=max(1, math.floor(safety * lb)),
        safety=safety,
        probes=tuple(records),
        capacity_bytes=int(capacity),
        low=int(low),
        high=int(high),
        upper_bound=ub,
        capped=lb >= high,
        converged=converged,
        intercept_bytes=model[0] if model else None,
        bytes_per_unit=model[1] if model else None,
    )
