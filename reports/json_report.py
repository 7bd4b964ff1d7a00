"""The JSON result, verbatim: the contract in docs/result-contract.md.

Written by orjson (:mod:`flaudit.jsonout`), byte for byte what ``json.dumps(result, indent=2, ensure_ascii=False)``
wrote, about 20x faster at fleet size. A compact result (``scan --compact``, ``"compact": true``) is written
without indentation or spaces, as ``json.dumps(result, separators=(",", ":"), ensure_ascii=False)`` would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flaudit.jsonout import dumps_compact_bytes, dumps_indented_bytes, iter_compact_bytes, iter_indented_bytes

EXTENSION = "json"


def render(result: dict[str, Any], **options: Any) -> str:
    return render_bytes(result, **options).decode("utf-8")


def render_bytes(result: dict[str, Any], **_: Any) -> bytes:
    """The file's bytes (UTF-8); what ``flaudit scan`` writes, skipping a decoded copy."""
    dump = dumps_compact_bytes if result.get("compact") is True else dumps_indented_bytes
    return dump(result, b"\n")


def render_chunks(result: dict[str, Any], **_: Any) -> Iterator[bytes | memoryview]:
    """:func:`render_bytes` in pieces (:func:`flaudit.jsonout.iter_indented_bytes`): what ``flaudit scan`` streams
    to a file, never holding the whole text beside the result."""
    pieces = iter_compact_bytes if result.get("compact") is True else iter_indented_bytes
    return pieces(result, b"\n")
