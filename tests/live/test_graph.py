"""Fleet mode: Resource Graph pages and batches, quota pacing, cross-checks with the authorization API."""

from __future__ import annotations

import json

import pytest

import flaudit.sources.live.graph as graph
from flaudit.arm import norm
from flaudit.errors import CollectionError, InputError
from flaudit.samples import generate
from flaudit.sources.live.collect import collect, make_scope
from flaudit.sources.live.graph import collect_fleet
from tests.live.conftest import SUB
from tests.live.fakearm import GRAPH, MG, FakeArm, FakeCredential, arm_error

SUB2 = "3c9e7a51-2d4b-4f6e-8a1c-5b7d9e0f2a43"


def two_subscriptions() -> list[dict]:
    """The 3-silo sample in SUB plus a copy of its storage accounts in SUB2 (another business unit)."""
    res = generate.Builder("hardened", 3).build()
    extra = []
    for r in res:
        if r["type"] == "Microsoft.Storage/storageAccounts":
            c = json.loads(json.dumps(r).replace(SUB, SUB2))
            extra.append(c)
    return res + extra


@pytest.fixture
def fleet(rsps, retry):
    def run(resources, subs, scope, **options):
        fake = FakeArm(resources, subs, **options).register(rsps)
        inv = collect_fleet(scope, credential=FakeCredential(), retry=retry)
        return inv, fake

    return run


def test_fleet_mode_reads_the_same_resources_as_live_mode(fleet, rsps, retry):
    resources = generate.Builder("hardened", 3).build()
    inv, fake = fleet(resources, [SUB], make_scope([SUB]))
    expected = {norm(r["id"]) for r in resources} | {norm(f"/subscriptions/{SUB}")}
    assert set(inv.resources) == expected
    assert inv.unreadable == []
    # graph types come lower-cased; flaudit reads them case-insensitively
    assert len(inv.of_type("Microsoft.Storage/storageAccounts")) == 5
    assert inv.sources[-1].kind == "resource-graph"


def test_only_gets_and_the_graph_query_leave_the_collector(fleet, rsps):
    fleet(two_subscriptions(), [SUB, SUB2], make_scope([SUB, SUB2]))
    methods = {(c.request.method, c.request.url.split("?")[0].lower().endswith(GRAPH)) for c in rsps.calls}
    assert methods == {("GET", False), ("POST", True)}


def test_provenance_says_where_each_resource_came_from(fleet):
    inv, _ = fleet(generate.Builder("hardened", 3).build(), [SUB], make_scope([SUB]))
    prov = inv.metadata["provenance"]
    storage = inv.of_type("microsoft.storage/storageaccounts")[0]
    compute = inv.of_type("microsoft.machinelearningservices/workspaces/computes")[0]
    ra = inv.of_type("microsoft.authorization/roleassignments")[0]
    assert prov[norm(storage["id"])] == "resource-graph"
    assert prov[norm(compute["id"])] == "live"  # computes are not in Resource Graph's tables
    assert prov[norm(ra["id"])] == "live+resource-graph"  # cross-checked: the API's copy is stored
    assert set(prov) == set(inv.resources)


def test_skip_token_pages_and_subscription_batches(fleet, monkeypatch):
    monkeypatch.setattr(graph, "PAGE_SIZE", 4)
    monkeypatch.setattr(graph, "BATCH_SIZE", 1)
    inv, fake = fleet(two_subscriptions(), [SUB, SUB2], make_scope([SUB, SUB2]))
    posts = [c for c in fake.served if c[0] == "POST"]
    # 3 tables x 2 batches, plus extra pages for the tables with more than 4 rows in a subscription
    assert len(posts) > 6
    assert len(inv.of_type("microsoft.storage/storageaccounts")) == 10
    assert inv.sources[-1].detail["graph_pages"] == len(posts)


def test_spent_user_quota_waits_for_the_reset(fleet, sleeps):
    fleet(generate.Builder("hardened", 3).build(), [SUB], make_scope([SUB]), graph_quota=(0, "00:00:04"))
    assert sleeps and set(sleeps) == {4.0}


def test_remaining_quota_does_not_wait(fleet, sleeps):
    fleet(generate.Builder("hardened", 3).build(), [SUB], make_scope([SUB]), graph_quota=(12, "00:00:04"))
    assert sleeps == []


def test_management_group_finds_its_subscriptions_and_their_ancestry(fleet):
    inv, _ = fleet(two_subscriptions(), [SUB, SUB2], Scope_mg())
    subs = inv.of_type("microsoft.resources/subscriptions")
    assert {s["subscriptionId"] for s in subs} == {SUB, SUB2}
    chain = subs[0]["properties"]["managementGroupAncestorsChain"]
    assert chain[0]["name"] == MG
    assert inv.metadata["scope"]["management_group"] == MG
    assert inv.sources[-1].detail["subscriptions"] == sorted([SUB, SUB2])


