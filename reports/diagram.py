"""The access diagram: who can touch whose data, and every blocking problem drawn where it sits (no Graphviz).

Layout, chosen so 20 silos stay legible: the workspace, the orchestrator and the deployment-wide resources with
blocking findings sit in a band on top; each silo is a card in a grid (at most four per row) holding its compute,
identity and storage in a left column. Principals from outside the silo are drawn in the card's side lane with
an edge into the storage, labelled with where they come from and what they get; the silo identity's own grants
on resources outside the card (the orchestrator storage every silo shares, FL-ID-008) are edges out of the
identity in the same lane. Network paths into the storage are rows under it.

Red means "this blocks a verdict", decided from the result, never from a hard-coded list of rules or kinds:

* a node (compute, identity, storage, workspace, orchestrator member, workspace dependency) is red when a
  blocking finding names its resource, and carries those rule ids (titles and messages on hover);
* an access edge is red when it crosses a silo boundary or a blocking finding cites it (its principal on that
  resource in an ``access`` evidence item); relation ``administrator`` (declared in the FL config) is drawn but
  never red on that ground alone; conditional edges, or edges whose only kinds are inert, are dashed;
* a network path is red when it is open and public or an IP rule;
* a blocking finding about something not drawn is a red line in its silo's card, or a red chip in the top band.

Every red element has class ``blocking`` and ``data-rules`` listing the rule ids it stands for. Access kinds
(data, keys, delegation, role-admin, mgmt-write, and whatever the path model adds) get legend labels from
:data:`KIND_LABEL`; a kind not in it is shown and put in the legend under its own name. Labels are never cut: a
long name is condensed to fit its box (``textLength``) and given in full on hover. Beyond ``MAX_SILOS`` the cards
would be a hairball: :func:`aggregate_svg` draws a silo x area heat map and the fix-first list instead, which
fits one screen at 1,000 silos.

Every string from the result is escaped here; the template inserts the returned SVG as already-safe markup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from typing import Any

from flaudit.gate import natural_key, scope_text

MAX_SILOS = 20
COLS = 4
CARD_W, CARD_H, GAP = 372, 344, 18
TOP_H = 190
MAX_CHIPS = 4  # chip rows in a card's right lane before edges that block nothing fold into "+N more"
CHIP_STEP = 40
MAX_PATHS = 4
MAX_TOP_CHIPS = 6
PATH_LABEL = {
    "public": "public",
    "ip-rule": "IP rule",
    "vnet-rule": "VNet rule",
    "resource-instance": "resource rule",
    "trusted-services": "trusted services",
    "private-endpoint": "private endpoint",
    "peering": "peering",
}
PATH_MEANING = {
    "public": "open to the Internet",
    "ip-rule": "admitted public IP range",
    "vnet-rule": "admitted VNet subnet (service endpoint)",
    "resource-instance": "admitted Azure resource instance",
    "trusted-services": "trusted Microsoft services bypass",
    "private-endpoint": "private endpoint in a VNet",
    "peering": "a peered VNet reaches a private endpoint",
}
#: Path kinds that let traffic in from outside the silo's private network.
RISKY_PATHS = {"public", "ip-rule"}
RELATION_LABEL = {"other-silo": "silo", "orchestrator": "orchestrator", "workspace": "workspace",
                  "unlisted": "unlisted", "own-silo": "own silo", "administrator": "declared administrator"}
#: Legend text per access kind; a kind missing here is still drawn and listed under its own name.
KIND_LABEL = {
    "data": "read/write the data",
    "keys": "list account keys or SAS (shared-key access)",
    "delegation": "user-delegation key (SAS signed with Entra ID)",
    "role-admin": "assign roles (can grant itself anything)",
    "mgmt-write": "change the account's configuration",
    "copy": "copy the data elsewhere",
    "identity-takeover": "act as an identity that has access",
    "eligible": "eligible (PIM) to activate access",
    "credential": "holds a credential to the data",
    "network": "network reach only",
    "administrative": "administrative control",
    "unknown": "access flaudit could not classify",
}
CELL_FILL = {"fail": "cell-fail", "unknown": "cell-unknown", "waived": "cell-waived", "pass": "cell-pass",
             "not_applicable": "cell-na", "none": "cell-none"}


def esc(value: Any) -> str:
    return escape(str(value), quote=True)


def _fit(x: float, y: float, text: Any, width: float, cls: str = "", anchor: str = "start", size: float = 12,
         ) -> str:
    """One line of text that never overflows ``width`` and is never cut: a long one is set in a smaller font
    (down to 7px), and only beyond that condensed with ``textLength``; the full text is in the element's hover.

    The width estimate (0.62 em per character) errs long, so a shrunk line is never stretched."""
    text = str(text) if text is not None else ""
    est = len(text) * size * 0.62
    attrs = ""
    if est > width:
        small = max(7.0, size * width / est)
        attrs = f' style="font-size:{small:.1f}px"'
        if len(text) * small * 0.62 > width:
            attrs += f' textLength="{width:.0f}" lengthAdjust="spacingAndGlyphs"'
    return f'<text x="{x:.0f}" y="{y:.0f}" class="{cls}" text-anchor="{anchor}"{attrs}>{esc(text)}</text>'


def _text(x: float, y: float, text: str, cls: str = "", anchor: str = "start") -> str:
    return f'<text x="{x:.0f}" y="{y:.0f}" class="{cls}" text-anchor="{anchor}">{esc(text)}</text>'


def _rules_attr(findings: list[dict[str, Any]]) -> str:
    rules = sorted({str(f.get("rule_id")) for f in findings})
    return f' data-rules="{esc(" ".join(rules))}"' if rules else ""


def _issues_title(findings: list[dict[str, Any]]) -> str:
    return "; ".join(f"{f.get('rule_id')} {str(f.get('status', '')).upper()}: {f.get('message', '')}"
                     for f in findings[:8]) + (f"; +{len(findings) - 8} more" if len(findings) > 8 else "")


@dataclass
class Blocking:
    """Blocking findings indexed the ways the diagram looks them up."""

    by_resource: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    cited: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    drawn: set[str] = field(default_factory=set)  # finding ids attached to a drawn element

    @classmethod
    def of(cls, result: dict[str, Any]) -> Blocking:
        ids: set[str] = set()
        for v in (result.get("verdict") or {}).values():
            if isinstance(v, dict):
                ids.update(v.get("blocking") or [])
        b = cls()
        for f in result.get("findings") or []:
            if f.get("id") not in ids:
                continue
            b.by_resource.setdefault((f.get("resource_id") or "").lower(), []).append(f)
            for e in f.get("evidence") or []:
                if isinstance(e, dict) and e.get("kind") == "access" and e.get("principal_id"):
                    key = (str(e["principal_id"]).lower(), (f.get("resource_id") or "").lower())
                    b.cited.setdefault(key, []).append(f)
                elif isinstance(e, dict) and e.get("kind") == "path" and e.get("outsider_id"):
                    key = (str(e["outsider_id"]).lower(), str(e.get("source_id") or "").lower())
                    b.cited.setdefault(key, []).append(f)
        return b

    def on(self, resource_id: str | None) -> list[dict[str, Any]]:
        found = self.by_resource.get((resource_id or "").lower(), []) if resource_id else []
        self.drawn.update(f["id"] for f in found)
        return found

    def citing(self, principal_id: Any, resource_id: Any) -> list[dict[str, Any]]:
        found = self.cited.get((str(principal_id or "").lower(), str(resource_id or "").lower()), [])
        self.drawn.update(f["id"] for f in found)
        return found


@dataclass
class Node:
    kind: str
    name: str | None
    id: str | None = None
    issues: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class SiloView:
    """What one silo card shows, gathered from topology, access[], network_paths[] and blocking findings."""

    name: str
    compute: Node = field(default_factory=lambda: Node("compute", None))
    extra_computes: int = 0
    identity: Node = field(default_factory=lambda: Node("identity", None))
    storage: Node = field(default_factory=lambda: Node("storage", None))
    principal_ids: set[str] = field(default_factory=set)
    missing: list[str] = field(default_factory=list)
    own: list[dict[str, Any]] = field(default_factory=list)
    outside: list[dict[str, Any]] = field(default_factory=list)
    outgoing: list[dict[str, Any]] = field(default_factory=list)  # {"target", "findings", "principal"}
    loose: list[dict[str, Any]] = field(default_factory=list)  # blocking findings about nothing drawn
    paths: list[dict[str, Any]] = field(default_factory=list)

    @property
    def storage_name(self) -> str | None:
        return self.storage.name


def _name(ref: dict[str, Any] | None) -> str | None:
    ref = ref or {}
    return ref.get("name") or (str(ref.get("id") or "").rsplit("/", 1)[-1] or None)


def silo_views(result: dict[str, Any], blocking: Blocking | None = None) -> list[SiloView]:
    b = blocking or Blocking.of(result)
    views: dict[str, SiloView] = {}
    for s in (result.get("topology") or {}).get("silos") or []:
        name = str(s.get("name"))
        v = views.setdefault(name, SiloView(name))
        computes = s.get("computes") or []
        if computes:
            c = computes[0]
            v.compute = Node("compute", c.get("name") or c.get("id"), c.get("id"))
            v.extra_computes = len(computes) - 1
            ids = c.get("identities") or []
            if ids:
                v.identity = Node("identity", ids[0].get("name") or ids[0].get("principal_id"), ids[0].get("id"))
            v.principal_ids = {str(i.get("principal_id")).lower() for c2 in computes
                               for i in c2.get("identities") or [] if i.get("principal_id")}
        storage = s.get("storage") or {}
        v.storage = Node("storage", _name(storage), storage.get("id"))
        v.missing = [str(m) for m in s.get("missing") or []]
    for edge in result.get("access") or []:
        v = views.setdefault(str(edge.get("silo")), SiloView(str(edge.get("silo"))))
        if edge.get("relation") == "own-silo" and not edge.get("crosses_boundary"):
            v.own.append(edge)
        else:
            v.outside.append(edge)
    for path in result.get("network_paths") or []:
        views.setdefault(str(path.get("silo")), SiloView(str(path.get("silo")))).paths.append(path)
    for v in views.values():
        for node in (v.compute, v.identity, v.storage):
            node.issues = b.on(node.id)
        v.paths.sort(key=lambda p: (not _risky(p), p.get("path_kind") != "public", str(p.get("path_kind"))))
        v.outside.sort(key=lambda e: (not _red_edge(e, b, peek=True), str(e.get("principal_name") or "")))
    return sorted(views.values(), key=lambda v: natural_key(v.name))


def _risky(p: dict[str, Any]) -> bool:
    return p.get("path_kind") in RISKY_PATHS and p.get("status", "open") == "open"


def _red_edge(edge: dict[str, Any], b: Blocking, *, peek: bool = False) -> list[dict[str, Any]] | bool:
    """Blocking findings citing the edge, or True for a role-based boundary crossing; a path edge (one with the
    ``rule_id`` that judges it) is red only when a blocking finding cites it, so a defence-in-depth path (the
    orchestrator's network reach, FL-NET-010) is drawn but not red. A declared administrator (relation
    ``administrator``) is never red: a blocking finding citing one is drawn as a red line in the card instead."""
    if edge.get("relation") == "administrator":
        return False
    target = edge.get("storage_id") or edge.get("target_id")
    key = (str(edge.get("principal_id") or "").lower(), str(target or "").lower())
    cited = b.cited.get(key, []) if peek else b.citing(*key)
    if cited:
        return cited
    if edge.get("rule_id"):  # a path (flaudit/paths.py): red exactly when a blocking finding rests on it
        return False
    return bool(edge.get("crosses_boundary"))


def _attach_loose(views: list[SiloView], result: dict[str, Any], b: Blocking, drawn_ids: set[str]) -> list[dict]:
    """Blocking findings not drawn yet: a silo identity's grant elsewhere becomes an outgoing edge, anything else
    about a silo a red line in its card; the rest (deployment-wide) is returned for the top band."""
    by_name = {v.name: v for v in views}
    ids: set[str] = set()
    for v in (result.get("verdict") or {}).values():
        if isinstance(v, dict):
            ids.update(v.get("blocking") or [])
    rest = []
    outgoing: dict[tuple[str, str], dict[str, Any]] = {}
    for f in result.get("findings") or []:
        if f.get("id") not in ids or f.get("id") in b.drawn:
            continue
        rid = (f.get("resource_id") or "").lower()
        v = by_name.get(f.get("silo")) if isinstance(f.get("silo"), str) else None
        own_grant = [e for e in f.get("evidence") or [] if isinstance(e, dict) and e.get("kind") == "access"
                     and str(e.get("principal_id") or "").lower() in v.principal_ids] if v is not None else []
        if not own_grant and rid in drawn_ids:
            continue  # drawn on a node of the top band
        if v is None:
            rest.append(f)
            continue
        if own_grant and rid != str(v.storage.id or "").lower():
            key = (v.name, (f.get("resource_id") or "").lower())
            item = outgoing.setdefault(key, {"target": f.get("resource_id") or "", "findings": [],
                                             "principal": own_grant[0].get("principal_name")
                                             or own_grant[0].get("principal_id"),
                                             "roles": sorted({str(e.get("role_name") or "") for e in own_grant})})
            item["findings"].append(f)
            if item not in v.outgoing:
                v.outgoing.append(item)
        else:
            v.loose.append(f)
        b.drawn.add(f["id"])
    return rest


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


def _node(x: float, y: float, w: float, h: float, node: Node, cls: str) -> str:
    label = node.name if node.name else "not found"
    red = bool(node.issues)
    title = f"{node.kind}: {label}" + (f"\n{node.id}" if node.id else "")
    if red:
        title += "\nblocking: " + _issues_title(node.issues)
    out = [f'<g class="node {cls}{" missing" if not node.name else ""}{" blocking" if red else ""}"'
           f'{_rules_attr(node.issues)}><title>{esc(title)}</title>'
           f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="5"/>',
           _text(x + 6, y + 13, node.kind, "kind"), _fit(x + 6, y + 28, label, w - 12, "name")]
    if red:
        out.append(_fit(x + 6, y + h - 7, "\u26a0 " + " ".join(sorted({str(f.get("rule_id")) for f in node.issues})),
                        w - 12, "issue", size=10.5))
    out.append("</g>")
    return "".join(out)


def _lane(v: SiloView, b: Blocking) -> tuple[list[tuple[str, Any]], list[tuple[str, Any]]]:
    """The right lane's chips: (drawn, folded into "+N more"). Every red edge (a boundary crossing, an edge a
    blocking finding cites, the silo identity's reach into a shared resource) is drawn as its own chip, whatever
    the count; only edges that block nothing are folded, when more than ``MAX_CHIPS`` chips would be needed."""
    if len(v.outside) + len(v.outgoing) <= MAX_CHIPS:  # all fit: incoming (red first), then outgoing
        return [("in", e) for e in v.outside] + [("out", o) for o in v.outgoing], []
    red = [("in", e) for e in v.outside if _red_edge(e, b, peek=True)] + [("out", o) for o in v.outgoing]
    calm = [("in", e) for e in v.outside if not _red_edge(e, b, peek=True)]
    room = max(0, MAX_CHIPS - 1 - len(red))
    return red + calm[:room], calm[room:]


def card_height(v: SiloView, b: Blocking) -> int:
    """A card grows by one chip row for each red edge beyond what ``MAX_CHIPS`` rows hold."""
    shown, rest = _lane(v, b)
    return CARD_H + max(0, len(shown) + (1 if rest else 0) - MAX_CHIPS) * CHIP_STEP


def _card(v: SiloView, x: float, y: float, b: Blocking, height: int = CARD_H) -> str:
    """One silo's card, ``height`` tall (its grid row's height: the tallest card of the row)."""
    out = [f'<g class="silo" transform="translate({x:.0f},{y:.0f})">', f'<title>silo {esc(v.name)}</title>']
    incoming_red = [e for e in v.outside if _red_edge(e, b, peek=True)]
    breached = bool(incoming_red or v.outgoing or v.loose or v.compute.issues or v.identity.issues
                    or v.storage.issues or any(_risky(p) for p in v.paths))
    out.append(f'<rect class="card{" breached" if breached else ""}" width="{CARD_W}" height="{height}" rx="8"/>')
    out.append(_fit(10, 19, v.name, 230, "silo-name", size=13))
    if incoming_red:
        out.append(_text(CARD_W - 10, 19, f"{len(incoming_red)} from outside", "warn-text", "end"))
    lx, lw, nh = 10, 156, 46
    cy, iy, sy = 30, 92, 154
    compute = Node("compute", (v.compute.name + (f" +{v.extra_computes}" if v.extra_computes else ""))
                   if v.compute.name else None, v.compute.id, v.compute.issues)
    out.append(_node(lx, cy, lw, nh, compute, "compute"))
    out.append(_node(lx, iy, lw, nh, v.identity, "identity"))
    out.append(_node(lx, sy, lw, nh, v.storage, "storage"))
    out.append(f'<line class="runs-as" x1="{lx + 30}" y1="{cy + nh}" x2="{lx + 30}" y2="{iy}"/>')
    if v.own:
        kinds = sorted({k for e in v.own for k in e.get("kinds") or []})
        weak = all(_is_weak(e) for e in v.own)
        names = ", ".join(str(e.get("principal_name") or e.get("principal_id")) for e in v.own)
        cited = [f for e in v.own for f in b.cited.get((str(e.get("principal_id") or "").lower(),
                                                          str(e.get("storage_id") or "").lower()), [])]
        title = f"own silo: {names} ({', '.join(kinds)})" + (
            "\nblocking: " + _issues_title(cited) if cited else "")
        out.append(f'<g class="edge own{" weak" if weak else ""}{" blocking" if cited else ""}"{_rules_attr(cited)}>'
                   f'<title>{esc(title)}</title><line x1="{lx + 70}" y1="{iy + nh}" x2="{lx + 70}" y2="{sy}" '
                   f'marker-end="url(#{"arrow-out" if cited else "arrow-own"})"/></g>')
        own_label = (f"{len(v.own)} own: " if len(v.own) > 1 else "") + (", ".join(kinds) or "access")
        out.append(_fit(lx + 76, iy + nh + 12, own_label, lw - 70, "edge-label", size=10.5))
    else:
        out.append(_text(lx + 76, iy + nh + 12, "no own access", "edge-label muted"))
    rx, rw = 182, 180
    chips: list[str] = []
    shown, rest = _lane(v, b)
    if shown:
        out.append(_text(rx, 40, "beyond the silo", "lane-title"))
    for i, (direction, item) in enumerate(shown):
        top = 46 + i * CHIP_STEP
        chips.append(_in_chip(item, rx, rw, top, lx + lw, sy, v, b) if direction == "in"
                     else _out_chip(item, rx, rw, top, lx + lw, iy + nh / 2))
    out.extend(chips)
    if rest:  # edges that block nothing: an honest count, each named with its kinds on hover
        top = 46 + len(shown) * CHIP_STEP
        names = "; ".join(f"{e.get('principal_name') or e.get('principal_id')}: {kinds_text(e)}" for _, e in rest)
        out.append(f'<g class="edge outside more"><title>{esc(names)}</title>'
                   f'<rect class="chip" x="{rx}" y="{top}" width="{rw}" height="32" rx="4"/>'
                   + _text(rx + 6, top + 20, f"+{len(rest)} more edge{'s' if len(rest) != 1 else ''}", "chip-name") + "</g>")
    # network paths under the storage (below the lane when red edges made it longer): one arrow up into the
    # storage, left of the block's title
    py = sy + nh + 30 + (card_height(v, b) - CARD_H)
    if v.paths:
        out.append(f'<line class="path-link" x1="{lx + 14}" y1="{py - 4}" x2="{lx + 14}" y2="{sy + nh}" '
                   f'marker-end="url(#arrow-path)"/>')
        out.append(_text(lx + 28, py - 8, "network paths into the storage", "lane-title"))
    rows = v.paths if len(v.paths) <= MAX_PATHS else v.paths[: MAX_PATHS - 1]
    for i, p in enumerate(rows):
        out.append(_path_row(p, 10, py + i * 24, CARD_W - 20))
    if len(v.paths) > len(rows):
        rest = v.paths[len(rows):]
        ry = py + len(rows) * 24
        risky = [p for p in rest if _risky(p)]
        what = "; ".join(f"{p.get('path_kind')} from {p.get('source')}" for p in rest)
        out.append(f'<g class="path other{" blocking" if risky else ""}"><title>{esc(what)}</title>'
                   f'<rect x="10" y="{ry}" width="{CARD_W - 20}" height="20" rx="4"/>'
                   + _text(16, ry + 14, f"+{len(rest)} more paths", "badge") + "</g>")
    if not v.paths:
        out.append(_text(lx + 28, py - 8, "no network path recorded", "edge-label muted"))
    ly = height - 8 - (12 if v.missing else 0)
    for f in v.loose[:2][::-1]:
        out.append(f'<g class="loose blocking"{_rules_attr([f])}><title>{esc(_issues_title([f]))}</title>'
                   + _fit(10, ly, f"\u26a0 {f.get('rule_id')} {f.get('title', '')} "
                          f"({_short(f.get('resource_id'))})", CARD_W - 20, "warn-text", size=11) + "</g>")
        ly -= 14
    if len(v.loose) > 2:
        out.append(f'<g class="loose blocking"{_rules_attr(v.loose[2:])}><title>{esc(_issues_title(v.loose[2:]))}'
                   f'</title>' + _text(10, ly, f"\u26a0 +{len(v.loose) - 2} more blocking findings", "warn-text")
                   + "</g>")
    if v.missing:
        out.append(_fit(10, height - 8, "missing: " + "; ".join(v.missing), CARD_W - 20, "warn-text", size=11))
    out.append("</g>")
    return "".join(out)


def _short(resource_id: Any) -> str:
    return str(resource_id or "deployment").rstrip("/").rsplit("/", 1)[-1]


def _in_chip(e: dict[str, Any], rx: float, rw: float, top: float, tx: float, sy: float, v: SiloView,
             b: Blocking) -> str:
    who = e.get("principal_name") or e.get("principal_id") or "?"
    red = _red_edge(e, b)
    cited = red if isinstance(red, list) else []
    cls = "edge outside" + (" blocking" if red else " shown") + (" weak" if _is_weak(e) else "")
    if e.get("relation") == "administrator":
        cls += " admin"
    if e.get("storage_id") or not e.get("target_id"):  # role-based access to silo storage: its grants
        chain = "; ".join(f"{c.get('role_name') or c.get('role_definition_id')} at {c.get('scope')}"
                          for c in e.get("chain") or [])
        target = e.get("storage_name") or _short(e.get("storage_id")) or v.storage_name or "storage"
    else:  # a path (flaudit/paths.py): its hops, from the silo resource it leaves
        chain = "; ".join(str(c.get("text") or "") for c in e.get("chain") or [] if isinstance(c, dict))
        target = _short(e.get("target_id"))
    title = f"{who} from {origin_text(e)} can reach {target}: {kinds_text(e)}. {chain}"
    if cited:
        title += "\nblocking: " + _issues_title(cited)
    reached = e.get("storage_id") or e.get("target_id")
    on_storage = not reached or not v.storage.id or str(reached).lower() == str(v.storage.id).lower()
    label = f"{origin_text(e)}: {kinds_text(e)}" + ("" if on_storage else f" -> {target}")
    return (f'<g class="{cls}"{_rules_attr(cited)}><title>{esc(title)}</title>'
            f'<path d="M{rx},{top + 16} C{rx - 12},{top + 16} {tx + 14},{sy + 23} {tx + 2},{sy + 23}" '
            f'marker-end="url(#{"arrow-out" if red else "arrow-own"})"/>'
            f'<rect class="chip" x="{rx}" y="{top}" width="{rw}" height="34" rx="4"/>'
            + _fit(rx + 6, top + 14, who, rw - 12, "chip-name", size=11)
            + _fit(rx + 6, top + 28, label, rw - 12, "chip-kinds", size=10) + "</g>")


def _out_chip(o: dict[str, Any], rx: float, rw: float, top: float, fx: float, fy: float) -> str:
    fs = o["findings"]
    rules = sorted({str(f.get("rule_id")) for f in fs})
    title = (f"{o['principal']} ({', '.join(r for r in o['roles'] if r)}) reaches {o['target']}\nblocking: "
             + _issues_title(fs))
    return (f'<g class="edge outgoing blocking"{_rules_attr(fs)}><title>{esc(title)}</title>'
            f'<path d="M{fx + 2},{fy} C{fx + 14},{fy} {rx - 12},{top + 17} {rx - 2},{top + 17}" '
            f'marker-end="url(#arrow-out)"/>'
            f'<rect class="chip" x="{rx}" y="{top}" width="{rw}" height="34" rx="4"/>'
            + _fit(rx + 6, top + 14, f"-> {_short(o['target'])}", rw - 12, "chip-name", size=11)
            + _fit(rx + 6, top + 28, f"{' '.join(rules)}: {', '.join(r for r in o['roles'] if r) or 'access'}",
                   rw - 12, "chip-kinds", size=10)
            + "</g>")


def _path_row(p: dict[str, Any], x: float, y: float, w: float) -> str:
    kind = str(p.get("path_kind", "?"))
    status = str(p.get("status", "open"))
    risky = _risky(p)
    cls = "risky blocking" if risky else ("private" if kind == "private-endpoint" else "other")
    if status != "open":
        cls += " inactive"
    label = PATH_LABEL.get(kind, kind)
    state = "" if status == "open" else f" ({status})"
    text = f"{label}{state} from {_path_source(p)}"
    return (f'<g class="path {cls}"><title>{esc(label)}{esc(state)} from {esc(p.get("source", "?"))}: '
            f'{esc(p.get("detail", ""))}</title><rect x="{x}" y="{y}" width="{w}" height="20" rx="4"/>'
            + _fit(x + 6, y + 14, text, w - 12, "badge", size=10.5) + "</g>")


def _path_source(p: dict[str, Any]) -> str:
    """What tells paths of one kind apart: the CIDR, subnet, VNet or service name."""
    kind = p.get("path_kind")
    if kind == "public":
        return "the Internet"
    source = str(p.get("source") or "")
    if "/subscriptions/" in source.lower():
        parts = source.rstrip("/").split("/")
        return "/".join(parts[-3::2]) if len(parts) > 3 and parts[-2].lower() == "subnets" else parts[-1]
    return source


def _top(result: dict[str, Any], width: float, b: Blocking, rest: list[dict[str, Any]]) -> str:
    topo = result.get("topology") or {}
    ws = topo.get("workspace") or {}
    orch = topo.get("orchestrator") or {}
    out = ['<g class="top">']
    ws_node = Node("workspace", ws.get("name"), ws.get("id"), b.on(ws.get("id")))
    out.append(_node(GAP, 20, 220, 56, ws_node, "workspace"))
    if ws:
        pna = ws.get("public_network_access") or "unknown"
        out.append(_fit(GAP, 94, f"public network access: {pna}", 220,
                        "warn-text" if str(pna).lower() == "enabled" else "edge-label", size=10.5))
        out.append(_fit(GAP, 108, f"managed network: {ws.get('managed_network_isolation') or 'unknown'}", 220,
                        "edge-label", size=10.5))
    computes = orch.get("computes") or []
    c0 = computes[0] if computes else {}
    i0 = (c0.get("identities") or [{}])[0] if c0 else {}
    storage = orch.get("storage") or {}
    ox, ow = GAP + 240, 3 * 160 + 20
    out.append(f'<rect class="card orchestrator" x="{ox}" y="8" width="{ow}" height="{TOP_H - 24}" rx="8"/>')
    out.append(_text(ox + 10, 26, "orchestrator", "silo-name"))
    out.append(_node(ox + 10, 36, 150, 56, Node("compute", c0.get("name"), c0.get("id"), b.on(c0.get("id"))),
                     "compute"))
    out.append(_node(ox + 170, 36, 150, 56, Node("identity", i0.get("name") or i0.get("principal_id"), i0.get("id"),
                                                 b.on(i0.get("id"))), "identity"))
    out.append(_node(ox + 330, 36, 150, 56, Node("storage", _name(storage), storage.get("id"),
                                                 b.by_resource.get(str(storage.get("id") or "").lower(), [])),
                     "storage"))
    shared = {f.get("silo") for f in b.by_resource.get(str(storage.get("id") or "").lower(), []) if f.get("silo")}
    if shared:
        out.append(_fit(ox + 330, 108, f"{len(shared)} silos reach it (their cards)", 150, "warn-text", size=10.5))
    out.append(_fit(ox + 10, 128, "principals reaching a silo's storage are drawn in that silo's card", ow - 20,
                    "edge-label", size=10.5))
    # deployment-wide resources with blocking findings (workspace key vault, registry, default storage, ...)
    dx = ox + ow + 20
    groups: dict[str, list[dict[str, Any]]] = {}
    for f in rest:
        groups.setdefault((f.get("resource_id") or "").lower(), []).append(f)
    if groups:
        out.append(_text(dx, 18, "other blocking findings", "lane-title"))
    cols = max(1, int((width - dx - GAP) // 210))
    keys = list(groups)
    shown = keys if len(keys) <= MAX_TOP_CHIPS else keys[: MAX_TOP_CHIPS - 1]
    for i, k in enumerate(shown):
        fs = groups[k]
        cx, cy = dx + (i // 3 % cols) * 210, 26 + (i % 3) * 44
        if i // 3 >= cols:
            break
        out.append(f'<g class="node other blocking"{_rules_attr(fs)}><title>{esc(fs[0].get("resource_id") or "")}\n'
                   f'blocking: {esc(_issues_title(fs))}</title>'
                   f'<rect x="{cx}" y="{cy}" width="200" height="38" rx="5"/>'
                   + _fit(cx + 6, cy + 15, _short(fs[0].get("resource_id")), 188, "name")
                   + _fit(cx + 6, cy + 31, "\u26a0 " + " ".join(sorted({str(f.get("rule_id")) for f in fs})), 188,
                          "issue", size=10.5) + "</g>")
    if len(keys) > len(shown):
        more = [f for k in keys[len(shown):] for f in groups[k]]
        i = len(shown)
        cx, cy = dx + (i // 3 % cols) * 210, 26 + (i % 3) * 44
        out.append(f'<g class="node other blocking"{_rules_attr(more)}><title>{esc(_issues_title(more))}</title>'
                   f'<rect x="{cx}" y="{cy}" width="200" height="38" rx="5"/>'
                   + _text(cx + 6, cy + 24, f"+{len(keys) - len(shown)} more resources", "name") + "</g>")
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
    names = {str(s.get("name")) for s in (result.get("topology") or {}).get("silos") or []}
    names.update(str(x.get("silo")) for x in [*(result.get("access") or []), *(result.get("network_paths") or [])])
    if len(names) > MAX_SILOS:  # the same silos silo_views would draw, counted without building them
        return None
    b = Blocking.of(result)
    views = silo_views(result, b)
    drawn_ids = {str(n.id).lower() for v in views for n in (v.compute, v.identity, v.storage) if n.id}
    topo = result.get("topology") or {}
    orch = topo.get("orchestrator") or {}
    for ref in [topo.get("workspace") or {}, orch.get("storage") or {}, *(orch.get("computes") or [])[:1],
                *((orch.get("computes") or [{}])[0].get("identities") or [])[:1]]:
        if ref.get("id"):
            drawn_ids.add(str(ref["id"]).lower())
    cols = max(1, min(COLS, len(views)))
    rows = (len(views) + cols - 1) // cols
    width = max(GAP + cols * (CARD_W + GAP), 1200)
    for v in views:  # edges cited by blocking findings count as drawn before the leftovers are placed
        for e in v.outside + v.own:
            if e.get("relation") != "administrator":
                b.citing(e.get("principal_id"), e.get("storage_id"))
    rest = _attach_loose(views, result, b, drawn_ids)
    heights = [card_height(v, b) for v in views]
    row_h = [max(heights[r * cols:(r + 1) * cols]) for r in range(rows)]
    row_y = [TOP_H + sum(h + GAP for h in row_h[:r]) for r in range(rows)]
    height = TOP_H + sum(h + GAP for h in row_h) + GAP
    cards = [_card(v, GAP + (i % cols) * (CARD_W + GAP), row_y[i // cols], b, row_h[i // cols])
             for i, v in enumerate(views)]
    top = _top(result, width, b, rest)
    red = sum(1 for v in views for e in v.outside if _red_edge(e, b, peek=True))
    desc = (f"{len(views)} silos; {red} access edges from outside a silo that block a verdict; "
            f"{sum(1 for v in views for p in v.paths if _risky(p))} open public or IP-rule paths; "
            f"{len(b.drawn)} blocking findings drawn in red.")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="access-diagram" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-labelledby="diagram-title diagram-desc">'
             f'<title id="diagram-title">Who can reach each silo\'s storage, and what blocks a verdict</title>'
             f'<desc id="diagram-desc">{esc(desc)}</desc>', DEFS, top, *cards]
    if not views:
        parts.append(_text(GAP, TOP_H + 30, "No silo found: nothing to draw.", "warn-text"))
    parts.append("</svg>")
    return "".join(parts)


def legend_items(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(swatch class, label, meaning) for everything the diagram can draw, plus every access kind present."""
    items = [
        ("sw-node-red", "red box", "a resource with a blocking finding (rule ids under its name)"),
        ("sw-node", "grey box", "a resource with no blocking finding"),
        ("sw-node-missing", "dashed box", "named in the FL config or expected, not found"),
        ("sw-own", "grey arrow", "the silo's own identity reaches its own storage"),
        ("sw-red", "red arrow", "crosses a silo boundary, or is cited by a blocking finding"),
        ("sw-shown", "grey chip", "reaches the storage without blocking (e.g. a declared administrator)"),
        ("sw-weak", "dashed arrow", "conditional (ABAC) or only inert kinds (keys with shared keys off)"),
    ]
    for kind, label in PATH_LABEL.items():
        cls = "sw-path-risky" if kind in RISKY_PATHS else ("sw-path-private" if kind == "private-endpoint"
                                                            else "sw-path-other")
        items.append((cls, f"path: {label}", PATH_MEANING[kind] + (" (red when open)" if kind in RISKY_PATHS
                                                                    else "")))
    items.append(("sw-path-inactive", "dashed path", "a path that carries nothing (pending, rejected, blocked)"))
    kinds: list[str] = []
    for e in result.get("access") or []:
        for k in e.get("kinds") or []:
            if str(k) not in kinds:
                kinds.append(str(k))
    for k in kinds:
        items.append(("sw-kind", f"kind: {k}", KIND_LABEL.get(k, k)))
    return items


