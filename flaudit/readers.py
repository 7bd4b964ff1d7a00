"""Reading user files (JSON, YAML) with one-line errors that name the file and what is wrong.

Every command reads its inputs through here, so a missing file, a directory, a binary file, bad JSON or bad
YAML gives the same kind of message (exit 2) wherever it is passed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from flaudit.errors import InputError


def _name(path: str | Path) -> str:
    return "<stdin>" if str(path) == "-" else str(path)


def read_bytes(path: str | Path, what: str = "file") -> bytes:
    """The bytes of ``path`` (``-`` is standard input)."""
    name = _name(path)
    try:
        if str(path) == "-":
            stream = getattr(sys.stdin, "buffer", None)  # a text-only stdin (tests, embedding) has no buffer
            return stream.read() if stream is not None else sys.stdin.read().encode("utf-8")
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory, not a {what}") from None
    except OSError as exc:
        raise InputError(f"{name}: cannot read ({exc.strerror or exc})") from None


def read_text(path: str | Path, what: str = "file") -> str:
    """UTF-8 text of ``path`` (a byte-order mark is dropped)."""
    try:
        return read_bytes(path, what).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{_name(path)}: not a UTF-8 text file (expected a {what})") from None


def parse_json(text: str, origin: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{origin}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def load_json(path: str | Path, what: str = "JSON file") -> Any:
    return parse_json(read_text(path, what), _name(path))


def parse_yaml(text: str | bytes, origin: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{origin}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    return parse_yaml(read_text(path, what), _name(path))
