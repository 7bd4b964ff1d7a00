"""The effective-permission evaluator (flaudit/rbac.py) decides access the way Azure RBAC does.

Fixtures are written in the shapes of the Azure REST examples (RoleAssignments_ListForScope,
RoleDefinitions_Get, GetDenyAssignmentByScope; Resource Graph resourcecontainers for a subscription's
management groups).
"""

from __future__ import annotations

from typing import Any

import pytest

from flaudit.access import split_inert
from flaudit.arm import norm
from flaudit.inventory import Inventory, Unreadable
from flaudit.rbac import EVERYONE, RbacIndex, action_matches
from tests.support import role_assignment

SUB = "11111111-2222-3333-4444-555555555555"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-silo"
ACCT = f"{RG}/providers/Microsoft.Storage/storageAccounts/stsilo0"
OTHER = f"/subscriptions/{SUB}/resourceGroups/rg-other/providers/Microsoft.Storage/storageAccounts/stother"
CONTAINER = f"{ACCT}/blobServices/default/containers/data"
MG = "/providers/Microsoft.Management/managementGroups/mg-fl"
PID = "aaaaaaaa-0000-0000-0000-000000000001"
PID2 = "aaaaaaaa-0000-0000-0000-000000000002"

OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
KEY_OPERATOR = "81a9662b-bebf-436f-a333-f67b29880f12"
READER_DATA_ACCESS = "c12c1c16-33a1-487b-954d-41c89c60f349"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
BLOB_WRITE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"


def storage_account(rid: str = ACCT, **props: Any) -> dict[str, Any]:
    return {"id": rid, "name": rid.rsplit("/", 1)[-1], "type": "Microsoft.Storage/storageAccounts",
            "location": "westeurope", "kind": "StorageV2", "properties": {"provisioningState": "Succeeded", **props}}


def custom_role(guid: str, name: str, actions: list[str] = (), not_actions: list[str] = (),
                data_actions: list[str] = (), not_data_actions: list[str] = ()) -> dict[str, Any]:
    return {"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "name": guid,
            "type": "Microsoft.Authorization/roleDefinitions",
            "properties": {"roleName": name, "type": "CustomRole", "description": "test role",
                           "assignableScopes": [f"/subscriptions/{SUB}"],
                           "permissions": [{"actions": list(actions), "notActions": list(not_actions),
                                            "dataActions": list(data_actions),
                                            "notDataActions": list(not_data_actions)}],
                           "createdOn": "2026-11-01T10:00:00Z", "updatedOn": "2026-11-01T10:00:00Z"}}


def deny(scope: str, name: str, *, data_actions: list[str] = (), actions: list[str] = (),
         principals: list[tuple[str, str]] = ((EVERYONE, "SystemDefined"),), exclude: list[str] = (),
         child_scopes: bool = True) -> dict[str, Any]:
    guid = f"dddddddd-0000-0000-0000-{abs(hash((scope, name))) % 10**12:012d}"
    return {"id": f"{scope}/providers/Microsoft.Authorization/denyAssignments/{guid}", "name": guid,
            "type": "Microsoft.Authorization/denyAssignments",
            "properties": {"denyAssignmentName": name, "description": "test deny",
                           "permissions": [{"actions": list(actions), "notActions": [],
                                            "dataActions": list(data_actions), "notDataActions": []}],
                           "scope": scope, "doNotApplyToChildScopes": not child_scopes,
                           "principals": [{"id": p, "type": t} for p, t in principals],
                           "excludePrincipals": [{"id": p, "type": "ServicePrincipal"} for p in exclude],
                           "isSystemProtected": True}}


def subscription(mgs: list[str]) -> dict[str, Any]:
    return {"id": f"/subscriptions/{SUB}", "name": SUB, "type": "microsoft.resources/subscriptions",
            "subscriptionId": SUB,
            "properties": {"managementGroupAncestorsChain": [{"name": m, "displayName": m} for m in mgs]}}


