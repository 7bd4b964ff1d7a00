"""The terminal report: the silo x area matrix, the verdict per profile, what fails and why, one summary line.

Short on purpose (the HTML report carries the detail). Colour is only decoration: every cell and verdict is also
a word, and ``color=False`` (pipes, NO_COLOR, files) gives plain text without any ANSI escape.
"""

from __future__ import annotations

import shutil
from io import StringIO
from typing import Any

from flaudit.reports._common import (
    AREAS,
    PROFILE_TITLES,
    STATUS_WORDS,
    UNKNOWN_MEANING,
    VERDICT_WORDS,
    access_chain_text,
    cut_note,
    evidence_text,
    finding_label,
    fix_first_view,
    gate_view,
    matrix,
    problem_findings,
    resource_name,
    trim_rows,
    verdict_lines,
    waiver_entry_text,
    waiver_text,
)

from flaudit.declarations import declaration_text
from flaudit.gate import scope_text

EXTENSION = "txt"

CELL_STYLE = {
    "fail": "bold red",
    "unknown": "bold yellow",
    "waived": "magenta",
    "pass": "green",
    "not_applicable": "dim",
    "none": "dim",
}
VERDICT_STYLE = {"ready": "bold green", "not_ready": "bold red", "unknown": "bold yellow"}
SHORT_AREA = {
    "network-isolation": "network",
    "private-endpoints": "priv-endpoints",
    "silo-identity": "identity",
    "workspace-access": "ws-access",
    "storage-hardening": "storage",
    "workspace-hardening": "ws-hardening",
    "data-movement": "data-move",
    "topology": "topology",
}
MAX_ROWS = 30
MAX_FINDINGS = 40
MAX_EVIDENCE = 6
MAX_FIX_FIRST = 10
MAX_DECIDING = 10


def render(result: dict[str, Any], *, color: bool = False, width: int | None = None, **_: Any) -> str:
    """The report as text; ANSI colour only when ``color`` (the caller decides from isatty and NO_COLOR)."""
    from rich.console import Console
    from rich.padding import Padding
    from rich.table import Table
    from rich.text import Text

    if width is None:
        width = max(100, shutil.get_terminal_size((120, 24)).columns) if color else 120
    buf = StringIO()
    console = Console(file=buf, force_terminal=color, no_color=not color, color_system="standard" if color else None,
                      width=width, highlight=False, emoji=False, markup=False, soft_wrap=False)

    print_fix_first(console, result)
    rows, cut = trim_rows(matrix(result), MAX_ROWS)
    table = Table(title="Readiness by silo and area", title_justify="left", show_lines=False)
    table.add_column("silo", overflow="fold")
    for area in AREAS:
        table.add_column(SHORT_AREA[area], justify="center")
    for row in rows:
        table.add_row(Text(row.label), *(Text(row.cells[a].word, style=CELL_STYLE[row.cells[a].state]) for a in AREAS))
    console.print(table)
    if cut:
        console.print(Text(f"... {cut_note(cut)}", style="dim"))
    console.print()

    for profile, status, blocking in verdict_lines(result):
        line = Text(f"{PROFILE_TITLES[profile]}: ")
        line.append(VERDICT_WORDS.get(status, status.upper()), style=VERDICT_STYLE.get(status, ""))
        if blocking:
            line.append(f"  ({len(blocking)} blocking)")
        console.print(line)
    if any(s == "unknown" for _, s, _ in verdict_lines(result)):
        console.print(Text(UNKNOWN_MEANING, style="yellow"))
    console.print()
    print_gate(console, result)

    problems = problem_findings(result)
    if problems:
        console.print(Text("Failing and unknown findings", style="bold"))
    for f in problems[:MAX_FINDINGS]:
        head = Text("  ")
        head.append(STATUS_WORDS.get(f.get("status", ""), "UNKNOWN"), style=CELL_STYLE.get(f.get("status", ""), ""))
        head.append(f" [{f.get('severity', '?')}] {f.get('rule_id', '?')} {f.get('title', '')}")
        head.append(f"  {f.get('silo') or 'deployment'}: {resource_name(f.get('resource_id'))}", style="cyan")
        console.print(head)
        console.print(Padding(Text(str(f.get("message", ""))), (0, 0, 0, 6)))
        evidence = list(f.get("evidence") or [])
        for item in evidence[:MAX_EVIDENCE]:
            console.print(Padding(Text(f"- {evidence_text(item)}", style="dim"), (0, 0, 0, 6)))
        if len(evidence) > MAX_EVIDENCE:
            console.print(Text(f"      - ... {len(evidence) - MAX_EVIDENCE} more evidence items", style="dim"))
    if len(problems) > MAX_FINDINGS:
        console.print(Text(f"  ... {len(problems) - MAX_FINDINGS} more failing or unknown findings "
                           "(see --format html or markdown)", style="dim"))
    crossing = [e for e in result.get("access") or [] if e.get("crosses_boundary")]
    if crossing:
        console.print(Text("Access across silo boundaries", style="bold"))
        for edge in crossing[:MAX_FINDINGS]:
            console.print(Padding(Text(f"- {access_chain_text(edge)}", style="red"), (0, 0, 0, 2)))
        if len(crossing) > MAX_FINDINGS:
            console.print(Text(f"  ... {len(crossing) - MAX_FINDINGS} more", style="dim"))
    waived = [f for f in result.get("findings") or [] if f.get("waiver") and f.get("status") in ("fail", "unknown")]
    if waived:
        console.print(Text(f"Waived ({len(waived)})", style="bold"))
        for f in waived[:10]:
            console.print(Text(f"  WAIVED {f.get('rule_id', '?')} {f.get('silo') or 'deployment'}: "
                               f"{resource_name(f.get('resource_id'))} - {waiver_text(f.get('waiver'))}",
                               style="magenta"))
        if len(waived) > 10:
            console.print(Text(f"  ... {len(waived) - 10} more", style="dim"))
    decl = result.get("declarations") or {}
    declared = [(k, d) for k in ("applied", "expired", "unused") for d in decl.get(k) or []]
    if declared:
        console.print(Text("Declared by external silo owners (not verified)", style="bold"))
        for kind, d in declared[:10]:
            console.print(Text(f"  DECLARED {kind.upper()} {declaration_text(d)}", style="cyan"))
        if len(declared) > 10:
            console.print(Text(f"  ... {len(declared) - 10} more", style="dim"))
    if problems or crossing or waived or declared:
        console.print()

    console.print(Text(summary_line(result)))
    text = buf.getvalue()
    return text if color else "\n".join(line.rstrip() for line in text.split("\n"))


