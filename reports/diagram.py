"""The access diagram: who can touch whose data, as inline SVG that flaudit draws itself (no Graphviz).

Layout, chosen so 20 silos stay legible: the workspace and orchestrator sit in a band on top; each silo is a card
in a grid (at most four per row) holding its compute, identity and storage in a left column. Principals from
outside the silo (another silo, the orchestrator, the workspace, an unlisted principal) are drawn in the card's
own side lane with a red edge into the storage, labelled with where they come from and what they get (data,
keys, delegation, role-admin, mgmt-write), so a crossing is read inside the card it threatens instead of as a
line across the page. Network paths into the storage are badges under it. Beyond ``MAX_SILOS`` the cards would
be a hairball, so the diagram degrades to an aggregate picture (counts per relation and path kind) plus a
per-silo summary table built by :func:`summary_rows`.

Every string from the result is escaped here; the template inserts the returned SVG as already-safe markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

MAX_SILOS = 20
COLS = 4
CARD_W, CARD_H, GAP = 320, 262, 18
TOP_H = 150
MAX_CHIPS = 4
MAX_BADGES = 4
PATH_LABEL = {
    "public": "public",
    "ip-rule": "IP rule",
    "vnet-rule": "VNet rule",
    "resource-instance": "resource rule",
    "trusted-services": "trusted svc",
    "private-endpoint": "private EP",
    "peering": "peering",
}
#: Path kinds that let traffic in from outside the silo's private network.
RISKY_PATHS = {"public", "ip-rule"}
RELATION_LABEL = {"other-silo": "silo", "orchestrator": "orchestrator", "workspace": "workspace",
                  "administrator": "declared administrator",
                  "unlisted": "unlisted", "own-silo": "own silo"}


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def clip(value: Any, limit: int) -> str:
    text = str(value) if value is not None else ""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


@dataclass
class SiloView:
    """What one silo card shows, gathered from topology, access[] and network_paths[]."""

    name: str
    compute: str | None = None
    extra_computes: int = 0
    identity: str | None = None
    storage: str | None = None
    missing: list[str] = field(default_factory=list)
    own: list[dict[str, Any]] = field(default_factory=list)
    outside: list[dict[str, Any]] = field(default_factory=list)
    paths: list[dict[str, Any]] = field(default_factory=list)


def silo_views(result: dict[str, Any]) -> list[SiloView]:
    views: dict[str, SiloView] = {}
    for s in (result.get("topology") or {}).get("silos") or []:
        name = str(s.get("name"))
        v = views.setdefault(name, SiloView(name))
        computes = s.get("computes") or []
        if computes:
            v.compute = computes[0].get("name") or computes[0].get("id")
            v.extra_computes = len(computes) - 1
            ids = computes[0].get("identities") or []
            if ids:
                v.identity = ids[0].get("name") or ids[0].get("principal_id")
        storage = s.get("storage") or {}
        v.storage = storage.get("name") or (storage.get("id") or "").rsplit("/", 1)[-1] or None
        v.missing = [str(m) for m in s.get("missing") or []]
    for edge in result.get("access") or []:
        v = views.setdefault(str(edge.get("silo")), SiloView(str(edge.get("silo"))))
        (v.own if edge.get("relation") == "own-silo" and not edge.get("crosses_boundary") else v.outside).append(edge)
    for path in result.get("network_paths") or []:
        views.setdefault(str(path.get("silo")), SiloView(str(path.get("silo")))).paths.append(path)
    for v in views.values():
        v.paths.sort(key=lambda p: (p.get("path_kind") not in RISKY_PATHS, p.get("path_kind") != "public",
                                    str(p.get("path_kind"))))
    return list(views.values())


def kinds_text(edge: dict[str, Any]) -> str:
    inert = set(edge.get("inert_kinds") or [])
    parts = [f"{k} (inert)" if k in inert else str(k) for k in edge.get("kinds") or []]
    text = ", ".join(parts) or "access"
    return text + (" [conditional]" if edge.get("conditional") else "")


def origin_text(edge: dict[str, Any]) -> str:
    rel = edge.get("relation", "unlisted")
    if rel == "other-silo" and edge.get("principal_silo"):
        return f"silo {edge['principal_silo']}"
    return RELATION_LABEL.get(rel, str(rel))


def _is_weak(edge: dict[str, Any]) -> bool:
    """Drawn dashed: every grant is conditional, or all it gives is key access that is switched off."""
    kinds = set(edge.get("kinds") or [])
    return bool(edge.get("conditional")) or (bool(kinds) and kinds <= set(edge.get("inert_kinds") or []))


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" class="{cls}" text-anchor="{anchor}">{esc(text)}</text>')


def _node(x: float, y: float, w: float, h: float, kind: str, name: str | None, cls: str, limit: int = 22) -> str:
    label = name if name else "not found"
    return (f'<g class="node {cls}{" missing" if not name else ""}"><title>{esc(kind)}: {esc(label)}</title>'
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="5"/>'
            + _text(x + 6, y + 13, kind, "kind") + _text(x + 6, y + h - 8, clip(label, limit), "name") + "</g>")


def _card(v: SiloView, x: float, y: float) -> str:
    out = [f'<g class="silo" transform="translate({x:.0f},{y:.0f})">']
    crossing = len(v.outside)
    out.append(f'<title>silo {esc(v.name)}</title>')
    out.append(f'<rect class="card{" breached" if crossing else ""}" width="{CARD_W}" height="{CARD_H}" rx="8"/>')
    out.append(_text(10, 19, clip(v.name, 32), "silo-name"))
    if crossing:
        out.append(_text(CARD_W - 10, 19, f"{crossing} outside", "warn-text", "end"))
    # left column: compute -> identity -> storage
    lx, lw = 10, 140
    compute = v.compute + (f" +{v.extra_computes}" if v.extra_computes else "") if v.compute else None
    out.append(_node(lx, 32, lw, 36, "compute", compute, "compute"))
    out.append(_node(lx, 88, lw, 36, "identity", v.identity, "identity"))
    sy, sh = 150, 42
    out.append(_node(lx, sy, lw, sh, "storage", v.storage, "storage"))
    out.append(f'<line class="edge runs-as" x1="{lx + 30}" y1="68" x2="{lx + 30}" y2="88"/>')
    if v.own:
        kinds = sorted({k for e in v.own for k in e.get("kinds") or []})
        weak = all(_is_weak(e) for e in v.own)
        names = ", ".join(str(e.get("principal_name") or e.get("principal_id")) for e in v.own)
        out.append(f'<g class="edge own{" weak" if weak else ""}"><title>own silo: {esc(names)} '
                   f'({esc(", ".join(kinds))})</title>'
                   f'<line x1="{lx + 70}" y1="124" x2="{lx + 70}" y2="{sy}" marker-end="url(#arrow-own)"/></g>')
        out.append(_text(lx + 76, 141, clip(", ".join(kinds) or "access", 28 if not v.outside else 13), "edge-label"))
        if len(v.own) > 1:
            out.append(_text(lx + 76, 132, f"{len(v.own)} own principals", "edge-label"))
    else:
        out.append(_text(lx + 70, 141, "no own access", "edge-label muted", "middle"))
    # side lane: principals from outside the silo
    rx, rw = 166, 144
    if v.outside:
        out.append(_text(rx, 38, "from outside the silo", "lane-title"))
    shown = v.outside[:MAX_CHIPS] if len(v.outside) <= MAX_CHIPS else v.outside[: MAX_CHIPS - 1]
    for i, e in enumerate(shown):
        cy = 44 + i * 38
        who = e.get("principal_name") or e.get("principal_id") or "?"
        weak = _is_weak(e)
        chain = "; ".join(f"{c.get('role_name') or c.get('role_definition_id')} at {c.get('scope')}"
                          for c in e.get("chain") or [])
        out.append(f'<g class="edge outside{" weak" if weak else ""}"><title>{esc(who)} from {esc(origin_text(e))}'
                   f' can reach {esc(v.storage or "storage")}: {esc(kinds_text(e))}. {esc(chain)}</title>'
                   f'<path d="M{rx},{cy + 16} C{rx - 10},{cy + 16} {lx + lw + 12},{sy + sh / 2} {lx + lw + 2},'
                   f'{sy + sh / 2}" marker-end="url(#arrow-out)"/>'
                   f'<rect class="chip" x="{rx}" y="{cy}" width="{rw}" height="32" rx="4"/>'
                   + _text(rx + 5, cy + 13, clip(who, 22), "chip-name")
                   + _text(rx + 5, cy + 26, clip(f"{origin_text(e)}: {kinds_text(e)}", 27), "chip-kinds")
                   + "</g>")
    if len(v.outside) > len(shown):
        cy = 44 + len(shown) * 38
        rest = v.outside[len(shown):]
        out.append(f'<g class="edge outside"><title>{esc("; ".join(str(e.get("principal_name") or e.get("principal_id")) for e in rest))}'
                   f'</title><rect class="chip" x="{rx}" y="{cy}" width="{rw}" height="32" rx="4"/>'
                   + _text(rx + 5, cy + 20, f"+{len(rest)} more principals", "chip-name") + "</g>")
    # network paths under the storage
    by = sy + sh + 22
    badges = v.paths[:MAX_BADGES] if len(v.paths) <= MAX_BADGES else v.paths[: MAX_BADGES - 1]
    if v.paths:
        out.append(_text(10, by - 6, "network paths into storage", "lane-title"))
    bw = 68
    for i, p in enumerate(badges):
        bx = 10 + i * (bw + 4)
        kind = str(p.get("path_kind", "?"))
        status = str(p.get("status", "open"))
        cls = "risky" if kind in RISKY_PATHS and status == "open" else (
            "private" if kind == "private-endpoint" else "other")
        if status != "open":
            cls += " inactive"
        label = PATH_LABEL.get(kind, kind)
        state = "" if status == "open" else (" (pending)" if status == "pending" else " (blocked)")
        out.append(f'<g class="path {cls}"><title>{esc(label)}{esc(state)} from {esc(p.get("source", "?"))}: '
                   f'{esc(p.get("detail", ""))}</title>'
                   f'<line x1="{bx + bw / 2:.0f}" y1="{by}" x2="{lx + 20 + i * 30}" y2="{sy + sh}" '
                   f'marker-end="url(#arrow-path)"/>'
                   f'<rect x="{bx}" y="{by}" width="{bw}" height="30" rx="4"/>'
                   + _text(bx + bw / 2, by + 13, clip(label, 13), "badge", "middle")
                   + _text(bx + bw / 2, by + 25, clip(state.strip(" ()") or _path_source(p), 13),
                           "badge-sub", "middle") + "</g>")
    if len(v.paths) > len(badges):
        bx = 10 + len(badges) * (bw + 4)
        out.append(f'<g class="path other"><title>{esc("; ".join(str(p.get("path_kind")) for p in v.paths[len(badges):]))}'
                   f'</title><rect x="{bx}" y="{by}" width="{bw}" height="30" rx="4"/>'
                   + _text(bx + bw / 2, by + 19, f"+{len(v.paths) - len(badges)} more", "badge", "middle") + "</g>")
    if not v.paths:
        out.append(_text(10, by + 12, "no network path recorded", "edge-label muted"))
    if v.missing:
        out.append(_text(10, CARD_H - 6, clip("missing: " + "; ".join(v.missing), 46), "warn-text"))
    out.append("</g>")
    return "".join(out)


def _path_source(p: dict[str, Any]) -> str:
    """A few characters that tell paths of one kind apart: the CIDR, subnet or service name."""
    kind = p.get("path_kind")
    if kind == "public":
        return "internet"
    if kind == "private-endpoint":
        return "open"
    source = str(p.get("source") or "")
    return source.rstrip("/").rsplit("/", 1)[-1] if "/subscriptions/" in source.lower() else source


def _top(result: dict[str, Any], width: float) -> str:
    topo = result.get("topology") or {}
    ws = topo.get("workspace") or {}
    orch = topo.get("orchestrator") or {}
    out = ['<g class="top">']
    ws_label = ws.get("name")
    out.append(_node(GAP, 20, 200, 40, "workspace", ws_label, "workspace", 28))
    if ws:
        out.append(_text(GAP, 78, clip(f"public network access: {ws.get('public_network_access') or 'unknown'}", 40),
                         "edge-label"))
        out.append(_text(GAP, 92, clip(f"managed network: {ws.get('managed_network_isolation') or 'unknown'}", 40),
                         "edge-label"))
    computes = orch.get("computes") or []
    cname = computes[0].get("name") if computes else None
    ident = ((computes[0].get("identities") or [{}])[0].get("name") if computes else None)
    ox = GAP + 230
    out.append(f'<rect class="card orchestrator" x="{ox}" y="8" width="{3 * 150 + 20}" height="{TOP_H - 24}" rx="8"/>')
    out.append(_text(ox + 10, 26, "orchestrator", "silo-name"))
    out.append(_node(ox + 10, 36, 140, 36, "compute", cname, "compute"))
    out.append(_node(ox + 160, 36, 140, 36, "identity", ident, "identity"))
    out.append(_node(ox + 310, 36, 140, 36, "storage", (orch.get("storage") or {}).get("name"), "storage"))
    out.append(_text(ox + 10, 96, "orchestrator principals reaching a silo are drawn in that silo's side lane",
                     "edge-label"))
    # legend
    lx = ox + 3 * 150 + 40
    if lx + 260 <= width:
        out.append(f'<g class="legend" transform="translate({lx},14)">'
                   '<line class="edge-own-line" x1="0" y1="8" x2="30" y2="8"/>'
                   + _text(36, 12, "own silo identity -> its storage", "edge-label")
                   + '<line class="edge-out-line" x1="0" y1="28" x2="30" y2="28"/>'
                   + _text(36, 32, "crosses a silo boundary (red)", "edge-label")
                   + '<line class="edge-out-line weak-line" x1="0" y1="48" x2="30" y2="48"/>'
                   + _text(36, 52, "dashed: conditional or inert keys", "edge-label")
                   + '<rect class="legend-risky" x="0" y="62" width="30" height="14" rx="3"/>'
                   + _text(36, 74, "public / IP-rule path open", "edge-label")
                   + '<rect class="legend-private" x="0" y="84" width="30" height="14" rx="3"/>'
                   + _text(36, 96, "private endpoint", "edge-label") + "</g>")
    out.append("</g>")
    return "".join(out)


DEFS = ('<defs>'
        '<marker id="arrow-own" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow-own"/></marker>'
        '<marker id="arrow-out" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow-out"/></marker>'
        '<marker id="arrow-path" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="6" markerHeight="6" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" class="arrow-path"/></marker>'
        '</defs>')


def render_svg(result: dict[str, Any]) -> str | None:
    """The diagram for at most ``MAX_SILOS`` silos; ``None`` beyond (use :func:`aggregate_svg`)."""
    views = silo_views(result)
    if len(views) > MAX_SILOS:
        return None
    cols = max(1, min(COLS, len(views)))
    rows = (len(views) + cols - 1) // cols
    width = max(GAP + cols * (CARD_W + GAP), 1000)
    height = TOP_H + rows * (CARD_H + GAP) + GAP
    crossing = sum(len(v.outside) for v in views)
    desc = (f"{len(views)} silos; {crossing} principals from outside a silo can reach its storage; "
            f"{sum(1 for v in views for p in v.paths if p.get('path_kind') in RISKY_PATHS)} public or IP-rule paths.")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="access-diagram" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="diagram-title diagram-desc">'
             f'<title id="diagram-title">Who can reach each silo\'s storage</title>'
             f'<desc id="diagram-desc">{esc(desc)}</desc>', DEFS, _top(result, width)]
    for i, v in enumerate(views):
        parts.append(_card(v, GAP + (i % cols) * (CARD_W + GAP), TOP_H + (i // cols) * (CARD_H + GAP)))
    if not views:
        parts.append(_text(GAP, TOP_H + 30, "No silo found: nothing to draw.", "warn-text"))
    parts.append("</svg>")
    return "".join(parts)


@dataclass
class SummaryRow:
    silo: str
    storage: str
    own: int
    outside: list[str]
    risky_paths: list[str]
    other_paths: list[str]


def summary_rows(result: dict[str, Any]) -> list[SummaryRow]:
    """Per-silo access summary for large deployments: silos reached from outside first."""
    rows = []
    for v in silo_views(result):
        rows.append(SummaryRow(
            silo=v.name, storage=v.storage or "not found", own=len(v.own),
            outside=[f"{e.get('principal_name') or e.get('principal_id')} ({origin_text(e)}: {kinds_text(e)})"
                     for e in v.outside],
            risky_paths=[f"{PATH_LABEL.get(p.get('path_kind'), p.get('path_kind'))} from {p.get('source')}"
                         for p in v.paths if p.get("path_kind") in RISKY_PATHS and p.get("status") == "open"],
            other_paths=sorted({PATH_LABEL.get(str(p.get("path_kind")), str(p.get("path_kind"))) for p in v.paths
                                if not (p.get("path_kind") in RISKY_PATHS and p.get("status") == "open")}),
        ))
    rows.sort(key=lambda r: (not r.outside, not r.risky_paths))
    return rows


def aggregate_svg(result: dict[str, Any]) -> str:
    """A fixed-size picture for large deployments: edges per relation and network paths per kind."""
    views = silo_views(result)
    relations: dict[str, int] = {}
    for e in result.get("access") or []:
        relations[str(e.get("relation"))] = relations.get(str(e.get("relation")), 0) + 1
    kinds: dict[str, int] = {}
    for p in result.get("network_paths") or []:
        kinds[str(p.get("path_kind"))] = kinds.get(str(p.get("path_kind")), 0) + 1
    reached = sum(1 for v in views if v.outside)
    names = {**RELATION_LABEL, "other-silo": "other-silo", "unlisted": "unlisted"}
    bars = [(names.get(k, k) + " principals", n, "risky" if k != "own-silo" else "private")
            for k, n in sorted(relations.items(), key=lambda kv: kv[0] != "own-silo")]
    bars += [(PATH_LABEL.get(k, k) + " paths", n, "risky" if k in RISKY_PATHS else
              ("private" if k == "private-endpoint" else "other")) for k, n in sorted(kinds.items())]
    top = max([n for _, n, _ in bars] or [1])
    height = 70 + 26 * len(bars)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="access-diagram aggregate" viewBox="0 0 900 {height}" '
             f'width="900" height="{height}" role="img" aria-labelledby="agg-title">'
             f'<title id="agg-title">Access to silo storage, aggregated over {len(views)} silos</title>',
             _text(20, 28, f"{len(views)} silos: {reached} reachable by a principal from outside the silo "
                           "(see the table below)", "silo-name")]
    for i, (label, n, cls) in enumerate(bars):
        y = 50 + i * 26
        w = 560 * n / top
        parts.append(f'<g class="path {cls}"><rect x="230" y="{y}" width="{max(w, 2):.0f}" height="18" rx="3"/></g>'
                     + _text(220, y + 14, label, "name", "end") + _text(236 + w, y + 14, str(n), "name"))
    parts.append("</svg>")
    return "".join(parts)
