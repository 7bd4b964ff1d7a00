"""Errors that end a run with a one-line message instead of a traceback, and the stage an unexpected
exception escaped from.

The CLI maps each :class:`FlauditError` class to an exit code. Anything else is a bug in flaudit: the CLI
ends the run with :data:`EXIT_INTERNAL`, one line naming the input and the stage (source, model, rule,
renderer) that failed, and no report; the traceback only with ``--verbose``. Code that runs a stage wraps
it in :func:`stage` so that line can say where it happened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

#: Exit code of an unexpected exception (a bug, never a verdict about the deployment).
EXIT_INTERNAL = 4


class FlauditError(Exception):
    exit_code = 2


class InputError(FlauditError):
    """A file, config or argument that flaudit cannot use (exit 2)."""

    exit_code = 2


class CollectionError(FlauditError):
    """Nothing in scope could be read from Azure (exit 3)."""

    exit_code = 3


@contextmanager
def stage(what: str) -> Iterator[None]:
    """Label what runs inside (``"source flaudit.sources.files reading a.json"``, ``"rule FL-NET-001"``).

    An unexpected exception leaving the block carries the label of the innermost stage it crossed as
    ``flaudit_stage``; :class:`FlauditError` (an expected, one-line error) passes through untouched.
    """
    try:
        yield
    except FlauditError:
        raise
    except Exception as exc:
        if not getattr(exc, "flaudit_stage", None):
            exc.flaudit_stage = what  # type: ignore[attr-defined]
        raise


def stage_of(exc: BaseException) -> str | None:
    return getattr(exc, "flaudit_stage", None)
