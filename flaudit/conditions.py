"""Azure role-assignment conditions (ABAC, ``conditionVersion: 2.0``): parsed into a syntax tree and evaluated.

Why a parser: whether a condition confines a principal is a property of the whole boolean expression, not of a
clause that looks right. ``StringStartsWith 'silo1'`` also matches ``silo10/...``, ``StringLike '*'`` matches
everything, an action the condition does not name is allowed by its ``!(ActionMatches{...}) OR ...`` guard,
and ``NOT``/``OR`` can undo any clause. So flaudit parses the condition language of Microsoft's "Azure role
assignment condition format and syntax" (learn.microsoft.com/azure/role-based-access-control/conditions-format)
with a small recursive-descent parser and evaluates the tree in three-valued logic (True, False, None =
cannot decide) against a concrete request: an action, an optional sub-operation and attribute values.

Grammar (keywords and operator names case-insensitive)::

    condition  := or
    or         := and (("||" | "OR") and)*
    and        := unary (("&&" | "AND") unary)*
    unary      := ("!" | "NOT") unary | "(" condition ")" | function | comparison
    function   := ("ActionMatches" | "SubOperationMatches") "{" STRING "}" | ("Exists" | "NotExists") ATTRIBUTE
    comparison := operand OPERATOR operand
    OPERATOR   := [("ForAnyOfAnyValues" | "ForAllOfAnyValues" | "ForAnyOfAllValues" | "ForAllOfAllValues") ":"] NAME
    operand    := ATTRIBUTE | STRING | NUMBER | "true" | "false" | GUID | "{" operand ("," operand)* "}"
    ATTRIBUTE  := "@" ("Resource" | "Request" | "Principal" | "Environment") "[" name "]"

Fail closed: :func:`parse` never raises (anything it cannot read gives None, and callers treat the grant as
conditional access); an attribute the request does not define, an operator flaudit does not know, or a
comparison whose answer depends on how a wildcard is read evaluates to None, and None never confines.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from flaudit.operations import action_matches

QUANTIFIERS = ("foranyofanyvalues", "forallofanyvalues", "foranyofallvalues", "forallofallvalues")
SOURCES = ("resource", "request", "principal", "environment")
PATH_ATTRIBUTE = "@resource[microsoft.storage/storageaccounts/blobservices/containers/blobs:path]"
CONTAINER_ATTRIBUTE = "@resource[microsoft.storage/storageaccounts/blobservices/containers:name]"
ROLE_ATTRIBUTE = "@request[microsoft.authorization/roleassignments:roledefinitionid]"
MAX_LENGTH = 8192  # Azure caps conditions well below this; longer input is not a condition flaudit reads


class ConditionSyntaxError(ValueError):
    """The text is not a condition in Azure's grammar."""


# -- syntax tree ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class And:
    left: Any
    right: Any


@dataclass(frozen=True)
class Or:
    left: Any
    right: Any


@dataclass(frozen=True)
class Not:
    operand: Any


@dataclass(frozen=True)
class ActionMatches:
    action: str


@dataclass(frozen=True)
class SubOperationMatches:
    suboperation: str


@dataclass(frozen=True)
class Exists:
    attribute: str
    negated: bool = False


@dataclass(frozen=True)
class Attribute:
    source: str  # resource | request | principal | environment
    name: str  # lower case

    @property
    def key(self) -> str:
        return f"@{self.source}[{self.name}]"


@dataclass(frozen=True)
class Literal:
    value: Any  # str | float | bool | tuple (a set)
    kind: str  # string | number | bool | guid | set


@dataclass(frozen=True)
class Compare:
    left: Attribute | Literal
    operator: str  # lower case, without quantifier
    quantifier: str | None  # lower case
    right: Attribute | Literal


