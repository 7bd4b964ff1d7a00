"""Silos in other subscriptions and tenants: every scope the FL config names is collected through the mocked ARM,
one credential per tenant; a tenant that cannot be read is unreadable (and its silo unknown), never skipped."""

from __future__ import annotations

import json

import pytest
from azure.core.exceptions import ClientAuthenticationError

from flaudit.audit import run_audit
from flaudit.config import parse_config
from flaudit.errors import CollectionError, InputError
from flaudit.samples import generate
from flaudit.sources.live.scopes import collect_config_scopes, config_scopes
from tests.live.conftest import SUB
from tests.live.fakearm import FakeArm, FakeCredential, arm_unreadable
from tests.support import statuses, storage

SUB2 = "9d4c1e2f-7a6b-4c3d-8e9f-0a1b2c3d4e5f"
TENANT_A = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TENANT_B = "3c2b1a09-8f7e-4d6c-9b5a-1e2f3a4b5c6d"


def _two_tenants() -> tuple[list[dict], dict]:
    """The hardened sample with silo2's storage account in a subscription of another tenant."""
    res = generate.Builder("hardened", 3).build()
    old = storage(res, "silo2")["id"]
    new = old.replace(f"/subscriptions/{SUB}/", f"/subscriptions/{SUB2}/")
    res = json.loads(json.dumps(res).replace(old, new))
    doc = generate.fl_config(3)
    doc["aml"]["tenant_id"] = TENANT_A
    doc["federated_learning"]["silos"][2].update(subscription_id=SUB2, resource_group_name=generate.RG,
                                                 tenant_id=TENANT_B)
    return res, doc


def test_config_scopes_group_by_tenant_and_subscription():
    _, doc = _two_tenants()
    scopes = config_scopes(parse_config(doc, "fl.yaml"))
    assert {(s.tenant, s.subscription, s.resource_groups) for s in scopes} == {
        (TENANT_A, SUB, (generate.RG,)), (TENANT_B, SUB2, (generate.RG,))}


def _collect_each_tenant(rsps, retry, **options):
    """Collect the two-tenant deployment, one fake credential per tenant; check what any such collection must
    give (each tenant asked once, everything read, the tenants recorded, silo2 placed) and return the
    inventory."""
    res, doc = _two_tenants()
    FakeArm(res, [SUB, SUB2]).register(rsps)
    asked: list[str | None] = []

    def credential_for(tenant):
        asked.append(tenant)
        return FakeCredential()

    cfg = parse_config(doc, "fl.yaml")
    inv = collect_config_scopes(cfg, credential_for=credential_for, retry=retry, **options)
    assert sorted(asked) == sorted([TENANT_A, TENANT_B])
    assert arm_unreadable(inv) == []
    assert inv.get(storage(res, "silo2")["id"]) is not None
    assert inv.metadata["tenants"] == {TENANT_A: [SUB], TENANT_B: [SUB2]}
    result = run_audit(inv, cfg, generated_at="2026-11-30T00:00:00+00:00")
    assert statuses(result, "FL-TOP-003", silo="silo2") == {"pass"}
    return inv


def test_two_tenant_deployment_is_collected_with_one_credential_per_tenant(rsps, retry):
    _collect_each_tenant(rsps, retry)


def _tenant_b_refused(tenant):
    """Tenant B's credential refuses every token (a guest account the tenant does not admit)."""
    return FakeCredential(ClientAuthenticationError("AADSTS700016: no guest access")) if tenant == TENANT_B \
        else FakeCredential()


def test_a_tenant_that_cannot_be_read_is_unreadable_not_skipped(rsps, retry):
    res, doc = _two_tenants()
    FakeArm(res, [SUB, SUB2]).register(rsps)

    cfg = parse_config(doc, "fl.yaml")
    inv = collect_config_scopes(cfg, credential_for=_tenant_b_refused, retry=retry)
    [u] = inv.unreadable
    assert (u.scope, u.resource_type) == (f"/subscriptions/{SUB2}", "*")
    assert TENANT_B in u.message
    result = run_audit(inv, cfg, generated_at="2026-11-30T00:00:00+00:00")
    assert result["verdict"]["production"]["status"] != "ready"
    assert "pass" not in statuses(result, "FL-PE-001", silo="silo2")
    assert statuses(result, "FL-TOP-003", silo="silo1") == {"pass"}  # the readable tenant was still read


