"""Errors that end a run with a one-line message instead of a traceback.

The CLI maps each class to an exit code; everything else is a bug and is allowed to show its traceback.
"""


class FlauditError(Exception):
    exit_code = 2


class InputError(FlauditError):
    """A file, config or argument that flaudit cannot use (exit 2)."""

    exit_code = 2


class CollectionError(FlauditError):
    """Nothing in scope could be read from Azure (exit 3)."""

    exit_code = 3
