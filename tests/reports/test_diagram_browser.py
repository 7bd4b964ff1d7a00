"""The access diagram as a browser paints it: every blocking class of eyes-off is red, nothing in hardened is."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from browser import find_chromium, load, screenshot
from flaudit.reports import html as html_report
from lxml import html as lhtml
from synthetic import make_result

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="!!! CHROMIUM NOT FOUND: the diagram was NOT checked in a browser (apt-get install -y chromium) !!!")
RED = "rgb(179, 38, 30)"  # --fail

#: For each rule id on a red-classed diagram element: is something in it painted red (computed fill or stroke)?
#: And every element of the diagram that is painted red at all, so "no red in hardened" is a rendering fact.
PROBE = """
(function(){
  var RED='__RED__', svg=document.querySelector('svg.access-diagram'), rules={}, painted=0;
  function red(e){var s=getComputedStyle(e); return s.fill===RED || s.stroke===RED;}
  svg.querySelectorAll('*').forEach(function(e){ if(!e.closest('defs') && red(e)) painted++; });
  svg.querySelectorAll('[data-rules]').forEach(function(g){
    var any=red(g); g.querySelectorAll('*').forEach(function(e){ any = any || red(e); });
    g.getAttribute('data-rules').split(' ').forEach(function(r){ rules[r] = rules[r] || any; });
  });
  var p=document.createElement('pre'); p.id='probe'; p.textContent=JSON.stringify({rules:rules, painted:painted});
  document.body.appendChild(p);
})();
""".replace("__RED__", RED)


def _probe(result: dict, tmp_path: Path, name: str) -> dict:
    page = tmp_path / f"{name}.html"
    text = html_report.render(result)
    digest = base64.b64encode(hashlib.sha256(PROBE.encode()).digest()).decode()
    text = text.replace("script-src &#39;sha256-", f"script-src &#39;sha256-{digest}&#39; &#39;sha256-", 1)
    page.write_text(text.replace("</body>", f"<script>{PROBE}</script></body>"), encoding="utf-8")
    loaded = load(CHROMIUM, page, tmp_path)
    assert loaded.console == []
    return json.loads(lhtml.fromstring(loaded.dom).get_element_by_id("probe").text)


@needs_chromium
def test_every_blocking_rule_of_eyes_off_is_painted_red_and_hardened_has_no_red(sample_results, tmp_path):
    eyes_off = sample_results["eyes-off"]
    blocking = {f["rule_id"] for f in eyes_off["findings"] if f["id"] in eyes_off["verdict"]["production"]["blocking"]}
    assert {"FL-ID-008", "FL-NET-002", "FL-NET-005", "FL-PE-006", "FL-WSH-001"} <= blocking
    state = _probe(eyes_off, tmp_path, "eyes-off")
    assert {r for r, red in state["rules"].items() if red} >= blocking
    hardened = _probe(sample_results["hardened"], tmp_path, "hardened")
    assert hardened == {"rules": {}, "painted": 0}


@needs_chromium
@pytest.mark.parametrize("silos", [3, 30, 300])
def test_the_diagram_renders_at_3_30_and_300_silos(silos, tmp_path):
    page = tmp_path / f"r{silos}.html"
    page.write_text(html_report.render(make_result(silos)), encoding="utf-8")
    loaded = load(CHROMIUM, page, tmp_path)
    assert loaded.console == []
    doc = lhtml.fromstring(loaded.dom)
    svg = doc.xpath("//svg[contains(@class, 'access-diagram')]")[0]
    assert ("aggregate" in svg.get("class")) == (silos > 20)
    assert screenshot(CHROMIUM, page, tmp_path / f"r{silos}.png", tmp_path).stat().st_size > 10_000
