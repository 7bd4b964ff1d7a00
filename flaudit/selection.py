"""Rule selection: ``--rule`` / ``--skip-rule`` (or ``rules`` / ``skip_rules`` in the project settings).

A pattern names rules by id (``FL-NET-002``), by area (``network-isolation``) or by glob over ids
(``FL-WSH-*``), case-insensitively. A pattern that matches no rule is an input error, so a typo cannot silently
turn the selection into "everything" or "nothing". Skipping a rule that blocks a profile is allowed (a team
may own that control elsewhere), but it is never silent: the result lists every skipped rule, and each
verdict lists the blocking rules it no longer covers (``verdict.<profile>.skipped_rules``).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from flaudit.errors import InputError
from flaudit.findings import AREAS


@dataclass(frozen=True)
class RuleSelection:
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    skipped: list[Any] = field(default_factory=list, compare=False)

    @property
    def active(self) -> bool:
        return bool(self.include or self.exclude)


def _matches(rule: Any, pattern: str) -> bool:
    p = pattern.strip().lower()
    if p in AREAS:
        return rule.area == p
    return fnmatch.fnmatchcase(rule.id.lower(), p)


def _check(patterns: Iterable[str], rules: Sequence[Any], option: str) -> None:
    for p in patterns:
        if not any(_matches(r, p) for r in rules):
            raise InputError(f"{option} {p}: matches no rule id, area or glob (see `flaudit rules list`)")


def select(rules: Sequence[Any], selection: RuleSelection | None) -> tuple[list[Any], list[Any]]:
    """(rules to run, rules skipped). ``include`` empty means every rule; ``exclude`` wins over ``include``."""
    if selection is None or not selection.active:
        return list(rules), []
    _check(selection.include, rules, "--rule")
    _check(selection.exclude, rules, "--skip-rule")
    keep, skipped = [], []
    for r in rules:
        wanted = not selection.include or any(_matches(r, p) for p in selection.include)
        if wanted and not any(_matches(r, p) for p in selection.exclude):
            keep.append(r)
        else:
            skipped.append(r)
    if not keep:
        raise InputError("the rule selection leaves no rule to run")
    return keep, skipped


def split_patterns(values: Iterable[str] | None) -> tuple[str, ...]:
    """Repeatable, comma-separated option values -> patterns."""
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in str(v).split(",") if p.strip())
    return tuple(out)


def selection_report(selection: RuleSelection | None, skipped: Sequence[Any]) -> dict[str, Any]:
    """The result's ``selection`` object."""
    sel = selection or RuleSelection()
    return {"rules": list(sel.include), "skip_rules": list(sel.exclude),
            "skipped": [{"id": r.id, "title": r.title, "area": r.area, "blocks": list(r.blocks)} for r in skipped]}
