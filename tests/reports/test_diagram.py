"""The access diagram: one card per silo, red edges for boundary crossings, paths, escaping, graceful degradation."""

from __future__ import annotations

import re

from flaudit.reports import diagram
from lxml import etree
from synthetic import XSS_IMG, XSS_SCRIPT, make_result

from flaudit.findings import AREAS

SVG = "{http://www.w3.org/2000/svg}"


def _svg(result) -> etree._Element:
    text = diagram.render_svg(result)
    assert text is not None
    return etree.fromstring(text.encode())


def test_one_card_per_silo_with_compute_identity_and_storage(result):
    svg = _svg(result)
    cards = svg.findall(f".//{SVG}g[@class='silo']")
    assert len(cards) == 5
    labels = ["".join(t.itertext()) for t in cards[1].iter(f"{SVG}text")]
    assert "silo-1" in labels and "silo-1-cpu" in labels and "uai-silo-1" in labels and "stsilo1" in labels


def _classes(card) -> list[str]:
    return [g.get("class") for g in card.iter(f"{SVG}g") if g.get("class") != "silo"]


def test_crossing_principals_are_red_edges_in_the_side_lane_of_the_silo_they_reach(result):
    svg = _svg(result)
    cards = svg.findall(f".//{SVG}g[@class='silo']")
    outside = [g for g in cards[1].iter(f"{SVG}g") if (g.get("class") or "").startswith("edge outside")]
    assert len(outside) == 2  # silo-2's identity and the orchestrator
    assert all("blocking" in g.get("class") for g in outside)
    titles = " ".join(g.findtext(f"{SVG}title") for g in outside)
    assert "uai-silo-2 from silo silo-2 can reach stsilo1: data" in titles
    assert "keys (inert)" in titles
    assert not [c for c in _classes(cards[0]) if "outside" in c]  # silo-0 has no crossing at all
    assert cards[1].find(f"{SVG}rect").get("class") == "card breached"


def test_blocking_findings_make_their_node_red_with_the_rule_ids(result):
    card = _svg(result).findall(f".//{SVG}g[@class='silo']")[1]
    storage = next(g for g in card.iter(f"{SVG}g") if (g.get("class") or "").startswith("node storage"))
    assert "blocking" in storage.get("class") and storage.get("data-rules") == "FL-ID-001 FL-PE-001"
    assert "FL-PE-001" in "".join(storage.itertext())


def test_a_silo_identity_reaching_shared_storage_is_a_red_edge_out_of_its_card(result):
    """FL-ID-008's shape: the finding is on the orchestrator storage, about silo-0, citing silo-0's identity."""
    orch = result["topology"]["orchestrator"]["storage"]
    f = {"id": "FL-ID-008:aaaaaaaaaaaa", "rule_id": "FL-ID-008", "title": "Silos cannot read each other's updates",
         "area": "silo-identity", "severity": "high", "status": "fail", "blocks": ["production"],
         "resource_id": orch["id"], "silo": "silo-0", "subject": "p-silo-0", "message": "shared",
         "evidence": [{"kind": "access", "principal_id": "p-silo-0", "principal_name": "uai-silo-0",
                       "role_name": "Storage Blob Data Contributor", "scope": orch["id"]}],
         "waiver": None, "location": None}
    result["findings"].append(f)
    result["verdict"]["production"]["blocking"].append(f["id"])
    svg = _svg(result)
    card = svg.findall(f".//{SVG}g[@class='silo']")[0]
    out = [g for g in card.iter(f"{SVG}g") if (g.get("class") or "") == "edge outgoing blocking"]
    assert len(out) == 1 and out[0].get("data-rules") == "FL-ID-008"
    assert "-> storchfl" in "".join(out[0].itertext())
    top_storage = [g for g in svg.find(f"{SVG}g[@class='top']").iter(f"{SVG}g")
                   if (g.get("class") or "").startswith("node storage")][0]
    assert "FL-ID-008" in top_storage.get("data-rules")