def index(*resources: dict[str, Any], collected: bool = True) -> RbacIndex:
    inv = Inventory()
    inv.extend([storage_account(), storage_account(OTHER), *resources])
    if collected:
        inv.collected = {(f"/subscriptions/{SUB}".lower(), "microsoft.authorization/roleassignments")}
    return RbacIndex(inv)


def kinds(idx: RbacIndex, pid: str = PID, target: str = ACCT) -> list[str]:
    return idx.access(pid, target).kinds


# -- scope inheritance ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("scope", [ACCT, RG, f"/subscriptions/{SUB}", "/"])
def test_assignment_at_the_account_or_any_scope_above_it_grants_access(scope):
    idx = index(role_assignment(scope, BLOB_CONTRIBUTOR, PID))
    assert "data" in kinds(idx)
    assert idx.access(PID, ACCT).of("data")[0].assignment.scope == (norm(scope) or "/")


def test_assignment_in_another_resource_group_does_not_reach_the_account():
    idx = index(role_assignment(f"/subscriptions/{SUB}/resourceGroups/rg-other", CONTRIBUTOR, PID))
    assert kinds(idx) == [] and "mgmt-write" in kinds(idx, target=OTHER)


def test_management_group_assignment_applies_when_the_subscription_sits_under_it():
    idx = index(subscription(["mg-fl", "tenant-root"]), role_assignment(MG, BLOB_CONTRIBUTOR, PID))
    assert "data" in kinds(idx)


def test_management_group_outside_the_subscriptions_chain_does_not_apply():
    idx = index(subscription(["mg-elsewhere"]), role_assignment(MG, BLOB_CONTRIBUTOR, PID))
    assert kinds(idx) == []


def test_management_group_assignment_applies_when_the_chain_is_unknown_fail_closed():
    idx = index(role_assignment(MG, BLOB_CONTRIBUTOR, PID))
    assert "data" in kinds(idx)


def test_container_scope_assignment_is_data_access_to_the_account():
    idx = index(role_assignment(CONTAINER, BLOB_CONTRIBUTOR, PID))
    acc = idx.access(PID, ACCT)
    # generateUserDelegationKey is account-level: not granted by a container; containers/write (publicAccess)
    # is, and is live unless the account sets allowBlobPublicAccess false
    assert acc.kinds == ["data", "mgmt-write"]
    assert [g.action for g in acc.of("mgmt-write")] == ["Microsoft.Storage/storageAccounts/blobServices/containers/write"]
    inert = split_inert(acc, storage_account(allowBlobPublicAccess=False))[1]
    assert acc.of("mgmt-write")[0] in inert and acc.of("mgmt-write")[0] not in split_inert(acc, storage_account())[1]
    assert PID in idx.principals_with_access(ACCT)


def test_container_scope_contributor_gives_only_that_containers_rights():
    idx = index(role_assignment(CONTAINER, CONTRIBUTOR, PID))
    assert kinds(idx) == ["mgmt-write"]  # container writes (publicAccess, immutability); no keys, no copy
    assert all("/blobServices/containers/" in g.action for g in idx.access(PID, ACCT).grants)


def test_container_of_another_account_with_a_prefix_name_does_not_count():
    idx = index(role_assignment(f"{ACCT}x/blobServices/default/containers/data", BLOB_CONTRIBUTOR, PID))
    assert kinds(idx) == []


# -- role definitions ----------------------------------------------------------------------------------------
def test_star_in_actions_never_grants_data_actions():
    idx = index(role_assignment(ACCT, OWNER, PID))
    # no data action, so its user-delegation key grants nothing (idle): a SAS is capped by the holder's data rights
    assert kinds(idx) == ["keys", "role-admin", "mgmt-write", "copy"]
    assert [g.kind for g in idx.access(PID, ACCT).idle] == ["delegation"] * 3


def test_star_slash_read_grants_no_access_kind():
    idx = index(role_assignment(RG, READER, PID))
    assert kinds(idx) == [] and idx.principals_with_access(ACCT) == {}


def test_provider_wildcard_in_actions_grants_keys_and_management_write():
    role = custom_role("c0000000-0000-0000-0000-000000000001", "Storage admin", actions=["Microsoft.Storage/*"])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    assert kinds(idx) == ["keys", "mgmt-write", "copy"]