def legend_html(result: dict[str, Any]) -> str:
    """The diagram legend as HTML (it wraps to any width, so no label is cut)."""
    return ('<ul class="diagram-legend">' + "".join(
        f'<li><span class="swatch {cls}"></span><strong>{esc(label)}</strong> {esc(meaning)}</li>'
        for cls, label, meaning in legend_items(result)) + "</ul>")


@dataclass
class SummaryRow:
    silo: str
    storage: str
    own: int
    outside: list[str]  # red edges, as in the diagram: a boundary crossing, or cited by a blocking finding
    risky_paths: list[str]
    other_paths: list[str]
    reaching: list[str] = field(default_factory=list)  # drawn but not red: declared administrators, paths no
    # blocking finding rests on (the orchestrator's network reach, FL-NET-010)


def summary_rows(result: dict[str, Any]) -> list[SummaryRow]:
    """Per-silo access summary for large deployments: silos reached from outside first, then natural order.

    An edge is "outside" (red, CROSSES) exactly when the diagram would draw it red; the others that reach the
    silo from beyond it are listed apart, so a ready deployment whose orchestrator network reaches every silo's
    private endpoint is not a table of red cells."""
    b = Blocking.of(result)
    rows = []

    def text(e: dict[str, Any]) -> str:
        return f"{e.get('principal_name') or e.get('principal_id')} ({origin_text(e)}: {kinds_text(e)})"

    for v in silo_views(result, b):
        red = [bool(_red_edge(e, b, peek=True)) for e in v.outside]
        rows.append(SummaryRow(
            silo=v.name, storage=v.storage.name or "not found", own=len(v.own),
            outside=[text(e) for e, r in zip(v.outside, red, strict=True) if r],
            reaching=[text(e) for e, r in zip(v.outside, red, strict=True) if not r],
            risky_paths=[f"{PATH_LABEL.get(p.get('path_kind'), p.get('path_kind'))} from {p.get('source')}"
                         for p in v.paths if _risky(p)],
            other_paths=sorted({PATH_LABEL.get(str(p.get("path_kind")), str(p.get("path_kind"))) for p in v.paths
                                if not _risky(p)}),
        ))
    rows.sort(key=lambda r: (not r.outside, not r.risky_paths))
    return rows


