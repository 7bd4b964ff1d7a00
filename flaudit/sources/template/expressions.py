"""Tokenizer and parser for ARM template expressions (the ``"[...]"`` strings of a template).

ARM's expression language is small: function calls, single-quoted string literals (``''`` escapes a quote),
integer literals, and property (``.name``) or index (``[expr]``) access on any value. A JSON string is an
expression when it starts with ``[`` and ends with ``]``; ``[[`` at the start escapes a literal bracket.
The evaluator (:mod:`.evaluate`) walks the tree this module builds; parsing is cached because a copy loop
evaluates the same strings hundreds of times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ExpressionSyntaxError(ValueError):
    """The expression string does not follow ARM's grammar."""


@dataclass(frozen=True)
class Literal:
    value: Any


@dataclass(frozen=True)
class Call:
    name: str  # as written (``resourceId``, ``__bicep.myFn``)
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Access:
    """``target.key`` or ``target[key]``; ``key`` is an expression node (a Literal for ``.name``)."""

    target: Node
    key: Node


Node = Literal | Call | Access

_CACHE: dict[str, Node] = {}
_IDENT_START = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_$")
_IDENT = _IDENT_START | set("0123456789")


def is_expression(value: Any) -> bool:
    """True for a JSON string that ARM evaluates (``[...]``, not the ``[[`` escape)."""
    return (isinstance(value, str) and len(value) >= 2 and value[0] == "[" and value[-1] == "]"
            and not value.startswith("[["))


def unescape(value: str) -> str:
    """A literal string that started with ``[[`` loses one bracket, as ARM does."""
    return value[1:] if value.startswith("[[") else value


def parse_expression(text: str) -> Node:
    """Parse an expression string including its outer brackets; results are cached."""
    node = _CACHE.get(text)
    if node is None:
        node = _Parser(text[1:-1]).parse_all()
        if len(_CACHE) > 50_000:
            _CACHE.clear()
        _CACHE[text] = node
    return node


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def error(self, what: str) -> ExpressionSyntaxError:
        return ExpressionSyntaxError(f"{what} at offset {self.i} in '[{self.s}]'")

    def ws(self) -> None:
        s, n = self.s, len(self.s)
        while self.i < n and s[self.i] in " \t\r\n":
            self.i += 1

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def parse_all(self) -> Node:
        self.ws()
        node = self.parse_expr()
        self.ws()
        if self.i != len(self.s):
            raise self.error(f"unexpected {self.peek()!r}")
        return node

    def parse_expr(self) -> Node:
        self.ws()
        node = self.parse_primary()
        while True:
            self.ws()
            c = self.peek()
            if c == ".":
                self.i += 1
                self.ws()
                name = self.ident()
                if not name:
                    raise self.error("property name expected after '.'")
                node = Access(node, Literal(name))
            elif c == "[":
                self.i += 1
                key = self.parse_expr()
                self.ws()
                if self.peek() != "]":
                    raise self.error("']' expected")
                self.i += 1
                node = Access(node, key)
            else:
                return node

    def ident(self) -> str:
        start = self.i
        s, n = self.s, len(self.s)
        if self.i < n and s[self.i] in _IDENT_START:
            self.i += 1
            while self.i < n and s[self.i] in _IDENT:
                self.i += 1
        return s[start:self.i]

    def parse_primary(self) -> Node:
        c = self.peek()
        if c == "'":
            return Literal(self.string())
        if c == "-" or c.isdigit():
            return Literal(self.number())
        name = self.ident()
        if not name:
            raise self.error(f"unexpected {c!r}" if c else "unexpected end")
        # user-defined functions are namespaced: ``ns.fn(...)``
        save = self.i
        if self.peek() == ".":
            self.i += 1
            member = self.ident()
            if member and self.peek() == "(":
                name = f"{name}.{member}"
            else:
                self.i = save
        self.ws()
        if self.peek() != "(":
            low = name.lower()
            if low in ("true", "false"):
                return Literal(low == "true")
            if low == "null":
                return Literal(None)
            raise self.error(f"'(' expected after function name {name!r}")
        self.i += 1
        args: list[Node] = []
        self.ws()
        if self.peek() == ")":
            self.i += 1
            return Call(name, tuple(args))
        while True:
            args.append(self.parse_expr())
            self.ws()
            c = self.peek()
            if c == ",":
                self.i += 1
                continue
            if c == ")":
                self.i += 1
                return Call(name, tuple(args))
            raise self.error("',' or ')' expected")

    def string(self) -> str:
        self.i += 1  # opening quote
        out = []
        s, n = self.s, len(self.s)
        while self.i < n:
            c = s[self.i]
            if c == "'":
                if self.i + 1 < n and s[self.i + 1] == "'":
                    out.append("'")
                    self.i += 2
                    continue
                self.i += 1
                return "".join(out)
            out.append(c)
            self.i += 1
        raise self.error("unterminated string literal")

    def number(self) -> int | float:
        start = self.i
        if self.peek() == "-":
            self.i += 1
        s, n = self.s, len(self.s)
        while self.i < n and (s[self.i].isdigit() or s[self.i] == "."):
            self.i += 1
        text = s[start:self.i]
        try:
            return float(text) if "." in text else int(text)
        except ValueError:
            raise self.error(f"bad number {text!r}") from None
