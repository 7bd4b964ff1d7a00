"""Helpers for ARM ids, types and property paths.

ARM compares ids and types case-insensitively, and Resource Graph lower-cases types, so every lookup in
flaudit goes through :func:`norm`. Tools also differ in how they spell an id's slashes (a Microsoft example
drops the leading one; string-built ids double or trail them): :func:`canonical_id` and :func:`norm` are the
one place that forgives those spellings, and :func:`is_resource_id` the one place that decides whether a
string is an ARM id at all (a reference that is not one must never be matched or grouped by its text).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, TypeVar

MISSING = object()
_T = TypeVar("_T")

_SLASHES = re.compile(r"/{2,}")
#: How every ARM id starts once its leading slash is restored.
_ID_STARTS = ("subscriptions/", "providers/")
#: A well-formed id spelt canonically: a subscription, resource group or management group scope (or none), then
#: any number of ``/providers/<Namespace.Name>/<type>/<name>[/<type>/<name>...]`` (extension resources chain).
_CANONICAL_ID = re.compile(
    r"^(?:/subscriptions/[^/\s]+(?:/resourceGroups/[^/\s]+)?)?"
    r"(?:/providers/[^/\s]+\.[^/\s]+(?:/[^/\s]+/[^/\s]+)+)*$", re.IGNORECASE)


#: How many answers each per-string memo keeps before it starts again. A 1,000-silo evaluation asks about some
#: 15,000 distinct ids; loading 110,000 resources passes each id once, and a memo bounded well below that
#: keeps their answers from staying alive for the whole scan (peak memory), at the price of refilling the
#: evaluation's few thousand hot ids after a clear.
_MEMO_MAX = 1 << 15


def per_string(fn: Callable[[Any], _T]) -> Callable[[Any], _T]:
    """Memoise a pure function of one ARM id or type string. A 1,000-silo audit asks for the same few thousand
    ids' normal forms, names and parents hundreds of thousands of times; the answer depends on the string
    alone. Only exact ``str`` arguments are memoised (anything else is computed each time, as before), and only
    functions returning immutable values are wrapped."""
    memo: dict[str, _T] = {}

    @functools.wraps(fn)
    def wrapper(value: Any) -> _T:
        if value.__class__ is str:
            out = memo.get(value, MISSING)
            if out is MISSING:
                if len(memo) >= _MEMO_MAX:
                    memo.clear()
                out = memo[value] = fn(value)
            return out  # type: ignore[return-value]
        return fn(value)

    return wrapper


@per_string
def norm(value: str | None) -> str:
    """Canonical form of an ARM id or type for comparison: lower case, one leading slash on ids (restored
    when a tool dropped it), no doubled or trailing slashes."""
    return _norm(value)


def _norm(value: str | None) -> str:
    if not value or not isinstance(value, str):
        return ""
    v = value.strip().lower()
    if "//" in v:
        v = _SLASHES.sub("/", v)
    v = v.rstrip("/")
    if v.startswith(_ID_STARTS):
        v = "/" + v
    return v


def canonical_id(value: str) -> str:
    """``value`` spelt the way ARM spells ids (case kept): one leading slash, no empty segments, no trailing
    slash. ``subscriptions/x//resourceGroups/y/`` -> ``/subscriptions/x/resourceGroups/y``."""
    segs = id_segments(value)
    return "/" + "/".join(segs) if segs else ""


_IS_ID: dict[tuple[str, str | None], bool] = {}


def is_resource_id(value: Any, rtype: str | None = None) -> bool:
    """Whether ``value`` is a well-formed ARM id (of type ``rtype`` when given); see :func:`_is_resource_id`.
    Memoised per (string, type) like :func:`_per_string`'s functions."""
    if value.__class__ is not str or (rtype is not None and rtype.__class__ is not str):
        return _is_resource_id(value, rtype)
    key = (value, rtype)
    out = _IS_ID.get(key)
    if out is None:
        if len(_IS_ID) >= _MEMO_MAX:
            _IS_ID.clear()
        out = _IS_ID[key] = _is_resource_id(value, rtype)
    return out


