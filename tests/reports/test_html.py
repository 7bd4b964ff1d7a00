"""The HTML report: self-contained, ordered as a reviewer reads it, escaped, and checked in headless Chromium."""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from pathlib import Path

import pytest
from browser import find_chromium, load, print_pdf, screenshot
from flaudit.reports import html as html_report
from lxml import html as lhtml
from synthetic import XSS_IMG, XSS_SCRIPT, make_result

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="!!! CHROMIUM NOT FOUND: the HTML report was NOT checked in a browser. "
           "Install Debian's chromium (apt-get install -y chromium) or set FLAUDIT_CHROMIUM. !!!")
if CHROMIUM is None:
    warnings.warn("chromium not found: browser checks of the HTML report are skipped", stacklevel=1)

PROBE = """
(function(){
  function shown(sel){var e=document.querySelector(sel); if(!e) return false;
    var r=e.getBoundingClientRect(), s=getComputedStyle(e);
    return r.width>50 && r.height>20 && s.display!=='none' && s.visibility!=='hidden';}
  var out={verdict:shown('#verdict .verdicts'), matrix:shown('table.matrix'), diagram:shown('svg.access-diagram'),
           links:document.querySelectorAll('table.matrix td.cell a').length};
  var p=document.createElement('pre'); p.id='probe'; p.textContent=JSON.stringify(out); document.body.appendChild(p);
})();
"""


def _write(tmp_path: Path, result: dict, name: str = "report.html") -> Path:
    path = tmp_path / name
    path.write_text(html_report.render(result), encoding="utf-8")
    return path


def _probe_copy(page: Path) -> Path:
    """The same page plus a measuring script, allowed by adding its hash to the page's own CSP."""
    import base64

    text = page.read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(PROBE.encode()).digest()).decode()
    text = text.replace("script-src &#39;sha256-", f"script-src &#39;sha256-{digest}&#39; &#39;sha256-", 1)
    text = text.replace("</body>", f"<script>{PROBE}</script></body>")
    out = page.with_name("probe-" + page.name)
    out.write_text(text, encoding="utf-8")
    return out


# --- static checks -----------------------------------------------------------------------------------------

def test_report_is_self_contained(result):
    text = html_report.render(result)
    doc = lhtml.fromstring(text)
    assert not doc.xpath("//link | //img | //iframe | //object | //embed | //script[@src]")
    assert not re.search(r"url\((?!#)|@import|@font-face", text)  # url(#marker) is an in-page reference
    assert all(a.get("href", "").startswith(("#", "https://", "http://")) for a in doc.iter("a"))
    assert "default-src 'none'" in doc.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]


def test_sections_come_in_review_order(result):
    doc = lhtml.fromstring(html_report.render(result))
    ids = [s.get("id") for s in doc.xpath("//main/section")]
    assert ids == ["verdict", "matrix", "diagram", "findings", "passed", "metadata"]


def test_verdict_names_what_to_fix_first_and_explains_unknown(result):
    result["verdict"]["prototype"] = {"status": "unknown", "blocking": [
        next(f["id"] for f in result["findings"] if f["status"] == "unknown")]}
    doc = lhtml.fromstring(html_report.render(result))
    proto = doc.xpath("//div[@data-profile='prototype']")[0]
    assert proto.xpath("string(.//div[@class='word'])") == "UNKNOWN"
    assert "FL-NET-001" in proto.text_content()
    prod = doc.xpath("//div[@data-profile='production']")[0]
    assert prod.xpath("string(.//div[@class='word'])") == "NOT READY"
    assert "4 changes make production ready · 4 blocking findings" in " ".join(prod.text_content().split())
    rows = doc.xpath("//div[@id='fix-first']//tbody/tr")
    assert [r.xpath("string(td[2]/a)") for r in rows] == ["FL-ID-001", "FL-NET-001", "FL-PE-001", "FL-WS-001"]
    assert all(r.xpath("td[2]/a/@href")[0].startswith("#f-") for r in rows)  # each rule links to its finding
    assert rows[1].xpath("string(td[3])").startswith("Resolve:")  # FL-NET-001 is unknown
    gate = doc.xpath("//div[@id='gate']")[0]
    assert "exit 1: production is NOT READY; 4 blocking findings decide it" in gate.text_content()
    assert len(gate.xpath(".//details//li")) == 4
    assert "What UNKNOWN means" in doc.text_content()