def Scope_mg():
    return make_scope([], [], MG)


def test_inherited_assignment_missed_by_graph_is_added_by_the_cross_check(rsps, retry):
    resources = generate.Builder("hardened", 3).build()
    mg_assignment = {
        "id": f"/providers/Microsoft.Management/managementGroups/{MG}/providers/Microsoft.Authorization/"
              "roleAssignments/7e6d5c4b-3a29-4817-9f6e-5d4c3b2a1908",
        "name": "7e6d5c4b-3a29-4817-9f6e-5d4c3b2a1908", "type": "Microsoft.Authorization/roleAssignments",
        "properties": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
                       "b24988ac-6180-42a0-ab88-20f7382dd24c", "principalId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                       "principalType": "Group", "scope": f"/providers/Microsoft.Management/managementGroups/{MG}"}}
    fake = FakeArm(resources + [mg_assignment], [SUB], graph_hidden={mg_assignment["id"]}).register(rsps)
    inv = collect_fleet(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    assert inv.get(mg_assignment["id"]) is not None
    assert inv.metadata["provenance"][norm(mg_assignment["id"])] == "live"
    assert inv.sources[-1].detail["role_assignments_only_in_api"] >= 1
    assert any("atscope()" in url.lower() for _, url in fake.served)


def test_graph_is_asked_for_assignments_above_the_subscriptions(rsps, retry):
    resources = generate.Builder("hardened", 3).build()
    root = {"id": "/providers/Microsoft.Authorization/roleAssignments/8f7e6d5c-4b3a-4291-8e7f-6a5b4c3d2e1f",
            "name": "8f7e6d5c-4b3a-4291-8e7f-6a5b4c3d2e1f", "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/"
                           "acdd72a7-3385-48ef-bd42-f606fba81ae7", "principalId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                           "principalType": "Group", "scope": "/"}}
    FakeArm(resources + [root], [SUB]).register(rsps)
    inv = collect_fleet(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    bodies = [json.loads(c.request.body) for c in rsps.calls if c.request.method == "POST"]
    auth = [b for b in bodies if b["query"].startswith("authorizationresources")]
    assert auth and all(b["options"]["authorizationScopeFilter"] == "AtScopeAboveAndBelow" for b in auth)
    assert inv.metadata["provenance"][norm(root["id"])] == "live+resource-graph"


def test_unreadable_subscription_is_not_taken_as_empty(rsps, retry):
    fake = FakeArm(two_subscriptions(), [SUB, SUB2]).register(rsps)
    fake.queue(f"/subscriptions/{SUB2}", arm_error(403, "AuthorizationFailed", "no access to the subscription"))
    inv = collect_fleet(make_scope([SUB, SUB2]), credential=FakeCredential(), retry=retry)
    assert inv.coverage("microsoft.storage/storageaccounts", f"/subscriptions/{SUB2}") == "unreadable"
    assert not [r for r in inv.resources if r.startswith(f"/subscriptions/{SUB2}")]
    assert len(inv.of_type("microsoft.storage/storageaccounts")) == 5


def test_failed_graph_query_marks_its_types_unreadable(rsps, retry):
    fake = FakeArm(generate.Builder("hardened", 3).build(), [SUB]).register(rsps)
    fake.queue(GRAPH, (200, {"Content-Type": "application/json"}, json.dumps({"data": []})))  # containers: ok
    fake.queue(GRAPH, arm_error(400, "BadRequest", "query is invalid"))  # resources table
    inv = collect_fleet(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    bad = {u.resource_type for u in inv.unreadable}
    assert set(graph.RESOURCE_TYPES) <= bad
    assert inv.coverage("microsoft.storage/storageaccounts") == "unreadable"
    assert inv.of_type("microsoft.authorization/roleassignments")  # the other table and the API still read


def test_malformed_graph_page_is_unreadable_not_empty(rsps, retry):
    fake = FakeArm(generate.Builder("hardened", 3).build(), [SUB]).register(rsps)
    fake.queue(GRAPH, (200, {"Content-Type": "application/json"}, json.dumps({"data": []})))
    fake.queue(GRAPH, (200, {"Content-Type": "application/json"}, json.dumps({"data": {"rows": []}})))
    inv = collect_fleet(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    assert inv.coverage("microsoft.network/virtualnetworks") == "unreadable"
    assert any("malformed" in u.message for u in inv.unreadable)


def test_empty_management_group_is_a_collection_error(rsps, retry):
    FakeArm([], []).register(rsps)
    with pytest.raises(CollectionError, match="no subscriptions"):
        collect_fleet(make_scope([], [], MG), credential=FakeCredential(), retry=retry)


def test_live_mode_needs_subscriptions(retry):
    with pytest.raises(InputError, match="--resource-graph"):
        collect(make_scope([], [], MG), credential=FakeCredential(), retry=retry)