def test_nothing_readable_in_any_tenant_is_a_collection_error(rsps, retry):
    res, doc = _two_tenants()
    FakeArm(res, [SUB, SUB2]).register(rsps)
    with pytest.raises(CollectionError, match="nothing could be read in any scope"):
        collect_config_scopes(parse_config(doc, "fl.yaml"), retry=retry,
                              credential_for=lambda t: FakeCredential(ClientAuthenticationError("expired")))


def test_silo_tenant_without_its_subscription_is_an_input_error():
    _, doc = _two_tenants()
    del doc["federated_learning"]["silos"][2]["subscription_id"]
    with pytest.raises(InputError, match="tenant_id needs"):
        parse_config(doc, "fl.yaml")


def _collected_two_tenants(rsps, retry, res, doc):
    fake = FakeArm(res, [SUB, SUB2])
    fake.gets[f"/subscriptions/{SUB2}".lower()]["tenantId"] = TENANT_B  # what ARM says of the silo's subscription
    fake.register(rsps)
    cfg = parse_config(doc, "fl.yaml")
    return run_audit(collect_config_scopes(cfg, credential_for=lambda t: FakeCredential(), retry=retry), cfg,
                     generated_at="2026-11-30T00:00:00+00:00")


def test_private_endpoint_approved_across_tenants_fails(rsps, retry):
    res, doc = _two_tenants()  # silo2's endpoint sits in vnet-silo2 of the orchestrator's subscription (tenant A)
    result = _collected_two_tenants(rsps, retry, res, doc)
    assert statuses(result, "FL-XT-001", silo="silo2") == {"fail"}
    assert statuses(result, "FL-XT-001", silo="silo1") == {"pass"}


def test_role_for_the_orchestrators_identity_across_tenants_is_reported(rsps, retry):
    from tests.support import principal, role_assignment

    res, doc = _two_tenants()
    st = storage(res, "silo2")
    res.append(role_assignment(st["id"], "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", principal(res, "uai-orchestrator")))
    result = _collected_two_tenants(rsps, retry, res, doc)
    f = [x for x in result["findings"] if x["rule_id"] == "FL-XT-002" and x["silo"] == "silo2"]
    assert [x["status"] for x in f] == ["fail"] and "orchestrator" in f[0]["message"]
    assert f[0]["blocks"] == []  # a fact to review; FL-WS-*/FL-ID-* judge the access itself
    assert statuses(result, "FL-XT-002", silo="silo1") == {"pass"}


def test_without_tenants_in_the_input_cross_tenant_endpoints_are_unknown_not_pass():
    from tests.support import audit

    res, _ = _two_tenants()  # no subscription resources, no tenant_id in the config
    assert statuses(audit(res), "FL-XT-001", silo="silo2") == {"unknown"}


@pytest.mark.parametrize("fleet", [False, True], ids=["arm", "resource-graph"])
def test_collect_cli_reads_every_tenant_the_config_names(rsps, monkeypatch, tmp_path, sleeps, fleet):
    """One credential per tenant the config names; in fleet mode each Resource Graph query covers one tenant's
    subscriptions only."""
    import yaml

    import flaudit.sources.live.clients as clients_mod
    import flaudit.sources.live.collect as collect_mod
    from flaudit.cli import main
    from flaudit.sources.live.clients import RetrySettings

    res, doc = _two_tenants()
    FakeArm(res, [SUB, SUB2]).register(rsps)
    tenants: list[str | None] = []

    def make_credential(tenant=None, cloud=None):
        tenants.append(tenant)
        return FakeCredential()

    monkeypatch.setattr(collect_mod, "make_credential", make_credential)
    monkeypatch.setattr(clients_mod, "RetrySettings", lambda: RetrySettings(sleep=sleeps.append))
    (tmp_path / "fl.yaml").write_text(yaml.safe_dump(doc))
    out = tmp_path / "snap.json"
    args = ["collect", "--config", str(tmp_path / "fl.yaml"), "-o", str(out), "-q"]
    assert main(args + (["--resource-graph"] if fleet else [])) == 0
    assert sorted(tenants) == sorted([TENANT_A, TENANT_B])
    snap = json.loads(out.read_text())
    assert storage(res, "silo2")["id"] in {r["id"] for r in snap["resources"]}
    if fleet:
        assert {tuple(sorted(s.lower() for s in b.get("subscriptions") or [])) for b in _graph_bodies(rsps)} == {
            (SUB,), (SUB2,)}


