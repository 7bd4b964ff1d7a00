"""SARIF 2.1.0 for GitHub code scanning and Azure DevOps: every rule, every failing or unknown finding.

Choices a consumer should know:

* Results are emitted for ``fail`` and ``unknown`` findings only; ``pass`` and ``not_applicable`` are left out
  (code scanning closes an alert when its result disappears, which is what a fixed finding should do).
* Every result has ``kind: fail`` (the SARIF default; the spec only allows a level with that kind), and
  ``unknown`` is ``level: warning`` whatever the severity, with a message that starts "Could not be evaluated",
  so a check flaudit could not see stays visible without posing as a confirmed failure.
* A waived finding keeps its result, with ``suppressions: [{kind: external, justification}]``.
* An external silo owner's declaration (flaudit.declarations) is not a suppression: the ``unknown`` result stays
  an open, unsuppressed warning that says "Could not be evaluated", carries the declaration in
  ``properties.declaration`` and a "Declared by the silo owner (not verified)" line in its message, so code
  scanning never closes or dismisses it as if it were verified. The run's ``properties.declarations`` lists
  applied, expired and unused declarations; expired and unused ones are also tool notifications.
* ``partialFingerprints["flauditFinding/v1"]`` hashes rule id + lower-cased resource id + subject, the same
  identity as the finding id, so an alert survives re-runs, file moves and case changes in ARM ids.
* Every result has a physical location (code scanning needs one): the IaC file and line the resource came from
  when known, otherwise the first input file of the scan; the ARM id is the logical location.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from flaudit.reports._common import (
    PROFILES,
    access_chain_text,
    evidence_text,
    resource_name,
    rules_by_id,
    waiver_text,
)

from flaudit.declarations import declaration_text
from flaudit.jsonout import dumps_indented_bytes

EXTENSION = "sarif"
SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
FALLBACK_URI = "flaudit-input"


def render(result: dict[str, Any], *, base_dir: str | os.PathLike[str] | None = None, **_: Any) -> str:
    """The SARIF log as JSON text; file URIs are made relative to ``base_dir`` (default: the working dir)."""
    return render_bytes(result, base_dir=base_dir).decode("utf-8")


def render_bytes(result: dict[str, Any], *, base_dir: str | os.PathLike[str] | None = None, **_: Any) -> bytes:
    """The SARIF file's bytes (UTF-8), what ``flaudit scan`` writes."""
    return dumps_indented_bytes(build(result, base_dir=base_dir), b"\n")


def build(result: dict[str, Any], *, base_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    rule_meta = rules_by_id(result)
    findings = [f for f in result.get("findings") or [] if f.get("status") in ("fail", "unknown")]
    # Rules a finding names but the result's rules[] lacks still need a descriptor (SARIF requires ruleIndex
    # to point somewhere); build one from the finding itself.
    for f in findings:
        rid = f.get("rule_id") or "FL-UNKNOWN"
        if rid not in rule_meta:
            rule_meta[rid] = {"id": rid, "title": f.get("title") or rid, "area": f.get("area", ""),
                              "severity": f.get("severity", "medium"), "blocks": f.get("blocks") or []}
    rule_ids = sorted(rule_meta)
    index = {r: i for i, r in enumerate(rule_ids)}
    default_uri = _default_artifact(result, base)
    access_by_storage: dict[str, list[dict[str, Any]]] = {}
    for edge in result.get("access") or []:
        if edge.get("crosses_boundary"):
            access_by_storage.setdefault((edge.get("storage_id") or "").lower(), []).append(edge)

    results = [_result(f, index, default_uri, base, access_by_storage) for f in findings]
    tool = result.get("tool") or {}
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "flaudit",
            "version": str(tool.get("version", "")),
            "semanticVersion": str(tool.get("version", "")),
            "properties": {"rulePackVersion": tool.get("rule_pack_version")},
            "rules": [_rule(rule_meta[r]) for r in rule_ids],
        }},
        "automationDetails": {"id": f"flaudit/{result.get('profile', 'production')}/"},
        "invocations": [_invocation(result)],
        "results": results,
        "properties": {
            "profile": result.get("profile"),
            "verdict": {p: (result.get("verdict") or {}).get(p, {}).get("status", "unknown") for p in PROFILES},
            "inputSha256": (result.get("input") or {}).get("sha256"),
            "schemaVersion": result.get("schema_version"),
            "skippedRules": {p: list(((result.get("verdict") or {}).get(p) or {}).get("skipped_rules") or [])
                             for p in PROFILES},
            "declarations": _declarations(result),
        },
    }
    if result.get("generated_at"):
        run["invocations"][0]["endTimeUtc"] = _utc(result["generated_at"])
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}


