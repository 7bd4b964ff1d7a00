"""Writing files so that a failure never leaves a half-written report or snapshot behind.

A file is written in two steps: :func:`stage` writes its content to a temporary file beside it, :meth:`Staged.commit`
renames that over the target (an atomic replace). ``flaudit scan`` stages every report before it commits any, so a
renderer that fails leaves no report of the run behind; content may arrive in pieces (a large JSON result is
streamed, never held whole in memory).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flaudit.errors import InputError


@dataclass
class Staged:
    """Content written to ``tmp``, waiting to replace ``path``."""

    path: Path
    tmp: str

    def commit(self) -> None:
        try:
            os.replace(self.tmp, self.path)
        except OSError as exc:
            self.discard()
            raise InputError(f"{self.path}: cannot write ({exc.strerror or exc})") from None

    def discard(self) -> None:
        try:
            os.unlink(self.tmp)
        except OSError:
            pass


def stage(path: Path, chunks: Iterable[bytes]) -> Staged:
    """Write ``chunks`` to a temporary file beside ``path``; nothing is left behind when writing fails or the
    chunks' producer raises (which propagates)."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: directory {parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=parent)
    staged = Staged(path, tmp)
    try:
        # mkstemp creates 0600; a report or snapshot gets the mode any new file would (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as fh:
            for chunk in chunks:
                fh.write(chunk)
    except OSError as exc:
        staged.discard()
        raise InputError(f"{path}: cannot write ({exc.strerror or exc})") from None
    except BaseException:
        staged.discard()
        raise
    return staged


def write_text_atomic(path: Path, text: str) -> None:
    write_bytes_atomic(path, text.encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    stage(path, (data,)).commit()
