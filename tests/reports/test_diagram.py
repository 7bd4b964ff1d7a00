"""The access diagram: one card per silo, red edges for boundary crossings, paths, escaping, graceful degradation."""

from __future__ import annotations

from flaudit.reports import diagram
from lxml import etree
from synthetic import XSS_IMG, XSS_SCRIPT, make_result

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


def test_crossing_principals_are_red_edges_in_the_side_lane_of_the_silo_they_reach(result):
    svg = _svg(result)
    cards = svg.findall(f".//{SVG}g[@class='silo']")
    outside = cards[1].findall(f".//{SVG}g[@class='edge outside']") + cards[1].findall(
        f".//{SVG}g[@class='edge outside weak']")
    assert len(outside) == 2  # silo-2's identity and the orchestrator
    titles = " ".join(g.findtext(f"{SVG}title") for g in outside)
    assert "uai-silo-2 from silo silo-2 can reach stsilo1: data" in titles
    assert "keys (inert)" in titles
    # the orchestrator's grant is only inert keys plus mgmt-write: not weak; silo-0 has no crossing at all
    assert not cards[0].findall(f".//{SVG}g[@class='edge outside']")
    assert cards[1].find(f"{SVG}rect").get("class") == "card breached"


def test_network_paths_are_badges_coloured_by_risk(result):
    svg = _svg(result)
    card = svg.findall(f".//{SVG}g[@class='silo']")[1]
    classes = [g.get("class") for g in card.findall(f".//{SVG}g") if (g.get("class") or "").startswith("path")]
    assert classes == ["path risky", "path risky", "path private"]  # public and IP rule first


def test_every_string_is_escaped(hostile_result):
    text = diagram.render_svg(hostile_result)
    assert "<script" not in text and "<img" not in text
    svg = etree.fromstring(text.encode())  # well-formed XML despite the payloads
    all_text = " ".join(svg.itertext())
    assert "\u2026" in all_text or XSS_SCRIPT[:10] in all_text
    titles = " ".join(t.text or "" for t in svg.iter(f"{SVG}title"))
    assert XSS_IMG in titles and "silo-1" + XSS_SCRIPT in titles


def test_twenty_silos_still_draw_and_more_degrade_to_a_summary():
    svg = _svg(make_result(20))
    assert len(svg.findall(f".//{SVG}g[@class='silo']")) == 20
    assert diagram.render_svg(make_result(21)) is None
    rows = diagram.summary_rows(make_result(21))
    assert len(rows) == 21
    assert rows[0].silo == "silo-1" and rows[0].outside and rows[0].risky_paths  # reached silos first
    agg = etree.fromstring(diagram.aggregate_svg(make_result(21)).encode())
    assert "21 silos: 1 reachable by a principal from outside the silo" in " ".join(agg.itertext())


def test_many_outside_principals_collapse_into_a_more_chip(result):
    edge = next(e for e in result["access"] if e["relation"] == "other-silo")
    for i in range(6):
        result["access"].append({**edge, "principal_id": f"p-extra-{i}", "principal_name": f"extra-{i}"})
    card = _svg(result).findall(f".//{SVG}g[@class='silo']")[1]
    texts = ["".join(t.itertext()) for t in card.iter(f"{SVG}text")]
    assert "+5 more principals" in texts  # 8 outside principals: 3 chips + "+5 more"