def _rule(r: dict[str, Any]) -> dict[str, Any]:
    severity = r.get("severity", "medium")
    refs = [str(u) for u in r.get("references") or []]
    desc: dict[str, Any] = {
        "id": r["id"],
        "name": "".join(w.capitalize() for w in str(r.get("title", r["id"])).replace("-", " ").split()
                        if w.isalnum()) or r["id"].replace("-", ""),
        "shortDescription": {"text": str(r.get("title") or r["id"])},
        "fullDescription": {"text": str(r.get("rationale") or r.get("title") or r["id"])},
        "help": {"text": _help_text(r), "markdown": _help_markdown(r)},
        "defaultConfiguration": {"level": LEVEL.get(severity, "warning")},
        "properties": {
            "tags": ["security", str(r.get("area", ""))] + [f"profile:{p}" for p in r.get("blocks") or []],
            "security-severity": SECURITY_SEVERITY.get(severity, "5.5"),
            "precision": "high",
            "problem.severity": "error" if LEVEL.get(severity) == "error" else
                                ("warning" if severity == "medium" else "recommendation"),
        },
    }
    if refs:
        desc["helpUri"] = refs[0]
    if r.get("policy"):
        desc["properties"]["azurePolicy"] = list(r["policy"])
    return desc


def _help_text(r: dict[str, Any]) -> str:
    rem = r.get("remediation") or {}
    parts = [str(r.get("rationale") or "")]
    if rem.get("text"):
        parts.append(str(rem["text"]))
    if rem.get("cli"):
        parts.append(f"az CLI:\n{rem['cli']}")
    if rem.get("bicep"):
        parts.append(f"Bicep:\n{rem['bicep']}")
    parts.extend(str(u) for u in r.get("references") or [])
    return "\n\n".join(p for p in parts if p)


def _fence(code: str, lang: str) -> str:
    ticks = "```"
    while ticks in code:
        ticks += "`"
    return f"{ticks}{lang}\n{code}\n{ticks}"


def _help_markdown(r: dict[str, Any]) -> str:
    rem = r.get("remediation") or {}
    out = [(f"**{r.get('title', r['id'])}** ({r.get('severity', '?')}, area {r.get('area', '?')}, blocks "
           f"{', '.join(r.get('blocks') or []) or 'nothing'})"), "", str(r.get("rationale") or "")]
    if rem.get("text"):
        out += ["", "### Remediation", "", str(rem["text"])]
    elif rem.get("cli") or rem.get("bicep"):
        out += ["", "### Remediation"]
    if rem.get("cli"):
        out += ["", "az CLI:", "", _fence(str(rem["cli"]), "bash")]
    if rem.get("bicep"):
        out += ["", "Bicep:", "", _fence(str(rem["bicep"]), "bicep")]
    if r.get("policy"):
        out += ["", "Azure Policy definitions: " + ", ".join(f"`{p}`" for p in r["policy"])]
    if r.get("references"):
        out += ["", "### References", ""] + [f"- {u}" for u in r["references"]]
    return "\n".join(out)


def _fingerprint(f: dict[str, Any]) -> str:
    key = f"{f.get('rule_id', '')}|{(f.get('resource_id') or '').lower()}|{(f.get('subject') or '').lower()}"
    return hashlib.sha256(key.encode()).hexdigest()