def test_an_administrator_is_drawn_but_not_red_and_unknown_kinds_get_a_legend_entry(result):
    edge = next(e for e in result["access"] if e["relation"] == "other-silo")
    result["access"].append({**edge, "silo": "silo-0", "storage_id": result["topology"]["silos"][0]["storage"]["id"],
                             "principal_id": "p-admin", "principal_name": "breakglass", "relation": "administrator",
                             "kinds": ["data", "teleport"], "crosses_boundary": True})
    card = _svg(result).findall(f".//{SVG}g[@class='silo']")[0]
    admin = [g for g in card.iter(f"{SVG}g") if "admin" in (g.get("class") or "")]
    assert len(admin) == 1 and "blocking" not in admin[0].get("class")
    storage0 = result["topology"]["silos"][0]["storage"]["id"]
    f = {"id": "FL-WS-009:bbbbbbbbbbbb", "rule_id": "FL-WS-009", "title": "Administrators are few", "area":
         "workspace-access", "severity": "high", "status": "fail", "blocks": ["production"], "resource_id": storage0,
         "silo": "silo-0", "subject": "p-admin", "message": "m", "waiver": None, "location": None,
         "evidence": [{"kind": "access", "principal_id": "p-admin", "principal_name": "breakglass"}]}
    result["findings"].append(f)
    result["verdict"]["production"]["blocking"].append(f["id"])
    card = _svg(result).findall(f".//{SVG}g[@class='silo']")[0]
    admin = [g for g in card.iter(f"{SVG}g") if "admin" in (g.get("class") or "")]
    assert "blocking" not in admin[0].get("class")  # cited or not, an administrator edge is not red
    storage = next(g for g in card.iter(f"{SVG}g") if (g.get("class") or "").startswith("node storage"))
    assert storage.get("data-rules") == "FL-WS-009"  # the finding itself still shows red, on the storage
    legend = diagram.legend_html(result)
    assert "kind: teleport</strong> teleport" in legend and "kind: data</strong> read/write the data" in legend
    for label in ("path: peering", "path: private endpoint", "path: public", "red box", "dashed arrow"):
        assert label in legend


def test_network_paths_are_rows_coloured_by_risk(result):
    svg = _svg(result)
    card = svg.findall(f".//{SVG}g[@class='silo']")[1]
    classes = [c for c in _classes(card) if c.startswith("path")]
    assert classes == ["path risky blocking", "path risky blocking", "path private"]  # public and IP rule first


def test_long_names_are_condensed_never_cut(result):
    long = "vnet-orchestrator-westeurope-01"
    result["topology"]["silos"][0]["storage"]["name"] = long
    text = diagram.render_svg(result)
    assert "\u2026" not in text
    node = etree.fromstring(text.encode()).findall(f".//{SVG}g[@class='silo']")[0]
    label = next(t for t in node.iter(f"{SVG}text") if t.text == long)  # whole, in a smaller font
    size = float(label.get("style").removeprefix("font-size:").removesuffix("px"))
    assert 7 <= size < 12 and len(long) * size * 0.62 <= 156 - 12 + 1 and label.get("textLength") is None
    result["topology"]["silos"][0]["storage"]["name"] = longer = long * 2  # too long even at 7px: condensed
    node = etree.fromstring(diagram.render_svg(result).encode()).findall(f".//{SVG}g[@class='silo']")[0]
    label = next(t for t in node.iter(f"{SVG}text") if t.text == longer)
    assert label.get("lengthAdjust") == "spacingAndGlyphs" and float(label.get("textLength")) == 144


def test_every_string_is_escaped(hostile_result):
    text = diagram.render_svg(hostile_result)
    assert "<script" not in text and "<img" not in text
    svg = etree.fromstring(text.encode())  # well-formed XML despite the payloads
    all_text = " ".join(svg.itertext())
    assert XSS_SCRIPT[:10] in all_text
    titles = " ".join(t.text or "" for t in svg.iter(f"{SVG}title"))
    assert XSS_IMG in titles and "silo-1" + XSS_SCRIPT in titles


def test_twenty_silos_still_draw_and_more_degrade_to_a_heat_map_and_fix_first():
    svg = _svg(make_result(20))
    assert len(svg.findall(f".//{SVG}g[@class='silo']")) == 20
    assert diagram.render_svg(make_result(21)) is None
    rows = diagram.summary_rows(make_result(21))
    assert len(rows) == 21
    assert rows[0].silo == "silo-1" and rows[0].outside and rows[0].risky_paths  # reached silos first
    agg = etree.fromstring(diagram.aggregate_svg(make_result(21)).encode())
    panels = agg.findall(f".//{SVG}g[@class='heat-panel']")
    assert len(panels) == len(AREAS)
    squares = panels[1].findall(f"{SVG}g/{SVG}rect")
    titles = [s.findtext(f"{SVG}title") for s in squares]
    covered = sum(int(re.search(r"\((\d+)\):", t).group(1)) if " to " in t else 1 for t in titles)
    assert covered == 22  # 21 silos and the deployment-wide row, each a square or within a run of squares
    assert titles[:3] == ["silo-0: PASS", "silo-1: FAIL", "silo-2: PASS"]
    assert "Fix first:" in " ".join(agg.itertext())


def test_the_aggregate_of_1000_silos_keeps_one_screen():
    agg = etree.fromstring(diagram.aggregate_svg(make_result(1000)).encode())
    assert float(agg.get("height")) <= 1000 and float(agg.get("width")) <= 1500


