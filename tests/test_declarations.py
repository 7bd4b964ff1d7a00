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
          "--format", "json,html,markdown,terminal", "-o", str(out), "-q"])
    result = json.loads((out / "flaudit-report.json").read_text())
    assert result["declarations"]["applied"]
    for name in ("flaudit-report.html", "flaudit-report.md"):
        text = (out / name).read_text()
        assert "Declared by external silo owners (not verified)" in text and "ciso@partner.example" in text, name


def test_terminal_shows_declarations_apart():
    from flaudit.reports.terminal import render

    result = _audit(_doc([_decl()]))
    text = render(result, width=200)
    assert "Declared by external silo owners (not verified)" in text
    assert "DECLARED APPLIED FL-NET-005 silo silo1" in text
