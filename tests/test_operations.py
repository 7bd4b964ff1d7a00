"""The operation catalogue (flaudit/data/operations.json, flaudit/operations.py) classifies every storage-account
and user-assigned-identity operation once, and the one evaluator (flaudit/rbac.py) judges roles through it:
every non-read storage operation not documented inert is a path, operations a pattern may match but the
catalogue does not list fail closed, and user-delegation keys count only beside data access.

Role definitions are in the shape of RoleDefinitions_Get.json and role assignments in the shape of
RoleAssignments_ListForScope.json (specification/authorization/resource-manager/Microsoft.Authorization/stable/
2022-04-01/examples/).
"""

from __future__ import annotations

import json
from importlib import resources

import pytest

from flaudit.operations import UNCATALOGUED, action_matches, catalogue, inert_reason, operation
from flaudit.paths import PATH_KINDS
from flaudit.rbac import builtin_roles
from tests.support import role_assignment
from tests.test_rbac import ACCT, CONTAINER, OWNER, PID, custom_role, deny, index, kinds, storage_account

SA = "Microsoft.Storage/storageAccounts"
BLOB = f"{SA}/blobServices/containers/blobs"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"
BACKUP_CONTRIBUTOR = "e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1"
RAW = json.loads(resources.files("flaudit").joinpath("data/operations.json").read_text("utf-8"))


# -- the catalogue itself ------------------------------------------------------------------------------------
def test_catalogue_records_its_sources():
    assert set(RAW["sources"]) == {"Microsoft.Storage", "Microsoft.ManagedIdentity", "Microsoft.Authorization"}
    assert all("learn.microsoft.com" in v for v in RAW["sources"].values())


def test_every_class_leads_to_a_path_kind_or_is_read_or_inert():
    for name, c in RAW["classes"].items():
        assert c["path_kind"] in PATH_KINDS or (c["path_kind"] is None and name in ("read", "inert"))


def test_every_inert_operation_says_why():
    inert = [o for o in RAW["operations"] if o["class"] == "inert"]
    assert inert and all(o.get("note") for o in inert)


def test_every_non_read_storage_operation_is_a_path_unless_documented_inert():
    for op in catalogue().values():
        if not op.name.lower().startswith(SA.lower() + "/") or op.cls == "inert":
            continue
        if op.data:
            assert op.kind == "data", op.name
        elif not op.name.lower().endswith("/read"):
            assert op.kind is not None, op.name


def test_every_storage_and_identity_operation_a_builtin_role_names_is_catalogued():
    names = set()
    for role in builtin_roles().values():
        for a in (*role.actions, *role.not_actions, *role.data_actions, *role.not_data_actions):
            low = a.lower()
            if "*" not in a and low.startswith((SA.lower() + "/", "microsoft.managedidentity/userassignedidentities/")):
                names.add(a)
    missing = sorted(n for n in names if operation(n) is None)
    assert missing == []


@pytest.mark.parametrize("name,kind", [
    (f"{SA}/objectReplicationPolicies/write", "copy"),
    (f"{SA}/inventoryPolicies/write", "copy"),
    (f"{SA}/restoreBlobRanges/action", "copy"),
    (f"{SA}/localusers/write", "mgmt-write"),
    (f"{SA}/privateEndpointConnections/write", "mgmt-write"),
    (f"{SA}/blobServices/containers/immutabilityPolicies/delete", "mgmt-write"),
    (f"{SA}/blobServices/containers/write", "mgmt-write"),
    (f"{SA}/listKeys/action", "keys"),
    (f"{SA}/blobServices/generateUserDelegationKey/action", "delegation"),
    ("Microsoft.Authorization/roleAssignments/write", "role-admin"),
    ("Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write", "identity-takeover"),
    ("Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", "identity-takeover"),
    (f"{SA}/blobServices/containers/delete", None),
    (f"{SA}/read", None),
])
def test_operations_are_classified_by_what_they_let_the_holder_do(name, kind):
    assert operation(name).kind == kind


def test_gated_operations_are_inert_only_under_their_setting():
    keys, container, move = f"{SA}/listKeys/action", f"{SA}/blobServices/containers/write", f"{BLOB}/move/action"
    assert inert_reason(keys, storage_account(allowSharedKeyAccess=False))
    assert inert_reason(keys, storage_account()) is None  # missing means true
    assert inert_reason(container, storage_account(allowBlobPublicAccess=False))
    assert inert_reason(container, storage_account()) is None  # missing: fail closed (older accounts default true)
    assert inert_reason(move, storage_account())  # flat namespace (isHnsEnabled missing means false)
    assert inert_reason(move, storage_account(isHnsEnabled=True)) is None


def test_a_whole_wildcard_segment_may_match_no_segment_as_azure_does():
    """Managed Identity Operator's ``userAssignedIdentities/*/assign/action`` grants ``.../assign/action``."""
    uai = "Microsoft.ManagedIdentity/userAssignedIdentities"
    assert action_matches(f"{uai}/*/assign/action", f"{uai}/assign/action")
    assert action_matches(f"{uai}/*/assign/action", f"{uai}/x/y/assign/action")
    assert not action_matches(f"{uai}/*/assign/action", f"{uai}/assignx/action")
    mio = builtin_roles()["f1a07417-d97a-45cb-824c-7a7467783830"]
    got = [a for a, _ in mio.grants.identity["identity-takeover"]]
    assert got[0] == f"{uai}/assign/action"
    assert got[1:] == [f"{uai}/<uncatalogued>/assign/action"]  # the wildcard may match child types' assigns too