def test_the_heat_map_of_1000_silos_draws_each_failing_square_and_folds_only_quiet_runs():
    result = make_result(1000)
    for f in result["findings"]:  # every seventh silo's storage check fails
        if f["rule_id"] == "FL-ST-001" and int(f["silo"].split("-")[1]) % 7 == 0:
            f["status"] = "fail"
    text = diagram.aggregate_svg(result)
    assert len(text) < 80_000  # 8,000 squares as single rects were ~800 KB
    panel = etree.fromstring(text.encode()).findall(f".//{SVG}g[@class='heat-panel']")[AREAS.index("storage-hardening")]
    titles = [r.findtext(f"{SVG}title") for r in panel.findall(f"{SVG}g/{SVG}rect")]
    assert sorted(t for t in titles if t.endswith(": FAIL")) == sorted(f"silo-{i}: FAIL" for i in range(0, 1000, 7))
    runs = [t for t in titles if " to " in t]
    assert runs and all(t.endswith(("PASS", "N/A", "-")) for t in runs)
    covered = sum(int(re.search(r"\((\d+)\):", t).group(1)) if " to " in t else 1 for t in titles)
    assert covered == 1001  # every silo and the deployment-wide row


def test_many_outside_principals_that_block_nothing_collapse_into_a_more_chip(result):
    edge = next(e for e in result["access"] if e["relation"] == "other-silo")
    for i in range(6):  # declared administrators: drawn, never red
        result["access"].append({**edge, "principal_id": f"p-extra-{i}", "principal_name": f"extra-{i}",
                                 "relation": "administrator", "crosses_boundary": False,
                                 "administrator_reason": "declared break-glass admin"})
    card = _svg(result).findall(f".//{SVG}g[@class='silo']")[1]
    texts = ["".join(t.itertext()) for t in card.iter(f"{SVG}text")]
    assert "+5 more edges" in texts  # 2 red edges and 6 calm ones: 2 red chips, 1 calm chip, "+5 more"
    more = next(g for g in card.iter(f"{SVG}g") if "more" in (g.get("class") or "").split())
    assert "blocking" not in more.get("class") and all(f"extra-{i}" in more.findtext(f"{SVG}title")
                                                       for i in range(1, 6))


def test_a_blocking_edge_is_always_drawn_as_its_own_chip_and_the_card_grows_to_hold_it(result):
    edge = next(e for e in result["access"] if e["relation"] == "other-silo")
    for i in range(6):  # boundary crossings: each blocks a verdict
        result["access"].append({**edge, "principal_id": f"p-extra-{i}", "principal_name": f"extra-{i}"})
    result["access"].append({**edge, "principal_id": "p-admin", "principal_name": "calm-admin",
                             "relation": "administrator", "crosses_boundary": False})
    svg = _svg(result)
    cards = svg.findall(f".//{SVG}g[@class='silo']")
    red = [g for g in cards[1].iter(f"{SVG}g") if (g.get("class") or "").split()[:2] == ["edge", "outside"]
           and "blocking" in g.get("class")]
    names = ["".join(t.itertext()) for g in red for t in g.iter(f"{SVG}text")]
    assert all(f"extra-{i}" in names for i in range(6)) and "uai-silo-2" in names and "uai-orch" in names
    texts = ["".join(t.itertext()) for t in cards[1].iter(f"{SVG}text")]
    assert "+1 more edge" in texts  # only the administrator, which blocks nothing, is folded
    height = float(cards[1].find(f"{SVG}rect").get("height"))
    assert height == diagram.CARD_H + (8 + 1 - diagram.MAX_CHIPS) * diagram.CHIP_STEP
    chip_bottom = max(float(r.get("y")) + float(r.get("height")) for r in cards[1].iter(f"{SVG}rect")
                      if r.get("class") == "chip")
    path_tops = [float(r.getparent().find(f"{SVG}rect").get("y")) for r in cards[1].iter(f"{SVG}rect")
                 if "path" in (r.getparent().get("class") or "")]
    assert path_tops and min(path_tops) > chip_bottom  # the network paths moved down, below the longer lane
    assert float(cards[4].get("transform").split(",")[1].rstrip(")")) > diagram.TOP_H + height  # next row below


def test_every_path_kind_is_drawn_on_its_silo_and_named_in_the_legend():
    """Each kind of the path model (flaudit/paths.py) reaches the diagram: an edge on the silo it leaves (drawn, or
    in the "+N more edges" chip whose title names each edge with its kinds), and a legend entry with a label of its
    own (not just the kind's name)."""
    from flaudit.paths import PATH_KINDS, Hop, Path

    result = make_result(3)
    target = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-silo-1"
    relation = {"administrative": "administrator"}
    for i, kind in enumerate(PATH_KINDS):
        result["access"].append(Path(kind, "silo-1", target, f"outsider-{i}", f"outsider-{kind}",
                                     relation.get(kind, "unlisted"), (Hop(f"hop of {kind}", "ref"),),
                                     "FL-ID-009").edge())
    text = diagram.render_svg(result)
    for kind in PATH_KINDS:
        assert re.search(rf"outsider-{kind}[^;<]*: [^;<]*\b{kind}\b", text), kind
    legend = {label for _cls, label, _text in diagram.legend_items(result)}
    assert {f"kind: {k}" for k in PATH_KINDS} <= legend
    assert all(k in diagram.KIND_LABEL for k in PATH_KINDS)
