"""Waivers: applied where they must show, expired, stale and malformed ones reported or rejected."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import yaml

from flaudit.cli import main
from flaudit.errors import InputError
from flaudit.waivers import parse_waivers
from tests import support

TODAY = dt.date(2026, 11, 30)


def _eyes_off_blocking_rule() -> tuple[dict, dict]:
    """A blocking production finding of the eyes-off sample to waive, and the result it came from."""
    result = support.audit(support.sample_resources("eyes-off"))
    blocking = [f for f in result["findings"] if f["id"] in result["verdict"]["production"]["blocking"]]
    return blocking[0], result


def _waiver(**over) -> dict:
    w = {"rule": "FL-TOP-002", "silo": "silo0", "reason": "accepted for the pilot (RISK-7)",
         "owner": "alice@contoso.com", "expires": "2026-12-31"}
    w.update(over)
    return w


def test_a_waived_finding_keeps_its_status_and_stops_blocking():
    target, before = _eyes_off_blocking_rule()
    ws = parse_waivers({"waivers": [_waiver(rule=target["rule_id"], silo=None, resource=target["resource_id"])]},
                       "w.yaml", today=TODAY)
    from flaudit.audit import run_audit

    after = run_audit(support.inventory(support.sample_resources("eyes-off")), support.config(), waivers=ws,
                      today=TODAY)
    f = next(x for x in after["findings"] if x["id"] == target["id"])
    assert f["status"] == target["status"] and f["waiver"]["owner"] == "alice@contoso.com"
    assert target["id"] in before["verdict"]["production"]["blocking"]
    assert target["id"] not in after["verdict"]["production"]["blocking"]
    assert after["waivers"]["applied"][0]["findings"] == [target["id"]]
    assert after["summary"]["waived"] >= 1


def test_resource_globs_and_silo_match_case_insensitively():
    from flaudit.findings import Fail

    f = Fail("/subscriptions/S/resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/stsilo1", "m",
             silo="silo1")
    f.rule_id = "FL-PE-001"
    ws = parse_waivers({"waivers": [_waiver(rule="fl-pe-001", silo=None,
                                            resource="/subscriptions/*/resourcegroups/rg/*/storageaccounts/stsilo*")]},
                       "w", today=TODAY)
    assert ws.waivers[0].matches(f)
    ws2 = parse_waivers({"waivers": [_waiver(rule="FL-PE-001", silo="SILO2")]}, "w", today=TODAY)
    assert not ws2.waivers[0].matches(f)


def test_expired_waivers_stop_applying_and_are_reported():
    target, _ = _eyes_off_blocking_rule()
    ws = parse_waivers({"waivers": [_waiver(rule=target["rule_id"], silo=None, resource=target["resource_id"],
                                            expires="2026-11-29")]}, "w", today=TODAY)
    from flaudit.audit import run_audit

    after = run_audit(support.inventory(support.sample_resources("eyes-off")), support.config(), waivers=ws,
                      today=TODAY)
    assert target["id"] in after["verdict"]["production"]["blocking"]
    assert after["waivers"]["expired"][0]["expires"] == "2026-11-29"
    assert not after["waivers"]["applied"]


def test_a_waiver_that_matches_nothing_is_stale():
    ws = parse_waivers({"waivers": [_waiver(rule="FL-NET-002")]}, "w", today=TODAY)  # hardened passes it
    from flaudit.audit import run_audit

    after = run_audit(support.inventory(support.sample_resources("hardened")), support.config(), waivers=ws,
                      today=TODAY)
    assert [w["rule"] for w in after["waivers"]["stale"]] == ["FL-NET-002"]


@pytest.mark.parametrize("entry, message", [
    ({"rule": "FL-NET-0002"}, r"w.yaml: waiver 1 \(FL-NET-0002, silo silo0\): rule FL-NET-0002 does not exist "
                              r"in the rule pack \(did you mean FL-NET-002\?\)"),
    ({"silo": "silo9"}, r"waiver 1 \(FL-TOP-002, silo silo9\): silo silo9 is not in the deployment's topology"),
])
def test_a_waiver_for_a_rule_or_silo_that_does_not_exist_is_an_input_error(entry, message):
    from flaudit.audit import run_audit

    ws = parse_waivers({"waivers": [_waiver(**entry)]}, "w.yaml", today=TODAY)
    with pytest.raises(InputError, match=message):
        run_audit(support.inventory(support.sample_resources("hardened")), support.config(), waivers=ws,
                  today=TODAY)


@pytest.mark.parametrize("entry, message", [
    ({"reason": None}, "'reason' is required"),
    ({"owner": ""}, "'owner' is required"),
    ({"expires": None}, "'expires' is required"),
    ({"expires": "next year"}, "must be a date"),
    ({"expires": "2027-06-01"}, "more than 90 days away"),
    ({"silo": None}, "name a 'resource'"),
    ({"colour": "red"}, "unknown key"),
])
def test_malformed_waivers_are_input_errors(entry, message):
    with pytest.raises(InputError, match=message):
        parse_waivers({"waivers": [_waiver(**entry)]}, "w.yaml", today=TODAY)


def test_the_maximum_expiry_is_configurable():
    parse_waivers({"waivers": [_waiver(expires="2027-06-01")]}, "w", today=TODAY, max_days=365)


def test_waivers_through_the_cli_exit_2_when_malformed(tmp_path, capsys):
    bad = tmp_path / "w.yaml"
    bad.write_text(yaml.safe_dump({"waivers": [{"rule": "FL-TOP-001", "silo": "silo0"}]}))
    assert main(["scan", "--sample", "hardened", "--waivers", str(bad), "-q"]) == 2
    assert "'reason' is required" in capsys.readouterr().err


def test_waived_findings_show_in_every_output(tmp_path):
    target, _ = _eyes_off_blocking_rule()
    wfile = tmp_path / "w.yaml"
    expires = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    wfile.write_text(yaml.safe_dump({"waivers": [_waiver(rule=target["rule_id"], silo=None,
                                                         resource=target["resource_id"], expires=expires)]}))
    out = tmp_path / "out"
    formats = "json,sarif,junit,html,markdown"
    main(["scan", "--sample", "eyes-off", "--waivers", str(wfile), "--format", formats, "-o", str(out)])
    result = json.loads((out / "flaudit-report.json").read_text())
    assert result["waivers"]["applied"]
    sarif = json.loads((out / "flaudit-report.sarif").read_text())
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert suppressed and suppressed[0]["suppressions"][0]["kind"] == "external"
    assert "accepted for the pilot" in suppressed[0]["suppressions"][0]["justification"]
    junit = (out / "flaudit-report.xml").read_text()
    assert "<skipped" in junit and "accepted for the pilot" in junit
    assert "waived" in (out / "flaudit-report.html").read_text().lower()
    assert "waived" in (out / "flaudit-report.md").read_text().lower()