#: Heat-map states drawn as one run per line of squares (a pattern of squares with one title naming the silos);
#: fail, unknown and waived squares are always drawn one by one, each naming its silo.
QUIET_STATES = ("pass", "not_applicable", "none")


def _heat_squares(states: list[str], labels: list[str], per_row: int, size: int, step: int) -> list[str]:
    """One panel's squares, in panel coordinates. A run of two or more neighbouring squares on one line in the same
    quiet state is one rect filled with a pattern of squares (it looks the same, and its title names the run's
    first and last silo and how many); at 1,000 silos this is what keeps the heat map ~40 KB instead of 800 KB.
    Every square that fails, is unknown or waived is its own rect with its own silo in the title."""
    from flaudit.reports._common import CELL_WORDS

    out: list[str] = []
    i, n = 0, len(states)
    while i < n:
        state, line = states[i], i // per_row
        j = i + 1
        if state in QUIET_STATES:
            while j < n and states[j] == state and j // per_row == line:
                j += 1
        x, y, word = (i % per_row) * step, line * step, CELL_WORDS.get(state, state)
        if j - i >= 2:
            out.append(f'<rect class="heat-run" x="{x}" y="{y}" width="{(j - i) * step}" height="{size}" '
                       f'fill="url(#heat-{state})"><title>{labels[i]} to {labels[j - 1]} ({j - i}): {word}'
                       f'</title></rect>')
        else:
            out.append(f'<rect class="heat {CELL_FILL.get(state, "cell-none")}{" blocking" if state == "fail" else ""}" '
                       f'x="{x}" y="{y}" width="{size}" height="{size}"><title>{labels[i]}: {word}</title></rect>')
        i = j
    return out