def print_fix_first(console: Any, result: dict[str, Any]) -> None:
    """"Fix first": the changes that make the gated profile ready, the one that closes most of the gap first."""
    from rich.padding import Padding
    from rich.text import Text

    ff = fix_first_view(result)
    items = ff.get("items") or []
    if not items:
        return
    head = Text("Fix first: ", style="bold")
    head.append(f"{ff['changes']} change{'s' if ff['changes'] != 1 else ''} make{'s' if ff['changes'] == 1 else ''} "
                f"{ff['profile']} ready")
    console.print(head)
    for n, item in enumerate(items[:MAX_FIX_FIRST], 1):
        line = Text(f"  {n}. ")
        line.append(("resolve " if item["action"] == "resolve" else "") + f"{item['rule_id']}", style="bold")
        line.append(f" [{item['severity']}] {item['title']}  ")
        line.append(scope_text(item), style="cyan")
        console.print(line)
        if item.get("remediation"):
            console.print(Padding(Text(_clip(item["remediation"], 220), style="dim"), (0, 0, 0, 6)))
    if len(items) > MAX_FIX_FIRST:
        console.print(Text(f"  ... {len(items) - MAX_FIX_FIRST} more changes (see --format html or markdown)",
                           style="dim"))
    console.print()


def print_gate(console: Any, result: dict[str, Any]) -> None:
    """Why the exit code is what it is: the reason, the deciding findings (new ones marked) and the waivers."""
    from rich.text import Text

    g = gate_view(result)
    line = Text("Gate: ", style="bold")
    line.append(g["reason"], style="bold red" if g.get("exit_code") else "bold green")
    console.print(line, soft_wrap=True)  # one line, so it can be grepped from a CI log
    deciding = g["deciding_findings"]
    for f, is_new in deciding[:MAX_DECIDING]:
        item = Text("  ")
        if is_new:
            item.append("NEW ", style="bold red")
        item.append(f"{STATUS_WORDS.get(f.get('status', ''), 'UNKNOWN')} [{f.get('severity', '?')}] "
                    f"{finding_label(f)}")
        console.print(item)
    if len(deciding) > MAX_DECIDING:
        console.print(Text(f"  ... {len(deciding) - MAX_DECIDING} more deciding findings", style="dim"))
    for d in g["skipped_details"]:
        console.print(Text(f"  SKIPPED blocking rule {d.get('id')} {d.get('title', '')} (--skip-rule/--rule)",
                           style="yellow"))
    entries = g["waiver_entries"]
    for kind, style in (("applied", "magenta"), ("expired", "yellow"), ("stale", "yellow")):
        for w in entries[kind][:MAX_DECIDING]:
            console.print(Text(f"  waiver {kind.upper()}: {waiver_entry_text(w)}", style=style))
        if len(entries[kind]) > MAX_DECIDING:
            console.print(Text(f"  ... {len(entries[kind]) - MAX_DECIDING} more {kind} waivers", style="dim"))
    console.print()


def _clip(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def summary_line(result: dict[str, Any]) -> str:
    s = result.get("summary") or {}
    by = s.get("by_status") or {}
    silos = len(((result.get("topology") or {}).get("silos")) or [])
    profile = result.get("profile", "production")
    verdict = ((result.get("verdict") or {}).get(profile) or {}).get("status", "unknown")
    return (f"{silos} silos, {s.get('total', 0)} checks: {by.get('fail', 0)} fail, {by.get('unknown', 0)} unknown, "
            f"{by.get('pass', 0)} pass, {by.get('not_applicable', 0)} n/a, {s.get('waived', 0)} waived; "
            f"{profile}: {VERDICT_WORDS.get(verdict, verdict.upper())}")
