"""Findings: what a rule says about one resource, and the fixed vocabularies every output shares."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("pass", "fail", "unknown", "not_applicable")
SEVERITIES = ("critical", "high", "medium", "low", "info")
PROFILES = ("prototype", "production")
AREAS = (
    "network-isolation",
    "private-endpoints",
    "silo-identity",
    "workspace-access",
    "storage-hardening",
    "workspace-hardening",
    "data-movement",
    "topology",
)
#: Rank used by ``--fail-on``: a finding at or above the threshold counts.
SEVERITY_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}


@dataclass(slots=True)
class Finding:
    """One verdict of one rule on one resource (optionally about one subject, e.g. a principal).

    ``evidence`` is a list of dicts, each with a ``kind``:
    ``property`` (resource_id, path, value, default_assumed), ``access`` (principal -> assignment -> role ->
    scope -> matched action), ``nsg-rule`` (nsg, rule, priority, direction, access), ``network-path``
    (kind, source, detail), ``path`` (one chain from silo data to an outsider, flaudit/paths.py) or ``note``
    (text).
    """

    status: str
    resource_id: str
    message: str
    silo: str | None = None
    evidence: list[dict[str, Any]] = field(default_factory=list)
    subject: str = ""  # distinguishes several findings of one rule on one resource
    # Filled by the engine from the rule's metadata:
    rule_id: str = ""
    title: str = ""
    area: str = ""
    severity: str = ""
    blocks: tuple[str, ...] = ()
    waiver: dict[str, Any] | None = None
    location: dict[str, Any] | None = None
    #: An external silo owner's declaration standing in for this unknown answer (flaudit.declarations).
    declaration: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        """Stable identity across runs: rule id + resource id (+ subject), case-insensitive."""
        return f"{self.rule_id}:{self.id_digest()}"

    def id_digest(self) -> str:
        """The part of :attr:`id` after the rule id: a digest of the resource id and subject, the same for every
        rule's finding on them (so a caller building many ids may compute it once per pair)."""
        return id_digest(self.resource_id, self.subject)

    def blocks_profile(self, profile: str) -> bool:
        return (profile in self.blocks and self.status in ("fail", "unknown") and self.waiver is None
                and self.declaration is None)

    def to_dict(self, *, id: str | None = None) -> dict[str, Any]:  # noqa: A002 - the field's own name
        """The finding as the result writes it; ``id``: :attr:`id` when the caller already has it."""
        return rows((self,), (id or self.id,))[0]


def rows(findings: Iterable[Finding], ids: Iterable[str]) -> list[dict[str, Any]]:
    """:meth:`Finding.to_dict` of each of ``findings`` with its id (``ids``, in the same order): the one place
    a result row's fields and their order are written down, and one comprehension rather than a call per
    finding for the 52,000 rows of a 1,000-silo result."""
    return [
        {
            "id": fid,
            "rule_id": f.rule_id,
            "title": f.title,
            "area": f.area,
            "severity": f.severity,
            "status": f.status,
            "blocks": list(f.blocks),
            "resource_id": f.resource_id,
            "silo": f.silo,
            "subject": f.subject or None,
            "message": f.message,
            "evidence": f.evidence,
            "waiver": f.waiver,
            "location": f.location,
            "declaration": f.declaration,
        }
        for f, fid in zip(findings, ids, strict=True)
    ]


def id_digest(resource_id: str, subject: str) -> str:
    """:meth:`Finding.id_digest` of a finding on ``resource_id`` about ``subject`` (case-insensitive in both)."""
    return hashlib.sha256(f"{resource_id.lower()}|{subject.lower()}".encode()).hexdigest()[:12]


def _make(status: str):
    def make(resource_id: str, message: str, *, silo: str | None = None,
             evidence: list[dict[str, Any]] | None = None, subject: str = "") -> Finding:
        return Finding(status, resource_id or "", message, silo, list(evidence or []), subject)

    make.__name__ = status.title().replace("_", "")
    make.__doc__ = f"A finding with status ``{status}``."
    return make


Pass = _make("pass")
Fail = _make("fail")
Unknown = _make("unknown")
NotApplicable = _make("not_applicable")


def prop(resource_id: str, path: str, value: Any, *, default_assumed: bool = False,
         default_note: str | None = None) -> dict[str, Any]:
    """Evidence item for a configuration value (``default_assumed`` when Azure's default filled a gap)."""
    item: dict[str, Any] = {"kind": "property", "resource_id": resource_id, "path": path, "value": value}
    if default_assumed:
        item["default_assumed"] = True
        if default_note:
            item["default_note"] = default_note
    return item


def note(text: str) -> dict[str, Any]:
    return {"kind": "note", "text": text}