def test_matrix_cells_show_words_and_link_to_their_findings(result):
    doc = lhtml.fromstring(html_report.render(result))
    rows = {r.xpath("string(th)"): r for r in doc.xpath("//table[@class='matrix']/tbody/tr")}
    cells = rows["silo-1"].xpath("td")
    assert [c.text_content() for c in cells[:3]] == ["PASS", "FAIL", "FAIL"]
    href = cells[2].xpath("a/@href")[0]
    target = doc.get_element_by_id(href[1:])
    assert "FL-ID-001" in target.getparent().xpath("string(h4)")
    assert rows["silo-3"].xpath("td")[1].text_content() == "WAIVED"
    assert "(deployment-wide)" in rows


def test_findings_carry_evidence_rationale_remediation_references_and_policy(result):
    doc = lhtml.fromstring(html_report.render(result))
    rule = next(a for a in doc.xpath("//article[@class='rule']") if "FL-PE-001" in a.xpath("string(h4)"))
    text = rule.text_content()
    assert "Why it matters: Public network access" in text
    assert "az storage account update -n acct --public-network-access Disabled" in rule.xpath("string(.//pre)")
    assert "publicNetworkAccess: 'Disabled'" in rule.xpath("string((.//pre)[2])")
    assert rule.xpath(".//a[starts-with(@href, 'https://learn.microsoft.com/')]")
    assert "6edd7eda-6dd8-40f7-810d-67160c639cd9" in text
    assert "properties.publicNetworkAccess" in text
    assert "WAIVED" in text and "Migration until 2027-01" in text


def test_passed_checks_are_collapsed_per_area(result):
    doc = lhtml.fromstring(html_report.render(result))
    details = doc.xpath("//section[@id='passed']/details")
    assert details and all(d.get("open") is None for d in details)
    assert "Storage hardening: 5 passed" in doc.xpath("string(//details[@id='passed-storage-hardening']/summary)")


def _fleet(n: int = 300) -> dict:
    """``n`` silos (about 3 passes each, past FULL_PASS_LIMIT) where every third silo also fails FL-PE-001 with its
    evidence, and one unknown finding carries an external silo's declaration."""
    import copy

    result = make_result(n)
    template = next(f for f in result["findings"] if f["rule_id"] == "FL-PE-001" and f["status"] == "fail"
                    and not f["waiver"])
    for i in range(6, n, 3):
        f = copy.deepcopy(template)
        st = result["topology"]["silos"][i]["storage"]
        f.update(silo=f"silo-{i}", resource_id=st["id"], id=f"FL-PE-001:fleet-{i}",
                 message=f"{st['name']} accepts traffic from the public internet (fleet {i}).")
        f["evidence"][0]["resource_id"] = st["id"]
        result["findings"].append(f)
        result["summary"]["by_status"]["fail"] += 1
        result["summary"]["total"] += 1
    unknown = next(f for f in result["findings"] if f["status"] == "unknown")
    unknown["declaration"] = {"silo": unknown["silo"], "declaration": 1, "control": unknown["rule_id"],
                              "declared_by": "partner-secops", "statement": "The NSG denies inbound traffic.",
                              "evidence": "ticket 4711", "expires": "2027-03-01"}
    return result


def _passes(result: dict) -> list[dict]:
    return [f for f in result["findings"] if f["status"] in ("pass", "not_applicable")]


def test_a_small_deployment_lists_every_pass_with_its_evidence(result):
    assert len(_passes(result)) <= html_report.FULL_PASS_LIMIT
    doc = lhtml.fromstring(html_report.render(result))
    passed = doc.get_element_by_id("passed")
    for f in _passes(result):
        item = doc.get_element_by_id(html_report.anchor(f["id"]))
        assert item.xpath("ancestor::section[@id='passed']") and f["message"] in item.text_content()
    shared_key = next(f for f in _passes(result) if f["rule_id"] == "FL-ST-001")
    item = doc.get_element_by_id(html_report.anchor(shared_key["id"]))
    assert "properties.allowSharedKeyAccess = false" in " ".join(item.xpath("string(.//ul[@class='evidence'])").split())
    assert not passed.xpath(".//p[contains(@class, 'pass-note')]")