# -- tokenizer ------------------------------------------------------------------------------------------------
#: One token and the whitespace before it. No token starts with whitespace, so skipping it in the same match is
#: the same as matching it separately; a quoted string is matched with the unrolled loop ``[^'\\]*(?:\\.[^'\\]*)*``
#: (the language of ``(?:[^'\\]|\\.)*``, without trying an alternation per character). A fleet's conditions are
#: tokenised once each: 1,000 silos, 1,000 conditions.
_TOKEN = re.compile(r"""\s*(?:
    (?P<and>&&)
  | (?P<or>\|\|)
  | (?P<punct>[(){},!])
  | (?P<attr>@(?P<src>[A-Za-z]+)\[(?P<attrname>[^\]]*)\])
  | (?P<string>'[^'\\]*(?:\\.[^'\\]*)*')
  | (?P<guid>[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.:]))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?::[A-Za-z_][A-Za-z0-9_]*)?)
)""", re.VERBOSE)
_SPACE = re.compile(r"\s*")
_ESCAPE = re.compile(r"\\(.)")


class _Tok(NamedTuple):
    kind: str
    text: str
    value: Any = None


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    match = _TOKEN.match
    while (m := match(text, pos)) is not None:
        pos = m.end()
        kind = m.lastgroup or ""
        tok = m.group(kind)
        if kind == "attr":
            src = m.group("src").lower()
            if src not in SOURCES:
                raise ConditionSyntaxError(f"unknown attribute source @{m.group('src')}")
            out.append(_Tok("attr", tok, Attribute(src, m.group("attrname").strip().lower())))
        elif kind == "string":
            raw = tok[1:-1]
            out.append(_Tok("string", tok, _ESCAPE.sub(r"\1", raw) if "\\" in raw else raw))
        else:
            out.append(_Tok(kind, tok))
    pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]  # \s* always matches
    if pos < len(text):
        raise ConditionSyntaxError(f"unexpected character {text[pos]!r} at {pos}")
    return out


# -- parser ---------------------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, tokens: list[_Tok]):
        self.toks = tokens
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        t = self.peek()
        if t is None:
            raise ConditionSyntaxError("unexpected end of condition")
        self.i += 1
        return t

    def expect(self, text: str) -> None:
        t = self.take()
        if t.text != text:
            raise ConditionSyntaxError(f"expected {text!r}, found {t.text!r}")

    def _is(self, t: _Tok | None, *words: str) -> bool:
        return t is not None and (t.text in words or t.kind == "name" and t.text.upper() in words)

    def condition(self) -> Any:
        self.depth += 1
        if self.depth > 200:
            raise ConditionSyntaxError("condition nested too deeply")
        try:
            left = self.conjunction()
            while self._is(self.peek(), "||", "OR"):
                self.take()
                left = Or(left, self.conjunction())
            return left
        finally:
            self.depth -= 1

    def conjunction(self) -> Any:
        left = self.unary()
        while self._is(self.peek(), "&&", "AND"):
            self.take()
            left = And(left, self.unary())
        return left

    def unary(self) -> Any:
        t = self.peek()
        if self._is(t, "!", "NOT"):
            self.take()
            self.depth += 1
            if self.depth > 200:
                raise ConditionSyntaxError("condition nested too deeply")
            try:
                return Not(self.unary())
            finally:
                self.depth -= 1
        if t is not None and t.text == "(":
            self.take()
            inner = self.condition()
            self.expect(")")
            return inner
        if t is not None and t.kind == "name" and t.text.lower() in ("actionmatches", "suboperationmatches"):
            self.take()
            self.expect("{")
            s = self.take()
            if s.kind != "string":
                raise ConditionSyntaxError(f"{t.text} takes a quoted string")
            self.expect("}")
            return ActionMatches(s.value) if t.text.lower() == "actionmatches" else SubOperationMatches(s.value)
        if t is not None and t.kind == "name" and t.text.lower() in ("exists", "notexists"):
            self.take()
            a = self.take()
            if a.kind != "attr":
                raise ConditionSyntaxError(f"{t.text} takes an attribute")
            return Exists(a.value.key, negated=t.text.lower() == "notexists")
        left = self.operand()
        op = self.take()
        if op.kind != "name":
            raise ConditionSyntaxError(f"expected an operator, found {op.text!r}")
        quantifier, _, name = op.text.lower().rpartition(":")
        if quantifier and quantifier not in QUANTIFIERS:
            raise ConditionSyntaxError(f"unknown quantifier {quantifier}")
        if name in ("and", "or", "not"):
            raise ConditionSyntaxError(f"expected an operator, found {op.text!r}")
        return Compare(left, name, quantifier or None, self.operand())

    def operand(self) -> Attribute | Literal:
        t = self.take()
        if t.kind == "attr":
            return t.value
        if t.kind == "string":
            return Literal(t.value, "string")
        if t.kind == "guid":
            return Literal(t.text.lower(), "guid")
        if t.kind == "number":
            return Literal(float(t.text), "number")
        if t.kind == "name" and t.text.lower() in ("true", "false"):
            return Literal(t.text.lower() == "true", "bool")
        if t.text == "{":
            items = [self.operand()]
            while self.peek() is not None and self.peek().text == ",":
                self.take()
                items.append(self.operand())
            self.expect("}")
            if any(not isinstance(x, Literal) or x.kind == "set" for x in items):
                raise ConditionSyntaxError("a set holds literal values only")
            return Literal(tuple(x.value for x in items), "set")
        raise ConditionSyntaxError(f"expected an attribute or a value, found {t.text!r}")