def _result(f: dict[str, Any], index: dict[str, int], default_uri: str, base: Path,
            access_by_storage: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    rid = f.get("rule_id") or "FL-UNKNOWN"
    status = f.get("status")
    severity = f.get("severity", "medium")
    where = f"{f.get('silo') or 'deployment'}: {resource_name(f.get('resource_id'))}"
    if status == "unknown":
        level = "warning"
        text = f"Could not be evaluated ({where}): {f.get('message', '')}"
    else:
        level = LEVEL.get(severity, "warning")
        text = f"{f.get('message', '')} ({where})"
    evidence = [evidence_text(e) for e in f.get("evidence") or []]
    if f.get("area") == "silo-identity" or any(e.get("kind") == "access" for e in f.get("evidence") or []):
        evidence += [access_chain_text(e) for e in access_by_storage.get((f.get("resource_id") or "").lower(), [])
                     if not f.get("subject") or (e.get("principal_id") or "").lower() == f["subject"].lower()]
    if evidence:
        text += "\nEvidence:\n" + "\n".join(f"- {e}" for e in evidence)
    if f.get("declaration"):
        text += ("\nDeclared by the silo owner (not verified by flaudit): "
                 + declaration_text(f["declaration"]))
    loc = f.get("location") or {}
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(loc["file"], base) if loc.get("file") else default_uri}}
    if loc.get("file") and isinstance(loc.get("line"), int) and loc["line"] >= 1:
        physical["region"] = {"startLine": loc["line"]}
    location: dict[str, Any] = {"physicalLocation": physical}
    if f.get("resource_id"):
        location["logicalLocations"] = [{"fullyQualifiedName": f["resource_id"], "name": resource_name(f["resource_id"]),
                                         "kind": "resource"}]
    out: dict[str, Any] = {
        "ruleId": rid,
        "ruleIndex": index[rid],
        "level": level,
        "message": {"text": text},
        "locations": [location],
        "partialFingerprints": {"flauditFinding/v1": _fingerprint(f)},
        "properties": {"findingId": f.get("id"), "status": status, "severity": severity, "silo": f.get("silo"),
                       "area": f.get("area"), "blocks": list(f.get("blocks") or []),
                       "security-severity": SECURITY_SEVERITY.get(severity, "5.5")},
    }
    if f.get("declaration"):
        # a property, never a suppression: the result stays open and unknown (see the module docstring)
        out["properties"]["declaration"] = {**f["declaration"], "verified": False}
    if f.get("waiver"):
        out["suppressions"] = [{"kind": "external", "status": "accepted",
                                "justification": waiver_text(f["waiver"])}]
    return out


def _declarations(result: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The result's ``declarations`` section: what silo owners declared, apart from the verified results."""
    decl = result.get("declarations") or {}
    return {kind: [dict(d) for d in decl.get(kind) or []] for kind in ("applied", "expired", "unused")}


def _uri(path: str, base: Path) -> str:
    """A relative URI when the file is under ``base`` (what code scanning maps to the repository)."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(base)
        except ValueError:
            return p.as_uri()
    return quote(PurePosixPath(*p.parts).as_posix() if p.parts else path, safe="/")


def _default_artifact(result: dict[str, Any], base: Path) -> str:
    for src in (result.get("input") or {}).get("sources") or []:
        path = src.get("path")
        if isinstance(path, str) and path and src.get("kind") not in ("live", "resource-graph", "sample"):
            return _uri(path, base)
    return FALLBACK_URI


def _utc(stamp: str) -> str:
    return stamp.replace("+00:00", "Z") if stamp.endswith("+00:00") else stamp


def _invocation(result: dict[str, Any]) -> dict[str, Any]:
    inp = result.get("input") or {}
    notes = [{"level": "warning", "message": {"text": f"Could not read {u.get('resource_type', '?')} at "
                                                      f"{u.get('scope', '?')}: {u.get('status', '?')} "
                                                      f"{u.get('message', '')}".strip()}}
             for u in inp.get("unreadable") or []]
    notes += [{"level": "warning", "message": {"text": f"Not evaluated: {u.get('resource_id') or 'template'}: "
                                                      f"{u.get('message', '')}"}}
              for u in inp.get("unsupported") or []]
    for r in (result.get("selection") or {}).get("skipped") or []:
        if r.get("blocks"):
            notes.append({"level": "warning", "message": {
                "text": f"Rule {r.get('id')} ({r.get('title', '')}) was skipped by the rule selection; it blocks "
                        f"{', '.join(r['blocks'])}, and the verdict does not cover it."}})
    decl = result.get("declarations") or {}
    for kind, what in (("expired", "expired and no longer stands in for any finding"),
                       ("unused", "matches no unknown finding and stands in for nothing")):
        for d in decl.get(kind) or []:
            notes.append({"level": "warning", "message": {
                "text": f"Declaration {what}: {declaration_text(d)}"}})
    inv: dict[str, Any] = {"executionSuccessful": True}
    if notes:
        inv["toolExecutionNotifications"] = notes
    return inv
