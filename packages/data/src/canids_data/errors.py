"""Errors of canids-data: each says what failed, where, and the command that fixes it."""

from __future__ import annotations

from canids_core import CanidsError

__all__ = ["CacheError", "CanidsDataError", "CatalogError", "ReaderError", "WriterError"]


class CanidsDataError(CanidsError):
    """Base of every error raised by canids-data (a :class:`canids_core.CanidsError`, which
    the command-line tools catch)."""


class ReaderError(CanidsDataError, ValueError):
    """A CAN capture could not be parsed.

    ``path`` and ``line`` (1-based, ``None`` for whole-file problems) name the place,
    ``text`` the offending input and ``reason`` why it was refused.
    """

    def __init__(
        self,
        path: str,
        reason: str,
        *,
        line: int | None = None,
        text: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.path = path
        self.line = line
        self.text = text
        self.reason = reason
        self.hint = hint
        where = f"{path}:{line}" if line is not None else path
        msg = f"{where}: {reason}"
        if text is not None:
            shown = text if len(text) <= 120 else text[:117] + "..."
            msg += f"\n  offending text: {shown!r}"
        msg += "\n  " + (
            hint
            or "fix the file, or pass --skip-bad-rows to skip and count malformed rows "
            "(the counts are recorded in the cache manifest)"
        )
        super().__init__(msg)

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt from the constructor's arguments: a build's worker processes send this
        # error to the parent by pickle, and the default (``cls(*args)``) cannot call
        # ``__init__`` with the one formatted message.
        return (
            _rebuild_reader_error,
            (type(self), self.path, self.reason, self.line, self.text, self.hint),
        )


def _rebuild_reader_error(
    cls: type[ReaderError],
    path: str,
    reason: str,
    line: int | None,
    text: str | None,
    hint: str | None,
) -> ReaderError:
    return cls(path, reason, line=line, text=text, hint=hint)


class CatalogError(CanidsDataError, ValueError):
    """A dataset name, layout or dataset config file is wrong."""


class CacheError(CanidsDataError, RuntimeError):
    """The graph cache is missing, partial, stale, built with another config, or corrupt.

    ``status`` is one of the :class:`canids_data.VerifyStatus` values and ``fix`` the
    command that repairs it.
    """

    def __init__(self, message: str, *, status: str = "error", fix: str | None = None) -> None:
        self.message = message
        self.status = status
        self.fix = fix
        super().__init__(message + (f"\n  fix: {fix}" if fix else ""))

    def __reduce__(self) -> tuple[object, ...]:
        # A build's workers raise this in another process (a full disk, a file whose rows
        # were all skipped); pickle it with its status and fix, not as one formatted string.
        return (_rebuild_cache_error, (type(self), self.message, self.status, self.fix))


def _rebuild_cache_error(
    cls: type[CacheError], message: str, status: str, fix: str | None
) -> CacheError:
    return cls(message, status=status, fix=fix)


class WriterError(CanidsDataError, ValueError):
    """A table cannot be written in the requested format (e.g. an unlabelled table in a
    labelled format)."""