# -- roles judged through it ---------------------------------------------------------------------------------
def test_storage_account_backup_contributor_is_a_copy_path():
    idx = index(role_assignment(ACCT, BACKUP_CONTRIBUTOR, PID))
    assert "copy" in kinds(idx)
    assert {g.action for g in idx.access(PID, ACCT).of("copy")} >= {f"{SA}/objectReplicationPolicies/write"}


def test_custom_role_with_a_single_copy_operation_is_a_copy_path():
    role = custom_role("c1000000-0000-0000-0000-000000000001", "Inventory writer",
                       actions=[f"{SA}/inventoryPolicies/write"])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    assert kinds(idx) == ["copy"]


def test_an_uncatalogued_literal_storage_operation_fails_closed():
    role = custom_role("c1000000-0000-0000-0000-000000000002", "Future feature",
                       actions=[f"{SA}/exportEverything/action"])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    assert kinds(idx) == ["mgmt-write"]
    assert idx.access(PID, ACCT).grants[0].action == f"{SA}/exportEverything/action"
    assert operation(f"{SA}/exportEverything/action") is None


def test_a_wildcard_that_could_match_uncatalogued_operations_fails_closed_even_when_every_catalogued_one_is_removed():
    not_actions = [o.name for o in catalogue().values() if not o.data and o.name.lower().startswith(SA.lower() + "/")
                   and o.name.lower().endswith("/action")]
    role = custom_role("c1000000-0000-0000-0000-000000000003", "Every action but the known ones",
                       actions=[f"{SA}/*/action"], not_actions=not_actions)
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    assert kinds(idx) == ["mgmt-write"]
    g = idx.access(PID, ACCT).grants[0]
    assert g.pattern == f"{SA}/*/action" and g.action == f"{SA}/{UNCATALOGUED}/action"


def test_wildcards_that_only_match_reads_lead_nowhere():
    role = custom_role("c1000000-0000-0000-0000-000000000004", "Storage reader",
                       actions=[f"{SA}/*/read", "*/read"])
    idx = index(role, role_assignment(ACCT, role["name"], PID))
    assert kinds(idx) == []


def test_a_deny_on_the_representative_operations_leaves_the_kind_when_another_operation_survives():
    """Grants carry a few representative operations per kind; a deny covering exactly those must not hide the
    rest (Owner denied storageAccounts/write still approves private endpoints)."""
    idx0 = index(role_assignment(ACCT, OWNER, PID))
    shown = [g.action for g in idx0.access(PID, ACCT).of("mgmt-write")]
    idx = index(role_assignment(ACCT, OWNER, PID), deny(ACCT, "no shown writes", actions=shown,
                                                        principals=[(PID, "ServicePrincipal")]))
    acc = idx.access(PID, ACCT)
    assert "mgmt-write" in acc.kinds and not set(shown) & {g.action for g in acc.of("mgmt-write")}
    assert "mgmt-write" in idx.principals_with_access(ACCT)[PID].kinds


def test_a_deny_on_every_storage_write_removes_the_kind():
    idx = index(role_assignment(ACCT, OWNER, PID), deny(ACCT, "no storage writes", actions=[f"{SA}/*"],
                                                        principals=[(PID, "ServicePrincipal")]))
    assert "mgmt-write" not in kinds(idx) and "copy" not in kinds(idx) and "keys" not in kinds(idx)
    assert "role-admin" in kinds(idx)


# -- user delegation, precisely -------------------------------------------------------------------------------
def test_a_user_delegation_key_alone_is_no_access():
    idx = index(role_assignment(ACCT, BLOB_DELEGATOR, PID))
    acc = idx.access(PID, ACCT)
    assert acc.kinds == [] and [g.kind for g in acc.idle] == ["delegation"]
    assert idx.principals_with_access(ACCT)[PID].kinds == []  # listed (shown as inert), grants nothing


def test_a_user_delegation_key_with_data_access_counts_as_delegation():
    idx = index(role_assignment(ACCT, BLOB_DELEGATOR, PID), role_assignment(CONTAINER, BLOB_READER, PID))
    assert kinds(idx) == ["data", "delegation"]


def test_a_user_delegation_key_is_as_conditional_as_the_data_access_it_is_capped_by():
    cond = f"@Resource[{BLOB}:path] StringStartsWith 'silo0/'"
    idx = index(role_assignment(ACCT, BLOB_DELEGATOR, PID), role_assignment(ACCT, BLOB_READER, PID, condition=cond))
    acc = idx.access(PID, ACCT)
    assert acc.of("delegation") and all(g.conditional for g in acc.of("delegation"))
    assert acc.conditional()


def test_a_user_delegation_key_whose_data_access_is_denied_is_no_access():
    idx = index(role_assignment(ACCT, BLOB_READER, PID),
                deny(ACCT, "no blob data", data_actions=[f"{SA}/blobServices/*"], principals=[(PID, "ServicePrincipal")]))
    acc = idx.access(PID, ACCT)
    assert acc.kinds == [] and acc.idle
