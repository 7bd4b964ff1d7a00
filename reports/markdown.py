"""Markdown for pull-request comments and wikis: the gate, what to fix first, the silo x area matrix, findings.

Order: verdicts, the gate (why the exit code is what it is, new findings marked), "fix first" (one change per
rule with its remediation and a link to the rule's reference), the matrix, then failing findings grouped by rule
so a remediation is printed once per rule.

GitHub rejects comments over 65,536 characters, so the output is capped (``max_chars``, default 60,000): matrix
rows that all pass go first when rows must be cut, then findings are dropped from the end (least severe first)
and the report says exactly what was cut and where the full report is. Every value that comes from the
deployment (names, ids, messages) is escaped with Markdown backslash escapes, never HTML entities (which show
as ``-&gt;`` inside code and in some viewers): a resource named ``<img onerror=...>`` or ``a|b`` renders as
text and cannot break the table.
"""

from __future__ import annotations

import re
from typing import Any

from flaudit.reports._common import (
    AREA_TITLES,
    AREAS,
    PROFILE_TITLES,
    STATUS_WORDS,
    UNKNOWN_MEANING,
    VERDICT_WORDS,
    access_chain_text,
    blocking_ids,
    cut_note,
    evidence_text,
    finding_label,
    fix_first_view,
    gate_view,
    matrix,
    natural_key,
    problem_findings,
    resource_name,
    rules_by_id,
    trim_rows,
    verdict_lines,
    waiver_entry_text,
    waiver_text,
)

from flaudit.declarations import declaration_text
from flaudit.gate import scope_text

EXTENSION = "md"
GITHUB_COMMENT_LIMIT = 65_536
MAX_MATRIX_ROWS = 60
MAX_EVIDENCE = 4
MAX_DECIDING = 15
MAX_FIX_FIRST = 15
FULL_REPORT = ("The full report: the HTML and JSON files of this run (`--format html,json`), or "
               "`flaudit report RESULT.json --format html`.")
#: Punctuation that can start Markdown or HTML syntax mid-line (CommonMark lets any ASCII punctuation be escaped);
#: user text never starts a line, so list and heading markers need no escape.
_SPECIAL = re.compile(r"([\\`*_\[\]|~<>&])")
CELL_MARK = {"fail": "❌ FAIL", "unknown": "❓ UNKNOWN", "waived": "⚪ WAIVED", "pass": "✅ PASS",
             "not_applicable": "N/A", "none": "-"}
VERDICT_MARK = {"ready": "✅", "not_ready": "❌", "unknown": "❓"}
STATUS_MARK = {"fail": "❌", "unknown": "❓"}


def esc(text: Any) -> str:
    """Text safe inside a Markdown paragraph or table cell: punctuation backslash-escaped, one line."""
    return " ".join(_SPECIAL.sub(r"\\\1", str(text)).split())  # newlines would end a table row or a list item


def link(text: str, url: Any) -> str:
    """``[text](<url>)`` for an http(s) URL without characters that end the destination; else the text."""
    u = str(url or "")
    if re.match(r"https?://[^\s<>]+$", u, re.IGNORECASE):
        return f"[{text}](<{u}>)"
    return text


def render(result: dict[str, Any], *, max_chars: int = 60_000, **_: Any) -> str:
    head = _head(result) + _gate(result) + _fix_first(result)
    rows, cut_rows = trim_rows(matrix(result), MAX_MATRIX_ROWS)
    table = _matrix(rows, cut_rows)
    tail = _tail(result)
    problems = problem_findings(result)
    groups = _groups(problems)
    rules = rules_by_id(result)
    blocking = blocking_ids(result)
    budget = max_chars - len(head) - len(table) - len(tail) - 600
    blocks: list[str] = []
    used = shown = 0
    full = False
    for rid, fs in groups:
        header = _rule_header(rid, fs, rules.get(rid), blocking)
        if used + len(header) > budget:
            break
        blocks.append(header)
        used += len(header)
        for f in fs:
            block = _finding(f)
            if used + len(block) > budget:
                full = True
                break
            blocks.append(block)
            used += len(block)
            shown += 1
        if full:
            break
        blocks.append("\n")
    out = [head, table]
    if problems:
        out.append(f"## Failing and unknown findings ({len(problems)})\n\n")
        out.extend(blocks)
        rest = [f for _, fs in groups for f in fs][shown:]
        if rest:
            fails = sum(1 for f in rest if f.get("status") == "fail")
            out.append(f"\n**Cut to fit a PR comment:** {len(rest)} more findings not shown ({fails} fail, "
                       f"{len(rest) - fails} unknown, the least severe). {FULL_REPORT}\n\n")
    out.append(tail)
    return "".join(out)