def test_at_fleet_size_a_pass_is_not_inlined_with_its_evidence_but_its_count_and_subjects_are():
    result = _fleet(300)
    assert len(_passes(result)) > html_report.FULL_PASS_LIMIT
    doc = lhtml.fromstring(html_report.render(result))
    passed = doc.get_element_by_id("passed")
    assert not passed.xpath(".//ul[@class='evidence']") and "allowSharedKeyAccess" not in passed.text_content()
    assert all(doc.xpath(f"//*[@id='{html_report.anchor(f['id'])}']") == [] for f in _passes(result)[:50])
    group = doc.get_element_by_id(html_report.pass_group_anchor("FL-ST-001"))
    text = " ".join(group.text_content().split())
    assert "300 PASS" in text and "300 silos" in text and "silo-0\u2013silo-299" in text and "300 resources" in text
    note = " ".join(passed.xpath("string(.//p[contains(@class, 'pass-note')])").split())
    assert f"{len(_passes(result)):,} checks passed" in note and "--format json" in note
    compact = {**result, "compact": True}  # scan --compact: the JSON itself no longer has every pass's evidence
    note_c = lhtml.fromstring(html_report.render(compact)).xpath("string(//p[contains(@class, 'pass-note')])")
    assert "written with --compact" in " ".join(note_c.split()) and "holds every finding" not in note_c
    summary = doc.get_element_by_id("metadata").text_content()  # the summary still counts every finding
    assert f"{result['summary']['total']} checks" in summary and f"{result['summary']['by_status']['pass']} pass" in summary


def test_at_fleet_size_every_fail_unknown_waived_and_declared_finding_is_present_with_its_evidence():
    result = _fleet(300)
    doc = lhtml.fromstring(html_report.render(result))
    problems = [f for f in result["findings"] if f["status"] in ("fail", "unknown")]
    assert len(problems) > 100 and any(f["waiver"] for f in problems) and any(f.get("declaration") for f in problems)
    for f in problems:
        item = doc.get_element_by_id(html_report.anchor(f["id"]))
        assert item.xpath("ancestor::section[@id='findings']")
        text = " ".join(item.text_content().split())
        assert f["message"] in text
        evidence = " ".join(item.xpath("string(.//ul[@class='evidence'])").split())
        for e in f["evidence"]:
            assert (e.get("path") or e.get("text") or e.get("principal_name") or e.get("rule") or e["source"]) in evidence
        if f["waiver"]:
            assert "WAIVED" in text and f["waiver"]["reason"] in text
        if f.get("declaration"):
            assert "DECLARED" in text and "partner-secops" in text and "not verified" in text


def test_every_in_page_link_has_a_target_in_small_and_fleet_reports(result):
    for res in (result, _fleet(300)):
        doc = lhtml.fromstring(html_report.render(res))
        ids = set(doc.xpath("//@id"))
        hrefs = {h[1:] for h in doc.xpath("//a/@href") if h.startswith("#")}
        assert hrefs and hrefs <= ids, sorted(hrefs - ids)[:5]


def test_at_fleet_size_silos_with_nothing_to_read_fold_into_rows_naming_them_and_the_rest_keep_their_row():
    result = _fleet(150)
    doc = lhtml.fromstring(html_report.render(result))
    rows = doc.xpath("//table[@class='matrix']/tbody/tr")
    own = [r.xpath("string(th)") for r in rows if r.get("class") != "folded"]
    troubled = {f["silo"] for f in result["findings"] if f["status"] in ("fail", "unknown") and f["silo"]}
    assert set(own) == troubled | {"(deployment-wide)"}
    folded = [" ".join(r.xpath("string(th)").split()) for r in rows if r.get("class") == "folded"]
    assert folded and sum(int(t.split()[0].replace(",", "")) for t in folded) == 150 - len(troubled)
    assert any("silo-4, silo-5, silo-7, silo-8" in t for t in folded)  # consecutive pairs are named, not ranged
    summary = doc.xpath("//table[@class='access-summary']/tbody/tr")
    assert len(summary) < 10 and "silo-1" in summary[0].xpath("string(th)")  # reached from outside: its own row
    assert sum(int(r.xpath("string(th)").split()[0].replace(",", "")) for r in summary
               if r.get("class") == "folded") == 149
    small = lhtml.fromstring(html_report.render(make_result(25)))
    assert not small.xpath("//tr[@class='folded']")


def test_the_access_summary_marks_red_only_what_the_diagram_draws_red():
    """A path no blocking finding rests on (the orchestrator network's reach into a silo's private endpoint,
    FL-NET-010) is listed as not blocking, not as a red CROSSES cell."""
    from flaudit.paths import Hop, Path

    result = make_result(25)
    target = result["topology"]["silos"][7]["storage"]["id"]
    result["access"].append(Path("network", "silo-7", target, "vnet-orch-id", "orchestrator VNet vnet-orch",
                                 "orchestrator", (Hop("peering to the silo VNet", "ref"),), "FL-NET-010").edge())
    doc = lhtml.fromstring(html_report.render(result))
    rows = {r.xpath("string(th)"): r for r in doc.xpath("//table[@class='access-summary']/tbody/tr")}
    cell = rows["silo-7"].xpath("td")[2]
    assert "s-fail" not in (cell.get("class") or "") and "CROSSES" not in cell.text_content()
    assert "not blocking: orchestrator VNet vnet-orch" in " ".join(cell.text_content().split())
    assert "CROSSES" in rows["silo-1"].xpath("td")[2].text_content()


