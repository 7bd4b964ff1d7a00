"""Live collection against a mocked ARM: coverage, pagination, retries, partial permissions, read-only, secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import responses

from flaudit.arm import norm
from flaudit.errors import CollectionError, InputError
from flaudit.inventory import Inventory
from flaudit.samples import generate
from flaudit.sources.files import read_file
from flaudit.sources.live.clients import ReadOnlyViolation
from flaudit.sources.live.collect import collect, make_scope, open_session, write_collected_snapshot
from flaudit.sources.live.graph import RESOURCE_TYPES
from tests.live.conftest import SUB
from tests.live.fakearm import FakeArm, FakeCredential, arm_error, arm_unreadable
from tests.support import config

SUB_SCOPE = f"/subscriptions/{SUB}"
RA_PATH = f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleAssignments"


def ids(resources: list[dict[str, Any]]) -> set[str]:
    return {norm(r["id"]) for r in resources}


def test_collects_every_resource_of_the_deployment(live, sample):
    inv, _ = live(sample)
    assert set(inv.resources) == ids(sample) | {norm(SUB_SCOPE)}
    assert inv.unreadable == []
    assert inv.get(SUB_SCOPE)["type"] == "Microsoft.Resources/subscriptions"
    # network and storage resources come back exactly as ARM sent them (REST shape, nested properties)
    for r in sample:
        if r["type"].split("/")[0] in ("Microsoft.Network", "Microsoft.Storage", "Microsoft.MachineLearningServices"):
            assert inv.get(r["id"]) == r, r["id"]


def test_marks_every_listed_type_as_collected_so_absence_is_meaningful(live, sample):
    inv, _ = live(sample)
    types = {t for _, t in inv.collected}
    for t in RESOURCE_TYPES + ("microsoft.authorization/roleassignments", "microsoft.authorization/denyassignments",
                               "microsoft.machinelearningservices/workspaces/computes",
                               "microsoft.machinelearningservices/workspaces/datastores",
                               "microsoft.network/privatednszones/virtualnetworklinks",
                               "microsoft.network/privatednszones/a", "microsoft.resources/subscriptions"):
        assert t in types, t
    assert inv.coverage("microsoft.network/routetables") == "collected"  # none exist, and that is known


def test_request_count_grows_only_by_per_identity_and_per_account_lists(retry):
    """Every type is listed once per scope, whatever the silo count; the exceptions are federated identity
    credentials, which ARM lists only per user-assigned identity (one GET each: no list across identities), and a
    storage account's object replication and inventory policies, which the storage resource provider lists per
    account (two requests per account)."""
    counts, per_account = [], []
    for n in (3, 30):
        fake = FakeArm(generate.Builder("hardened", n).build(), [SUB], page_size=1000)
        with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
            fake.register(mock)
            collect(make_scope([SUB]), credential=FakeCredential(), retry=retry)
        fic = sum(1 for _, url in fake.served if "/federatedidentitycredentials" in url.lower())
        assert fic == n + 1  # one per silo identity and the orchestrator's
        counts.append(fake.count() - fic)
        per_account.append(sum(1 for p in fake.paths()
                               if p.endswith(("/objectreplicationpolicies", "/inventorypolicies"))))
    assert per_account[1] - per_account[0] == 2 * 27
    assert counts[0] - per_account[0] == counts[1] - per_account[1]


def test_follows_nextlink_pages_with_skip_tokens(live, sample):
    inv, fake = live(sample, page_size=2)
    assert set(inv.resources) == ids(sample) | {norm(SUB_SCOPE)}
    paged = [url for _, url in fake.served if "skiptoken" in url.lower()]
    assert paged, "no page after the first was requested"
    # the SDK-driven lists and the plain-GET lists both paged
    assert any("/privateendpoints" in u.lower() for u in paged) and any("/computes" in u for u in paged)


def test_429_with_retry_after_is_retried_after_the_advertised_wait(live, sample, sleeps):
    fake = FakeArm(sample, [SUB])
    throttled = (429, {"Retry-After": "7", "Content-Type": "application/json"},
                 json.dumps({"error": {"code": "TooManyRequests", "message": "slow down"}}))
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.Storage/storageAccounts", throttled)
    inv, _ = live(sample, fake=fake)
    assert sleeps == [7.0]  # honoured, and recorded instead of slept
    assert inv.coverage("microsoft.storage/storageaccounts") == "collected"
    assert len(inv.of_type("microsoft.storage/storageaccounts")) == 5


def test_500_then_success_is_retried_by_the_policy(live, sample, sleeps):
    fake = FakeArm(sample, [SUB])
    ws_path = f"{SUB_SCOPE}/providers/Microsoft.MachineLearningServices/workspaces"
    fake.queue(ws_path, arm_error(500, "InternalServerError", "try again"))
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.Network/virtualNetworks",
               arm_error(503, "ServiceUnavailable", "try again"))
    inv, _ = live(sample, fake=fake)
    assert inv.unreadable == []
    assert len(inv.of_type("microsoft.machinelearningservices/workspaces")) == 1
    assert len(inv.of_type("microsoft.network/virtualnetworks")) == 4
    served = fake.paths()
    assert served.count(ws_path.lower()) == 2
    assert served.count(f"{SUB_SCOPE}/providers/Microsoft.Network/virtualNetworks".lower()) == 2


def test_persistent_5xx_ends_as_unreadable_after_the_retries(live, sample):
    fake = FakeArm(sample, [SUB])
    path = f"{SUB_SCOPE}/providers/Microsoft.KeyVault/vaults"
    fake.queue(path, *[arm_error(502, "BadGateway", "gateway")] * 5)
    inv, _ = live(sample, fake=fake)
    [u] = inv.unreadable
    assert (u.scope, u.resource_type, u.status) == (SUB_SCOPE, "Microsoft.KeyVault/vaults", 502)
    assert fake.paths().count(path.lower()) == 5


def test_403_on_role_assignments_only_is_recorded_and_everything_else_is_read(live, sample, tmp_path):
    fake = FakeArm(sample, [SUB])
    denied = arm_error(403, "AuthorizationFailed", "The client does not have authorization to perform action "
                       "'Microsoft.Authorization/roleAssignments/read'")
    fake.queue(RA_PATH, denied)
    fake.queue(RA_PATH, denied, flt="atScope()")
    inv, _ = live(sample, fake=fake)
    assert {(u.resource_type, u.status) for u in inv.unreadable} == {("Microsoft.Authorization/roleAssignments", 403)}
    assert "AuthorizationFailed" in inv.unreadable[0].message
    assert inv.coverage("microsoft.authorization/roleassignments") == "unreadable"
    assert inv.of_type("microsoft.authorization/roleassignments") == []
    assert len(inv.of_type("microsoft.storage/storageaccounts")) == 5
    snap = tmp_path / "snap.json"
    write_collected_snapshot(inv, snap)
    doc = json.loads(snap.read_text())
    assert doc["unreadable"][0]["resource_type"] == "Microsoft.Authorization/roleAssignments"
    again = read_file(snap)
    assert again.coverage("microsoft.authorization/roleassignments") == "unreadable"
    from flaudit.audit import run_audit

    result = run_audit(again, config(3))
    assert result["input"]["unreadable"][0]["status"] == 403
    # the rules that need role assignments report unknown, never pass, for every silo
    for rule_id in ("FL-ID-003", "FL-ID-004"):
        statuses = {f["status"] for f in result["findings"] if f["rule_id"] == rule_id}
        assert statuses == {"unknown"}, (rule_id, statuses)


def test_malformed_json_page_marks_only_that_type_unreadable(live, sample):
    fake = FakeArm(sample, [SUB])
    garbage = (200, {"Content-Type": "application/json"}, '{"value": [ {"id": ')
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.Network/networkSecurityGroups", garbage)  # SDK path
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.Network/privateDnsZones", garbage)  # plain GET path
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.ContainerRegistry/registries",
               (200, {"Content-Type": "application/json"}, json.dumps({"value": "not a list"})))
    inv, _ = live(sample, fake=fake)
    bad = {u.resource_type: u for u in inv.unreadable}
    assert set(bad) == {"Microsoft.Network/networkSecurityGroups", "Microsoft.Network/privateDnsZones",
                        "Microsoft.ContainerRegistry/registries"}
    assert all("malformed" in u.message for u in bad.values())
    assert len(inv.of_type("microsoft.network/virtualnetworks")) == 4


def test_connection_timeout_marks_the_type_unreadable_and_the_run_goes_on(live, sample, sleeps):
    fake = FakeArm(sample, [SUB])
    path = f"{SUB_SCOPE}/providers/Microsoft.Network/routeTables"
    fake.queue(path, *[requests.exceptions.ConnectTimeout("connect timed out")] * 5)
    inv, _ = live(sample, fake=fake)
    [u] = inv.unreadable
    assert u.resource_type == "Microsoft.Network/routeTables" and u.status is None
    assert "no response" in u.message
    assert len(inv.of_type("microsoft.storage/storageaccounts")) == 5


def test_empty_subscription_is_readable_and_empty(live):
    inv, _ = live([])
    assert set(inv.resources) == {norm(SUB_SCOPE)}
    assert inv.unreadable == []
    assert inv.coverage("microsoft.storage/storageaccounts") == "collected"


def test_only_get_requests_leave_the_collector(live, sample, rsps):
    live(sample, page_size=3)
    assert rsps.calls, "nothing was sent"
    assert {c.request.method for c in rsps.calls} == {"GET"}
    assert not [c for c in rsps.calls if any(w in c.request.url.lower() for w in
                                             ("listkeys", "listsecrets", "listaccountsas", "listservicesas"))]


def test_the_pipeline_refuses_anything_but_reads(rsps, retry):
    FakeArm([], [SUB]).register(rsps)
    session = open_session(FakeCredential(), None, None, retry)
    for method, path in (("POST", f"{SUB_SCOPE}/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/"
                                  "listKeys"),
                         ("PUT", f"{SUB_SCOPE}/resourceGroups/rg"), ("DELETE", f"{SUB_SCOPE}/resourceGroups/rg"),
                         ("POST", "/providers/Microsoft.ResourceGraph/resources")):
        with pytest.raises(ReadOnlyViolation):
            session.send(method, path, params={"api-version": "2024-01-01"})
    assert len(rsps.calls) == 0


def test_a_missing_provider_registration_is_not_registered_by_a_post(live, sample):
    fake = FakeArm(sample, [SUB])
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.ContainerRegistry/registries",
               arm_error(409, "MissingSubscriptionRegistration", "The subscription is not registered to use "
                         "namespace 'Microsoft.ContainerRegistry'"))
    inv, _ = live(sample, fake=fake)
    assert [(u.resource_type, u.status) for u in inv.unreadable] == [("Microsoft.ContainerRegistry/registries", 409)]
    assert fake.count("POST") == 0


def test_secrets_a_get_returns_are_stripped_before_the_snapshot(live, sample, tmp_path):
    ws = next(r for r in sample if r["type"] == "Microsoft.MachineLearningServices/workspaces")
    leaky = {
        "id": f"{ws['id']}/datastores/legacy_keyed", "name": "legacy_keyed",
        "type": "Microsoft.MachineLearningServices/workspaces/datastores",
        "properties": {"datastoreType": "AzureBlob", "accountName": "stlegacy", "containerName": "data",
                       "credentials": {"credentialsType": "AccountKey",
                                       "secrets": {"secretsType": "AccountKey", "key": "c2VjcmV0LWtleS12YWx1ZQ=="}},
                       "description": "DefaultEndpointsProtocol=https;AccountName=stlegacy;"
                       "AccountKey=c2VjcmV0LWtleS12YWx1ZQ==;EndpointSuffix=core.windows.net",
                       "tags": {"sas": "https://stlegacy.blob.core.windows.net/data?sv=2022-11-02&ss=b&srt=co"
                                       "&sp=rl&sig=QUJDREVGR0hJSktMTU5PUFFSU1RVVldY%3D",
                                "bus": "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;"
                                       "SharedAccessKey=ZmFrZS1zaGFyZWQtYWNjZXNzLWtleQ=="}}}
    inv, _ = live(sample + [leaky])
    snap = tmp_path / "snap.json"
    write_collected_snapshot(inv, snap)
    text = snap.read_text()
    for secret in ("c2VjcmV0LWtleS12YWx1ZQ==", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", "ZmFrZS1zaGFyZWQtYWNjZXNzLWtleQ=="):
        assert secret not in text
    stored = inv.get(leaky["id"])
    assert stored["properties"]["credentials"]["credentialsType"] == "AccountKey"  # the fact is kept
    assert stored["properties"]["credentials"]["secrets"] == "[redacted]"


def test_snapshot_round_trip_gives_the_same_inventory_and_findings(live, sample, tmp_path):
    from flaudit.audit import run_audit

    inv, _ = live(sample)
    snap = tmp_path / "snap.json"
    write_collected_snapshot(inv, snap)
    again = read_file(snap)
    assert again.sha256() == inv.sha256()
    assert again.collected == inv.collected
    assert again.metadata["scope"]["subscriptions"] == [SUB]
    assert set(again.metadata["provenance"].values()) == {"live"}
    cfg = config(3)
    a = run_audit(inv, cfg, generated_at="2026-11-30T00:00:00Z")
    b = run_audit(again, cfg, generated_at="2026-11-30T00:00:00Z")
    assert a["findings"] == b["findings"]
    assert a["input"]["sha256"] == b["input"]["sha256"]


def test_nothing_readable_is_a_collection_error(rsps, retry, sample):
    fake = FakeArm(sample, [SUB]).register(rsps)
    denied = arm_error(403, "AuthorizationFailed", "no access")
    for (path, flt) in list(fake.lists):
        fake.queue(path, *[denied] * 3, flt=flt)
    with pytest.raises(CollectionError, match="nothing in scope could be read"):
        collect(make_scope([SUB]), credential=FakeCredential(), retry=retry)


def test_unknown_subscription_is_a_collection_error(rsps, retry):
    FakeArm([], [SUB]).register(rsps)
    other = "11111111-2222-4333-8444-555555555555"
    with pytest.raises(CollectionError, match="subscription not found"):
        collect(make_scope([other]), credential=FakeCredential(), retry=retry)


def test_failed_sign_in_is_a_collection_error_before_any_request(rsps, retry):
    from azure.core.exceptions import ClientAuthenticationError

    FakeArm([], [SUB]).register(rsps)
    with pytest.raises(CollectionError, match="no usable Azure credential"):
        collect(make_scope([SUB]), credential=FakeCredential(fail=ClientAuthenticationError("az login needed")),
                retry=retry)
    assert len(rsps.calls) == 0


def test_resource_group_scope_lists_per_group_and_keeps_inherited_assignments(live, sample):
    sub_wide = {"id": f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleAssignments/"
                      "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a",
                "name": "0d1e2f3a-4b5c-4d6e-8f7a-9b0c1d2e3f4a", "type": "Microsoft.Authorization/roleAssignments",
                "properties": {"roleDefinitionId": f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/"
                               "b24988ac-6180-42a0-ab88-20f7382dd24c", "principalId":
                               "6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b", "principalType": "User",
                               "scope": SUB_SCOPE}}
    inv, fake = live(sample + [sub_wide], scope=make_scope([SUB], [generate.RG]))
    assert inv.get(sub_wide["id"]) is not None
    paths = set(fake.paths())
    assert f"{generate.rg_id()}/providers/Microsoft.Storage/storageAccounts".lower() in paths
    assert f"{SUB_SCOPE}/providers/Microsoft.Storage/storageAccounts".lower() not in paths
    assert set(inv.resources) == ids(sample) | {norm(SUB_SCOPE), norm(sub_wide["id"])}


def test_referenced_custom_roles_are_kept_and_unreferenced_ones_dropped(live, sample):
    def role(guid: str, name: str) -> dict[str, Any]:
        return {"id": f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "name": guid,
                "type": "Microsoft.Authorization/roleDefinitions",
                "properties": {"roleName": name, "type": "CustomRole", "description": name,
                               "assignableScopes": [SUB_SCOPE], "permissions": [{
                                   "actions": ["Microsoft.Storage/storageAccounts/read"], "notActions": [],
                                   "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/containers/"
                                                   "blobs/read"], "notDataActions": []}]}}

    used, unused = role("5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "FL silo reader"), \
        role("9f8e7d6c-5b4a-4c3d-2e1f-0a9b8c7d6e5f", "Unused role")
    ra = {"id": f"{generate.rg_id()}/providers/Microsoft.Authorization/roleAssignments/"
                "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "name": "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
          "type": "Microsoft.Authorization/roleAssignments",
          "properties": {"roleDefinitionId": used["id"], "principalId": "6e7f8a9b-0c1d-4e2f-8a3b-4c5d6e7f8a9b",
                         "principalType": "User", "scope": generate.rg_id()}}
    inv, fake = live(sample + [used, unused, ra])
    assert inv.get(used["id"]) is not None
    assert inv.get(unused["id"]) is None
    stored = inv.get(used["id"])
    assert stored["properties"]["permissions"][0]["dataActions"] == used["properties"]["permissions"][0]["dataActions"]


def test_referenced_role_not_bundled_is_listed_once_not_per_assignment(live, sample, monkeypatch):
    import flaudit.sources.live.collect as collect_mod

    monkeypatch.setattr(collect_mod, "builtin_role_ids", lambda: set())  # as if the bundle were absent
    builtin = {"id": f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleDefinitions/"
                     "ba92f5b4-2d11-453d-a403-e96b0029c9fe", "name": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
               "type": "Microsoft.Authorization/roleDefinitions",
               "properties": {"roleName": "Storage Blob Data Contributor", "type": "BuiltInRole",
                              "description": "", "assignableScopes": ["/"], "permissions": [{
                                  "actions": [], "notActions": [], "dataActions": [
                                      "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
                                  "notDataActions": []}]}}
    inv, fake = live(sample + [builtin])
    assert inv.get(builtin["id"]) is not None
    unfiltered = [u for _, u in fake.served if "/roledefinitions" in u.lower() and "filter" not in u.lower()]
    assert len(unfiltered) == 1


def test_progress_is_silent_unless_asked(live, sample, capsys):
    live(sample)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_progress_bar_runs_when_asked(rsps, retry, sample, capsys):
    FakeArm(sample, [SUB]).register(rsps)
    inv = collect(make_scope([SUB]), credential=FakeCredential(), retry=retry, progress=True)
    assert len(inv.resources) == len(sample) + 1
    assert capsys.readouterr().out == ""  # the bar writes to stderr only


@pytest.mark.parametrize("subs,rgs,mg,message", [
    (["not-a-guid"], [], None, "not a subscription id"),
    ([SUB, "11111111-2222-4333-8444-555555555555"], ["rg"], None, "exactly one --subscription"),
    ([SUB], ["bad/name"], None, "not a resource group name"),
    ([], [], None, "nothing to collect"),
])
def test_bad_scopes_are_input_errors(subs, rgs, mg, message):
    with pytest.raises(InputError, match=message):
        make_scope(subs, rgs, mg)


def test_subscription_ids_are_accepted_as_ids_or_arm_paths():
    assert make_scope([SUB.upper(), f"/subscriptions/{SUB}"]).subscriptions == (SUB,)


def test_inventory_merge_keeps_collected_and_unreadable(live, sample):
    inv, _ = live(sample)
    target = Inventory()
    target.merge(inv)
    assert target.collected == inv.collected and target.sha256() == inv.sha256()


def test_error_messages_stored_as_unreadable_are_redacted(live, sample):
    fake = FakeArm(sample, [SUB])
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.KeyVault/vaults",
               arm_error(403, "AuthorizationFailed", "denied for https://x.blob.core.windows.net/c?sv=2022-11-02"
                         "&sig=QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"))
    inv, _ = live(sample, fake=fake)
    [u] = inv.unreadable
    assert "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY" not in u.message and u.status == 403


def test_collects_federated_credentials_and_pim_eligibility_and_they_reach_fl_id_009(live, sample):
    """Federated identity credentials (FederatedIdentityCredentialList.json, msi 2023-01-31) are listed under each
    identity; eligibility instances (GetRoleEligibilityScheduleInstancesByScope.json, 2020-10-01) at the
    subscription, which returns those at, above and below it."""
    from flaudit.audit import run_audit
    from tests.rules.test_identity_takeover import MI_OPERATOR, OUTSIDER, eligibility_instance, federated_credential

    uai = next(r for r in sample if r["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"
               and r["name"] == "uai-silo0")
    rg = uai["id"].split("/providers/")[0]
    extra = [federated_credential(uai["id"]), eligibility_instance(rg, MI_OPERATOR, OUTSIDER)]
    inv, fake = live(sample + extra)
    assert arm_unreadable(inv) == [] and ids(extra) <= set(inv.resources)
    assert any("/federatedidentitycredentials" in p for p in fake.paths())
    assert inv.coverage("microsoft.authorization/roleeligibilityscheduleinstances") == "collected"
    assert any(u == "api-version=2020-10-01" for _, url in fake.served if "roleeligibility" in url.lower()
               for u in url.split("?")[1].split("&"))
    result = run_audit(inv, config(3))
    fails = [f for f in result["findings"] if f["rule_id"] == "FL-ID-009" and f["status"] == "fail"]
    assert {f["silo"] for f in fails} == {"silo0", "silo1", "silo2"}  # eligible operator on the shared RG


def test_403_on_pim_eligibility_is_recorded_and_access_rules_say_unknown(live, sample):
    fake = FakeArm(sample, [SUB])
    fake.queue(f"{SUB_SCOPE}/providers/Microsoft.Authorization/roleEligibilityScheduleInstances",
               arm_error(403, "AuthorizationFailed", "no access"))
    inv, _ = live(sample, fake=fake)
    assert {(u.resource_type, u.status) for u in inv.unreadable} == {
        ("Microsoft.Authorization/roleEligibilityScheduleInstances", 403)}
    from flaudit.audit import run_audit

    result = run_audit(inv, config(3))
    for rule_id in ("FL-WS-001", "FL-ID-009"):
        assert "unknown" in {f["status"] for f in result["findings"] if f["rule_id"] == rule_id}, rule_id


def test_service_endpoint_policies_are_listed_and_a_403_makes_confined_egress_unknown(live, sample):
    """The policy (ServiceEndpointPolicyGet.json shape, 2024-05-01) is listed once per subscription; when the
    list is denied, a silo subnet that names a policy cannot be vouched for."""
    from flaudit.audit import run_audit
    from tests.rules.test_network_paths import recipe

    recipe(sample)
    inv, fake = live(sample)
    path = f"{SUB_SCOPE}/providers/Microsoft.Network/serviceEndpointPolicies".lower()
    assert fake.paths().count(path) == 1
    [policy] = inv.of_type("microsoft.network/serviceendpointpolicies")
    assert policy["properties"]["serviceEndpointPolicyDefinitions"][1]["properties"]["serviceResources"] == [
        "/services/Azure/MachineLearning"]
    assert {f["status"] for f in run_audit(inv, config(3))["findings"] if f["rule_id"] == "FL-NET-005"} == {"pass"}

    denied_fake = FakeArm(sample, [SUB])
    denied_fake.queue(f"{SUB_SCOPE}/providers/Microsoft.Network/serviceEndpointPolicies",
                      arm_error(403, "AuthorizationFailed", "no access"))
    inv, _ = live(sample, fake=denied_fake)
    assert inv.coverage("microsoft.network/serviceendpointpolicies") == "unreadable"
    result = run_audit(inv, config(3))
    assert {f["status"] for f in result["findings"] if f["rule_id"] == "FL-NET-005" and f["silo"] == "silo0"} == \
        {"unknown"}
    assert result["verdict"]["production"]["status"] == "unknown"