def _is_resource_id(value: Any, rtype: str | None = None) -> bool:
    """Whether ``value`` is a well-formed ARM id (of type ``rtype`` when given, compared case-insensitively).

    Well-formed: a subscription, a resource group, or a scope followed by ``providers/<namespace>`` and
    type/name pairs (``.../providers/Microsoft.Network/virtualNetworks/v/subnets/s``), every segment
    non-empty. A free-text reference (``"test-subnet-resource-id"``, a bare name) is not one.
    """
    if not isinstance(value, str):
        return False
    if rtype is None and value and _CANONICAL_ID.match(value):  # the common case, without splitting
        return True
    segs = id_segments(value)
    low = [s.lower() for s in segs]
    if not low or low[0] not in ("subscriptions", "providers"):
        return False
    if low[0] == "subscriptions":
        if len(segs) == 2:
            return rtype is None or norm(rtype) == "microsoft.resources/subscriptions"
        if len(segs) == 4 and low[2] == "resourcegroups":
            return rtype is None or norm(rtype) == "microsoft.resources/resourcegroups"
        if len(segs) < 4 or low[2] not in ("resourcegroups", "providers"):
            return False
    if "providers" not in low:
        return False
    idx = len(low) - 1 - low[::-1].index("providers")
    rest = segs[idx + 1:]
    if len(rest) < 3 or len(rest) % 2 == 0 or "." not in rest[0]:
        return False  # providers/<namespace>/<type>/<name>[/<type>/<name>...]
    return rtype is None or type_of(value) == norm(rtype)


def type_from_id(resource_id: str) -> str:
    """The resource type an id names, in the id's own spelling (``Microsoft.Network/virtualNetworks/subnets``);
    ``""`` when the string names none. :func:`type_of` is the same, lower-cased for comparison."""
    if not is_resource_id(resource_id):
        return ""
    segs = id_segments(resource_id)
    low = [s.lower() for s in segs]
    if "providers" not in low:
        return "Microsoft.Resources/subscriptions" if len(segs) == 2 else "Microsoft.Resources/resourceGroups"
    idx = len(low) - 1 - low[::-1].index("providers")
    rest = segs[idx + 1:]
    return "/".join([rest[0]] + rest[1::2])


#: get_path's dotted paths split once (the same few hundred property paths are asked hundreds of thousands of
#: times in a fleet audit).
_PARTS: dict[str, tuple[str, ...]] = {}


def get_path(obj: Any, path: str, default: Any = None) -> Any:
    """Value at a dotted path (``properties.networkAcls.defaultAction``); ``default`` when any step is missing.

    Keys match case-insensitively when no exact key exists, because templates and some tools vary the case
    of property names that ARM itself treats as equal.
    """
    if isinstance(obj, dict) and path in obj and "." not in path:
        return obj[path]  # one exact key (``properties``, ``scope``): many of the calls of a fleet audit
    parts = _PARTS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PARTS) < 1 << 14:
            _PARTS[path] = parts
    cur = obj
    for part in parts:
        if not isinstance(cur, dict):
            return default
        nxt = cur.get(part, MISSING)
        if nxt is not MISSING:
            cur = nxt
            continue
        low = part.lower()
        for key in cur:
            if isinstance(key, str) and key.lower() == low:
                cur = cur[key]
                break
        else:
            return default
    return cur


def id_segments(resource_id: str) -> list[str]:
    return [s for s in (resource_id or "").strip().split("/") if s]


@per_string
def parent_id(resource_id: str) -> str | None:
    """Id of the resource (or scope) that contains ``resource_id``: child -> parent -> RG -> sub -> MG -> /."""
    segs = id_segments(resource_id)
    if not segs:
        return None
    low = [s.lower() for s in segs]
    # /providers/Microsoft.Management/managementGroups/X -> /
    if len(segs) == 4 and low[0] == "providers" and low[1] == "microsoft.management":
        return "/"
    if len(segs) == 2 and low[0] == "subscriptions":
        return "/"
    if len(segs) == 4 and low[2] == "resourcegroups":
        return "/" + "/".join(segs[:2])
    if "providers" in low:
        idx = len(low) - 1 - low[::-1].index("providers")
        rest = segs[idx + 2 :]
        if len(rest) <= 1:  # malformed
            return "/" + "/".join(segs[:idx])
        if len(rest) == 2:  # type/name directly under provider
            return "/" + "/".join(segs[:idx])
        return "/" + "/".join(segs[: len(segs) - 2])
    return "/" + "/".join(segs[:-2]) if len(segs) > 2 else "/"


