"""JUnit XML for CI test tabs (Azure DevOps PublishTestResults, GitLab ``artifacts:reports:junit``, Jenkins).

One ``<testsuite>`` per area, one ``<testcase>`` per finding, i.e. per rule x resource (x subject when a rule
reports several principals on one resource, so names stay unique). Failures are what blocks the profile the
result gated on, so the test tab and the exit code agree: a blocking ``fail`` -> ``<failure>`` with the
evidence, a blocking ``unknown`` -> ``<error>`` (the check could not run); a ``fail`` or ``unknown`` that does not
block that profile (a low-severity or prototype-irrelevant finding) is reported, not failed: a passing case whose
``<system-out>`` says what was found and that it does not block. ``not_applicable`` and waived findings ->
``<skipped>`` with the reason. An ``unknown`` finding an external silo owner's declaration stands in for
(flaudit.declarations) no longer blocks, so it is a passing case whose ``<system-out>`` says UNKNOWN and carries
the declaration, marked as not verified; never a ``<skipped>`` or a plain pass without it. The element and attribute set is the common Jenkins/Ant ``junit-10`` structure those CI systems
parse; tests validate it against tests/reports/junit-10.xsd.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

from flaudit.reports._common import AREAS, access_chain_text, evidence_text, resource_name, waiver_text

from flaudit.declarations import declaration_text

EXTENSION = "xml"
_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: Any) -> str:
    """XML 1.0 cannot carry most control characters, even escaped; drop them rather than emit invalid XML."""
    return _XML_BAD.sub("", str(text))


def render(result: dict[str, Any], **_: Any) -> str:
    findings = list(result.get("findings") or [])
    skipped_rules = [r for r in (result.get("selection") or {}).get("skipped") or [] if r.get("blocks")]
    areas = [a for a in AREAS if any(f.get("area") == a for f in findings)
             or any(r.get("area") == a for r in skipped_rules)]
    areas += sorted({f.get("area") or "topology" for f in findings} - set(areas))
    stamp = _timestamp(result.get("generated_at") or "")
    crossing: dict[str, list[dict[str, Any]]] = {}
    for edge in result.get("access") or []:
        if edge.get("crosses_boundary"):
            crossing.setdefault((edge.get("storage_id") or "").lower(), []).append(edge)

    profile = result.get("profile") or "production"
    blocking = set(((result.get("verdict") or {}).get(profile) or {}).get("blocking") or [])
    root = ET.Element("testsuites", name="flaudit")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for area in areas:
        cases = [f for f in findings if (f.get("area") or "topology") == area]
        suite = ET.SubElement(root, "testsuite", name=area, tests=str(len(cases)))
        counts = {"failures": 0, "errors": 0, "skipped": 0}
        props = ET.SubElement(suite, "properties")
        ET.SubElement(props, "property", name="profile", value=_clean(result.get("profile", "")))
        ET.SubElement(props, "property", name="input.sha256",
                      value=_clean((result.get("input") or {}).get("sha256", "")))
        for f in cases:
            kind = _case(suite, f, area, crossing, blocking, profile)
            if kind:
                counts[kind] += 1
        for r in (r for r in skipped_rules if r.get("area") == area):
            # a blocking rule the selection left out is visible in the test tab, not silently absent
            case = ET.SubElement(suite, "testcase", name=_clean(f"{r.get('id')} (not run)"),
                                 classname=_clean(f"flaudit.{area}"), time="0")
            ET.SubElement(case, "skipped", message=_clean(
                f"skipped by the rule selection: {r.get('title', '')} blocks {', '.join(r['blocks'])}; "
                "the verdict does not cover it"))
            counts["skipped"] += 1
            cases.append(r)
        suite.set("tests", str(len(cases)))
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        totals["tests"] += len(cases)
        suite.set("time", "0")
        if stamp:
            suite.set("timestamp", stamp)
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _case(suite: ET.Element, f: dict[str, Any], area: str, crossing: dict[str, list[dict[str, Any]]],
          blocking: set[str], profile: str) -> str | None:
    name = f"{f.get('rule_id', '?')} {resource_name(f.get('resource_id'))}"
    if f.get("silo"):
        name += f" ({f['silo']})"
    if f.get("subject"):
        name += f" [{f['subject']}]"
    case = ET.SubElement(suite, "testcase", name=_clean(name), classname=_clean(f"flaudit.{area}"), time="0")
    status = f.get("status")
    head = f"{f.get('title', '')}: {f.get('message', '')}"
    lines = [f"rule {f.get('rule_id', '?')} ({f.get('severity', '?')}), blocks {', '.join(f.get('blocks') or []) or '-'}",
             f"resource {f.get('resource_id') or 'deployment'}", f.get("message", "")]
    lines += [f"- {evidence_text(e)}" for e in f.get("evidence") or []]
    if f.get("subject") or f.get("area") == "silo-identity":
        lines += [f"- access: {access_chain_text(e)}" for e in crossing.get((f.get("resource_id") or "").lower(), [])
                  if not f.get("subject") or (e.get("principal_id") or "").lower() == str(f["subject"]).lower()]
    if f.get("declaration"):
        lines.append(f"- declared by the silo owner (not verified by flaudit): {declaration_text(f['declaration'])}")
    if f.get("waiver") and status in ("fail", "unknown"):
        ET.SubElement(case, "skipped", message=_clean(f"waived ({status}): {waiver_text(f['waiver'])}"))
        return "skipped"
    if status == "not_applicable":
        ET.SubElement(case, "skipped", message=_clean(f"not applicable: {f.get('message', '')}"))
        return "skipped"
    if status in ("fail", "unknown") and f.get("id") not in blocking:
        out = ET.SubElement(case, "system-out")
        out.text = _clean(f"{status.upper()}, does not block {profile}: {head}\n" + "\n".join(lines))
        return None
    if status == "fail":
        el = ET.SubElement(case, "failure", message=_clean(head), type=_clean(f.get("severity", "fail")))
        el.text = _clean("\n".join(lines))
        return "failures"
    if status == "unknown":
        el = ET.SubElement(case, "error", message=_clean(f"could not be evaluated: {head}"), type="unknown")
        el.text = _clean("\n".join(lines))
        return "errors"
    return None


def _timestamp(generated_at: str) -> str:
    """ISO 8601 without the zone (the junit-10 schema's pattern); generated_at is always UTC."""
    m = re.match(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})", generated_at)
    return m.group(1) if m else ""
