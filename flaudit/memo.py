"""Answers kept on the object they are about: the one way evaluators remember what they worked out.

Why: a fleet audit asks the same question many times (a dozen rules ask about every silo's subnet, account and
peerings), and the answer depends on the deployment (or network index) and the question's key alone. The
deployment and its indexes are fixed once built, so an answer worked out once is kept on them, in a dict named
for the question, and lives exactly as long as they do (a test's next deployment starts empty).

Callers hand a ``compute`` that is only called on a miss; ``None`` is an answer like any other.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable
from typing import Any, TypeVar

_T = TypeVar("_T")
_MISSING = object()


def keyed(owner: Any, name: str, key: Hashable, compute: Callable[[], _T]) -> _T:
    """The answer to question ``name`` for ``key``, kept on ``owner``."""
    memo = owner.__dict__.get(name)
    if memo is None:
        memo = owner.__dict__[name] = {}
    got = memo.get(key, _MISSING)
    if got is _MISSING:
        got = memo[key] = compute()
    return got


def per_object(owner: Any, name: str, obj: Any, compute: Callable[[], _T]) -> _T:
    """The answer to question ``name`` about ``obj`` (a payload dict, a silo: unhashable or compared by value),
    kept on ``owner`` by ``obj``'s identity. ``obj`` is kept beside its answer, so its id is never reused by
    another object while the answer stands."""
    memo = owner.__dict__.get(name)
    if memo is None:
        memo = owner.__dict__[name] = {}
    hit = memo.get(id(obj))
    if hit is None or hit[0] is not obj:
        hit = memo[id(obj)] = (obj, compute())
    return hit[1]


def once(owner: Any, name: str, compute: Callable[[], _T]) -> _T:
    """The answer to question ``name`` about ``owner`` as a whole, worked out once."""
    got = owner.__dict__.get(name, _MISSING)
    if got is _MISSING:
        got = owner.__dict__[name] = compute()
    return got


def whole(name: str) -> Callable[[Callable[[Any], _T]], Callable[[Any], _T]]:
    """Decorator: ``fn(owner)`` worked out once per owner and kept on it as ``name`` (:func:`once`), for the
    evaluators' "once per deployment" indexes, whose body then says only what they compute."""

    def wrap(fn: Callable[[Any], _T]) -> Callable[[Any], _T]:
        @functools.wraps(fn)
        def wrapper(owner: Any) -> _T:
            return once(owner, name, lambda: fn(owner))

        return wrapper

    return wrap


def grouped(pairs: Iterable[tuple[Any, Any]]) -> dict[Any, list[Any]]:
    """key -> its values in the order given: the shape of most indexes kept this way (peerings by remote VNet,
    items by silo)."""
    out: dict[Any, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out
