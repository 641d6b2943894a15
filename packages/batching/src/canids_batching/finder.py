"""find_max_budget: the largest batch budget a model trains with on a CUDA device.

Each probe is a real training step (forward and backward) on a synthetic batch of the
given budget; peak memory is the caching allocator's ``max_memory_reserved``, the
quantity its limit applies to. The search itself is :func:`search_max_budget`.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import torch
from torch import nn

from canids_batching._checks import Key, check_int
from canids_batching.errors import BatchingError, DoesNotFit
from canids_batching.search import BudgetResult, search_max_budget

__all__ = ["find_max_budget"]

LossFn = Callable[[nn.Module, Any], torch.Tensor]


def _to_device(batch: Any, device: torch.device) -> Any:
    if callable(getattr(batch, "to", None)):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _default_loss(model: nn.Module, batch: Any) -> torch.Tensor:
    out = model(batch)
    if isinstance(out, dict):
        out = list(out.values())
    parts = out if isinstance(out, list | tuple) else [out]
    terms = [t.float().mean() for t in parts if isinstance(t, torch.Tensor) and t.requires_grad]
    if not terms:
        raise BatchingError(
            "the model's output holds no tensor that requires grad, so there is nothing to "
            "backpropagate; pass loss_fn=lambda model, batch: <scalar loss>"
        )
    return torch.stack(terms).sum()


def _release(device: torch.device) -> None:
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats(device)


def _limit_fraction(
    memory_limit: int | float | None, total: int
) -> tuple[int | None, float | None]:
    if memory_limit is None:
        return None, None
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, int | float):
        raise BatchingError(f"memory_limit must be bytes (int) or a fraction, got {memory_limit!r}")
    if isinstance(memory_limit, float) and 0 < memory_limit <= 1:
        return int(memory_limit * total), float(memory_limit)
    if isinstance(memory_limit, int) and 0 < memory_limit <= total:
        return memory_limit, memory_limit / total
    raise BatchingError(
        f"memory_limit={memory_limit!r}: give bytes in (0, {total}] (this device's memory) "
        "or a fraction in (0, 1]; to size for a larger GPU, run on one"
    )


def find_max_budget(
    model: nn.Module,
    make_batch: Callable[[int], Any],
    *,
    key: Key = "nodes",
    low: int,
    high: int,
    device: torch.device | str | int | None = None,
    safety: float = 0.85,
    memory_limit: int | float | None = None,
    loss_fn: LossFn | None = None,
    rel_tol: float = 0.03,
    max_probes: int = 12,
) -> BudgetResult:
    """Find the largest budget in ``[low, high]`` whose training step fits on ``device``.

    ``make_batch(budget)`` builds a batch holding about ``budget`` of ``key`` (for
    instance ``lambda b: make_can_batch(profile, b, key="nodes")``); it is moved to the
    device with ``.to()`` (dicts, lists and tuples of tensors too). The step is
    ``loss_fn(model, batch).backward()``, by default ``model(batch)`` reduced to the sum
    of the means of its outputs. Only ``torch.OutOfMemoryError`` means "does not fit";
    any other error propagates. ``memory_limit`` (bytes, or a fraction of this device)
    caps the allocator with ``torch.cuda.set_per_process_memory_fraction`` to size a
    smaller GPU; the previous fraction is restored afterwards.

    The model is moved to ``device`` and put in training mode for the probes; its
    buffers (e.g. BatchNorm running statistics) and mode are restored and its gradients
    cleared afterwards. Optimizer state is not allocated by a probe: for Adam, lower
    ``memory_limit`` by about twice the parameter bytes.
    """
    if not torch.cuda.is_available():
        raise BatchingError(
            "find_max_budget measures CUDA memory and no CUDA device is available; run it "
            "on the GPU you will train on, or call search_max_budget with your own probe"
        )
    dev = torch.device(device if device is not None else "cuda")
    if dev.type != "cuda":
        raise BatchingError(f"device must be a CUDA device, got {dev}")
    dev = torch.device("cuda", dev.index if dev.index is not None else torch.cuda.current_device())
    check_int("low", low, 1)
    check_int("high", high, 1)
    props = torch.cuda.get_device_properties(dev)
    total = int(props.total_memory)
    limit_bytes, fraction = _limit_fraction(memory_limit, total)
    step = loss_fn or _default_loss

    model.to(dev)
    was_training = model.training
    saved = {name: buf.detach().clone() for name, buf in model.named_buffers()}
    # The getter arrived after torch 2.4; without it, 1.0 (no cap) is the default.
    getter = getattr(torch.cuda, "get_per_process_memory_fraction", None)
    previous_fraction = float(getter(dev)) if getter is not None else 1.0
    model.zero_grad(set_to_none=True)
    _release(dev)
    if fraction is not None:
        torch.cuda.set_per_process_memory_fraction(fraction, dev)
        capacity = limit_bytes
    else:
        free, _ = torch.cuda.mem_get_info(dev)
        capacity = free + torch.cuda.memory_reserved(dev)

    def probe(budget: int) -> int:
        oom = False
        peak = 0
        batch: Any = None
        loss: torch.Tensor | None = None
        try:
            torch.cuda.reset_peak_memory_stats(dev)
            batch = _to_device(make_batch(budget), dev)
            loss = step(model, batch)
            loss.backward()
            torch.cuda.synchronize(dev)
            peak = int(torch.cuda.max_memory_reserved(dev))
        except torch.OutOfMemoryError:
            # Handled outside the except block, so the traceback (and the activations
            # its frames hold) is gone before memory is released.
            oom = True
        finally:
            batch = loss = None
            model.zero_grad(set_to_none=True)
            _release(dev)
        if oom:
            raise DoesNotFit(budget, f"budget {budget} ran out of CUDA memory")
        return peak

    model.train()
    try:
        result = search_max_budget(
            probe,
            low=low,
            high=high,
            capacity=int(capacity),
            key=key,
            safety=safety,
            rel_tol=rel_tol,
            max_probes=max_probes,
        )
    finally:
        if fraction is not None:
            torch.cuda.set_per_process_memory_fraction(previous_fraction, dev)
        with torch.no_grad():
            for name, buf in model.named_buffers():
                buf.copy_(saved[name])
        model.train(was_training)
        model.zero_grad(set_to_none=True)
        _release(dev)
    return replace(result, device_name=props.name, total_memory=total, memory_limit=limit_bytes)
