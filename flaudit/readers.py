"""Reading user files (JSON, YAML) with one-line errors that name the file and what is wrong.

Every command reads its inputs through here, so a missing file, a directory, a binary file, bad JSON or bad
YAML gives the same kind of message (exit 2) wherever it is passed.

Speed: JSON is parsed by orjson straight from the file's bytes (no decoded copy of a 200 MB input is held beside
it), YAML by libyaml's ``CSafeLoader`` when PyYAML was built with it (the pure-Python loader is 20-30x slower on a
1,000-silo FL config). Both read the same documents as the standard parsers: anything orjson refuses (NaN,
Infinity, lone surrogates, bad JSON) is read again by :mod:`json`, so what is accepted and the error message
for what is not are the standard library's. One difference: an integer beyond 64 bits is read as a float (no
ARM property flaudit reads holds one).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from flaudit.errors import InputError

_BOM = b"\xef\xbb\xbf"


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
    return _decode(read_bytes(path, what), _name(path), what)


def _decode(data: bytes | memoryview, origin: str, what: str) -> str:
    try:
        return bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(f"{origin}: not a UTF-8 text file (expected a {what})") from None


def parse_json(text: str | bytes | memoryview, origin: str, what: str = "JSON file") -> Any:
    """The JSON document in ``text`` (str, or UTF-8 bytes with or without a byte-order mark)."""
    import orjson

    if isinstance(text, bytes | memoryview) and bytes(text[:3]) == _BOM:
        text = memoryview(text)[3:]
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass  # not plain JSON to orjson: the standard parser decides, with its own message
    if not isinstance(text, str):
        text = _decode(text, origin, what)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{origin}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def load_json(path: str | Path, what: str = "JSON file") -> Any:
    return parse_json(read_bytes(path, what), _name(path), what)


def yaml_loader() -> type:
    """libyaml's safe loader when PyYAML has it, else the pure-Python one (same documents, slower)."""
    import yaml

    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str | bytes, origin: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=yaml_loader())  # noqa: S506 - a safe loader, C or Python
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(f"{origin}: not valid YAML{f' at line {mark.line + 1}' if mark else ''}") from None


def load_yaml(path: str | Path, what: str = "YAML file") -> Any:
    return parse_yaml(read_text(path, what), _name(path))
