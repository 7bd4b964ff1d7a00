"""The audit result: the versioned JSON contract every renderer, the gate, diff and the trainer read.

See docs/result-contract.md for the field-by-field description. Renderers never see the deployment model:
anything a report shows must be in this dict, so a saved result can be re-rendered later.
"""

from __future__ import annotations

import datetime as _dt
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from flaudit import RULE_PACK_VERSION, __version__
from flaudit.findings import AREAS, PROFILES, SEVERITY_RANK, STATUSES, Finding

SCHEMA_VERSION = "1.0"
SUPPORTED_MAJOR = SCHEMA_VERSION.split(".", 1)[0]


def verdict_for(findings: Iterable[Finding], profile: str) -> dict[str, Any]:
    """``not_ready`` when a blocking rule fails, else ``unknown`` when one is unknown, else ``ready``.

    Unknown never counts as ready: an audit that could not see something cannot vouch for it.
    """
    blocking = [f for f in findings if f.blocks_profile(profile)]
    if any(f.status == "fail" for f in blocking):
        status = "not_ready"
    elif blocking:
        status = "unknown"
    else:
        status = "ready"
    blocking.sort(key=lambda f: (-SEVERITY_RANK.get(f.severity, 0), f.rule_id, f.resource_id))
    return {"status": status, "blocking": [f.id for f in blocking]}


def _verdicts(findings: list[Finding], ids: list[str]) -> dict[str, dict[str, Any]]:
    """:func:`verdict_for` of every profile in one pass over ``findings``, whose ids (``ids``, in the same order)
    the caller already has."""
    return _tally(findings, ids)[1]


def summarize(findings: Iterable[Finding]) -> dict[str, Any]:
    """``result.summary`` (without ``fix_first``): counts by status, by area and by severity of what fails."""
    findings = list(findings)
    return _tally(findings, [""] * len(findings))[0]


