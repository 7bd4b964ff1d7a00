"""Azure Lighthouse delegations collected live: registration assignments are listed (GET, definition expanded)
at every subscription and at every resource group holding storage or identities, in the exact shape of
GetRegistrationAssignments.json; a list that cannot be read (403) leaves the access it could grant unknown."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from flaudit.audit import run_audit
from flaudit.config import parse_config
from flaudit.samples import generate
from flaudit.sources.live.collect import collect, make_scope
from tests.lighthouse_fixtures import CONTRIBUTOR, MANAGING_TENANT, authorization, registration_assignment
from tests.live.conftest import SUB
from tests.live.fakearm import FakeArm, FakeCredential, arm_error
from tests.support import findings, statuses, storage

SUB2 = "9d4c1e2f-7a6b-4c3d-8e9f-0a1b2c3d4e5f"
LIST = "providers/Microsoft.ManagedServices/registrationAssignments"


def _two_subscriptions() -> tuple[list[dict], dict, dict]:
    """The hardened sample with silo2's storage account in a second subscription whose resource group the
    managing tenant's Contributor is delegated (a resource-group registration assignment)."""
    res = generate.Builder("hardened", 3).build()
    old = storage(res, "silo2")["id"]
    res = json.loads(json.dumps(res).replace(old, old.replace(f"/subscriptions/{SUB}/", f"/subscriptions/{SUB2}/")))
    delegation = registration_assignment(f"/subscriptions/{SUB2}/resourceGroups/{generate.RG}",
                                         [authorization(CONTRIBUTOR)])
    doc = generate.fl_config(3)
    doc["federated_learning"]["silos"][2].update(subscription_id=SUB2, resource_group_name=generate.RG)
    return res + [delegation], delegation, doc


def _lighthouse_requests(fake: FakeArm) -> list[tuple[str, dict]]:
    out = []
    for method, url in fake.served:
        parts = urlsplit(url)
        if parts.path.lower().endswith(LIST.lower()):
            assert method == "GET"
            out.append((parts.path.lower(), {k.lower(): v[0] for k, v in parse_qs(parts.query).items()}))
    return out


def test_two_subscription_deployment_collects_a_resource_group_delegation_in_the_rest_shape(rsps, retry):
    res, delegation, doc = _two_subscriptions()
    fake = FakeArm(res, [SUB, SUB2]).register(rsps)
    inv = collect(make_scope([SUB, SUB2]), credential=FakeCredential(), retry=retry)
    assert inv.unreadable == []
    assert inv.get(delegation["id"]) == delegation  # stored exactly as ARM lists it, definition expanded
    asked = _lighthouse_requests(fake)
    assert {p for p, _ in asked} == {f"/subscriptions/{s}/{LIST}".lower() for s in (SUB, SUB2)} | {
        f"/subscriptions/{s}/resourcegroups/{generate.RG}/{LIST}".lower() for s in (SUB, SUB2)}
    assert all(q.get("$expandregistrationdefinition") == "true" and q.get("api-version") == "2022-10-01"
               for _, q in asked)
    result = run_audit(inv, parse_config(doc, "fl.yaml"), generated_at="2026-11-30T00:00:00+00:00")
    [f] = findings(result, "FL-WS-001", silo="silo2", status="fail")
    assert MANAGING_TENANT in f["message"] and "Azure Lighthouse" in f["message"]
    assert statuses(result, "FL-WS-001", silo="silo0") == {"pass"}  # the other subscription is not delegated


def test_resource_group_narrowed_collection_still_lists_the_subscription_delegations(rsps, retry):
    res = generate.Builder("hardened", 3).build()
    delegation = registration_assignment(f"/subscriptions/{SUB}", [authorization(CONTRIBUTOR)])
    fake = FakeArm(res + [delegation], [SUB]).register(rsps)
    inv = collect(make_scope([SUB], [generate.RG]), credential=FakeCredential(), retry=retry)
    assert inv.get(delegation["id"]) == delegation
    assert {p for p, _ in _lighthouse_requests(fake)} == {
        f"/subscriptions/{SUB}/{LIST}".lower(), f"/subscriptions/{SUB}/resourcegroups/{generate.RG}/{LIST}".lower()}