def aggregate_svg(result: dict[str, Any], rows: list[Any] | None = None) -> str:
    """Beyond ``MAX_SILOS``: a silo x area heat map (one square per silo per area) and the fix-first list.

    Fits one screen at 1,000 silos: each area is a panel of squares, 50 to a row, coloured by the cell's worst
    state; hovering a square names the silo and the state.
    """
    from flaudit.reports._common import AREA_TITLES, AREAS, fix_first_view, matrix

    rows = rows if rows is not None else matrix(result)
    n = len(rows)
    per_row = max(1, min(50, n))
    size = max(6, min(22, 420 // per_row - 2))
    step = size + 2
    lines = (n + per_row - 1) // per_row
    panel_w, panel_h = per_row * step + 20, lines * step + 36
    cols = 2
    ff = fix_first_view(result)
    items = (ff.get("items") or [])[:8]
    list_x = cols * (panel_w + 16) + 20
    width = list_x + 560
    grid_h = ((len(AREAS) + cols - 1) // cols) * (panel_h + 12)
    height = max(grid_h, 80 + 40 * len(items)) + 60
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="access-diagram aggregate" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-labelledby="agg-title">'
           f'<title id="agg-title">{n} rows (silos and deployment-wide), by area: worst status of each cell</title>',
           _text(20, 24, f"{n} rows x {len(AREAS)} areas: one square per silo and area", "silo-name"),
           "<defs>" + "".join(f'<pattern id="heat-{state}" width="{step}" height="{step}" patternUnits="userSpaceOnUse">'
                              f'<rect class="{CELL_FILL[state]}" width="{size}" height="{size}"/></pattern>'
                              for state in QUIET_STATES) + "</defs>"]
    labels = [esc(r.label) for r in rows]
    for a_i, area in enumerate(AREAS):
        px, py = 20 + (a_i % cols) * (panel_w + 16), 40 + (a_i // cols) * (panel_h + 12)
        states = [r.cells[area].state for r in rows]
        bad = sum(1 for s in states if s in ("fail", "unknown"))
        out.append(f'<g class="heat-panel"><rect class="panel" x="{px}" y="{py}" width="{panel_w}" '
                   f'height="{panel_h}" rx="6"/>'
                   + _text(px + 10, py + 18, f"{AREA_TITLES[area]}: {bad} of {n} fail or unknown", "name"))
        out.append(f'<g transform="translate({px + 10},{py + 26})">')
        out.extend(_heat_squares(states, labels, per_row, size, step))
        out.append("</g></g>")
    n_ch = ff.get("changes", 0)
    out.append(_fit(list_x, 24, f"Fix first: {n_ch} change{'s' if n_ch != 1 else ''} make{'s' if n_ch == 1 else ''} "
                    f"{ff.get('profile')} ready", 540, "silo-name", size=13))
    for i, item in enumerate(items):
        y = 50 + i * 40
        out.append(f'<g class="fix-item blocking"{_rules_attr([{"rule_id": item["rule_id"]}])}>'
                   f'<title>{esc(item.get("remediation", ""))}</title>'
                   + _fit(list_x, y, f"{i + 1}. {item['rule_id']} {item['title']}", 540, "name")
                   + _fit(list_x + 14, y + 15, f"{item['severity']} · {scope_text(item)}", 526, "edge-label",
                          size=10.5) + "</g>")
    if not items:
        out.append(_text(list_x, 50, "nothing blocks the gated profile", "edge-label"))
    out.append("</svg>")
    return "".join(out)