def test_wildcard_in_data_actions_grants_data():
    role = custom_role("c0000000-0000-0000-0000-000000000002", "Blob all", data_actions=["Microsoft.Storage/*"])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    acc = idx.access(PID, ACCT)
    assert acc.kinds == ["data"] and acc.writes_data()


def test_not_actions_subtract_from_the_same_role():
    sa = "Microsoft.Storage/storageAccounts"
    role = custom_role("c0000000-0000-0000-0000-000000000003", "No keys", actions=[f"{sa}/*"],
                       not_actions=[f"{sa}/listKeys/action", f"{sa}/regenerateKey/action", f"{sa}/ListAccountSas/action",
                                    f"{sa}/listServiceSas/action"])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    assert "keys" not in kinds(idx) and "mgmt-write" in kinds(idx)


def test_not_actions_are_not_a_deny_another_role_grants_the_action_back():
    sa = "Microsoft.Storage/storageAccounts"
    role = custom_role("c0000000-0000-0000-0000-000000000004", "No keys", actions=[f"{sa}/*"],
                       not_actions=[f"{sa}/listkeys/action"])
    idx = index(role, role_assignment(ACCT, role["name"], PID), role_assignment(RG, KEY_OPERATOR, PID))
    keys = idx.access(PID, ACCT).of("keys")
    assert any(g.role.name == "Storage Account Key Operator Service Role"
               and g.action.lower().endswith("listkeys/action") for g in keys)


def test_not_data_actions_subtract_data():
    role = custom_role("c0000000-0000-0000-0000-000000000005", "Blob no read",
                       data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"],
                       not_data_actions=[BLOB_READ])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    actions = {g.action for g in idx.access(PID, ACCT).of("data")}
    assert BLOB_READ not in actions and BLOB_WRITE in actions


def test_action_names_compare_case_insensitively():
    assert action_matches("Microsoft.Storage/storageAccounts/listkeys/action",
                          "microsoft.storage/STORAGEACCOUNTS/listKeys/action")
    assert action_matches("*/read", "Microsoft.Storage/storageAccounts/read")
    assert not action_matches("*/read", "Microsoft.Storage/storageAccounts/listKeys/action")
    idx = index(role_assignment(ACCT, KEY_OPERATOR, PID))  # its actions spell listkeys/regeneratekey
    assert {g.action.rsplit("/", 2)[-2].lower() for g in idx.access(PID, ACCT).of("keys")} == {"listkeys",
                                                                                               "regeneratekey"}


def test_reader_and_data_access_is_a_key_role():
    idx = index(role_assignment(ACCT, READER_DATA_ACCESS, PID))
    assert kinds(idx) == ["keys"]


def test_user_access_administrator_is_role_admin_at_its_scope():
    idx = index(role_assignment(f"/subscriptions/{SUB}", UAA, PID))
    assert kinds(idx) == ["role-admin"]
    assert {g.assignment.scope for g in idx.access(PID, ACCT).of("role-admin")} == {f"/subscriptions/{SUB}".lower()}


def test_unknown_role_definition_is_the_unknown_kind():
    idx = index(role_assignment(ACCT, "99999999-9999-9999-9999-999999999999", PID))
    acc = idx.access(PID, ACCT)
    assert acc.kinds == ["unknown"] and acc.grants[0].role is None
    assert "unknown role" in acc.grants[0].evidence()["role_name"]
    assert idx.principals_with_access(ACCT)[PID.lower()].has("unknown")  # unknown may be anything: fail closed


