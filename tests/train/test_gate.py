"""The gate's decision from result dicts built per the result contract."""

from __future__ import annotations

import pytest

from flaudit.errors import InputError
from flaudit.train.gate import blocking_lines, decide, refusal_record

from .conftest import finding, make_result


def test_ready_verdict_opens_the_gate():
    d = decide(make_result("ready", input_sha="a" * 64, waivers=[{"match": "x", "reason": "r"}]), "production")
    assert d.ready and d.status == "ready"
    assert d.input_sha256 == "a" * 64
    assert d.waivers == [{"match": "x", "reason": "r"}]
    assert len(d.result_sha256) == 64


@pytest.mark.parametrize("status", ["not_ready", "unknown"])
def test_not_ready_and_unknown_both_refuse_and_list_blocking_findings(status):
    d = decide(make_result(status), "production")
    assert not d.ready
    assert [f["id"] for f in d.blocking] == ["FL-NET-001:aaaaaaaaaaaa"]
    lines = blocking_lines(d)
    assert status in lines[0] and "FL-NET-001" in lines[1] and "[silo1]" in lines[1]


def test_ready_with_blocking_ids_is_treated_as_unknown():
    r = make_result("ready")
    r["findings"].append(finding("FL-X:cccccccccccc"))
    r["verdict"]["production"]["blocking"] = ["FL-X:cccccccccccc"]
    d = decide(r, "production")
    assert d.status == "unknown" and not d.ready


def test_saved_result_of_another_inventory_is_stale():
    d = decide(make_result("ready", input_sha="a" * 64), "production", source="saved-result",
               inventory_sha256="b" * 64)
    assert d.status == "stale" and not d.ready
    assert "aaaaaaaaaaaa" in d.reason and "bbbbbbbbbbbb" in d.reason


def test_saved_result_from_another_rule_pack_is_stale():
    d = decide(make_result("ready", rule_pack="1999.1.0"), "production", source="saved-result",
               inventory_sha256="0" * 64)
    assert d.status == "stale" and "1999.1.0" in d.reason


def test_saved_result_matching_inventory_and_rule_pack_is_ready():
    d = decide(make_result("ready"), "production", source="saved-result", inventory_sha256="0" * 64)
    assert d.ready


@pytest.mark.parametrize("mutate", [
    lambda r: r.pop("verdict"),
    lambda r: r.update(schema_version="2.0"),
    lambda r: r["input"].pop("sha256"),
    lambda r: r["verdict"]["production"].update(status="maybe"),
])
def test_unreadable_results_are_input_errors_not_passes(mutate):
    r = make_result("ready")
    mutate(r)
    with pytest.raises(InputError):
        decide(r, "production")


def test_blocking_id_without_its_finding_is_an_input_error():
    r = make_result("not_ready")
    r["verdict"]["production"]["blocking"].append("FL-GONE:dddddddddddd")
    with pytest.raises(InputError):
        decide(r, "production")


def test_refusal_record_names_the_blocking_findings_and_digests():
    d = decide(make_result("not_ready", input_sha="e" * 64), "production")
    rec = refusal_record(d, "2026-11-30T06:00:00+00:00")
    assert rec["status"] == "not_ready" and rec["input_sha256"] == "e" * 64
    assert rec["blocking"][0]["rule_id"] == "FL-NET-001"
    assert rec["audit_result_sha256"] == d.result_sha256


@pytest.mark.parametrize("kw,expect", [
    ({"config_sha256": "e" * 64}, "audited FL config cccccccccccc, but the config given is eeeeeeeeeeee"),
    ({"topology_sha256": "f" * 64}, "resolved topology dddddddddddd"),
])
def test_saved_result_of_another_config_or_topology_is_stale(kw, expect):
    d = decide(make_result("ready"), "production", source="saved-result", inventory_sha256="0" * 64,
               **{"config_sha256": "c" * 64, "topology_sha256": "d" * 64, **kw})
    assert d.status == "stale" and expect in d.reason


def test_saved_result_without_config_and_topology_digests_is_stale():
    d = decide(make_result("ready", config_sha=None), "production", source="saved-result",
               inventory_sha256="0" * 64, config_sha256="c" * 64, topology_sha256="d" * 64)
    assert d.status == "stale" and "records no FL config or topology digest" in d.reason