@lru_cache(maxsize=4096)
def parse(text: str | None) -> Any | None:
    """The syntax tree of a condition, or None when it is empty or not in Azure's grammar (never raises).

    Parsed by shape: a fleet's conditions differ only in their quoted strings (each silo's path prefix), so the
    text with every quoted string replaced by a numbered placeholder is parsed once (:func:`_template`) and the
    strings are put back into a copy of that tree. The same tree as :func:`_parse_text` gives on the text
    (tests/test_evaluator_caches.py), because the parser's choices never depend on a string's content, and a
    shape whose own tokens are not exactly its placeholders (a quote inside an attribute name, a syntax error)
    is parsed from the text instead."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH:
        return None
    shaped = shaped_parse(text)
    if shaped is None:
        return _parse_text(text)
    got, values = _action_filled(shaped)
    return got[0] if got[1] is None else got[1](values)


def _action_filled(shaped: tuple[str, Any, tuple[str, ...]]) -> tuple[tuple[Any, Any, Any], tuple[str, ...]]:
    """The :data:`_ACTION_FILLED` entry of a shaped condition, and the condition's strings."""
    shape, template, values = shaped
    key = (shape, tuple(map(values.__getitem__, action_slots(shape, template))))
    got = _ACTION_FILLED.get(key)
    if got is None:
        if len(_ACTION_FILLED) >= 1 << 14:
            _ACTION_FILLED.clear()
        filled = fill(template, values, literals=False)
        comps = [t for t in leaves(filled) if isinstance(t, Compare)]
        got = _ACTION_FILLED[key] = (filled, literal_filler(filled), [(t, literal_filler(t)) for t in comps])
    return got, values