def ancestor_scopes(resource_id: str) -> list[str]:
    """The scope itself and every scope above it, normalised, nearest first, ending with ``/``.

    Subscriptions sit under management groups that an ARM id does not name; callers add those from the
    inventory (see :class:`flaudit.rbac.RbacIndex`).
    """
    return list(_chain(norm(resource_id) or "/"))


#: Normalised scope -> its :func:`ancestor_scopes` chain. Every account and identity of a resource group shares
#: the group's chain above it, so a chain is worked out once per scope, by walking up to the nearest scope
#: already known (bounded like :func:`per_string`'s memos).
_CHAINS: dict[str, tuple[str, ...]] = {}


def _parent_scope(scope: str) -> str:
    """``norm(parent_id(scope)) or "/"`` for a normalised scope. A resource directly in a resource group
    (``/subscriptions/s/resourcegroups/r/providers/ns/type/name``: every storage account and identity) has the
    group as its parent, read off the segments without parsing the id again."""
    segs = scope.split("/")
    if (len(segs) == 9 and segs[1] == "subscriptions" and segs[3] == "resourcegroups" and segs[5] == "providers"
            and "providers" not in segs[6:] and all(segs[1:])):
        return "/".join(segs[:5])
    return norm(parent_id(scope)) or "/"


def _chain(scope: str) -> tuple[str, ...]:
    got = _CHAINS.get(scope)
    if got is not None:
        return got
    walked: list[str] = []
    tail: tuple[str, ...] = ()
    cur = scope
    while True:
        known = _CHAINS.get(cur)
        if known is not None:
            tail = known
            break
        walked.append(cur)
        if cur == "/":
            break
        cur = _parent_scope(cur)
        if cur in walked:  # never for ARM ids (each parent is shorter), kept so the walk always ends
            break
    if len(_CHAINS) + len(walked) >= _MEMO_MAX:
        _CHAINS.clear()
    for i in range(len(walked) - 1, -1, -1):
        tail = _CHAINS[walked[i]] = (walked[i], *tail)
    return tail


@per_string
def subscription_of(resource_id: str) -> str | None:
    segs = id_segments(resource_id)
    if len(segs) >= 2 and segs[0].lower() == "subscriptions":
        return segs[1].lower()
    return None


@per_string
def resource_group_id(resource_id: str) -> str | None:
    segs = id_segments(resource_id)
    if len(segs) >= 4 and segs[0].lower() == "subscriptions" and segs[2].lower() == "resourcegroups":
        return norm("/" + "/".join(segs[:4]))
    return None


@per_string
def name_of(resource_id: str) -> str:
    segs = id_segments(resource_id)
    return segs[-1] if segs else ""


@per_string
def type_of(resource_id: str) -> str:
    """ARM type derived from an id (``microsoft.network/virtualnetworks/subnets``), lower case."""
    segs = id_segments(resource_id)
    low = [s.lower() for s in segs]
    if "providers" not in low:
        if len(segs) == 2:
            return "microsoft.resources/subscriptions"
        if len(segs) == 4:
            return "microsoft.resources/resourcegroups"
        return ""
    idx = len(low) - 1 - low[::-1].index("providers")
    rest = low[idx + 1 :]
    if not rest:
        return ""
    parts = [rest[0]] + rest[1::2]
    return "/".join(parts)


def is_within(child_id: str, scope: str) -> bool:
    """True when ``child_id`` is ``scope`` or lies below it (path-segment aware)."""
    c, s = norm(child_id), norm(scope)
    if s in ("", "/"):
        return True
    return c == s or c.startswith(s + "/")