def _groups(problems: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Findings grouped by rule, in the order of each rule's most important finding."""
    out: dict[str, list[dict[str, Any]]] = {}
    for f in problems:
        out.setdefault(f.get("rule_id") or "?", []).append(f)
    return list(out.items())


def _head(result: dict[str, Any]) -> str:
    lines = ["# flaudit readiness report", ""]
    unknown = False
    for profile, status, blocking in verdict_lines(result):
        unknown |= status == "unknown"
        lines.append(f"- **{PROFILE_TITLES[profile]}: {VERDICT_MARK.get(status, '')} "
                     f"{VERDICT_WORDS.get(status, esc(status).upper())}**"
                     + (f" ({len(blocking)} blocking)" if blocking else ""))
    if unknown:
        lines += ["", f"> {UNKNOWN_MEANING}"]
    lines.append("")
    return "\n".join(lines) + "\n"


def _gate(result: dict[str, Any]) -> str:
    g = gate_view(result)
    lines = ["## Gate", "", f"**{esc(g['reason'])}**", ""]
    deciding = g["deciding_findings"]
    for f, is_new in deciding[:MAX_DECIDING]:
        lines.append(f"- {'🆕 **NEW** ' if is_new else ''}{STATUS_MARK.get(f.get('status', ''), '')} "
                     f"{STATUS_WORDS.get(f.get('status', ''), 'UNKNOWN')} · {esc(f.get('severity', '?'))} · "
                     f"{esc(finding_label(f))}")
    if len(deciding) > MAX_DECIDING:
        lines.append(f"- and {len(deciding) - MAX_DECIDING} more deciding findings")
    for d in g["skipped_details"]:
        lines.append(f"- ⚠️ blocking rule **{esc(d.get('id'))}** {esc(d.get('title', ''))} was skipped by the "
                     "rule selection: this verdict does not cover it")
    entries = g["waiver_entries"]
    for kind, mark in (("applied", "⚪ waiver applied"), ("expired", "⚠️ waiver EXPIRED (no longer applies)"),
                       ("stale", "⚠️ waiver STALE (matches nothing)")):
        for w in entries[kind][:10]:
            lines.append(f"- {mark}: {esc(waiver_entry_text(w))}")
        if len(entries[kind]) > 10:
            lines.append(f"- and {len(entries[kind]) - 10} more {kind} waivers")
    if g.get("waiver_file"):
        lines.append(f"- waiver file: {esc(g['waiver_file'])}")
    lines.append("")
    return "\n".join(lines) + "\n"


def _fix_first(result: dict[str, Any]) -> str:
    ff = fix_first_view(result)
    items = ff.get("items") or []
    if not items:
        return ""
    rules = rules_by_id(result)
    n = ff["changes"]
    lines = [f"## Fix first: {n} change{'s' if n != 1 else ''} make{'s' if n == 1 else ''} "
             f"{esc(ff['profile'])} ready", ""]
    for i, item in enumerate(items[:MAX_FIX_FIRST], 1):
        ref = item.get("reference") or ((rules.get(item["rule_id"]) or {}).get("references") or [None])[0]
        verb = "Resolve" if item["action"] == "resolve" else "Fix"
        lines.append(f"{i}. **{link(esc(item['rule_id']), ref)}** {esc(item['title'])} · {esc(item['severity'])} · "
                     f"{esc(scope_text(item))}")
        if item.get("remediation"):
            lines.append(f"   {verb}: {esc(item['remediation'])}")
    if len(items) > MAX_FIX_FIRST:
        lines.append(f"\nand {len(items) - MAX_FIX_FIRST} more changes (see the full report)")
    lines.append("")
    return "\n".join(lines) + "\n"


def _matrix(rows: list[Any], cut: list[Any]) -> str:
    lines = ["## Silo x area", "", "| silo | " + " | ".join(AREA_TITLES[a] for a in AREAS) + " |",
             "|---|" + "---|" * len(AREAS)]
    for row in rows:
        lines.append(f"| {esc(row.label)} | " + " | ".join(CELL_MARK[row.cells[a].state] for a in AREAS) + " |")
    if cut:
        lines += ["", f"{cut_note(cut)}; silos that fail or are unknown are listed first."]
    return "\n".join(lines) + "\n\n"


def _rule_header(rid: str, fs: list[dict[str, Any]], rule: dict[str, Any] | None, blocking: set[str]) -> str:
    f0 = fs[0]
    rule = rule or {}
    status = STATUS_WORDS.get(f0.get("status", ""), "UNKNOWN")
    refs = [u for u in rule.get("references") or [] if isinstance(u, str)]
    n_block = sum(1 for f in fs if f.get("id") in blocking)
    silos = sorted({str(f["silo"]) for f in fs if f.get("silo")}, key=natural_key)
    lines = [f"### {STATUS_MARK.get(f0.get('status', ''), '')} {status} · {esc(f0.get('severity', '?'))} · "
             f"{link(esc(rid), refs[0] if refs else None)} {esc(f0.get('title', ''))}", "",
             f"{len(fs)} finding{'s' if len(fs) != 1 else ''}"
             + (f", {n_block} blocking ({esc(', '.join(rule.get('blocks') or f0.get('blocks') or []))})"
                if n_block else ", not blocking")
             + (f"; silos: {esc(', '.join(silos[:8]))}" + (f" +{len(silos) - 8} more" if len(silos) > 8 else "")
                if silos else ""), ""]
    rem = rule.get("remediation") or {}
    if rem.get("text"):
        lines += [f"**Fix:** {esc(rem['text'])}", ""]
    if rem.get("cli"):
        lines += ["```sh", _fence_safe(rem["cli"]), "```", ""]
    if len(refs) > 1:
        lines += ["References: " + ", ".join(link(f"[{i}]", u) for i, u in enumerate(refs, 1)), ""]
    return "\n".join(lines) + "\n"


def _fence_safe(text: str) -> str:
    return str(text).replace("```", "'''")


def _finding(f: dict[str, Any]) -> str:
    status = STATUS_WORDS.get(f.get("status", ""), "UNKNOWN")
    lines = [f"- **{esc(f.get('silo') or 'deployment')}** · {esc(resource_name(f.get('resource_id')))} · {status}"
             f" — {esc(f.get('message', ''))}"]
    evidence = list(f.get("evidence") or [])
    for item in evidence[:MAX_EVIDENCE]:
        lines.append(f"  - {esc(evidence_text(item))}")
    if len(evidence) > MAX_EVIDENCE:
        lines.append(f"  - … {len(evidence) - MAX_EVIDENCE} more evidence items")
    return "\n".join(lines) + "\n"


def _hex(value: Any) -> str:
    text = str(value or "")
    return text[:16] + "…" if re.fullmatch(r"[0-9a-f]{17,}", text) else "?"


def _tail(result: dict[str, Any]) -> str:
    lines: list[str] = []
    crossing = [e for e in result.get("access") or [] if e.get("crosses_boundary")]
    if crossing:
        lines += [f"## Access across silo boundaries ({len(crossing)})", ""]
        lines += [f"- {esc(access_chain_text(e))}" for e in crossing[:20]]
        if len(crossing) > 20:
            lines.append(f"- and {len(crossing) - 20} more (see the HTML report)")
        lines.append("")
    waived = [f for f in result.get("findings") or [] if f.get("waiver") and f.get("status") in ("fail", "unknown")]
    if waived:
        lines += [f"## Waived ({len(waived)})", ""]
        lines += [f"- {esc(finding_label(f))}: {esc(waiver_text(f.get('waiver')))}" for f in waived[:20]]
        if len(waived) > 20:
            lines.append(f"- and {len(waived) - 20} more")
        lines.append("")
    decl = result.get("declarations") or {}
    if any(decl.get(k) for k in ("applied", "expired", "unused")):
        lines += ["## Declared by external silo owners (not verified)", ""]
        for kind in ("applied", "expired", "unused"):
            lines += [f"- {kind.upper()}: {esc(declaration_text(d))}" for d in (decl.get(kind) or [])[:20]]
        lines.append("")
    s = result.get("summary") or {}
    by = s.get("by_status") or {}
    tool = result.get("tool") or {}
    lines += ["---", "",
              f"{s.get('total', 0)} checks: {by.get('fail', 0)} fail, {by.get('unknown', 0)} unknown, "
              f"{by.get('pass', 0)} pass, {by.get('not_applicable', 0)} n/a, {s.get('waived', 0)} waived. "
              f"flaudit {esc(tool.get('version', '?'))}, rules {esc(tool.get('rule_pack_version', '?'))}, "
              f"profile {esc(result.get('profile', '?'))}, input sha256 {_hex((result.get('input') or {}).get('sha256'))}, "
              f"{esc(result.get('generated_at', ''))}.", ""]
    return "\n".join(lines)
