"""Markdown for pull-request comments and wikis: verdict, the silo x area matrix, failing findings with evidence.

GitHub rejects comments over 65,536 characters, so the output is capped (``max_chars``, default 60,000): matrix
rows that all pass go first when rows must be cut, then findings are dropped from the end (least severe first)
and the report says exactly what was cut. Every value that comes from the deployment (names, ids, messages) is
escaped, so a resource named ``<img onerror=...>`` or ``a|b`` renders as text and cannot break the table.
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
    cut_note,
    evidence_text,
    finding_label,
    matrix,
    problem_findings,
    resource_name,
    trim_rows,
    verdict_lines,
    waiver_text,
)

EXTENSION = "md"
GITHUB_COMMENT_LIMIT = 65_536
MAX_MATRIX_ROWS = 60
MAX_EVIDENCE = 8
_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
CELL_MARK = {"fail": "❌ FAIL", "unknown": "❓ UNKNOWN", "waived": "⚪ WAIVED", "pass": "✅ PASS",
             "not_applicable": "N/A", "none": "-"}
VERDICT_MARK = {"ready": "✅", "not_ready": "❌", "unknown": "❓"}


def esc(text: Any) -> str:
    """Text safe inside a Markdown paragraph or table cell: HTML-escaped, Markdown punctuation escaped."""
    s = str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    s = _SPECIAL.sub(r"\\\1", s)
    return " ".join(s.split())  # newlines would end a table row or a list item


def render(result: dict[str, Any], *, max_chars: int = 60_000, **_: Any) -> str:
    head = _head(result)
    rows, cut_rows = trim_rows(matrix(result), MAX_MATRIX_ROWS)
    table = _matrix(rows, cut_rows)
    tail = _tail(result)
    problems = problem_findings(result)
    budget = max_chars - len(head) - len(table) - len(tail) - 400
    blocks: list[str] = []
    used = 0
    for f in problems:
        block = _finding(f)
        if used + len(block) > budget:
            break
        blocks.append(block)
        used += len(block)
    out = [head, table]
    if problems:
        out.append(f"## Failing and unknown findings ({len(problems)})\n\n")
        out.extend(blocks)
        cut = problems[len(blocks):]
        if cut:
            fails = sum(1 for f in cut if f.get("status") == "fail")
            out.append(f"\n**Cut to fit a PR comment:** {len(cut)} more findings not shown ({fails} fail, "
                       f"{len(cut) - fails} unknown, the least severe). See the HTML or SARIF report for all.\n\n")
    out.append(tail)
    return "".join(out)


def _head(result: dict[str, Any]) -> str:
    lines = ["# flaudit readiness report", ""]
    unknown = False
    for profile, status, blocking in verdict_lines(result):
        unknown |= status == "unknown"
        lines.append(f"- **{PROFILE_TITLES[profile]}: {VERDICT_MARK.get(status, '')} "
                     f"{VERDICT_WORDS.get(status, esc(status).upper())}**"
                     + (f" ({len(blocking)} blocking)" if blocking else ""))
        for f in blocking[:5]:
            lines.append(f"  - {STATUS_WORDS.get(f.get('status', ''), 'UNKNOWN')} {esc(finding_label(f))}")
        if len(blocking) > 5:
            lines.append(f"  - and {len(blocking) - 5} more")
    if unknown:
        lines += ["", f"> {UNKNOWN_MEANING}"]
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


def _finding(f: dict[str, Any]) -> str:
    status = STATUS_WORDS.get(f.get("status", ""), "UNKNOWN")
    lines = [f"### {status} · {esc(f.get('severity', '?'))} · {esc(f.get('rule_id', '?'))} {esc(f.get('title', ''))}",
             "", f"**{esc(f.get('silo') or 'deployment')}** · {esc(resource_name(f.get('resource_id')))}"
             f" — {esc(f.get('message', ''))}", ""]
    evidence = list(f.get("evidence") or [])
    for item in evidence[:MAX_EVIDENCE]:
        lines.append(f"- {esc(evidence_text(item))}")
    if len(evidence) > MAX_EVIDENCE:
        lines.append(f"- … {len(evidence) - MAX_EVIDENCE} more evidence items")
    return "\n".join(lines) + "\n\n"


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
    s = result.get("summary") or {}
    by = s.get("by_status") or {}
    tool = result.get("tool") or {}
    lines += ["---", "",
              f"{s.get('total', 0)} checks: {by.get('fail', 0)} fail, {by.get('unknown', 0)} unknown, "
              f"{by.get('pass', 0)} pass, {by.get('not_applicable', 0)} n/a, {s.get('waived', 0)} waived. "
              f"flaudit {esc(tool.get('version', '?'))}, rules {esc(tool.get('rule_pack_version', '?'))}, "
              f"profile {esc(result.get('profile', '?'))}, input sha256 `{_hex((result.get('input') or {}).get('sha256'))}`, "
              f"{esc(result.get('generated_at', ''))}.", ""]
    return "\n".join(lines)
