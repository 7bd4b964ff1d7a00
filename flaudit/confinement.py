"""Whether an ABAC condition confines a principal to its own place: evaluated against every other silo's place.

A condition on a silo's data role (typically on the orchestrator's storage, where every silo writes its model
update) confines that silo only if it allows none of its data actions on any *other* silo's place. The places
are witnesses: concrete (path, container) values taken from each silo's own conditions (``StringStartsWith
'silo1/'`` gives the path ``silo1/x``), its container-scoped grants, and ``<silo name>/x``. A condition
allowing, or not deciding, any other silo's witness does not confine (``StringStartsWith 'silo1'`` reaches
``silo10/x``; ``StringLike '*'`` reaches everything; an action the condition does not name is allowed).

Speed: a deployment of 1,000 silos has 1,000 conditions and 1,000+ witnesses. Each condition is first
partially evaluated for the action (``ActionMatches`` decided), which for every condition in Microsoft's
examples leaves a predicate on the path or container; a positive prefix, exact or ``StringLike`` predicate
picks its candidate witnesses from a sorted index, and only those are evaluated. Any other residual is
evaluated against every witness (correct, just slower).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from flaudit import conditions as c
from flaudit.operations import action_matches


@dataclass(frozen=True, slots=True)
class Witness:
    silo: str
    path: str | None  # blob path inside the container (attribute blobs:path)
    container: str | None  # container name (attribute containers:name); None: not known

    def request(self, action: str) -> c.Request:
        attrs: dict[str, Any] = {}
        if self.path is not None:
            attrs[c.PATH_ATTRIBUTE] = self.path
        if self.container is not None:
            attrs[c.CONTAINER_ATTRIBUTE] = self.container
        return c.Request(action, None, attrs)

    def describe(self) -> str:
        where = f"path {self.path!r}" if self.path is not None else "any path"
        return where + (f" in container {self.container!r}" if self.container else "")


class WitnessIndex:
    """Every silo's witnesses, indexed by path and container for candidate lookup."""

    def __init__(self, witnesses: list[Witness]):
        self.all = list(dict.fromkeys(witnesses))
        self._by_path = sorted((w.path, i) for i, w in enumerate(self.all) if w.path is not None)
        self._paths = [p for p, _ in self._by_path]
        self._no_path = [i for i, w in enumerate(self.all) if w.path is None]
        self._by_container: dict[str, list[int]] = {}
        self._no_container: list[int] = []
        #: id(residual) -> (residual, its candidates): the residuals of one condition for several actions are
        #: one object (see :func:`residual_of`); the residual is kept beside its answer so its id is not reused.
        self._candidates: dict[int, tuple[Any, list[int] | None]] = {}
        for i, w in enumerate(self.all):
            if w.container is None:
                self._no_container.append(i)
            else:
                self._by_container.setdefault(w.container, []).append(i)

    def with_path_prefix(self, prefix: str) -> list[int]:
        lo = bisect.bisect_left(self._paths, prefix)
        hi = bisect.bisect_left(self._paths, prefix + "\U0010ffff")
        return [i for _, i in self._by_path[lo:hi]] + self._no_path

    def with_container(self, name: str) -> list[int]:
        return self._by_container.get(name, []) + self._no_container

    def candidates(self, tree: Any) -> list[int] | None:
        """:func:`_candidates` of ``tree`` in this index, once per tree object (callers do not modify it)."""
        hit = self._candidates.get(id(tree))
        if hit is None or hit[0] is not tree:
            hit = self._candidates[id(tree)] = (tree, _candidates(tree, self))
        return hit[1]


def _residual(tree: Any, action: str) -> Any:
    """The tree with ``ActionMatches`` / ``SubOperationMatches`` decided for a plain request of ``action``
    (True, False, or what is left)."""
    if isinstance(tree, c.ActionMatches):
        return action_matches(tree.action, action)
    if isinstance(tree, c.SubOperationMatches):
        return False
    if isinstance(tree, c.Not):
        v = _residual(tree.operand, action)
        return (not v) if isinstance(v, bool) else c.Not(v)
    if isinstance(tree, (c.And, c.Or)):
        a, b = _residual(tree.left, action), _residual(tree.right, action)
        short = isinstance(tree, c.Or)  # the value that decides: True for OR, False for AND
        if a is short or b is short:
            return short
        if isinstance(a, bool):
            return b
        if isinstance(b, bool):
            return a
        return type(tree)(a, b)
    return tree


_PREFIX_OPS = {"stringstartswith", "stringequals", "stringlike"}


def _candidates(tree: Any, index: WitnessIndex) -> list[int] | None:
    """Witness positions that can make ``tree`` True or undecided; None when the tree is not indexable (then
    every witness is a candidate). Sound because each indexable predicate is necessary for True and for None:
    a witness outside its range makes it False."""
    if isinstance(tree, c.Compare) and tree.quantifier is None and isinstance(tree.left, c.Attribute) \
            and isinstance(tree.right, c.Literal) and tree.right.kind == "string" and tree.operator in _PREFIX_OPS:
        v = str(tree.right.value)
        if tree.left.key == c.PATH_ATTRIBUTE:
            if tree.operator == "stringlike":
                v = v.split("*", 1)[0].split("?", 1)[0]
            return index.with_path_prefix(v)
        if tree.left.key == c.CONTAINER_ATTRIBUTE and tree.operator == "stringequals":
            return index.with_container(v)
        return None
    if isinstance(tree, c.And):
        for side in (tree.left, tree.right):
            got = _candidates(side, index)
            if got is not None:
                return got
        return None
    if isinstance(tree, c.Or):
        a, b = _candidates(tree.left, index), _candidates(tree.right, index)
        return None if a is None or b is None else list(dict.fromkeys(a + b))
    return None


