"""Writing JSON fast and byte-for-byte as :func:`json.dumps` writes it (``indent=2``, ``ensure_ascii=False``).

Results, SARIF logs, snapshots and the inventory digest are serialised here. orjson writes them 20x faster than
the pure-Python encoder ``json.dumps`` falls back to whenever ``indent`` is set, with the same bytes for what
flaudit writes (text, integers, booleans, null, ordinary floats, nested objects and arrays). Anything orjson will
not write the way the standard library does (non-string keys, integers beyond 64 bits, values of other types) is
handed to :mod:`json`. One known difference: floats below 1e-4 in magnitude are written positionally
(``0.00001`` rather than ``1e-05``), the same number.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import orjson

#: Dataclasses and datetimes go to ``default`` (and so to :mod:`json`), which writes them as ``str()``.
_CANONICAL = orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps_indented(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, indent=2, ensure_ascii=False)


def dumps_indented_bytes(value: Any, end: bytes = b"") -> bytes:
    """UTF-8 of ``json.dumps(value, indent=2, ensure_ascii=False)`` followed by ``end``: what a file gets, without
    a decoded copy of a 60 MB result in between."""
    try:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2) + end
    except (TypeError, orjson.JSONEncodeError):
        return _utf8(json.dumps(value, indent=2, ensure_ascii=False)) + end


def dumps_compact_bytes(value: Any, end: bytes = b"") -> bytes:
    """UTF-8 of ``json.dumps(value, separators=(",", ":"), ensure_ascii=False)`` followed by ``end``."""
    try:
        return orjson.dumps(value) + end
    except (TypeError, orjson.JSONEncodeError):
        return _utf8(json.dumps(value, separators=(",", ":"), ensure_ascii=False)) + end


#: Items of a long top-level array serialised per piece by the ``iter_*`` writers (about 1.5 MB of findings).
CHUNK_ITEMS = 1000


def iter_indented_bytes(value: Any, end: bytes = b"", chunk: int = CHUNK_ITEMS) -> Iterator[bytes | memoryview]:
    """:func:`dumps_indented_bytes` in pieces whose concatenation is the same bytes: a top-level object member by
    member, and each array member longer than ``chunk`` items ``chunk`` items at a time. A writer that streams the
    pieces to a file never holds the whole text (a 200 MB input's result is over 100 MB of it) beside the result.

    Each piece is cut out of the serialisation of a one-member object ``{key: part}``, which lays ``part`` out at
    exactly the depth it has in the whole document; pieces are views of that text, not copies."""
    if not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value):
        yield dumps_indented_bytes(value, end)  # nothing worth streaming, or keys only the json module writes
        return
    yield b"{\n"
    last = len(value) - 1
    for n, (key, member) in enumerate(value.items()):
        tail = b"\n" if n == last else b",\n"
        if isinstance(member, list) and len(member) > chunk:
            head = b"  " + dumps_indented_bytes(key) + b": [\n"
            yield head
            for start in range(0, len(member), chunk):
                text = dumps_indented_bytes({key: member[start:start + chunk]})  # {\n  "key": [\n    ...\n  ]\n}
                yield memoryview(text)[len(head) + 2:-6]
                if start + chunk < len(member):
                    yield b",\n"
            yield b"\n  ]" + tail
        else:
            yield memoryview(dumps_indented_bytes({key: member}))[2:-2]  # {\n  "key": ...\n}
            yield tail
    yield b"}" + end


def iter_compact_bytes(value: Any, end: bytes = b"", chunk: int = CHUNK_ITEMS) -> Iterator[bytes | memoryview]:
    """:func:`dumps_compact_bytes` in pieces, as :func:`iter_indented_bytes` cuts them."""
    if not isinstance(value, dict) or not value or not all(isinstance(k, str) for k in value):
        yield dumps_compact_bytes(value, end)
        return
    for n, (key, member) in enumerate(value.items()):
        yield b"{" if n == 0 else b","
        if isinstance(member, list) and len(member) > chunk:
            head = dumps_compact_bytes(key) + b":["
            yield head
            for start in range(0, len(member), chunk):
                text = dumps_compact_bytes({key: member[start:start + chunk]})  # {"key":[...]}
                yield memoryview(text)[len(head) + 1:-2]
                if start + chunk < len(member):
                    yield b","
            yield b"]"
        else:
            yield memoryview(dumps_compact_bytes({key: member}))[1:-1]
    yield b"}" + end


def _utf8(text: str) -> bytes:
    """UTF-8 of JSON text; a lone surrogate (only possible inside a string) becomes its JSON escape ``\\udXXX``,
    which reads back as the same string."""
    return text.encode("utf-8", "backslashreplace")


def dumps_canonical(value: Any) -> bytes:
    """UTF-8 of ``json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)``."""
    try:
        return orjson.dumps(value, option=_CANONICAL, default=_strict_str)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          default=str).encode("utf-8")


def _strict_str(value: Any) -> Any:
    """orjson's ``default``: refuse, so a value orjson cannot write natively (a set, a custom class) sends the whole
    document to :mod:`json`, whose ``default=str`` then writes it as before. (Of the types orjson writes natively
    but differently, dataclasses and datetimes are passed through to here; plain ``Enum`` members, which no input
    produces, would be written as their value.)"""
    raise TypeError(type(value).__name__)
