"""The HTML readiness report a security team signs off: one self-contained, autoescaped file.

No external CSS, JS, fonts or images, so it opens from an email attachment on an air-gapped laptop. Order: verdict,
silo x area matrix, access diagram, findings by severity (grouped by rule so rationale and remediation are printed
once per rule, which also keeps 1,000-silo reports small), passed checks collapsed per area, then metadata.
A Content-Security-Policy meta tag allows only the one inline script (it opens collapsed sections before printing
and the one a link points into), by hash: even if an injected tag slipped past escaping, the browser would refuse to run it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from pathlib import Path
from typing import Any

from flaudit.reports import diagram
from flaudit.reports._common import (
    AREA_TITLES,
    AREAS,
    CELL_WORDS,
    PROFILE_TITLES,
    SEVERITIES,
    STATUS_WORDS,
    UNKNOWN_MEANING,
    VERDICT_WORDS,
    blocking_ids,
    finding_cell_state,
    finding_label,
    gate_view,
    matrix,
    name_ranges,
    resource_name,
    rules_by_id,
    severity_rank,
    short_value,
    verdict_lines,
    waiver_entry_text,
    waiver_text,
)

from flaudit.declarations import declaration_text
from flaudit.gate import fix_first_for, natural_key, scope_text

EXTENSION = "html"
TEMPLATES = Path(__file__).parent / "templates"
#: The page's only script: open every collapsed section before printing, and open the collapsed section holding
#: a linked finding (a matrix cell pointing at a passed check) in browsers that do not do it themselves.
PRINT_SCRIPT = ("window.addEventListener('beforeprint',function(){"
                "document.querySelectorAll('details').forEach(function(d){d.open=true;});});"
                "function flauditOpenTarget(){var t=location.hash&&document.getElementById(location.hash.slice(1));"
                "for(var e=t;e;e=e.parentElement){if(e.tagName==='DETAILS'){e.open=true;}}"
                "if(t){t.scrollIntoView();}}"
                "window.addEventListener('hashchange',flauditOpenTarget);flauditOpenTarget();")
POLICY_URL = ("https://portal.azure.com/#view/Microsoft_Azure_Policy/PolicyDetailBlade/definitionId/"
              "%2Fproviders%2FMicrosoft.Authorization%2FpolicyDefinitions%2F{}")
_ANCHOR_BAD = re.compile(r"[^A-Za-z0-9_-]")
#: Up to this many pass and not-applicable findings, each is listed with its message and evidence (a deployment of
#: up to about ten silos). Above it, a fleet's passes are grouped per rule (title, count, the silos as ranges, the
#: resources) without evidence: 52,000 passes at 1,000 silos would be 12 MB of text nobody reads. The JSON result
#: keeps every finding with its evidence, and the report says so. Failing, unknown, waived and declared findings
#: are always listed in full with their evidence, whatever the size.
FULL_PASS_LIMIT = 500
#: Grouped passes name at most this many resources of a rule by name (deployment-wide ones such as the workspace);
#: beyond it they are counted.
MAX_PASS_RESOURCES = 12
#: Beyond this many silos, the silo x area matrix and the access summary list one by one only the silos with
#: something to read (a FAIL, UNKNOWN or WAIVED cell; a principal from outside or an open public path). The other
#: silos are folded into one row per identical set of cells, naming its silos as ranges ("silo0–silo999"); the
#: heat map above still has a square for each.
MATRIX_ROWS = 100
#: Cell and row states that a folded row may hold: nothing fails, is unknown or waived.
QUIET = ("pass", "not_applicable", "none")


@functools.lru_cache(maxsize=1)
def _env() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["safe_url"] = safe_url
    env.filters["value"] = lambda v: short_value(v, 400)
    env.filters["rname"] = resource_name
    env.filters["describe"] = describe
    return env


def safe_url(url: Any) -> str | None:
    """Only http(s) links: a reference like ``javascript:...`` from a user rule pack must not become a link."""
    text = str(url or "")
    return text if re.match(r"https?://", text, re.IGNORECASE) else None


def describe(value: Any) -> str:
    """Plain text for metadata whose shape varies by source (a string, or a mapping such as a snapshot scope)."""
    if isinstance(value, dict):
        if set(value) <= {"name", "version"}:
            return " ".join(str(v) for v in value.values() if v)
        return "; ".join(f"{str(k).replace('_', ' ')}: {describe(v)}" for k, v in value.items() if v not in (None, "", []))
    if isinstance(value, (list, tuple)):
        return ", ".join(describe(v) for v in value)
    return "" if value is None else str(value)


def anchor(finding_id: str) -> str:
    return "f-" + _ANCHOR_BAD.sub("-", str(finding_id))


def csp() -> str:
    digest = base64.b64encode(hashlib.sha256(PRINT_SCRIPT.encode()).digest()).decode()
    return (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-{digest}'; "
            "base-uri 'none'; form-action 'none'")


def render(result: dict[str, Any], **_: Any) -> str:
    return _env().get_template("report.html.j2").render(**context(result))


def context(result: dict[str, Any]) -> dict[str, Any]:
    from markupsafe import Markup

    rules = rules_by_id(result)
    blocking = blocking_ids(result)
    findings = [f for f in result.get("findings") or [] if isinstance(f, dict)]

    verdicts = []
    for profile, status, block in verdict_lines(result):
        ff = fix_first_for(result, profile)
        verdicts.append({"profile": profile, "title": PROFILE_TITLES[profile], "status": status,
                         "word": VERDICT_WORDS.get(status, str(status).upper()),
                         "blocking": block, "headline": ff.get("headline", ""), "changes": ff.get("changes", 0),
                         "skipped": ((result.get("verdict") or {}).get(profile) or {}).get("skipped_rules") or [],
                         "fix": [{**i, "scope": scope_text(i), "anchor": anchor((i.get("finding_ids") or [""])[0])}
                                 for i in ff.get("items") or []]})
    g = gate_view(result)
    gate = {**g, "deciding": [{"anchor": anchor(f.get("id", "")), "label": finding_label(f), "new": new,
                               "status": STATUS_WORDS.get(f.get("status", ""), "UNKNOWN"),
                               "severity": f.get("severity", "")} for f, new in g["deciding_findings"]],
            "waiver_lines": [(k, waiver_entry_text(w)) for k in ("applied", "expired", "stale")
                             for w in g["waiver_entries"][k]]}

    passes = [f for f in findings if f.get("status") in ("pass", "not_applicable")]
    itemised = len(passes) <= FULL_PASS_LIMIT

    rows = []
    matrix_rows = matrix(result)
    fold = sum(1 for r in matrix_rows if r.silo is not None) > MATRIX_ROWS
    quiet: dict[tuple[str, ...], list[Any]] = {}
    for row in matrix_rows:
        if row.silo is None and quiet:
            rows.extend(_folded_rows(quiet))
            quiet = {}
        if fold and row.silo is not None and row.state in QUIET:
            quiet.setdefault(tuple(row.cells[a].state for a in AREAS), []).append(row)
            continue
        cells = []
        for a in AREAS:
            cell = row.cells[a]
            href = None
            if cell.findings:
                worst = min(cell.findings, key=lambda f: (
                    ["fail", "unknown", "waived", "pass", "not_applicable"].index(finding_cell_state(f))
                    if finding_cell_state(f) in ("fail", "unknown", "waived", "pass", "not_applicable") else 9,
                    -severity_rank(f)))
                href = "#" + _link(worst, itemised)
            counts = cell.counts()
            title = ", ".join(f"{n} {CELL_WORDS.get(s, s)}" for s, n in counts.items()) or "no check"
            cells.append({"state": cell.state, "word": cell.word, "href": href, "title": title})
        rows.append({"label": row.label, "deployment": row.silo is None, "cells": cells})
    rows.extend(_folded_rows(quiet))
    folded_silos = sum(r["silos"] for r in rows if r.get("folded"))

    problems = [f for f in findings if f.get("status") in ("fail", "unknown")]
    by_severity = []
    for sev in SEVERITIES + ("other",):
        sev_findings = [f for f in problems if (f.get("severity") if f.get("severity") in SEVERITIES else "other") == sev]
        if not sev_findings:
            continue
        groups: dict[str, list[dict[str, Any]]] = {}
        for f in sev_findings:
            groups.setdefault(f.get("rule_id") or "?", []).append(f)
        rule_blocks = []
        for rid in sorted(groups, key=lambda r: (not any(f.get("id") in blocking for f in groups[r]), r)):
            group = sorted(groups[rid], key=lambda f: (bool(f.get("waiver")), f.get("id") not in blocking,
                                                       f.get("status") != "fail", natural_key(f.get("silo")),
                                                       (f.get("resource_id") or "").lower()))
            rule_blocks.append({"rule": _rule_view(rules.get(rid), group[0]),
                                "findings": [_finding_view(f, f.get("id") in blocking) for f in group]})
        by_severity.append({"severity": sev, "count": len(sev_findings), "rules": rule_blocks})

    passed = _passed_view(passes, rules, itemised)

    svg = diagram.render_svg(result)
    summary = None if svg is not None else _summary_view(diagram.summary_rows(result))
    inp = result.get("input") or {}
    tool = result.get("tool") or {}
    return {
        "csp": csp(),
        "script": Markup(PRINT_SCRIPT),  # a constant, allowed by hash in the CSP
        "tool": tool,
        "profile": result.get("profile", "production"),
        "generated_at": result.get("generated_at", ""),
        "verdicts": verdicts,
        "gate": gate,
        "any_unknown": any(v["status"] == "unknown" for v in verdicts),
        "unknown_meaning": UNKNOWN_MEANING,
        "areas": [{"id": a, "title": AREA_TITLES[a]} for a in AREAS],
        "rows": rows,
        "folded_silos": folded_silos,
        "matrix_silos": sum(1 for r in matrix_rows if r.silo is not None),
        "matrix_limit": MATRIX_ROWS,
        "diagram": Markup(svg) if svg is not None else Markup(diagram.aggregate_svg(result, matrix_rows)),
        "diagram_limit": diagram.MAX_SILOS,
        "legend": Markup(diagram.legend_html(result)) if svg is not None else None,
        "summary_rows": summary,
        "access": result.get("access") or [],
        "by_severity": by_severity,
        "problem_count": len(problems),
        "passed": passed,
        "pass_count": len(passes),
        "passes_itemised": itemised,
        "full_pass_limit": FULL_PASS_LIMIT,
        "compact": result.get("compact") is True,  # scan --compact: passes carry only default_assumed evidence
        "summary": result.get("summary") or {},
        "input": inp,
        "sources": inp.get("sources") or [],
        "unreadable": inp.get("unreadable") or [],
        "unsupported": inp.get("unsupported") or [],
        "ignored_types": inp.get("ignored_types") or {},
        "collection": inp.get("collection") or {},
        "waivers": result.get("waivers") or {},
        "declarations": result.get("declarations") or {},
        "topology_problems": (result.get("topology") or {}).get("problems") or [],
        "topology_source": (result.get("topology") or {}).get("source"),
        "silo_count": len((result.get("topology") or {}).get("silos") or []),
        "anchor": anchor,
    }


def _rule_view(rule: dict[str, Any] | None, sample: dict[str, Any]) -> dict[str, Any]:
    rule = rule or {"id": sample.get("rule_id", "?"), "title": sample.get("title", ""),
                    "area": sample.get("area", ""), "severity": sample.get("severity", ""),
                    "blocks": sample.get("blocks") or []}
    rem = rule.get("remediation") or {}
    return {
        "id": rule.get("id", "?"), "title": rule.get("title", ""), "area": rule.get("area", ""),
        "area_title": AREA_TITLES.get(rule.get("area", ""), rule.get("area", "")),
        "severity": rule.get("severity", ""), "blocks": rule.get("blocks") or [],
        "rationale": rule.get("rationale", ""), "cli": rem.get("cli", ""), "bicep": rem.get("bicep", ""),
        "fix_text": rem.get("text", ""),
        "references": [{"text": str(u), "href": safe_url(u)} for u in rule.get("references") or []],
        "policy": [{"id": str(p), "href": POLICY_URL.format(p) if re.fullmatch(r"[0-9a-fA-F-]{36}", str(p)) else None}
                   for p in rule.get("policy") or []],
    }


def _finding_view(f: dict[str, Any], is_blocking: bool) -> dict[str, Any]:
    return {
        "anchor": anchor(f.get("id", "")), "id": f.get("id", ""), "status": f.get("status", "unknown"),
        "word": STATUS_WORDS.get(f.get("status", ""), "UNKNOWN"),
        "severity": f.get("severity", ""), "silo": f.get("silo"), "resource_id": f.get("resource_id") or "",
        "resource": resource_name(f.get("resource_id")), "subject": f.get("subject"),
        "message": f.get("message", ""), "evidence": [e for e in f.get("evidence") or [] if isinstance(e, dict)],
        "blocks": f.get("blocks") or [], "blocking": is_blocking,
        "waiver": waiver_text(f.get("waiver")) if f.get("waiver") else None,
        "declaration": declaration_text(f["declaration"]) if isinstance(f.get("declaration"), dict) else None,
        "location": f.get("location") or None,
    }


def pass_group_anchor(rule_id: str) -> str:
    return "pass-" + _ANCHOR_BAD.sub("-", str(rule_id))


def _link(f: dict[str, Any], itemised: bool) -> str:
    """The in-page target of a finding: its own entry, or its rule's group when passes are grouped."""
    if not itemised and f.get("status") in ("pass", "not_applicable"):
        return pass_group_anchor(f.get("rule_id") or "?")
    return anchor(f.get("id", ""))