def test_a_forbidden_registration_assignment_list_is_unreadable_and_silo_access_unknown_not_pass(rsps, retry):
    res = generate.Builder("hardened", 3).build()
    fake = FakeArm(res, [SUB])
    denied = arm_error(403, "AuthorizationFailed", "The client does not have authorization to perform action "
                       "'Microsoft.ManagedServices/registrationAssignments/read'")
    fake.queue(f"/subscriptions/{SUB}/{LIST}", denied)
    fake.register(rsps)
    inv = collect(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    [u] = inv.unreadable
    assert (u.scope, u.resource_type, u.status) == (f"/subscriptions/{SUB}",
                                                   "Microsoft.ManagedServices/registrationAssignments", 403)
    result = run_audit(inv, parse_config(generate.fl_config(3), "fl.yaml"), generated_at="2026-11-30T00:00:00+00:00")
    for silo in ("silo0", "silo1", "silo2"):
        assert statuses(result, "FL-WS-001", silo=silo) == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def test_fleet_mode_reads_lighthouse_delegations_with_arm_at_the_subscription_and_its_resource_groups(rsps, retry):
    from flaudit.arm import norm
    from flaudit.sources.live.graph import collect_fleet

    res = generate.Builder("hardened", 3).build()
    delegation = registration_assignment(f"/subscriptions/{SUB}/resourceGroups/{generate.RG}",
                                         [authorization(CONTRIBUTOR)])
    fake = FakeArm(res + [delegation], [SUB]).register(rsps)
    inv = collect_fleet(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    assert inv.get(delegation["id"]) == delegation
    assert inv.metadata["provenance"][norm(delegation["id"])] == "live"
    assert {p for p, _ in _lighthouse_requests(fake)} == {
        f"/subscriptions/{SUB}/{LIST}".lower(), f"/subscriptions/{SUB}/resourcegroups/{generate.RG}/{LIST}".lower()}


def test_offline_scan_of_a_snapshot_with_a_delegation_gives_the_live_scan_findings(rsps, monkeypatch, sleeps, tmp_path):
    import yaml

    import flaudit.sources.live.clients as clients_mod
    import flaudit.sources.live.collect as collect_mod
    from flaudit.cli import main
    from flaudit.sources.live.clients import RetrySettings

    res = generate.Builder("hardened", 3).build() + [
        registration_assignment(f"/subscriptions/{SUB}/resourceGroups/{generate.RG}", [authorization(CONTRIBUTOR)])]
    FakeArm(res, [SUB]).register(rsps)
    monkeypatch.setattr(collect_mod, "make_credential", lambda tenant=None, cloud=None: FakeCredential())
    monkeypatch.setattr(clients_mod, "RetrySettings", lambda: RetrySettings(sleep=sleeps.append))
    cfg = tmp_path / "fl.yaml"
    cfg.write_text(yaml.safe_dump(generate.fl_config(3)))
    snap, live_json, offline_json = tmp_path / "snap.json", tmp_path / "live.json", tmp_path / "offline.json"
    assert main(["scan", "--subscription", SUB, "--config", str(cfg), "--save-snapshot", str(snap), "--format",
                 "json", "--output", str(live_json), "--quiet"]) == 1
    assert main(["scan", "--input", str(snap), "--config", str(cfg), "--format", "json", "--output",
                 str(offline_json), "--quiet"]) == 1
    live_doc, offline_doc = json.loads(live_json.read_text()), json.loads(offline_json.read_text())
    def key(doc: dict) -> list[tuple]:  # as tests/live/test_cli_live.py compares them (locations differ)
        return [(f["id"], f["status"], f["message"]) for f in doc["findings"]]

    assert key(live_doc) == key(offline_doc)
    assert any(f["rule_id"] == "FL-WS-001" and f["status"] == "fail" and MANAGING_TENANT in f["message"]
               for f in offline_doc["findings"])