def test_foreign_group_on_silo_storage_is_reported(rsps, retry):
    from tests.support import role_assignment

    res, doc = _two_tenants()
    st = storage(res, "silo2")
    res.append(role_assignment(st["id"], "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
                               "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0", principal_type="ForeignGroup"))
    result = _collected_two_tenants(rsps, retry, res, doc)
    f = [x for x in result["findings"] if x["rule_id"] == "FL-XT-002" and x["silo"] == "silo2"]
    assert [x["status"] for x in f] == ["fail"] and "ForeignGroup" in f[0]["message"]


def _graph_bodies(rsps) -> list[dict]:
    from tests.live.fakearm import GRAPH

    return [json.loads(c.request.body) for c in rsps.calls
            if c.request.method == "POST" and c.request.url.split("?")[0].lower().endswith(GRAPH)]


def test_fleet_mode_collects_each_tenant_through_its_own_credential_and_graph_query(rsps, retry):
    inv = _collect_each_tenant(rsps, retry, resource_graph=True)
    assert {s.kind for s in inv.sources} == {"resource-graph"}
    bodies = _graph_bodies(rsps)
    assert bodies
    # Resource Graph answers only for the token's tenant: no query ever spans both tenants' subscriptions
    assert {tuple(sorted(s.lower() for s in b.get("subscriptions") or [])) for b in bodies} == {(SUB,), (SUB2,)}


def test_fleet_mode_tenant_that_cannot_be_read_is_unreadable_not_skipped(rsps, retry):
    res, doc = _two_tenants()
    FakeArm(res, [SUB, SUB2]).register(rsps)

    cfg = parse_config(doc, "fl.yaml")
    inv = collect_config_scopes(cfg, credential_for=_tenant_b_refused, retry=retry, resource_graph=True)
    [u] = inv.unreadable
    assert (u.scope, u.resource_type) == (f"/subscriptions/{SUB2}", "*") and TENANT_B in u.message
    assert inv.metadata["tenants"] == {TENANT_A: [SUB]}
    assert all(SUB2 not in (b.get("subscriptions") or []) for b in _graph_bodies(rsps))
    result = run_audit(inv, cfg, generated_at="2026-11-30T00:00:00+00:00")
    assert result["verdict"]["production"]["status"] != "ready"
    assert "pass" not in statuses(result, "FL-PE-001", silo="silo2")
    assert statuses(result, "FL-TOP-003", silo="silo1") == {"pass"}


def test_fleet_mode_subscription_arm_cannot_read_is_not_listed_as_read(rsps, retry):
    from tests.live.fakearm import arm_error

    res, doc = _two_tenants()
    fake = FakeArm(res, [SUB, SUB2]).register(rsps)
    fake.queue(f"/subscriptions/{SUB2}", arm_error(403, "AuthorizationFailed", "no access to the subscription"))
    cfg = parse_config(doc, "fl.yaml")
    inv = collect_config_scopes(cfg, credential_for=lambda t: FakeCredential(), retry=retry, resource_graph=True)
    assert inv.metadata["tenants"] == {TENANT_A: [SUB]}
    assert inv.coverage("microsoft.storage/storageaccounts", f"/subscriptions/{SUB2}") == "unreadable"
    assert inv.get(storage(res, "silo2")["id"]) is None