def _passed_view(passes: list[dict[str, Any]], rules: dict[str, dict[str, Any]], itemised: bool) -> list[dict]:
    """Passed and not-applicable findings per area, then per rule (rule order as in the result).

    ``itemised``: every finding with its message and evidence. Otherwise one entry per rule with its counts, the
    silos it passed for (folded into ranges) and its resources (named when few, counted when many), and one
    example message, so a fleet's report says what passed where without repeating 50,000 near-identical lines.
    """
    by_area: dict[str, dict[str, list[dict[str, Any]]]] = {a: {} for a in AREAS}
    for f in passes:  # one walk over what may be 50,000 findings
        area = f.get("area")
        by_area[area if area in by_area else "topology"].setdefault(f.get("rule_id") or "?", []).append(f)
    order = {n: i for i, n in enumerate(sorted({str(f["silo"]) for f in passes if f.get("silo") is not None},
                                               key=natural_key))}
    out = []
    for a, groups in by_area.items():
        if not groups:
            continue
        blocks = []
        for rid, fs in groups.items():
            silos = sorted({str(f["silo"]) for f in fs if f.get("silo") is not None}, key=order.__getitem__)
            resources = {f.get("resource_id") or "" for f in fs}
            named = sorted({resource_name(r) for r in resources}, key=natural_key) \
                if len(resources) <= MAX_PASS_RESOURCES else []
            n_pass = sum(1 for f in fs if f.get("status") == "pass")
            blocks.append({
                "rule_id": rid, "anchor": pass_group_anchor(rid),
                "title": (rules.get(rid) or {}).get("title") or fs[0].get("title", ""),
                "passed": n_pass, "not_applicable": len(fs) - n_pass, "count": len(fs),
                "silo_count": len(silos), "silos": _silos(silos, ordered=True),
                "deployment_wide": sum(1 for f in fs if f.get("silo") is None),
                "resource_count": len(resources),
                "resources": ", ".join(named) if named else None,
                "example": fs[0].get("message", ""),
                "findings": [{**_finding_view(f, False), "word": STATUS_WORDS.get(f.get("status", ""), "?")}
                             for f in fs] if itemised else [],
            })
        out.append({"area": a, "title": AREA_TITLES[a], "count": sum(len(fs) for fs in groups.values()),
                    "rules": blocks})
    return out


