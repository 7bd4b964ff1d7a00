"""The audit result: the versioned JSON contract every renderer, the gate, diff and the trainer read.

See docs/result-contract.md for the field-by-field description. Renderers never see the deployment model:
anything a report shows must be in this dict, so a saved result can be re-rendered later.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter, defaultdict
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


def summarize(findings: Iterable[Finding]) -> dict[str, Any]:
    findings = list(findings)
    by_status = Counter({s: 0 for s in STATUSES})
    by_area: dict[str, Counter] = {a: Counter({s: 0 for s in STATUSES}) for a in AREAS}
    by_severity: dict[str, int] = defaultdict(int)
    waived = declared = 0
    for f in findings:
        by_status[f.status] += 1
        by_area.setdefault(f.area, Counter({s: 0 for s in STATUSES}))[f.status] += 1
        if f.status in ("fail", "unknown"):
            by_severity[f.severity] += 1
        if f.waiver:
            waived += 1
        if f.declaration:
            declared += 1
    return {
        "total": len(findings),
        "by_status": dict(by_status),
        "by_area": {a: dict(c) for a, c in by_area.items()},
        "failing_by_severity": dict(by_severity),
        "waived": waived,
        "declared": declared,
    }


def build_result(*, findings: list[Finding], profile: str, inventory: Any, topology: dict[str, Any],
                 access: list[dict[str, Any]], network_paths: list[dict[str, Any]], rules: list[Any],
                 waivers: dict[str, Any] | None = None, generated_at: str | None = None) -> dict[str, Any]:
    from flaudit.gate import fix_first_all, natural_key

    findings = sorted(findings, key=lambda f: (f.area, f.rule_id, natural_key(f.silo), f.resource_id.lower(),
                                               f.subject))
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
            "unreadable": [u.to_dict() for u in inventory.unreadable],
            "unsupported": list(inventory.unsupported),
            "collection": dict(inventory.metadata),
        },
        "topology": topology,
        "rules": [r.to_dict() for r in rules],
        "findings": [f.to_dict() for f in findings],
        "access": access,
        "network_paths": network_paths,
        "summary": summarize(findings),
        "verdict": {p: verdict_for(findings, p) for p in PROFILES},
        "waivers": waivers or {"file": None, "applied": [], "expired": [], "stale": []},
        # external silos' declarations (flaudit.declarations): filled by run_audit, never verified results
        "declarations": {"applied": [], "expired": [], "unused": []},
    }
    result["summary"]["fix_first"] = fix_first_all(result)
    return result


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