def _tally(findings: list[Finding], ids: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The summary and the verdict of every profile in one walk over ``findings`` (in result order, which sets
    the order of ``failing_by_severity``'s keys and breaks the verdicts' ties) with their ``ids``: a fleet's
    result holds tens of thousands of findings, and few of them fail or block anything."""
    by_status = dict.fromkeys(STATUSES, 0)
    by_area: dict[str, dict[str, int]] = {a: dict.fromkeys(STATUSES, 0) for a in AREAS}
    by_severity: dict[str, int] = defaultdict(int)
    blocking: dict[str, list[tuple[Finding, str]]] = {p: [] for p in PROFILES}
    waived = declared = 0
    for f, fid in zip(findings, ids, strict=True):
        status = f.status
        by_status[status] = by_status.get(status, 0) + 1
        area = by_area.get(f.area)
        if area is None:
            area = by_area[f.area] = dict.fromkeys(STATUSES, 0)
        area[status] = area.get(status, 0) + 1
        if f.waiver:
            waived += 1
        if f.declaration:
            declared += 1
        if status == "fail" or status == "unknown":
            by_severity[f.severity] += 1
            if f.blocks and f.waiver is None and f.declaration is None:
                for p in PROFILES:
                    if p in f.blocks:
                        blocking[p].append((f, fid))
    summary = {
        "total": len(findings),
        "by_status": by_status,
        "by_area": by_area,
        "failing_by_severity": dict(by_severity),
        "waived": waived,
        "declared": declared,
    }
    verdicts = {}
    for p, pairs in blocking.items():
        status = "not_ready" if any(f.status == "fail" for f, _ in pairs) else "unknown" if pairs else "ready"
        pairs.sort(key=lambda pair: (-SEVERITY_RANK.get(pair[0].severity, 0), pair[0].rule_id, pair[0].resource_id))
        verdicts[p] = {"status": status, "blocking": [fid for _, fid in pairs]}
    return summary, verdicts


#: Statuses whose evidence a compact result leaves out (see :func:`pass_evidence`).
QUIET_STATUSES = frozenset({"pass", "not_applicable"})


def pass_evidence(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The evidence of a passing (or not applicable) finding that says more than its status: properties whose
    value is an Azure default flaudit assumed because the input left them out, and notes, which say what the
    pass rests on and where it stops ("a user-assigned identity can also be attached in subscriptions not
    collected", "limits copies into this account, not out of it", how many assignments were evaluated). The
    rest (the values that were read and found fine, the grants and network paths that were allowed) restates
    the message, and at 1,000 silos is most of an 80 MB result."""
    return [e for e in evidence if e.get("default_assumed") or e.get("kind") == "note"]


def topology_sha256(topology: dict[str, Any]) -> str:
    """Digest of the resolved topology, so ``train --result`` can prove the saved result resolved the same one."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(topology, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def build_result(*, findings: list[Finding], profile: str, inventory: Any, topology: dict[str, Any],
                 access: list[dict[str, Any]], network_paths: list[dict[str, Any]], rules: list[Any],
                 waivers: dict[str, Any] | None = None, generated_at: str | None = None,
                 unmodelled: list[dict[str, Any]] | None = None, compact: bool = False,
                 config_sha256: str | None = None) -> dict[str, Any]:
    """The result dict. ``compact``: passing and not-applicable findings keep only :func:`pass_evidence`, and the
    result says so (``"compact": true``)."""
    from flaudit.gate import fix_first_all

    findings, ids, rows = _in_result_order(findings, compact)
    summary, verdicts = _tally(findings, ids)
    result = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "flaudit", "version": __version__, "rule_pack_version": RULE_PACK_VERSION},
        "generated_at": generated_at or _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat(),
        "profile": profile,
        "input": {
            "sha256": inventory.sha256(),
            "resources": len(inventory.resources),
            "sources": [s.to_dict() for s in inventory.sources],
            "ignored_types": dict(sorted(inventory.ignored_types.items())),
            "notes": inventory.note_lines() if hasattr(inventory, "note_lines") else [],
            "unmodelled": list(unmodelled or []),
            "unreadable": [u.to_dict() for u in inventory.unreadable],
            "unsupported": list(inventory.unsupported),
            "collection": dict(inventory.metadata),
            "config_sha256": config_sha256,
        },
        "topology": topology,
        "topology_sha256": topology_sha256(topology),
        "rules": [r.to_dict() for r in rules],
        "findings": rows,
        "access": access,
        "network_paths": network_paths,
        "summary": summary,
        "verdict": verdicts,
        "waivers": waivers or {"file": None, "applied": [], "expired": [], "stale": []},
        # external silos' declarations (flaudit.declarations): filled by run_audit, never verified results
        "declarations": {"applied": [], "expired": [], "unused": []},
    }
    if compact:
        result["compact"] = True
    result["summary"]["fix_first"] = fix_first_all(result)
    return result


def _in_result_order(findings: list[Finding], compact: bool) -> tuple[list[Finding], list[str], list[dict[str, Any]]]:
    """The findings, their ids and their rows (:func:`flaudit.findings.rows`, trimmed by :func:`pass_evidence` when
    ``compact``), sorted by area, rule, silo (natural order: silo2 before silo10; names equal that way, such as
    silo2 and silo02, by their exact text), resource id (case-insensitive) and subject; findings equal in all five
    keep the order the rules made them in.

    Why it is built this way: a 1,000-silo result has 52,000 findings on 5,000 resources, 16,000 (resource,
    subject) pairs and 1,000 silos. Each resource id is lower-cased once (for the sort key and the id alike) and
    each pair's identity digest computed once; each silo's natural sort key is computed once and replaced by its
    rank among them, so the sort compares integers rather than tuples of name parts. Rows are made last, in
    result order, in one comprehension (:func:`flaudit.findings.rows`)."""
    from flaudit.findings import id_digest
    from flaudit.findings import rows as finding_rows
    from flaudit.gate import natural_key

    silo_keys = {silo: natural_key(silo) for silo in {f.silo for f in findings}}
    rank = {key: n for n, key in enumerate(sorted(set(silo_keys.values())))}
    silo_rank = {silo: rank[key] for silo, key in silo_keys.items()}
    per_resource: dict[str, tuple[str, dict[str, str]]] = {}  # resource id: (lower-cased, {subject: digest})
    keys = []
    ids = []
    for f in findings:
        resource_id, subject = f.resource_id, f.subject
        resource = per_resource.get(resource_id)
        if resource is None:
            resource = per_resource[resource_id] = (resource_id.lower(), {})
        lower, digests = resource
        digest = digests.get(subject)
        if digest is None:
            digest = digests[subject] = id_digest(lower, subject)
        ids.append(f"{f.rule_id}:{digest}")
        keys.append((f.area, f.rule_id, silo_rank[f.silo], lower, subject))
    order = sorted(range(len(findings)), key=keys.__getitem__)
    findings = [findings[i] for i in order]
    ids = [ids[i] for i in order]
    rows = finding_rows(findings, ids)
    if compact:
        for f, row in zip(findings, rows, strict=True):
            if f.status in QUIET_STATUSES and row["evidence"]:
                row["evidence"] = pass_evidence(row["evidence"])
    return findings, ids, rows


def load_result(path: str) -> dict[str, Any]:
    """Read and check a saved result (``-`` is stdin): JSON, an object, a ``schema_version`` of a major we read.

    ``flaudit report``, ``diff``, ``scan --baseline`` and ``train --result`` all read results through here.
    """
    from flaudit.errors import InputError
    from flaudit.readers import load_json

    name = "<stdin>" if path == "-" else str(path)
    data = load_json(path, "flaudit JSON result")
    if not isinstance(data, dict):
        raise InputError(f"{name}: not a flaudit result (expected a JSON object, got {type(data).__name__})")
    version = data.get("schema_version")
    if not isinstance(version, str) or not version:
        raise InputError(f"{name}: not a flaudit result (no schema_version; write one with "
                         "`flaudit scan --format json`)")
    if version.split(".", 1)[0] != SUPPORTED_MAJOR:
        raise InputError(f"{name}: result schema_version {version} is not supported by this flaudit "
                         f"(reads {SUPPORTED_MAJOR}.x)")
    for key, kind in (("findings", list), ("verdict", dict)):
        if not isinstance(data.get(key), kind):
            raise InputError(f"{name}: not a flaudit result ({key!r} missing or not a {kind.__name__})")
    return data