def _folded_rows(quiet: dict[tuple[str, ...], list[Any]]) -> list[dict[str, Any]]:
    """One matrix row per identical set of quiet cells: "937 silos: silo0–silo999", each cell linking to its area's
    passed checks."""
    out = []
    for states, group in sorted(quiet.items(), key=lambda kv: -len(kv[1])):
        cells = [{"state": st, "word": CELL_WORDS[st], "title": f"{_plural(len(group), 'silo')}: {CELL_WORDS[st]}",
                  "href": f"#passed-{a}" if st in ("pass", "not_applicable") else None}
                 for a, st in zip(AREAS, states, strict=True)]
        out.append({"label": _silos([r.silo for r in group]), "deployment": False,
                    "folded": True, "silos": len(group), "cells": cells})
    return out


def _summary_view(summary: list[Any]) -> list[dict[str, Any]]:
    """The per-silo access summary; beyond ``MATRIX_ROWS`` silos, silos with no red edge from outside and no open
    public path are folded into one row per identical line (own principals, what else reaches them, paths)."""
    rows = [{"silo": r.silo, "storage": r.storage, "own": r.own, "outside": r.outside, "reaching": r.reaching,
             "risky_paths": r.risky_paths, "other_paths": r.other_paths} for r in summary]
    if len(rows) <= MATRIX_ROWS:
        return rows
    kept, quiet = [], {}
    for r in rows:
        if r["outside"] or r["risky_paths"]:
            kept.append(r)
        else:
            key = (r["own"], tuple(r["reaching"]), tuple(r["other_paths"]), r["storage"] == "not found")
            quiet.setdefault(key, []).append(r)
    for (own, reaching, other, missing), group in sorted(quiet.items(), key=lambda kv: -len(kv[1])):
        kept.append({"silo": _silos([r["silo"] for r in group]),
                     "storage": "not found" if missing else _plural(len(group), "storage account"),
                     "own": own, "outside": [], "reaching": list(reaching), "risky_paths": [],
                     "other_paths": list(other), "folded": True})
    return kept


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _silos(names: list[str], *, ordered: bool = False) -> dict[str, str]:
    """A folded row's silos: "937 silos" and every name, consecutive ones as ranges ("silo0–silo999"); the
    template shows a short list inline and a long one collapsed. ``ordered``: already in natural order."""
    return {"count": _plural(len(names), "silo"), "names": name_ranges(names, ordered=ordered)}