def test_assignments_on_unrelated_resources_never_reach_a_storage_account():
    web_app = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.Web/sites/app"
    idx = index(role_assignment(web_app, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635", PID))  # Owner on a web app
    assert idx.access(PID, ACCT).kinds == []
    assert idx.assignment_count == 1 and idx.coverage_problem(ACCT) is None


def test_custom_role_definition_from_the_inventory_is_used():
    role = custom_role("c0000000-0000-0000-0000-000000000006", "FL reader", data_actions=[BLOB_READ])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    acc = idx.access(PID, ACCT)
    assert acc.kinds == ["data"] and not acc.writes_data() and acc.grants[0].role.name == "FL reader"


# -- deny assignments ----------------------------------------------------------------------------------------
def test_deny_assignment_wins_over_a_grant():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID),
                deny(ACCT, "no blob data", data_actions=["Microsoft.Storage/storageAccounts/blobServices/*"],
                     principals=[(PID, "ServicePrincipal")]))
    acc = idx.access(PID, ACCT)
    assert "data" not in acc.kinds and acc.denied
    left = idx.principals_with_access(ACCT)[PID]
    assert left.kinds == ["mgmt-write"]  # containers/write: a control action, not denied
    assert [g.kind for g in left.idle] == ["delegation"]  # no data left: the delegation key grants nothing


def test_deny_assignment_excluding_the_principal_leaves_its_grant_and_says_so():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID), role_assignment(ACCT, BLOB_CONTRIBUTOR, PID2),
                deny(RG, "managed app lock", data_actions=["*"], exclude=[PID]))
    acc = idx.access(PID, ACCT)
    assert "data" in acc.kinds and acc.exempted and not acc.denied
    assert "data" not in idx.access(PID2, ACCT).kinds  # everyone else is denied


def test_access_asked_twice_is_the_same_answer_in_lists_of_the_callers_own():
    import dataclasses

    from flaudit.rbac import Access

    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID), role_assignment(ACCT, BLOB_CONTRIBUTOR, PID2),
                deny(RG, "managed app lock", data_actions=["*"], exclude=[PID]))
    for pid in (PID, PID2, PID.upper()):
        first, second = idx.access(pid, ACCT), idx.access(pid, ACCT)
        fresh = idx._access(pid, ACCT)  # the uncached work
        assert first == second == fresh and (first.exempted or first.denied)
        for f in dataclasses.fields(Access):  # every field copied, every list the caller's own
            assert getattr(first, f.name) == getattr(fresh, f.name)
            if isinstance(getattr(first, f.name), list):
                assert getattr(first, f.name) is not getattr(second, f.name)
        first.grants.clear()
        assert idx.access(pid, ACCT).grants == fresh.grants


def test_everyone_deny_applies_to_every_principal():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID), role_assignment(RG, BLOB_CONTRIBUTOR, PID2),
                deny(f"/subscriptions/{SUB}", "everyone", data_actions=[BLOB_READ, BLOB_WRITE]))
    for pid in (PID, PID2):
        actions = {g.action for g in idx.access(pid, ACCT).of("data")}
        assert BLOB_READ not in actions and BLOB_WRITE not in actions and actions  # delete, add remain


def test_deny_with_do_not_apply_to_child_scopes_does_not_reach_resources_below():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID),
                deny(RG, "rg only", data_actions=["*"], child_scopes=False))
    assert "data" in kinds(idx)


def test_account_deny_with_do_not_apply_to_child_scopes_spares_container_grants():
    idx = index(role_assignment(CONTAINER, BLOB_CONTRIBUTOR, PID), role_assignment(ACCT, BLOB_CONTRIBUTOR, PID2),
                deny(ACCT, "account only", data_actions=["*"], child_scopes=False))
    assert "data" in kinds(idx, PID) and "data" not in kinds(idx, PID2)


def test_deny_on_a_container_removes_a_grant_on_that_container():
    idx = index(role_assignment(CONTAINER, BLOB_CONTRIBUTOR, PID),
                deny(CONTAINER, "container lock", data_actions=["*"]))
    assert "data" not in kinds(idx)


def test_deny_in_another_scope_does_not_apply():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID), deny(OTHER, "elsewhere", data_actions=["*"]))
    assert "data" in kinds(idx)


def test_control_plane_deny_removes_key_rights_but_not_data():
    idx = index(role_assignment(ACCT, KEY_OPERATOR, PID), role_assignment(ACCT, BLOB_CONTRIBUTOR, PID),
                deny(ACCT, "no keys", actions=["Microsoft.Storage/storageAccounts/listKeys/action",
                                               "Microsoft.Storage/storageAccounts/regenerateKey/action"]))
    assert "keys" not in kinds(idx) and "data" in kinds(idx)


