"""JUnit XML: schema-valid, one suite per area, status mapped to failure / error / skipped."""

from __future__ import annotations

from pathlib import Path

import pytest
from flaudit.reports import junit
from lxml import etree
from synthetic import XSS_IMG, make_result

XSD = Path(__file__).with_name("junit-10.xsd")


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(XSD)))


def _doc(result) -> etree._Element:
    return etree.fromstring(junit.render(result).encode("utf-8"))


def test_junit_validates_against_the_junit_schema(schema, result, hostile_result, ready_result):
    for r in (result, hostile_result, ready_result, make_result(25)):
        doc = _doc(r)
        assert schema.validate(doc), schema.error_log.last_error


def test_schema_rejects_a_testcase_without_name(schema, result):
    doc = _doc(result)
    del doc.find(".//testcase").attrib["name"]
    assert not schema.validate(doc)


def test_one_suite_per_area_and_one_case_per_finding(result):
    doc = _doc(result)
    suites = {s.get("name"): s for s in doc.findall("testsuite")}
    assert set(suites) == {f["area"] for f in result["findings"]}
    assert int(doc.get("tests")) == len(result["findings"])
    for name, suite in suites.items():
        cases = suite.findall("testcase")
        assert len(cases) == int(suite.get("tests")) == sum(1 for f in result["findings"] if f["area"] == name)
        assert all(c.get("classname") == f"flaudit.{name}" for c in cases)
    names = [c.get("name") for c in doc.iter("testcase")]
    assert len(names) == len(set(names))


def test_fail_unknown_waived_map_to_failure_error_skipped(result):
    doc = _doc(result)
    ident = next(c for c in doc.iter("testcase") if c.get("name").startswith("FL-ID-001 stsilo1"))
    failure = ident.find("failure")
    assert failure is not None and "Storage Blob Data Reader" in failure.text
    unknown = next(c for c in doc.iter("testcase") if c.get("name").startswith("FL-NET-001 training"))
    assert unknown.find("error") is not None
    assert unknown.find("error").get("message").startswith("could not be evaluated")
    waived = next(c for c in doc.iter("testcase") if c.get("name").startswith("FL-PE-001 stsilo3"))
    assert waived.find("failure") is None
    assert "Migration until 2027-01" in waived.find("skipped").get("message")
    suite = next(s for s in doc.findall("testsuite") if s.get("name") == "private-endpoints")
    assert suite.get("skipped") == "1" and suite.get("failures") == "1"


def test_not_applicable_is_skipped_with_its_reason(result):
    result["findings"][0]["status"] = "not_applicable"
    result["findings"][0]["message"] = "No NSG on a managed VNet."
    doc = _doc(result)
    skipped = [s.get("message") for s in doc.iter("skipped")]
    assert "not applicable: No NSG on a managed VNet." in skipped


def test_hostile_names_stay_text(hostile_result):
    text = junit.render(hostile_result)
    assert "<img" not in text
    doc = etree.fromstring(text.encode())
    assert any(XSS_IMG in (c.get("name") or "") for c in doc.iter("testcase"))


def test_only_findings_blocking_the_gated_profile_fail_and_the_rest_are_reported(sample_results):
    result = sample_results["eyes-off"]
    doc = _doc(result)
    blocking = set(result["verdict"]["production"]["blocking"])
    problems = [f for f in result["findings"] if f["status"] in ("fail", "unknown") and not f["waiver"]]
    assert len(problems) > len(blocking)  # eyes-off has non-blocking (info, low) failures too
    assert int(doc.get("failures")) + int(doc.get("errors")) == len(blocking)
    reported = [c for c in doc.iter("testcase") if c.find("system-out") is not None]
    assert len(reported) == len(problems) - len(blocking)
    assert all(c.find("failure") is None and "does not block production" in c.findtext("system-out")
               for c in reported)
    as_prototype = dict(result, profile="prototype")  # eyes-off is ready for prototype: nothing fails
    assert _doc(as_prototype).get("failures") == "0"