def test_metadata_lists_versions_digest_unreadable_and_waivers(result):
    doc = lhtml.fromstring(html_report.render(result))
    meta = doc.get_element_by_id("metadata").text_content()
    waived = next(f for f in result["findings"] if f["waiver"])
    link = doc.get_element_by_id("metadata").xpath(".//a/@href")
    assert link == ["#" + html_report.anchor(waived["id"])] and doc.get_element_by_id(link[0][1:]) is not None
    for needle in ("rule pack 2026.11.0", "sha256:" + "ab" * 32, "inventory/fl-deployment.json",
                   "AuthorizationFailed", "waivers.yaml", "applied 1", "secops@example.com", "expired 1",
                   "old exception"):
        assert needle in meta


def test_non_http_reference_is_not_a_link(result):
    result["rules"][0]["references"] = ["javascript:alert(1)"]
    doc = lhtml.fromstring(html_report.render(result))
    assert not doc.xpath("//a[contains(@href, 'javascript')]")
    assert "javascript:alert(1)" in doc.text_content()


def test_large_deployment_shows_a_summary_instead_of_the_diagram():
    doc = lhtml.fromstring(html_report.render(make_result(25)))
    assert doc.xpath("//svg[contains(@class, 'aggregate')]")
    assert len(doc.xpath("//table[@class='access-summary']/tbody/tr")) == 25


# --- in a browser -------------------------------------------------------------------------------------------

@needs_chromium
def test_injected_markup_shows_as_text_and_runs_nothing(hostile_result, tmp_path):
    page = _write(tmp_path, hostile_result)
    loaded = load(CHROMIUM, page, tmp_path)
    assert loaded.console == []
    doc = lhtml.fromstring(loaded.dom)
    assert doc.findtext(".//title") == "flaudit readiness report"
    assert not doc.xpath("//img") and not doc.xpath("//*[@onerror]")
    assert len(doc.xpath("//script")) == 1
    text = doc.text_content()
    assert "silo-1" + XSS_SCRIPT in text and XSS_IMG in text
    shot = screenshot(CHROMIUM, page, tmp_path / "hostile.png", tmp_path)
    assert shot.stat().st_size > 10_000


@needs_chromium
def test_verdict_matrix_and_diagram_are_visible_without_console_errors(result, tmp_path):
    page = _write(tmp_path, result)
    assert load(CHROMIUM, page, tmp_path).console == []
    probed = load(CHROMIUM, _probe_copy(page), tmp_path)
    assert probed.console == []
    state = json.loads(lhtml.fromstring(probed.dom).get_element_by_id("probe").text)
    links = len(lhtml.fromstring(page.read_text()).xpath("//table[@class='matrix']//td/a"))
    assert state == {"verdict": True, "matrix": True, "diagram": True, "links": links}
    assert links == 21  # every cell that has a finding links to it
    screenshot(CHROMIUM, page, tmp_path / "report.png", tmp_path)


@needs_chromium
def test_probe_would_notice_a_hidden_section(result, tmp_path):
    page = _write(tmp_path, result)
    page.write_text(page.read_text().replace("</style>", "table.matrix{display:none}</style>"))
    state = lhtml.fromstring(load(CHROMIUM, _probe_copy(page), tmp_path).dom).get_element_by_id("probe").text
    assert '"matrix":false' in state


@needs_chromium
def test_hostile_names_in_a_real_deployment_show_as_text(hostile_sample, tmp_path):
    assert hostile_sample["summary"]["by_status"]["fail"] > 0
    page = _write(tmp_path, hostile_sample, "hostile-sample.html")
    loaded = load(CHROMIUM, page, tmp_path)
    assert loaded.console == []
    doc = lhtml.fromstring(loaded.dom)
    assert doc.findtext(".//title") == "flaudit readiness report"
    assert not doc.xpath("//img") and not doc.xpath("//*[@onerror]") and len(doc.xpath("//script")) == 1
    matrix_rows = [r.xpath("string(th)") for r in doc.xpath("//table[@class='matrix']/tbody/tr")]
    assert "silo0" + XSS_SCRIPT in matrix_rows
    assert "uai-silo1" + XSS_IMG in doc.text_content()
    screenshot(CHROMIUM, page, tmp_path / "hostile-sample.png", tmp_path)


