"""Line numbers of JSON objects by JSON path, so findings on a template point at the resource's line.

The standard library parser does not report positions, so this module scans the text once with a token
regex and records the 1-based line of every object's and array's opening bracket under its JSON path
(``$.resources[3].properties.template.resources[0]``). Paths use the same spelling as :func:`json_path`.
"""

from __future__ import annotations

import bisect
import re

_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')
_IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def json_path(base: str, key: str | int) -> str:
    """``base`` extended by an array index or an object key (``.name`` or ``['odd name']``)."""
    if isinstance(key, int):
        return f"{base}[{key}]"
    if _IDENT.match(key):
        return f"{base}.{key}"
    return base + "['" + key.replace("'", "\\'") + "']"


def line_index(text: str) -> dict[str, int]:
    """Map JSON path -> 1-based line of the ``{`` or ``[`` that opens the value at that path."""
    import json

    newlines = [m.start() for m in re.finditer("\n", text)]
    out: dict[str, int] = {}
    # stack entries: [path, is_object, next_index, pending_key]
    stack: list[list] = []
    expect_key = False
    for m in _TOKEN.finditer(text):
        tok = m.group(0)
        if stack and stack[-1][1] and expect_key:
            if tok.startswith('"'):
                stack[-1][3] = json.loads(tok)
                expect_key = False
                continue
            if tok == "}":
                stack.pop()
                expect_key = False
                _after_value(stack)
                continue
        if tok == ":" or tok == ",":
            if tok == "," and stack and stack[-1][1]:
                expect_key = True
            continue
        if tok in "]}":
            stack.pop()
            _after_value(stack)
            continue
        path = _value_path(stack)
        if tok in "{[":
            out[path] = bisect.bisect_left(newlines, m.start()) + 1
            stack.append([path, tok == "{", 0, None])
            expect_key = tok == "{"
            continue
        _after_value(stack)
    return out


def _value_path(stack: list[list]) -> str:
    if not stack:
        return "$"
    top = stack[-1]
    return json_path(top[0], top[3] if top[1] else top[2])


def _after_value(stack: list[list]) -> None:
    if stack and not stack[-1][1]:
        stack[-1][2] += 1
