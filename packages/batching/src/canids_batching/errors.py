"""The one error, the one warning and the probe signal of canids-batching."""

from __future__ import annotations

__all__ = ["BatchingError", "BatchingWarning", "DoesNotFit"]


class BatchingError(ValueError):
    """Base of every error raised by canids-batching.

    A ``ValueError`` because almost every failure is a value the caller passed (a
    budget, a key, sizes, a search range) that cannot work; the message says which
    value, why, and what to pass instead.
    """


class BatchingWarning(UserWarning):
    """Something the caller should know but that does not stop the work.

    Raised for graphs larger than the budget (they travel alone), batches dropped by
    ``min_batch_size`` or by DDP equalisation, and a budget search that ran out of probes.
    Filter it by class: ``warnings.filterwarnings("ignore", category=BatchingWarning)``.
    """


class DoesNotFit(Exception):  # noqa: N818  (a signal, like StopIteration, not an error)
    """Raised by a memory probe to say "this budget does not fit".

    :func:`canids_batching.search_max_budget` treats it (and ``torch.OutOfMemoryError``)
    as an upper bound; every other exception a probe raises propagates unchanged.
    """

    def __init__(self, budget: int | None = None, message: str | None = None) -> None:
        self.budget = budget
        super().__init__(message or f"budget {budget} does not fit")