def reached(condition: str | None, action: str, index: WitnessIndex, own: str) -> list[tuple[Witness, bool | None]]:
    """The other silos' witnesses the condition lets ``action`` reach (True) or cannot decide for (None).

    An unparseable condition reaches everything (one entry per other silo with None); a missing condition
    reaches everything (True).
    """
    if not condition:
        return [(w, True) for w in _one_per_silo(_others(index, own))]
    rest = residual_of(condition, action)
    if rest is None:
        return [(w, None) for w in _one_per_silo(_others(index, own))]
    if rest is False:
        return []
    if rest is True:
        return [(w, True) for w in _one_per_silo(_others(index, own))]
    cand = index.candidates(rest)
    every = index.all
    pool = _others(index, own) if cand is None else [every[i] for i in cand if every[i].silo != own]
    out = []
    for w in pool:
        v = c.evaluate(rest, w.request(action))
        if v is not False:
            out.append((w, v))
    return out


@lru_cache(maxsize=16384)
def residual_of(condition: str, action: str) -> Any:
    """The condition's residual for ``action`` (None when it does not parse), once per (condition, action).

    A fleet's conditions share a shape (:func:`flaudit.conditions.shaped_parse`) and differ in their path
    strings, not in their actions: the residual of the shape, with its ``ActionMatches`` strings filled in, is
    computed once per (shape, action, those strings) and the condition's own strings are put into it.
    ``_residual`` decides only ``ActionMatches``/``SubOperationMatches`` and keeps every comparison as it is,
    so this equals the residual of the condition's own tree (tests/test_evaluator_caches.py)."""
    if not isinstance(condition, str) or not condition.strip() or len(condition) > c.MAX_LENGTH:
        return None
    keyed = _CONDITION_KEYS.get(condition)
    if keyed is None:
        shaped = c.shaped_parse(condition)
        if shaped is None:
            tree = c.parse(condition)
            return None if tree is None else _residual(tree, action)
        shape, template, values = shaped
        if len(_CONDITION_KEYS) >= 1 << 14:
            _CONDITION_KEYS.clear()
        keyed = _CONDITION_KEYS[condition] = (shape, template, values,
                                              tuple(map(values.__getitem__, c.action_slots(shape, template))))
    shape, template, values, action_strings = keyed
    key = (shape, action, action_strings)
    got = _SHAPE_RESIDUALS.get(key)
    if got is None:
        if len(_SHAPE_RESIDUALS) >= 1 << 14:
            _SHAPE_RESIDUALS.clear()
            _INTERNED.clear()
        rest = _residual(c.fill(template, values, literals=False), action)
        got = (rest, None if isinstance(rest, bool) else c.literal_filler(rest))
        if got[1] is not None:
            got = _INTERNED.setdefault(rest, got)  # trees are frozen dataclasses: equal ones hash alike
        _SHAPE_RESIDUALS[key] = got
    if got[1] is None:
        return got[0]
    # The actions a condition names usually leave one residual (its path test): filled once per condition.
    fkey = (id(got), condition)
    hit = _FILLED.get(fkey)
    if hit is None or hit[0] is not got:
        if len(_FILLED) >= 1 << 14:
            _FILLED.clear()
        hit = _FILLED[fkey] = (got, got[1](values))
    return hit[1]


#: Per (shape, action, the shape's action strings): the shape's residual (its comparisons' strings still
#: placeholders) and its :func:`flaudit.conditions.literal_filler`. Keyed by the shape's text rather than its
#: tree, whose hash walks every node.
_SHAPE_RESIDUALS: dict[tuple[str, str, tuple[str, ...]], tuple[Any, Any]] = {}
#: Shaped condition -> (shape, template, strings, its action strings): read once per condition, not per action.
_CONDITION_KEYS: dict[str, tuple[str, Any, tuple[str, ...], tuple[str, ...]]] = {}
#: Residual template -> the one (residual, filler) entry of every shape and action that leaves that template: a
#: condition's actions that leave equal residuals then share one entry, and :data:`_FILLED` fills it once.
_INTERNED: dict[Any, tuple[Any, Any]] = {}
#: (id of an interned entry, condition) -> (that entry, its residual filled with the condition's strings). The
#: entry is kept beside its answer, so its id is not reused while the answer stands.
_FILLED: dict[tuple[int, str], tuple[tuple[Any, Any], Any]] = {}


def _others(index: WitnessIndex, own: str) -> list[Witness]:
    return [w for w in index.all if w.silo != own]


def _one_per_silo(ws: list[Witness]) -> list[Witness]:
    seen: dict[str, Witness] = {}
    for w in ws:
        seen.setdefault(w.silo, w)
    return list(seen.values())


def witnesses_of(silo: str, conditions_: list[str | None], containers: list[str]) -> list[Witness]:
    """A silo's places: the paths and containers its own conditions single out, its container-scoped grants'
    containers, and ``<silo>/x`` (the FL sample's per-silo layout)."""
    paths = [f"{silo}/x"]
    named_containers: list[str] = list(containers)
    for cond in conditions_:
        comps = c.comparisons_of(cond) if cond else None
        if comps is None:  # not parseable: singles out nothing
            continue
        paths += c.witness_values(None, c.PATH_ATTRIBUTE, comps)
        named_containers += c.witness_values(None, c.CONTAINER_ATTRIBUTE, comps)
    conts: list[str | None] = list(dict.fromkeys(named_containers)) or [None]
    return [Witness(silo, p, k) for p in dict.fromkeys(paths) for k in conts]
