"""What every renderer shows the same way: the silo x area matrix, finding order, status words, evidence text.

Each format decides its own layout, but a cell that says FAIL in the terminal must say FAIL in the HTML, the
Markdown and the PR comment; keeping the derivations here is what guarantees that. Everything reads only the
result dict (docs/result-contract.md), tolerating fields it does not know and missing optional ones.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flaudit.findings import AREAS  # noqa: F401  (the one vocabulary, re-exported for the renderers)
from flaudit.gate import natural_key

AREA_TITLES = {
    "network-isolation": "Network isolation",
    "private-endpoints": "Private endpoints",
    "silo-identity": "Silo identity",
    "workspace-access": "Workspace access",
    "storage-hardening": "Storage hardening",
    "workspace-hardening": "Workspace hardening",
    "data-movement": "Data movement",
    "topology": "Topology",
}
SEVERITIES = ("critical", "high", "medium", "low", "info")
SEVERITY_RANK = {s: len(SEVERITIES) - i for i, s in enumerate(SEVERITIES)}
PROFILES = ("prototype", "production")
PROFILE_TITLES = {"prototype": "Prototype (non-sensitive data)", "production": "Production (sensitive data)"}

#: Label of the matrix row that holds findings about the deployment as a whole (``silo`` is null).
DEPLOYMENT_ROW = "(deployment-wide)"

#: Cell states, worst first. ``waived`` = every fail/unknown in the cell is waived; ``none`` = no finding.
CELL_ORDER = ("fail", "unknown", "waived", "pass", "not_applicable", "none")
CELL_WORDS = {
    "fail": "FAIL",
    "unknown": "UNKNOWN",
    "waived": "WAIVED",
    "pass": "PASS",
    "not_applicable": "N/A",
    "none": "-",
}
STATUS_WORDS = {"pass": "PASS", "fail": "FAIL", "unknown": "UNKNOWN", "not_applicable": "N/A"}
VERDICT_WORDS = {"ready": "READY", "not_ready": "NOT READY", "unknown": "UNKNOWN"}
UNKNOWN_MEANING = (
    "UNKNOWN means flaudit could not see enough to prove the check (a resource or setting was not collected, "
    "unreadable or not understood). It is never counted as ready: collect the missing data or fix access, "
    "then scan again."
)


def finding_cell_state(f: dict[str, Any]) -> str:
    """The state one finding contributes to its matrix cell."""
    status = f.get("status", "unknown")
    if status in ("fail", "unknown") and f.get("waiver"):
        return "waived"
    return status if status in CELL_ORDER else "unknown"


def worst(states: Iterable[str]) -> str:
    ranked = [CELL_ORDER.index(s) for s in states if s in CELL_ORDER]
    return CELL_ORDER[min(ranked)] if ranked else "none"


@dataclass
class Cell:
    state: str = "none"
    findings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def word(self) -> str:
        return CELL_WORDS[self.state]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.findings:
            s = finding_cell_state(f)
            out[s] = out.get(s, 0) + 1
        return out


@dataclass
class Row:
    silo: str | None  # None for the deployment-wide row
    cells: dict[str, Cell]

    @property
    def label(self) -> str:
        return self.silo if self.silo is not None else DEPLOYMENT_ROW

    @property
    def state(self) -> str:
        return worst(c.state for c in self.cells.values())


def silo_names(result: dict[str, Any]) -> list[str]:
    """Silos in natural order (silo2 before silo10), including any silo only findings mention (nothing dropped)."""
    names: list[str] = []
    seen: set[str] = set()
    for s in ((result.get("topology") or {}).get("silos") or []):
        n = s.get("name")
        if isinstance(n, str) and n not in seen:
            names.append(n)
            seen.add(n)
    for f in result.get("findings") or []:
        n = f.get("silo")
        if isinstance(n, str) and n not in seen:
            names.append(n)
            seen.add(n)
    return sorted(names, key=natural_key)


def matrix(result: dict[str, Any]) -> list[Row]:
    """One row per silo (natural order) plus a deployment-wide row when findings have ``silo`` null."""
    rows: dict[str | None, Row] = {n: Row(n, {a: Cell() for a in AREAS}) for n in silo_names(result)}
    for f in result.get("findings") or []:
        silo = f.get("silo") if isinstance(f.get("silo"), str) else None
        if silo not in rows:
            rows[silo] = Row(silo, {a: Cell() for a in AREAS})
        area = f.get("area") if f.get("area") in AREAS else "topology"
        rows[silo].cells[area].findings.append(f)
    for row in rows.values():
        for cell in row.cells.values():
            cell.state = worst(finding_cell_state(f) for f in cell.findings)
    ordered = [rows[n] for n in rows if n is not None]
    if None in rows:
        ordered.append(rows[None])
    return ordered


def trim_rows(rows: list[Row], limit: int) -> tuple[list[Row], list[Row]]:
    """Keep at most ``limit`` rows, preferring rows that fail or are unknown (order otherwise kept)."""
    if len(rows) <= limit:
        return rows, []
    rank = {id(r): CELL_ORDER.index(r.state) for r in rows}
    keep_ids = {id(r) for r in sorted(rows, key=lambda r: rank[id(r)])[:limit]}
    return [r for r in rows if id(r) in keep_ids], [r for r in rows if id(r) not in keep_ids]


def cut_note(cut: list[Row]) -> str:
    """What the rows left out of a trimmed matrix hold, e.g. "12 more silos not shown (3 FAIL, 9 PASS)"."""
    counts: dict[str, int] = {}
    for r in cut:
        counts[r.state] = counts.get(r.state, 0) + 1
    parts = ", ".join(f"{counts[s]} {CELL_WORDS[s]}" for s in CELL_ORDER if s in counts)
    return f"{len(cut)} more silos not shown ({parts})"


_NUMBERED = re.compile(r"^(.*?)(\d+)$")


def name_ranges(names: Iterable[str], *, limit: int | None = None, ordered: bool = False) -> str:
    """Names in natural order, runs of consecutive numbers folded: "silo0–silo999, silo-east, silo-west".

    A fleet's per-rule list of silos fits one line this way while still naming every silo; a run is folded only
    when it has three or more names sharing a prefix (and digit width, when zero-padded). With ``limit``, items past
    it are counted ("and 12 more") instead of named. ``ordered``: the names are already in natural order (a caller
    that sorts many lists of the same silos sorts once).
    """
    items: list[str] = []
    run: list[tuple[str, str, int]] = []  # (name, prefix, number) of the current run

    def close() -> None:
        if len(run) >= 3:
            items.append(f"{run[0][0]}\u2013{run[-1][0]}")
        else:
            items.extend(n for n, _, _ in run)
        run.clear()

    for name in (list(dict.fromkeys(names)) if ordered else sorted(set(names), key=natural_key)):
        m = _NUMBERED.match(name)
        if m is None:
            close()
            items.append(name)
            continue
        prefix, digits = m.group(1), m.group(2)
        padded = len(digits) > 1 and digits.startswith("0")
        key = prefix + (f"#{len(digits)}" if padded else "")
        if run and run[-1][1] == key and run[-1][2] + 1 == int(digits):
            run.append((name, key, int(digits)))
            continue
        close()
        run.append((name, key, int(digits)))
    close()
    if limit is None or len(items) <= limit:
        return ", ".join(items)
    return ", ".join(items[:limit]) + f" and {len(items) - limit} more"


def blocking_ids(result: dict[str, Any]) -> set[str]:
    """Findings that block any profile's verdict (the result's own verdict lists them)."""
    out: set[str] = set()
    for v in (result.get("verdict") or {}).values():
        if isinstance(v, dict):
            out.update(v.get("blocking") or [])
    return out


def severity_rank(f: dict[str, Any]) -> int:
    return SEVERITY_RANK.get(f.get("severity", ""), 0)


def problem_findings(result: dict[str, Any], *, include_waived: bool = False) -> list[dict[str, Any]]:
    """Failing and unknown findings, blocking ones first, then by severity, rule, silo and resource."""
    blocking = blocking_ids(result)
    out = [
        f for f in result.get("findings") or []
        if f.get("status") in ("fail", "unknown") and (include_waived or not f.get("waiver"))
    ]
    out.sort(key=lambda f: (
        f.get("id") not in blocking, -severity_rank(f), f.get("status") != "fail", f.get("rule_id", ""),
        natural_key(f.get("silo")), (f.get("resource_id") or "").lower(), f.get("subject") or "",
    ))
    return out


def rules_by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in result.get("rules") or [] if isinstance(r, dict) and "id" in r}


def findings_by_id(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["id"]: f for f in result.get("findings") or [] if isinstance(f, dict) and "id" in f}


def resource_name(resource_id: str | None) -> str:
    """Last segment of an ARM id (the resource's name); the whole string when it is not an id."""
    if not resource_id:
        return "deployment"
    return resource_id.rstrip("/").rsplit("/", 1)[-1] or resource_id


def short_scope(scope: str | None) -> str:
    """A role assignment scope a person can read: "storageAccounts/st1 in rg-a", "resource group rg-a"."""
    if not scope:
        return "?"
    parts = [p for p in scope.strip("/").split("/") if p]
    lower = [p.lower() for p in parts]
    if "providers" in lower and len(parts) >= 2:
        if lower[-2] == "managementgroups":
            return f"management group {parts[-1]}"
        rg = parts[lower.index("resourcegroups") + 1] if "resourcegroups" in lower else None
        return f"{parts[-2]}/{parts[-1]}" + (f" in {rg}" if rg else "")
    if "resourcegroups" in lower:
        return f"resource group {parts[lower.index('resourcegroups') + 1]}"
    if lower[:1] == ["subscriptions"] and len(parts) >= 2:
        return f"subscription {parts[1]}"
    return scope


def short_actions(actions: list[str] | None, limit: int = 3) -> str:
    """Matched actions without the repeated provider prefix, at most ``limit`` of them."""
    names = [a.split("storageAccounts/", 1)[-1] if "storageAccounts/" in a else a for a in actions or []]
    text = ", ".join(names[:limit])
    return text + (f", +{len(names) - limit} more" if len(names) > limit else "")


def short_value(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def evidence_text(item: dict[str, Any]) -> str:
    """One line for one evidence item, the same wording in every text format."""
    kind = item.get("kind")
    if kind == "property":
        text = f"{resource_name(item.get('resource_id'))}: {item.get('path', '?')} = {short_value(item.get('value'))}"
        if item.get("default_assumed"):
            text += " (not set; " + (item.get("default_note") or "Azure default assumed") + ")"
        return text
    if kind == "access":
        who = item.get("principal_name") or item.get("principal_id") or "?"
        actions = short_actions(item.get("matched_actions"))
        role = item.get("role_name") or resource_name(item.get("role_definition_id")) or "?"
        text = f"{who} -> {role} at {short_scope(item.get('scope'))}"
        if actions:
            text += f" [{actions}]"
        if item.get("condition"):
            text += f" (condition: {short_value(item['condition'], 100)})"
        return text
    if kind == "nsg-rule":
        text = (f"NSG {resource_name(item.get('nsg_id'))} rule {item.get('rule', '?')} "
                f"(priority {item.get('priority', '?')}, {item.get('direction', '?')} {item.get('access', '?')}) "
                f"from {short_value(item.get('source', '?'), 80)}")
        if item.get("destination") not in (None, ""):
            text += f" to {short_value(item['destination'], 80)}"
        return text + f" ports {short_value(item.get('ports', '?'), 60)}"
    if kind == "network-path":
        text = f"network path {item.get('path_kind', '?')} from {short_value(item.get('source', '?'), 80)}"
        return text + (f": {item['detail']}" if item.get("detail") else "")
    if kind == "path":
        flags = "".join(f" [{f}]" for f in ("conditional", "inert") if item.get(f))
        chain = " -> ".join(str(h.get("text", "")) for h in item.get("chain") or [])
        return (f"path {item.get('path_kind', '?')} ({item.get('relation', '?')}) "
                f"{item.get('outsider_name') or item.get('outsider_id') or '?'}{flags}: {short_value(chain, 300)}")
    if kind == "note":
        return str(item.get("text", ""))
    return short_value({k: v for k, v in item.items()}, 200)


def access_chain_text(edge: dict[str, Any]) -> str:
    """"principal -(kinds)-> storage via role at scope" for an access[] entry; for a path entry (``path_kind``,
    flaudit/paths.py) "silo's resource -[kind]-> outsider (relation) via hop; hop"."""
    who = edge.get("principal_name") or edge.get("principal_id") or "?"
    admin = (f" [administrative, not blocking: {edge['administrator_reason']}]"
             if edge.get("administrator_reason") else "")
    if edge.get("path_kind") and "storage_id" not in edge:  # a path (flaudit/paths.py): its chain is its hops
        hops = "; ".join(str(c.get("text") or "") for c in edge.get("chain") or [] if isinstance(c, dict))
        kind = ",".join(edge.get("kinds") or []) or edge.get("path_kind")
        return (f"{edge.get('silo') or '?'}: {resource_name(edge.get('target_id'))} -[{kind}]-> "
                f"{who} ({edge.get('relation', '?')})" + (f" via {hops}" if hops else "") + admin)
    kinds = ",".join(edge.get("kinds") or [])
    via = "; ".join(
        f"{c.get('role_name') or resource_name(c.get('role_definition_id'))} at {short_scope(c.get('scope'))}"
        for c in edge.get("chain") or []
    )
    return f"{who} ({edge.get('relation', '?')}) -[{kinds}]-> {edge.get('storage_name') or resource_name(edge.get('storage_id'))}" + (
        f" via {via}" if via else "") + admin


def waiver_text(w: dict[str, Any] | None) -> str:
    if not w:
        return ""
    parts = [str(w.get("reason") or "no reason given")]
    if w.get("owner"):
        parts.append(f"owner {w['owner']}")
    if w.get("expires"):
        parts.append(f"expires {w['expires']}")
    return "; ".join(parts)


def verdict_lines(result: dict[str, Any]) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(profile, status, blocking findings) for both profiles, blocking findings resolved from their ids."""
    by_id = findings_by_id(result)
    out = []
    for p in PROFILES:
        v = (result.get("verdict") or {}).get(p) or {}
        blocking = [by_id[i] for i in v.get("blocking") or [] if i in by_id]
        out.append((p, v.get("status", "unknown"), blocking))
    return out


def finding_label(f: dict[str, Any]) -> str:
    """"RULE-ID title (silo / resource)" for one-line mentions."""
    where = f.get("silo") or "deployment"
    res = resource_name(f.get("resource_id"))
    return f"{f.get('rule_id', '?')} {f.get('title', '')} ({where}: {res})"


def fix_first_view(result: dict[str, Any]) -> dict[str, Any]:
    """``summary.fix_first`` for the profile the result gated on (computed for results saved before it existed)."""
    from flaudit.gate import fix_first_for

    return fix_first_for(result, result.get("profile") or "production")


def gate_view(result: dict[str, Any]) -> dict[str, Any]:
    """The gate decision with its deciding findings resolved, new ones marked, and the waiver lists.

    ``deciding`` holds (finding, is_new) pairs in verdict order; ``waivers`` maps applied/expired/stale to the
    result's waiver entries, so every format explains an exit code with the same facts.
    """
    from flaudit.gate import gate_for

    gate = gate_for(result)
    by_id = findings_by_id(result)
    new = set(gate.get("new") or [])
    deciding = [(by_id[i], i in new) for i in gate.get("deciding") or [] if i in by_id]
    waivers = result.get("waivers") or {}
    skipped = {r.get("id"): r for r in (result.get("selection") or {}).get("skipped") or []}
    return {**gate, "deciding_findings": deciding,
            "waiver_entries": {k: list(waivers.get(k) or []) for k in ("applied", "expired", "stale")},
            "waiver_file": waivers.get("file"),
            "skipped_details": [skipped.get(i) or {"id": i} for i in gate.get("skipped_rules") or []]}


def waiver_entry_text(w: dict[str, Any]) -> str:
    """"waiver 2: FL-NET-002 silo1 (owner, expires 2026-12-01)" for one entry of result.waivers."""
    target = w.get("silo") or resource_name(w.get("resource"))
    text = f"waiver {w.get('waiver', '?')}: {w.get('rule', '?')} {target}"
    extra = [str(w[k]) for k in ("owner",) if w.get(k)] + ([f"expires {w['expires']}"] if w.get("expires") else [])
    if w.get("findings"):
        extra.append(f"{len(w['findings'])} finding{'s' if len(w['findings']) != 1 else ''} waived")
    return text + (f" ({', '.join(extra)})" if extra else "")