@needs_chromium
def test_bundled_samples_render_cleanly_and_print(sample_results, tmp_path):
    for name, result in sample_results.items():
        page = _write(tmp_path, result, f"{name}.html")
        loaded = load(CHROMIUM, page, tmp_path)
        assert loaded.console == [], name
        assert "Who can reach each silo" in lhtml.fromstring(loaded.dom).text_content()
    screenshot(CHROMIUM, tmp_path / "eyes-off.html", tmp_path / "eyes-off.png", tmp_path)
    pdf = print_pdf(CHROMIUM, tmp_path / "eyes-off.html", tmp_path / "eyes-off.pdf", tmp_path)
    assert pdf.read_bytes()[:4] == b"%PDF"


@needs_chromium
def test_large_report_loads_without_console_errors(tmp_path):
    page = _write(tmp_path, make_result(60), "big.html")
    assert load(CHROMIUM, page, tmp_path).console == []


def test_snapshot_metadata_of_any_shape_reads_as_text():
    assert html_report.describe({"name": "flaudit", "version": "0.1.0"}) == "flaudit 0.1.0"
    assert html_report.describe({"subscriptions": ["s1", "s2"], "resource_groups": [], "note": None}) == \
        "subscriptions: s1, s2"
    assert html_report.describe("sub/x") == "sub/x"


@needs_chromium
def test_a_matrix_link_to_a_passed_check_opens_its_collapsed_section(result, tmp_path):
    page = _write(tmp_path, result)
    static = lhtml.fromstring(page.read_text(encoding="utf-8"))
    row = next(r for r in static.xpath("//table[@class='matrix']/tbody/tr") if r.xpath("string(th)") == "silo-0")
    href = row.xpath("td[contains(@class, 's-pass')]/a/@href")[0]
    assert static.get_element_by_id(href[1:]).xpath("ancestor::details[not(@open)]")
    loaded = load(CHROMIUM, page, tmp_path, fragment=href[1:])
    assert loaded.console == []
    details = lhtml.fromstring(loaded.dom).get_element_by_id(href[1:]).xpath("ancestor::details")[0]
    assert details.get("open") is not None


def test_at_fleet_size_hostile_names_in_ranges_and_folded_rows_show_as_text():
    result = _fleet(150)
    hostile = "silo-40" + XSS_SCRIPT  # a quiet silo: named only in folded rows and per-rule silo lists
    for f in result["findings"] + result["access"] + result["network_paths"]:
        if f.get("silo") == "silo-40":
            f["silo"] = hostile
    result["topology"]["silos"][40]["name"] = hostile
    text = html_report.render(result)
    assert XSS_SCRIPT not in text and text.count("<script") == 1
    doc = lhtml.fromstring(text)
    folded = " ".join(r.text_content() for r in doc.xpath("//tr[@class='folded']"))
    assert hostile in folded
    assert hostile in doc.get_element_by_id(html_report.pass_group_anchor("FL-ST-001")).text_content()


@needs_chromium
def test_a_fleet_report_loads_cleanly_and_a_pass_cell_opens_its_rule_group(tmp_path):
    page = _write(tmp_path, _fleet(300), "fleet.html")
    static = lhtml.fromstring(page.read_text(encoding="utf-8"))
    folded = static.xpath("//table[@class='matrix']/tbody/tr[@class='folded']")[0]
    href = folded.xpath("td[contains(@class, 's-pass')]/a/@href")[0]
    target = static.get_element_by_id(href[1:])
    assert target.xpath("ancestor-or-self::details[not(@open)]")
    row = next(r for r in static.xpath("//table[@class='matrix']/tbody/tr") if r.xpath("string(th)") == "silo-6")
    pass_href = row.xpath("td[contains(@class, 's-pass')]/a/@href")[0]
    assert pass_href[1:].startswith("pass-")  # a passed cell of a listed silo links to its rule's group
    loaded = load(CHROMIUM, page, tmp_path, fragment=pass_href[1:])
    assert loaded.console == []
    group = lhtml.fromstring(loaded.dom).get_element_by_id(pass_href[1:])
    assert group.xpath("ancestor::details")[0].get("open") is not None
    screenshot(CHROMIUM, page, tmp_path / "fleet.png", tmp_path)