# -- conditions, principals, coverage -------------------------------------------------------------------------
def test_conditional_assignment_is_reported_as_conditional_access():
    cond = ("(@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] "
            "StringStartsWith 'silo0/')")
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID, condition=cond))
    acc = idx.access(PID, ACCT)
    assert "data" in acc.kinds and acc.conditional("data")
    assert acc.of("data")[0].evidence()["condition"] == cond
    assert acc.chain()[0]["condition"] == cond


def test_partly_conditional_access_is_not_conditional():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID, condition="(@Resource[x] StringStartsWith 'a')"),
                role_assignment(RG, BLOB_CONTRIBUTOR, PID))
    assert not idx.access(PID, ACCT).conditional("data")


def test_group_principal_type_is_kept():
    idx = index(role_assignment(RG, BLOB_CONTRIBUTOR, PID2, principal_type="Group"))
    assert idx.principals_with_access(ACCT)[PID2].principal_type == "Group"


def test_principals_with_access_collects_every_scope_and_principal():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID), role_assignment(CONTAINER, BLOB_CONTRIBUTOR, PID2),
                role_assignment("/", OWNER, "aaaaaaaa-0000-0000-0000-000000000003"),
                role_assignment(RG, READER, "aaaaaaaa-0000-0000-0000-000000000004"))
    found = idx.principals_with_access(ACCT)
    assert set(found) == {PID, PID2, "aaaaaaaa-0000-0000-0000-000000000003"}


def test_evidence_is_the_full_chain():
    idx = index(role_assignment(RG, CONTRIBUTOR, PID))
    ev = idx.access(PID, ACCT).of("mgmt-write")[0].evidence("ws-identity")
    assert ev["principal_name"] == "ws-identity" and ev["role_name"] == "Contributor"
    assert ev["scope"] == RG.lower() and ev["matched_actions"] == ["Microsoft.Storage/storageAccounts/write"]
    assert ev["granted_by"] == "*" and ev["assignment_id"].startswith(f"{RG}/providers/Microsoft.Authorization/")


def test_unreadable_role_assignments_are_a_coverage_problem():
    idx = index(role_assignment(ACCT, BLOB_CONTRIBUTOR, PID))
    idx.inventory.unreadable.append(Unreadable(RG, "Microsoft.Authorization/roleAssignments", 403,
                                               "AuthorizationFailed"))
    problem = idx.coverage_problem(ACCT)
    assert problem and "403" in problem
    assert idx.coverage_problem(OTHER) is None  # another resource group was readable


def test_absent_role_assignments_are_a_coverage_problem_unless_collected():
    assert index(collected=False).coverage_problem(ACCT)
    assert index(collected=True).coverage_problem(ACCT) is None


# -- helpers in flaudit/access.py built on the evaluator -------------------------------------------------------
def test_key_grants_are_inert_only_when_shared_key_access_is_false():
    idx = index(role_assignment(ACCT, KEY_OPERATOR, PID))
    acc = idx.access(PID, ACCT)
    assert split_inert(acc, storage_account(allowSharedKeyAccess=False)) == ([], acc.of("keys"))
    assert split_inert(acc, storage_account())[1] == []  # missing means true
    assert split_inert(acc, storage_account(allowSharedKeyAccess=True))[1] == []


def test_get_path_reads_one_key_exactly_then_case_insensitively_and_misses_to_the_default():
    from flaudit.arm import get_path

    res = {"properties": {"scope": "/s"}, "Flattened": 1, "a.b": "dotted"}
    assert get_path(res, "properties") == {"scope": "/s"}
    assert get_path(res, "PROPERTIES") == {"scope": "/s"}  # ARM treats property names case-insensitively
    assert get_path(res, "flattened") == 1
    assert get_path(res, "properties.Scope") == "/s"
    assert get_path(res, "a.b", "missing") == "missing"  # a dot always separates steps
    assert get_path(res, "absent", 0) == 0
    assert get_path(["properties"], "properties", "not-a-dict") == "not-a-dict"