def comparisons_of(text: str | None) -> list[Compare] | None:
    """:func:`comparisons` of :func:`parse`'s tree of ``text`` (None when it does not parse), without building
    the tree: a shaped condition's comparisons are its shape's, each filled with the condition's strings
    (equal to the tree's own: :func:`literal_filler` builds the tree's comparisons the same way)."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH:
        return None
    shaped = shaped_parse(text)
    if shaped is None:
        tree = _parse_text(text)
        return None if tree is None else comparisons(tree)
    got, values = _action_filled(shaped)
    return [t if f is None else f(values) for t, f in got[2]]


#: Per (shape, its action strings): the template with those strings in place, its :func:`literal_filler`, and
#: its comparisons each with their own filler (for :func:`comparisons_of`). The subtrees without a comparison
#: string (the ``!(ActionMatches{...}) AND ...`` guard) are then one object shared by every condition of that
#: shape and those action strings; they are immutable.
_ACTION_FILLED: dict[tuple[str, tuple[str, ...]], tuple[Any, Any, Any]] = {}
_ACTION_SLOTS: dict[str, tuple[int, ...]] = {}


def action_slots(shape: str, template: Any) -> tuple[int, ...]:
    """Which placeholders of a shape (whose template is ``template``) are ``ActionMatches`` or
    ``SubOperationMatches`` strings, once per shape."""
    got = _ACTION_SLOTS.get(shape)
    if got is None:
        out = [int((t.action if isinstance(t, ActionMatches) else t.suboperation)[1:]) for t in leaves(template)
               if isinstance(t, (ActionMatches, SubOperationMatches))]
        if len(_ACTION_SLOTS) >= 1 << 14:
            _ACTION_SLOTS.clear()
        got = _ACTION_SLOTS[shape] = tuple(sorted(out))
    return got


def literal_filler(t: Any) -> Any:
    """A function of the string values giving ``fill(t, values)`` for a tree whose only placeholders are in its
    comparisons (``fill(..., literals=False)`` made it so), or None when ``t`` holds none. It rebuilds only the
    nodes above a placeholder and shares the rest of ``t``."""
    if isinstance(t, (And, Or)):
        fl, fr = literal_filler(t.left), literal_filler(t.right)
        if fl is None and fr is None:
            return None
        kind, left, right = type(t), t.left, t.right
        if fl is None:
            return lambda v: kind(left, fr(v))
        if fr is None:
            return lambda v: kind(fl(v), right)
        return lambda v: kind(fl(v), fr(v))
    if isinstance(t, Not):
        f = literal_filler(t.operand)
        return None if f is None else (lambda v: Not(f(v)))
    if isinstance(t, Compare) and (_holds_placeholder(t.left) or _holds_placeholder(t.right)):
        left, op, quantifier, right = t.left, t.operator, t.quantifier, t.right
        fl, fr = _operand_filler(left), _operand_filler(right)
        return lambda v: Compare(fl(v) if fl else left, op, quantifier, fr(v) if fr else right)
    return None


def _operand_filler(x: Any) -> Any:
    """A function of the string values giving ``fill(x, values)`` for a comparison operand, or None when it holds
    no placeholder; a single string literal is the common case (``StringStartsWith 'silo1/'``)."""
    if not _holds_placeholder(x):
        return None
    if x.kind == "string":
        slot = int(x.value[1:])
        return lambda v: Literal(v[slot], "string")
    return lambda v: fill(x, v)


def _holds_placeholder(x: Any) -> bool:
    return isinstance(x, Literal) and x.kind in ("string", "set") and any(
        isinstance(y, str) and y[:1] == "\x00" for y in (x.value if x.kind == "set" else (x.value,)))


@lru_cache(maxsize=4096)
def shaped_parse(text: str) -> tuple[str, Any, tuple[str, ...]] | None:
    """(shape, template tree, string values) of a condition whose shape parses (see :func:`parse`), or None:
    ``fill(tree, values)`` is its tree. For callers that cache their own work on a tree by its shape."""
    shape, values = _shape(text)
    template = _template(shape)
    if template is None or template[1] != len(values):
        return None
    return shape, template[0], tuple(values)


def _parse_text(text: str) -> Any | None:
    """The syntax tree of ``text`` by tokenising and parsing it (None when it is not in Azure's grammar)."""
    try:
        p = _Parser(_tokens(text))
        tree = p.condition()
        if p.peek() is not None:
            raise ConditionSyntaxError(f"unexpected {p.peek().text!r} after the condition")
        return tree
    except (ConditionSyntaxError, RecursionError):
        return None


#: What starts with ``@`` or ``'`` in a condition: an attribute (group 1: kept as it is, since an attribute name
#: may hold a quote) or a quoted string (group 2), matched as :data:`_TOKEN` matches them. No other token holds
#: either character, so where the text tokenises, these matches are exactly its attribute and string tokens.
_STRINGS = re.compile(r"""(@[A-Za-z]+\[[^\]]*\])|('[^'\\]*(?:\\.[^'\\]*)*')""")


def _shape(text: str) -> tuple[str, list[str]]:
    """``text`` with every quoted string replaced by ``'\\x00<n>'`` (attributes kept as they are), and the
    strings, unescaped, in order. One ``split`` of :data:`_STRINGS` (its two groups interleave with the text
    between matches) rather than a substitution calling back per match: every silo's condition is shaped."""
    parts = _STRINGS.split(text)
    out = [parts[0]]
    values: list[str] = []
    for i in range(1, len(parts), 3):
        quoted = parts[i + 1]
        if quoted is None:
            out.append(parts[i])
        else:
            raw = quoted[1:-1]
            values.append(_ESCAPE.sub(r"\1", raw) if "\\" in raw else raw)
            out.append(f"'\x00{len(values) - 1}'")
        out.append(parts[i + 2])
    return "".join(out), values


@lru_cache(maxsize=1024)
def _template(shape: str) -> tuple[Any, int] | None:
    """The tree of a shape (strings replaced by ``'\\x00<n>'``) and its number of placeholders; None when the
    shape does not parse or its string tokens are not exactly its placeholders 0, 1, ... in order (then the
    text is parsed as it is)."""
    try:
        toks = _tokens(shape)
    except ConditionSyntaxError:
        return None
    strings = [t.text for t in toks if t.kind == "string"]
    if strings != [f"'\x00{i}'" for i in range(len(strings))]:
        return None
    tree = _parse_text(shape)
    return None if tree is None else (tree, len(strings))


def _value(v: Any, values: Sequence[str]) -> Any:
    return values[int(v[1:])] if isinstance(v, str) and v[:1] == "\x00" else v


def fill(t: Any, values: Sequence[str], *, literals: bool = True) -> Any:
    """A copy of a template tree with its placeholders replaced by ``values``; with ``literals=False`` only
    those of ``ActionMatches`` and ``SubOperationMatches`` (the comparisons' strings stay placeholders)."""
    if isinstance(t, (And, Or)):
        return type(t)(fill(t.left, values, literals=literals), fill(t.right, values, literals=literals))
    if isinstance(t, Not):
        return Not(fill(t.operand, values, literals=literals))
    if isinstance(t, ActionMatches):
        return ActionMatches(_value(t.action, values))
    if isinstance(t, SubOperationMatches):
        return SubOperationMatches(_value(t.suboperation, values))
    if not literals:
        return t
    if isinstance(t, Compare):
        return Compare(fill(t.left, values), t.operator, t.quantifier, fill(t.right, values))
    if isinstance(t, Literal) and t.kind in ("string", "set"):
        return Literal(tuple(_value(x, values) for x in t.value) if t.kind == "set" else _value(t.value, values),
                       t.kind)
    return t  # Exists, Attribute and the other literals hold no string token


def syntax_error(text: str | None) -> str | None:
    """Why ``text`` does not parse (None when it does), for evidence."""
    if not isinstance(text, str) or not text.strip():
        return "empty condition"
    if len(text) > MAX_LENGTH:
        return f"condition longer than {MAX_LENGTH} characters"
    try:
        p = _Parser(_tokens(text))
        p.condition()
        if p.peek() is not None:
            return f"unexpected {p.peek().text!r} after the condition"
        return None
    except ConditionSyntaxError as e:
        return str(e)
    except RecursionError:
        return "condition nested too deeply"


# -- evaluation -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    """A concrete request a condition is evaluated against. Attributes not in ``attributes`` are unknown (None
    results); a value may be a list for multi-valued attributes."""

    action: str | None
    suboperation: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def evaluate(tree: Any, req: Request) -> bool | None:
    """Three-valued evaluation: True (allowed), False (not allowed), None (cannot decide)."""
    if isinstance(tree, And):
        a = evaluate(tree.left, req)
        if a is False:
            return False
        b = evaluate(tree.right, req)
        if b is False:
            return False
        return True if a is True and b is True else None
    if isinstance(tree, Or):
        a = evaluate(tree.left, req)
        if a is True:
            return True
        b = evaluate(tree.right, req)
        if b is True:
            return True
        return False if a is False and b is False else None
    if isinstance(tree, Not):
        v = evaluate(tree.operand, req)
        return None if v is None else not v
    if isinstance(tree, ActionMatches):
        return None if req.action is None else action_matches(tree.action, req.action)
    if isinstance(tree, SubOperationMatches):
        return req.suboperation is not None and req.suboperation.lower() == tree.suboperation.lower()
    if isinstance(tree, Exists):
        if tree.attribute not in req.attributes:
            return None
        present = req.attributes[tree.attribute] is not None
        return present != tree.negated
    if isinstance(tree, Compare):
        return _compare(tree, req)
    return None


def _values(x: Attribute | Literal, req: Request) -> tuple[Any, ...] | None:
    if isinstance(x, Attribute):
        if x.key not in req.attributes or req.attributes[x.key] is None:
            return None
        v = req.attributes[x.key]
        return tuple(v) if isinstance(v, (list, tuple)) else (v,)
    return x.value if x.kind == "set" else (x.value,)


def _compare(c: Compare, req: Request) -> bool | None:
    left, right = _values(c.left, req), _values(c.right, req)
    if left is None or right is None or not left or not right:
        return None
    op = _OPERATORS.get(c.operator)
    if op is None:
        return None
    q = c.quantifier
    if q is None and (len(left) > 1 or len(right) > 1):
        q = "foranyofanyvalues" if len(right) > 1 and len(left) == 1 else None
        if q is None:
            return None
    def one(a: Any, b: Any) -> bool | None:
        return op(a, b)
    if q is None:
        return one(left[0], right[0])
    outer_all = q.startswith("forall")
    inner_all = q.endswith("ofallvalues")
    results = []
    for a in left:
        inner = [one(a, b) for b in right]
        results.append(_all(inner) if inner_all else _any(inner))
    return _all(results) if outer_all else _any(results)


def _any(xs: list[bool | None]) -> bool | None:
    if any(x is True for x in xs):
        return True
    return False if all(x is False for x in xs) else None


def _all(xs: list[bool | None]) -> bool | None:
    if any(x is False for x in xs):
        return False
    return True if all(x is True for x in xs) else None


def _str(a: Any, b: Any) -> tuple[str, str] | None:
    return (a, b) if isinstance(a, str) and isinstance(b, str) else None


def _like(value: str, pattern: str) -> bool | None:
    """StringLike: ``*`` matches any run of characters. Whether ``?`` is a wildcard is not documented, so a
    pattern with ``?`` decides only when both readings agree."""
    def match(q_is_wild: bool) -> bool:
        parts = []
        for ch in pattern:
            parts.append(".*" if ch == "*" else "." if ch == "?" and q_is_wild else re.escape(ch))
        return re.fullmatch("".join(parts), value, re.DOTALL) is not None
    a = match(False)
    if "?" not in pattern:
        return a
    return a if a == match(True) else None


def _num(a: Any, b: Any) -> tuple[float, float] | None:
    try:
        return float(a), float(b)
    except (TypeError, ValueError):
        return None


def _date(a: Any, b: Any) -> tuple[_dt.datetime, _dt.datetime] | None:
    try:
        def conv(x: Any) -> _dt.datetime:
            d = x if isinstance(x, _dt.datetime) else _dt.datetime.fromisoformat(str(x).replace("Z", "+00:00"))
            return d if d.tzinfo else d.replace(tzinfo=_dt.UTC)
        return conv(a), conv(b)
    except (TypeError, ValueError):
        return None


def _bool(a: Any, b: Any) -> tuple[bool, bool] | None:
    def conv(x: Any) -> bool | None:
        if isinstance(x, bool):
            return x
        return {"true": True, "false": False}.get(str(x).lower())
    x, y = conv(a), conv(b)
    return None if x is None or y is None else (x, y)


def _guid(a: Any, b: Any) -> tuple[str, str] | None:
    x, y = str(a).strip().lower(), str(b).strip().lower()
    return (x, y) if x and y else None


def _lift(parse_pair: Any, fn: Any) -> Any:
    def op(a: Any, b: Any) -> bool | None:
        pair = parse_pair(a, b)
        return None if pair is None else fn(*pair)
    return op


def _neg(op: Any) -> Any:
    def neg(a: Any, b: Any) -> bool | None:
        v = op(a, b)
        return None if v is None else not v
    return neg


_BASE: dict[str, Any] = {
    "stringequals": _lift(_str, lambda a, b: a == b),
    "stringequalsignorecase": _lift(_str, lambda a, b: a.lower() == b.lower()),
    "stringstartswith": _lift(_str, lambda a, b: a.startswith(b)),
    "stringstartswithignorecase": _lift(_str, lambda a, b: a.lower().startswith(b.lower())),
    "stringlike": _lift(_str, _like),
    "numericequals": _lift(_num, lambda a, b: a == b),
    "numericgreaterthan": _lift(_num, lambda a, b: a > b),
    "numericgreaterthanequals": _lift(_num, lambda a, b: a >= b),
    "numericlessthan": _lift(_num, lambda a, b: a < b),
    "numericlessthanequals": _lift(_num, lambda a, b: a <= b),
    "boolequals": _lift(_bool, lambda a, b: a == b),
    "datetimeequals": _lift(_date, lambda a, b: a == b),
    "datetimegreaterthan": _lift(_date, lambda a, b: a > b),
    "datetimegreaterthanequals": _lift(_date, lambda a, b: a >= b),
    "datetimelessthan": _lift(_date, lambda a, b: a < b),
    "datetimelessthanequals": _lift(_date, lambda a, b: a <= b),
    "guidequals": _lift(_guid, lambda a, b: a == b),
}
_OPERATORS: dict[str, Any] = dict(_BASE)
_OPERATORS.update({
    "stringnotequals": _neg(_BASE["stringequals"]),
    "stringnotequalsignorecase": _neg(_BASE["stringequalsignorecase"]),
    "stringnotstartswith": _neg(_BASE["stringstartswith"]),
    "stringnotstartswithignorecase": _neg(_BASE["stringstartswithignorecase"]),
    "stringnotlike": _neg(_BASE["stringlike"]),
    "numericnotequals": _neg(_BASE["numericequals"]),
    "boolnotequals": _neg(_BASE["boolequals"]),
    "datetimenotequals": _neg(_BASE["datetimeequals"]),
    "guidnotequals": _neg(_BASE["guidequals"]),
    "bool": _BASE["boolequals"],
})


# -- what a condition names -----------------------------------------------------------------------------------
def leaves(tree: Any) -> list[Any]:
    """The nodes under ``tree``'s And/Or/Not structure (comparisons, action checks, Exists...), left to right
    (a list: each caller reads them all, and every silo's condition is walked)."""
    out: list[Any] = []
    stack = [tree]
    while stack:
        t = stack.pop()
        if isinstance(t, (And, Or)):
            stack.append(t.right)
            stack.append(t.left)
        elif isinstance(t, Not):
            stack.append(t.operand)
        else:
            out.append(t)
    return out


def comparisons(tree: Any) -> list[Compare]:
    """Every comparison in the tree (for witness values: the prefixes and names a condition mentions)."""
    return [t for t in leaves(tree) if isinstance(t, Compare)]


def witness_values(tree: Any, attribute: str, comps: list[Compare] | None = None) -> list[str]:
    """Concrete values of ``attribute`` that the condition's own comparisons single out: for a prefix
    ``'silo1/'`` a path inside it, for an exact value the value, for a ``StringLike`` pattern a string it
    matches. These are the places the condition's holder is meant to reach, i.e. what another principal's
    condition must *not* reach. ``comps``: ``comparisons(tree)`` when the caller has it already."""
    out: list[str] = []
    for c in comparisons(tree) if comps is None else comps:
        if not (isinstance(c.left, Attribute) and c.left.key == attribute and isinstance(c.right, Literal)):
            continue
        values = c.right.value if c.right.kind == "set" else (c.right.value,)
        for v in values:
            if not isinstance(v, str):
                continue
            if "startswith" in c.operator:
                out.append(v + "x")
            elif "like" in c.operator:
                out.append(v.replace("*", "x").replace("?", "x"))
            else:
                out.append(v)
    return list(dict.fromkeys(out))
