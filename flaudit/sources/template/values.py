"""Runtime values that only exist while a template is evaluated: deployment-time unknowns and lambdas.

A value ARM only knows after deployment (an identity's principalId, a storage account's endpoints) is an
:class:`Unknown` that remembers the resource it comes from and the property path. It becomes the stable
string ``[symbolic:<lower-case resource id>:<path>]`` wherever it lands, so a role assignment whose
principalId is ``reference(<identity>).principalId`` carries exactly the string the identity resource
itself gets, and the rules can match the two without knowing real object ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SYMBOLIC_PREFIX = "[symbolic:"


class Unsupported(Exception):
    """A construct flaudit does not evaluate; recorded in ``inventory.unsupported`` with its JSON path."""


def symbol(base: str, path: str) -> str:
    return f"{SYMBOLIC_PREFIX}{base}:{path}]"


def is_symbolic(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(SYMBOLIC_PREFIX)


def _lookup(obj: dict[str, Any], key: str) -> tuple[bool, Any]:
    """Case-insensitive property lookup, as ARM does for object properties."""
    if key in obj:
        return True, obj[key]
    low = key.lower()
    for k, v in obj.items():
        if isinstance(k, str) and k.lower() == low:
            return True, v
    return False, None


class Unknown:
    """A value (or object) of a resource known only after deployment; ``known`` holds what the template set.

    ``full`` marks the root of ``reference(id, api, 'Full')``: its ``properties`` map to the same paths as a
    plain ``reference(id)`` so both spellings give one symbol.
    """

    __slots__ = ("base", "path", "known", "full")

    def __init__(self, base: str, path: str = "", known: dict[str, Any] | None = None, full: bool = False):
        self.base = base
        self.path = path
        self.known = known
        self.full = full

    def child_path(self, key: Any) -> str:
        if isinstance(key, int):
            return f"{self.path}[{key}]"
        return f"{self.path}.{key}" if self.path else str(key)

    def get(self, key: Any) -> Any:
        if self.full and isinstance(key, str) and key.lower() == "properties":
            props = (self.known or {}).get("properties")
            return Unknown(self.base, "", props if isinstance(props, dict) else None)
        if isinstance(self.known, dict) and isinstance(key, str):
            found, value = _lookup(self.known, key)
            if found:
                if isinstance(value, dict):
                    return Unknown(self.base, self.child_path(key), value)
                return value
        return Unknown(self.base, self.child_path(key))

    def symbol(self) -> str:
        return symbol(self.base, self.path)

    def __repr__(self) -> str:
        return f"Unknown({self.symbol()})"


@dataclass
class Lambda:
    """``lambda('x', body)`` as Bicep emits it; applied by map/filter/reduce/sort/toObject."""

    params: tuple[str, ...]
    body: Any  # expression node
    captured: dict[str, Any] = field(default_factory=dict)


def materialize(value: Any) -> Any:
    """Turn evaluation-time values into plain JSON: unknowns become their symbol (or their known object)."""
    if isinstance(value, Unknown):
        if value.known is not None and not value.full:
            return materialize(value.known)
        if value.full and value.known is not None:
            return materialize(value.known)
        return value.symbol()
    if isinstance(value, dict):
        return {k: materialize(v) for k, v in value.items()}
    if isinstance(value, list):
        return [materialize(v) for v in value]
    if isinstance(value, Lambda):
        raise Unsupported("a lambda used as a value")
    return value
