"""Declarations: what the owner of an external silo states about controls flaudit cannot see.

An external silo (``external: true`` in the FL config: a partner's or on-premises Kubernetes cluster connected
with Azure Arc) keeps its network and storage outside what Azure, and so flaudit, can read. Those questions come
out ``unknown``. The silo owner may declare them instead, in the silo's entry::

    silos:
      - name: partner
        compute: partner-k8s
        datastore: datastore_partner
        external: true
        declarations:
          - control: FL-NET-005          # the rule whose unknown answer the declaration stands in for
            declared_by: ciso@partner.example
            statement: Egress from the training namespace is denied by the perimeter firewall.
            evidence: AUDIT-2026-117 (firewall policy export, 2026-11-02)
            expires: 2027-02-01

A declaration is never a verified result: the finding keeps its status (``unknown``), carries the declaration
in ``declaration``, and no longer blocks the gate, exactly as a waiver. It applies only to an ``unknown``
finding of that rule on that silo: a verified ``fail`` stands whatever is declared. Past ``expires`` it stops
applying and is listed as expired; one that matches no unknown finding is listed as unused. Every output shows
declarations apart from verified results (result ``declarations``, and a section in each report).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flaudit.errors import InputError

KEYS = ("control", "declared_by", "statement", "evidence", "expires")


@dataclass
class Declaration:
    silo: str
    index: int  # 1-based, within the silo's list
    control: str
    declared_by: str
    statement: str
    evidence: str
    expires: _dt.date
    matched: list[str] = field(default_factory=list)

    def describe(self) -> dict[str, Any]:
        return {"silo": self.silo, "declaration": self.index, "control": self.control,
                "declared_by": self.declared_by, "statement": self.statement, "evidence": self.evidence,
                "expires": self.expires.isoformat()}


def parse_declarations(value: Any, silo: str, where: str, origin: str) -> list[Declaration]:
    """The ``declarations`` list of one silo entry; every key required, strings non-empty, expires a date."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(f"{origin}: {where}.declarations must be a list")
    out = []
    for i, d in enumerate(value):
        here = f"{origin}: {where}.declarations[{i}]"
        if not isinstance(d, dict):
            raise InputError(f"{here} must be a mapping")
        extra = sorted(str(k) for k in d if k not in KEYS)
        if extra:
            raise InputError(f"{here}: unknown key(s) {', '.join(extra)} (known keys: {', '.join(KEYS)})")
        for key in KEYS:
            if d.get(key) in (None, ""):
                raise InputError(f"{here}: '{key}' is required")
        for key in KEYS[:-1]:
            if not isinstance(d[key], str) or not d[key].strip():
                raise InputError(f"{here}: '{key}' must be a non-empty string")
        expires = d["expires"]
        if isinstance(expires, _dt.datetime):
            expires = expires.date()
        elif isinstance(expires, str):
            try:
                expires = _dt.date.fromisoformat(expires.strip())
            except ValueError:
                raise InputError(f"{here}: expires must be a date (YYYY-MM-DD), got {d['expires']!r}") from None
        elif not isinstance(expires, _dt.date):
            raise InputError(f"{here}: expires must be a date (YYYY-MM-DD), got {d['expires']!r}")
        out.append(Declaration(silo, i + 1, d["control"].strip(), d["declared_by"].strip(), d["statement"].strip(),
                               d["evidence"].strip(), expires))
    return out


def validate_declarations(declarations: Iterable[Declaration], rule_ids: Iterable[str], origin: str) -> None:
    """A declaration for a control the rule pack does not have would stand for nothing: an input error."""
    known = {r.lower() for r in rule_ids}
    for d in declarations:
        if d.control.lower() not in known:
            raise InputError(f"{origin}: silo {d.silo} declaration {d.index}: control {d.control} is not a rule of "
                             "the rule pack (see `flaudit rules list`)")


def apply_declarations(findings: Iterable[Any], declarations: Iterable[Declaration], *, today: _dt.date
                       ) -> dict[str, Any]:
    """Mark the unknown findings each live declaration stands in for; the result's ``declarations`` section."""
    declarations = list(declarations)
    live = [d for d in declarations if d.expires >= today]
    expired = [d for d in declarations if d.expires < today]
    for f in findings:
        if f.status != "unknown" or f.waiver is not None:
            continue
        for d in live:
            if f.rule_id.lower() == d.control.lower() and (f.silo or "").lower() == d.silo.lower():
                f.declaration = d.describe()
                d.matched.append(f.id)
                break
    return {
        "applied": [{**d.describe(), "findings": d.matched} for d in live if d.matched],
        "expired": [d.describe() for d in expired],
        "unused": [d.describe() for d in live if not d.matched],
    }


def declaration_text(d: dict[str, Any]) -> str:
    """One line for reports: "FL-NET-005 silo partner, declared by X until 2027-02-01: statement (evidence)"."""
    return (f"{d.get('control')} silo {d.get('silo')}, declared by {d.get('declared_by')} until {d.get('expires')}: "
            f"{d.get('statement')} (evidence: {d.get('evidence')})")
