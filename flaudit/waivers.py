"""Waivers: accept a known risk on one rule for one resource (or silo) until a date, with a reason and an owner.

A waived finding keeps its status; it is marked with the waiver and no longer blocks the gate. A waiver past
its expiry stops applying and is reported; one that matches nothing is reported as stale. A waiver without
reason, owner or expiry, or expiring further out than the allowed maximum (default 90 days), is an input error:
a risk accepted forever is a rule switched off.

File format (``flaudit.waivers.yaml`` in the working directory, or ``--waivers FILE``)::

    waivers:
      - rule: FL-NET-002                      # rule id (exact, case-insensitive)
        resource: "/subscriptions/*/resourceGroups/rg-fl/providers/Microsoft.MachineLearningServices/*"
        # or: silo: silo1                     # resource (exact ARM id or glob), silo, or both
        reason: Node public IPs until the NAT gateway lands (CHG-1234)
        owner: alice@contoso.com
        expires: 2027-01-15
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.errors import InputError
from flaudit.findings import Finding

DEFAULT_FILE = "flaudit.waivers.yaml"
DEFAULT_MAX_DAYS = 90


@dataclass
class Waiver:
    index: int
    rule: str
    resource: str | None
    silo: str | None
    reason: str
    owner: str
    expires: _dt.date
    matched: list[str] = field(default_factory=list)

    def matches(self, f: Finding) -> bool:
        if f.rule_id.lower() != self.rule.lower():
            return False
        if self.silo is not None and (f.silo or "").lower() != self.silo.lower():
            return False
        if self.resource is not None:
            rid, pattern = f.resource_id.lower(), self.resource.lower()
            if not (rid == pattern or fnmatch.fnmatchcase(rid, pattern)):
                return False
        return True

    def describe(self) -> dict[str, Any]:
        return {"rule": self.rule, "resource": self.resource, "silo": self.silo, "reason": self.reason,
                "owner": self.owner, "expires": self.expires.isoformat()}


@dataclass
class WaiverSet:
    path: str
    waivers: list[Waiver]


def _date(value: Any, where: str) -> _dt.date:
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise InputError(f"{where}: expires must be a date (YYYY-MM-DD), got {value!r}")


def parse_waivers(doc: Any, origin: str, *, today: _dt.date, max_days: int = DEFAULT_MAX_DAYS) -> WaiverSet:
    if doc is None:
        doc = {"waivers": []}
    if not isinstance(doc, dict) or not isinstance(doc.get("waivers", []), list):
        raise InputError(f"{origin}: a waiver file is a mapping with a 'waivers' list")
    unknown_top = set(doc) - {"waivers"}
    if unknown_top:
        raise InputError(f"{origin}: unknown key(s) {', '.join(sorted(map(str, unknown_top)))}")
    out = []
    for i, w in enumerate(doc.get("waivers") or []):
        where = f"{origin}: waiver {i + 1}"
        if not isinstance(w, dict):
            raise InputError(f"{where} must be a mapping")
        extra = set(w) - {"rule", "resource", "silo", "reason", "owner", "expires"}
        if extra:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        for key in ("rule", "reason", "owner", "expires"):
            if w.get(key) in (None, ""):
                raise InputError(f"{where}: '{key}' is required")
        for key in ("rule", "reason", "owner"):
            if not isinstance(w[key], str) or not w[key].strip():
                raise InputError(f"{where}: '{key}' must be a non-empty string")
        if w.get("resource") in (None, "") and w.get("silo") in (None, ""):
            raise InputError(f"{where}: name a 'resource' (ARM id or glob) or a 'silo'")
        for key in ("resource", "silo"):
            if w.get(key) is not None and not isinstance(w[key], str):
                raise InputError(f"{where}: '{key}' must be a string")
        expires = _date(w["expires"], where)
        if (expires - today).days > max_days:
            raise InputError(f"{where}: expires {expires.isoformat()} is more than {max_days} days away "
                             f"(the maximum; raise it with --waiver-max-days)")
        out.append(Waiver(i + 1, w["rule"].strip(), w.get("resource") or None, w.get("silo") or None,
                          w["reason"].strip(), w["owner"].strip(), expires))
    return WaiverSet(origin, out)


def load_waivers(path: str | Path, *, today: _dt.date, max_days: int = DEFAULT_MAX_DAYS) -> WaiverSet:
    from flaudit.readers import load_yaml

    return parse_waivers(load_yaml(path, "waiver file"), str(path), today=today, max_days=max_days)


def apply_waivers(findings: Iterable[Finding], waivers: WaiverSet | None, *, today: _dt.date) -> dict[str, Any]:
    """Mark waived findings; return the result's ``waivers`` section (applied, expired, stale)."""
    if waivers is None:
        return {"file": None, "applied": [], "expired": [], "stale": []}
    live = [w for w in waivers.waivers if w.expires >= today]
    expired = [w for w in waivers.waivers if w.expires < today]
    for f in findings:
        if f.status not in ("fail", "unknown"):
            continue
        for w in live:
            if w.matches(f):
                f.waiver = {**w.describe(), "waiver": w.index}
                w.matched.append(f.id)
                break
    return {
        "file": waivers.path,
        "applied": [{**w.describe(), "waiver": w.index, "findings": w.matched} for w in live if w.matched],
        "expired": [{**w.describe(), "waiver": w.index} for w in expired],
        "stale": [{**w.describe(), "waiver": w.index} for w in live if not w.matched],
    }


def validate_waivers(waivers: WaiverSet | None, rule_ids: Iterable[str], silos: Iterable[str]) -> None:
    """A waiver naming a rule the pack does not have, or a silo the topology does not have, is an input error.

    Such a waiver would match nothing forever and read as an accepted risk that is not; usually it is a typo
    (``FL-NET-0002``) that leaves the real finding blocking while the author believes it waived.
    """
    import difflib

    if waivers is None:
        return
    rules = {r.lower(): r for r in rule_ids}
    silo_names = {s.lower(): s for s in silos}
    for w in waivers.waivers:
        where = f"{waivers.path}: waiver {w.index} ({w.rule}"
        where += f", silo {w.silo})" if w.silo else ")"
        if w.rule.lower() not in rules:
            close = difflib.get_close_matches(w.rule.upper(), [r.upper() for r in rules.values()], n=1)
            hint = f" (did you mean {close[0]}?)" if close else " (see `flaudit rules list`)"
            raise InputError(f"{where}: rule {w.rule} does not exist in the rule pack{hint}")
        if w.silo is not None and w.silo.lower() not in silo_names:
            close = difflib.get_close_matches(w.silo, list(silo_names.values()), n=1)
            known = f"did you mean {close[0]}?" if close else (
                "silos: " + ", ".join(sorted(silo_names.values())[:10]) if silo_names else "the topology has no silo")
            raise InputError(f"{where}: silo {w.silo} is not in the deployment's topology ({known})")
