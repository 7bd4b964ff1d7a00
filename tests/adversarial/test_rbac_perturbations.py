"""RBAC perturbations that must never turn into a pass: assignments and role definitions in the shapes real
tools print (flattened ``az`` output, other casing, scope only in the id), wildcards, partial ``notDataActions``,
data actions beyond read/write, deny assignments that do not certainly apply, inherited and container scopes,
group and workspace principals.

Each test gives silo0's identity (or another principal) a path to silo1's storage in the hardened sample,
which otherwise passes everything, and asserts the rule that must see it does not pass.
"""

from __future__ import annotations

import pytest

from flaudit.samples import generate
from tests.adversarial.common import (
    CUSTOM,
    ROLE,
    SA,
    deny_assignment,
    flatten,
    not_passing,
    role_definition,
    workspace,
)
from tests.support import audit, principal, role_assignment, sample_resources, statuses, storage

BLOB = f"{SA}/blobServices/containers/blobs"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
STORAGE_ACCOUNT_CONTRIBUTOR = "17d1049b-9a84-46fb-8f53-869881c3d3ab"


def _silo0_on_silo1(res: list, role: str = ROLE["blob-reader"], **kw) -> dict:
    """A role assignment of ``role`` for silo0's identity on silo1's storage account."""
    return role_assignment(storage(res, "silo1")["id"], role, principal(res, "uai-silo0"), **kw)


def _cross_silo_seen(result: dict) -> None:
    not_passing(result, "FL-ID-004", "silo0")
    not_passing(result, "FL-WS-001", "silo1")


def test_hardened_sample_is_the_passing_control():
    result = audit(sample_resources())
    assert statuses(result, "FL-ID-004") == {"pass"} and statuses(result, "FL-WS-001") == {"pass"}
    assert result["verdict"]["production"]["status"] == "ready"


def test_role_assignment_flattened_as_az_role_assignment_list_prints_it():
    res = sample_resources()
    res.append(flatten(_silo0_on_silo1(res)))
    _cross_silo_seen(audit(res))


def test_role_assignment_property_names_in_other_casing():
    res = sample_resources()
    ra = _silo0_on_silo1(res)
    ra["properties"] = {k[0].upper() + k[1:]: v for k, v in ra["properties"].items()}
    res.append(ra)
    _cross_silo_seen(audit(res))


def test_scope_only_in_the_id_with_upper_case_ids_and_a_trailing_slash_on_the_role_id():
    res = sample_resources()
    ra = role_assignment(storage(res, "silo1")["id"].upper(), ROLE["blob-reader"].upper(),
                         principal(res, "uai-silo0").upper())
    del ra["properties"]["scope"]
    ra["properties"]["roleDefinitionId"] = ra["properties"]["roleDefinitionId"].upper() + "/"
    res.append(ra)
    _cross_silo_seen(audit(res))


def test_empty_condition_string_is_an_unconditional_grant():
    res = sample_resources()
    ra = _silo0_on_silo1(res)
    ra["properties"]["condition"] = ""
    res.append(ra)
    _cross_silo_seen(audit(res))


def test_custom_role_flattened_as_az_role_definition_list_prints_it():
    res = sample_resources()
    res.append(role_definition(CUSTOM, data_actions=["Microsoft.Storage/*"], flat=True))
    res.append(_silo0_on_silo1(res, CUSTOM))
    _cross_silo_seen(audit(res))


def test_builtin_role_definition_in_the_input_flattened_still_grants_its_data_actions():
    res = sample_resources()
    res.append(role_definition(ROLE["blob-reader"], actions=[f"{SA}/blobServices/containers/read"],
                               data_actions=[f"{BLOB}/read"], name="Storage Blob Data Reader", flat=True,
                               role_type="BuiltInRole"))
    res.append(_silo0_on_silo1(res))
    _cross_silo_seen(audit(res))


def test_role_definition_permission_names_in_other_casing():
    res = sample_resources()
    rd = role_definition(CUSTOM)
    rd["properties"]["Permissions"] = [{"Actions": [], "DataActions": ["*"]}]
    del rd["properties"]["permissions"]
    res += [rd, _silo0_on_silo1(res, CUSTOM)]
    _cross_silo_seen(audit(res))


def test_role_definition_without_permissions_is_not_an_empty_role():
    res = sample_resources()
    rd = role_definition(CUSTOM)
    del rd["properties"]["permissions"]
    res += [rd, _silo0_on_silo1(res, CUSTOM)]
    _cross_silo_seen(audit(res))


def test_role_not_in_the_input_nor_bundled_is_unknown():
    res = sample_resources()
    res.append(_silo0_on_silo1(res, CUSTOM))
    result = audit(res)
    assert statuses(result, "FL-ID-004", silo="silo0") == {"unknown"}
    _cross_silo_seen(result)


def test_custom_role_star_read_actions_and_star_data_actions():
    res = sample_resources()
    res += [role_definition(CUSTOM, actions=["*/read"], data_actions=["*"]), _silo0_on_silo1(res, CUSTOM)]
    _cross_silo_seen(audit(res))


def test_custom_role_with_storage_wildcard_actions_only():
    """``Microsoft.Storage/*`` in actions: keys (inert here) and storageAccounts/write, a path to the data."""
    res = sample_resources()
    res += [role_definition(CUSTOM, actions=["Microsoft.Storage/*"]), _silo0_on_silo1(res, CUSTOM)]
    _cross_silo_seen(audit(res))


def test_not_data_actions_subtracting_only_read_leaves_write():
    res = sample_resources()
    res += [role_definition(CUSTOM, data_actions=[f"{BLOB}/*"], not_data_actions=[f"{BLOB}/read"]),
            _silo0_on_silo1(res, CUSTOM)]
    _cross_silo_seen(audit(res))


@pytest.mark.parametrize("action", [
    f"{SA}/queueServices/queues/messages/process/action",
    f"{SA}/queueServices/queues/messages/delete",
    f"{SA}/tableServices/tables/entities/delete",
    f"{SA}/tableServices/tables/entities/update/action",
    f"{SA}/fileServices/fileshares/files/delete",
    f"{SA}/fileServices/fileshares/files/modifypermissions/action",
    f"{SA}/fileServices/readFileBackupSemantics/action",
    f"{BLOB}/move/action",
    f"{BLOB}/permanentDelete/action",
    f"{BLOB}/modifyPermissions/action",
])
def test_data_actions_beyond_read_and_write_are_access_to_another_silo(action):
    res = sample_resources()
    storage(res, "silo1")["properties"]["isHnsEnabled"] = True  # rename and ACLs need a hierarchical namespace
    res += [role_definition(CUSTOM, data_actions=[action]), _silo0_on_silo1(res, CUSTOM)]
    _cross_silo_seen(audit(res))


@pytest.mark.parametrize("action", [f"{BLOB}/move/action", f"{BLOB}/modifyPermissions/action"])
def test_rename_and_acl_actions_are_inert_on_a_flat_namespace(action):
    """Rename and POSIX ACLs exist only with isHnsEnabled (default false): on a flat account they are inert and
    shown as such (FL-WS-004), not counted as access."""
    res = sample_resources()
    res += [role_definition(CUSTOM, data_actions=[action]), _silo0_on_silo1(res, CUSTOM)]
    result = audit(res)
    assert statuses(result, "FL-WS-001", silo="silo1") == {"pass"}
    assert "fail" in statuses(result, "FL-WS-004", silo="silo1")


def test_data_actions_beyond_read_and_write_do_not_satisfy_training_needs():
    """A silo whose only data right on its own storage is dequeuing messages cannot read its training data."""
    res = sample_resources()
    res = [r for r in res if not (r["type"] == "Microsoft.Authorization/roleAssignments"
                                  and r["properties"]["principalId"] == principal(res, "uai-silo1")
                                  and r["properties"]["scope"] == storage(res, "silo1")["id"])]
    res += [role_definition(CUSTOM, data_actions=[f"{SA}/queueServices/queues/messages/process/action"]),
            role_assignment(storage(res, "silo1")["id"], CUSTOM, principal(res, "uai-silo1"))]
    result = audit(res)
    assert "fail" in statuses(result, "FL-ID-003", silo="silo1")


def test_deny_of_blob_read_only_leaves_write_and_delegation():
    res = sample_resources()
    s1 = storage(res, "silo1")["id"]
    res += [_silo0_on_silo1(res, ROLE["blob-contributor"]),
            deny_assignment(s1, "deny-read", actions=[], data_actions=[f"{BLOB}/read"])]
    _cross_silo_seen(audit(res))


def test_deny_assignment_with_a_condition_removes_nothing():
    res = sample_resources()
    s1 = storage(res, "silo1")["id"]
    res += [_silo0_on_silo1(res),
            deny_assignment(s1, "deny-cond", condition="@Request[Microsoft.Storage/storageAccounts/blobServices/"
                            "containers/blobs:path] StringStartsWith 'x/'", conditionVersion="2.0")]
    result = audit(res)
    _cross_silo_seen(result)
    notes = [e["text"] for f in result["findings"] if f["rule_id"] == "FL-ID-004" and f["silo"] == "silo0"
             for e in f["evidence"] if e.get("kind") == "note"]
    assert any("condition" in n and "NOT denied" in n for n in notes), notes


def test_deny_assignment_excluding_a_group_may_exclude_the_principal():
    res = sample_resources()
    s1 = storage(res, "silo1")["id"]
    res += [_silo0_on_silo1(res),
            deny_assignment(s1, "deny-but-group", exclude=[{"id": "5e0c1a52-0000-4000-8000-00000000e001",
                                                            "type": "Group"}])]
    _cross_silo_seen(audit(res))


def test_deny_assignment_naming_a_group_does_not_remove_a_service_principals_grant():
    res = sample_resources()
    s1 = storage(res, "silo1")["id"]
    res += [_silo0_on_silo1(res),
            deny_assignment(s1, "deny-group", principals=[{"id": "5e0c1a52-0000-4000-8000-00000000e002",
                                                           "type": "Group"}])]
    _cross_silo_seen(audit(res))


def test_deny_at_the_resource_group_with_do_not_apply_to_child_scopes_as_a_string():
    res = sample_resources()
    res += [_silo0_on_silo1(res), deny_assignment(generate.rg_id(), "deny-rg", doNotApplyToChildScopes="true")]
    _cross_silo_seen(audit(res))


def test_owner_at_the_root_scope():
    res = sample_resources()
    res.append(role_assignment("/", OWNER, principal(res, "uai-silo0")))
    result = audit(res)
    _cross_silo_seen(result)
    not_passing(result, "FL-ID-007", "silo0")


def test_assignment_at_a_management_group_with_the_hierarchy_unknown():
    res = sample_resources()
    res.append(role_assignment("/providers/Microsoft.Management/managementGroups/mg-fl", ROLE["blob-reader"],
                               principal(res, "uai-silo0")))
    _cross_silo_seen(audit(res))


def test_assignment_at_a_management_group_named_in_other_casing_by_the_subscription_chain():
    res = sample_resources()
    res.append(role_assignment("/providers/Microsoft.Management/managementGroups/mg-fl", ROLE["blob-reader"],
                               principal(res, "uai-silo0")))
    res.append({"id": f"/subscriptions/{generate.SUB}", "type": "Microsoft.Resources/subscriptions",
                "name": generate.SUB, "subscriptionId": generate.SUB,
                "properties": {"managementGroupAncestorsChain": [{"name": "MG-FL", "displayName": "FL"},
                                                                 {"name": "tenant-root", "displayName": "Root"}]}})
    _cross_silo_seen(audit(res))


def test_assignment_on_one_container_of_another_silos_account():
    res = sample_resources()
    res.append(role_assignment(storage(res, "silo1")["id"] + "/blobServices/default/containers/data",
                               ROLE["blob-reader"], principal(res, "uai-silo0")))
    _cross_silo_seen(audit(res))


def test_group_principal_not_named_in_the_fl_config():
    res = sample_resources()
    res.append(role_assignment(storage(res, "silo1")["id"], ROLE["blob-reader"],
                               "5e0c1a52-0000-4000-8000-00000000e003", principal_type="Group"))
    not_passing(audit(res), "FL-WS-001", "silo1")


def test_workspace_system_identity_with_storage_account_contributor():
    res = sample_resources()
    res.append(role_assignment(storage(res, "silo1")["id"], STORAGE_ACCOUNT_CONTRIBUTOR,
                               workspace(res)["identity"]["principalId"]))
    not_passing(audit(res), "FL-WS-001", "silo1")


def test_workspace_system_identity_with_contributor_at_the_resource_group():
    res = sample_resources()
    res.append(role_assignment(generate.rg_id(), ROLE["contributor"], workspace(res)["identity"]["principalId"]))
    result = audit(res)
    for silo in ("silo0", "silo1", "silo2"):
        not_passing(result, "FL-WS-001", silo)


@pytest.mark.parametrize("role", ["18d7d88d-d35e-4fb5-a5c3-7773c20a72d9",  # User Access Administrator
                                  "f58310d9-a9f6-439a-9e8d-f62e7b41a168"],  # RBAC Administrator (conditional)
                         ids=["user-access-admin", "rbac-admin-conditional"])
def test_role_admin_at_the_resource_group(role):
    res = sample_resources()
    condition = None
    if role.startswith("f58310d9"):
        condition = ("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request["
                     "Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals "
                     f"{{{ROLE['blob-reader']}}}))")
    res.append(role_assignment(generate.rg_id(), role, principal(res, "uai-silo0"), condition=condition))
    not_passing(audit(res), "FL-ID-007", "silo0")


def test_custom_role_with_authorization_wildcard_is_role_admin():
    res = sample_resources()
    res += [role_definition(CUSTOM, actions=["Microsoft.Authorization/*"]),
            role_assignment(generate.rg_id(), CUSTOM, principal(res, "uai-silo0"))]
    not_passing(audit(res), "FL-ID-007", "silo0")


@pytest.mark.parametrize("shared_keys", ["missing", None, "false", "False", 1])
def test_key_operator_on_own_storage_where_shared_keys_are_not_stated_false(shared_keys):
    res = sample_resources()
    props = storage(res, "silo1")["properties"]
    if shared_keys == "missing":
        del props["allowSharedKeyAccess"]
    else:
        props["allowSharedKeyAccess"] = shared_keys
    res.append(role_assignment(storage(res, "silo1")["id"], ROLE["key-operator"], principal(res, "uai-silo1")))
    not_passing(audit(res), "FL-ID-005", "silo1")


def test_key_operator_on_another_silos_storage_with_shared_keys_by_default():
    res = sample_resources()
    del storage(res, "silo1")["properties"]["allowSharedKeyAccess"]
    res.append(_silo0_on_silo1(res, ROLE["key-operator"]))
    _cross_silo_seen(audit(res))


def test_workspace_user_assigned_identity_with_data_access():
    res = sample_resources()
    uai = f"{generate.rg_id()}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai-workspace"
    pid = "5e0c1a52-0000-4000-8000-00000000e004"
    res.append({"id": uai, "name": "uai-workspace", "type": "Microsoft.ManagedIdentity/userAssignedIdentities",
                "properties": {"principalId": pid, "clientId": "5e0c1a52-0000-4000-8000-00000000e005"}})
    ws = workspace(res)
    ws["identity"] = {"type": "SystemAssigned,UserAssigned", "principalId": ws["identity"]["principalId"],
                      "userAssignedIdentities": {uai: {}}}
    res.append(role_assignment(storage(res, "silo1")["id"], ROLE["blob-reader"], pid))
    not_passing(audit(res), "FL-WS-001", "silo1")


def test_orchestrator_identity_with_data_access_to_a_silo():
    res = sample_resources()
    res.append(role_assignment(storage(res, "silo1")["id"], ROLE["blob-reader"], principal(res, "uai-orchestrator")))
    not_passing(audit(res), "FL-WS-001", "silo1")


@pytest.mark.parametrize("chain", [[], [{"displayName": "FL"}], [{"name": ""}, {"name": "tenant-root"}]],
                         ids=["empty", "no-names", "blank-name"])
def test_management_group_chain_not_understood_keeps_every_management_group(chain):
    """Every subscription is under the tenant root group: an empty or nameless chain says nothing."""
    res = sample_resources()
    res.append(role_assignment("/providers/Microsoft.Management/managementGroups/mg-fl", ROLE["blob-reader"],
                               principal(res, "uai-silo0")))
    res.append({"id": f"/subscriptions/{generate.SUB}", "type": "Microsoft.Resources/subscriptions",
                "name": generate.SUB, "properties": {"managementGroupAncestorsChain": chain}})
    _cross_silo_seen(audit(res))


def test_management_group_outside_a_known_chain_does_not_apply():
    """Control for the test above: a chain that names other groups rules the assignment out."""
    res = sample_resources()
    res.append(role_assignment("/providers/Microsoft.Management/managementGroups/mg-fl", ROLE["blob-reader"],
                               principal(res, "uai-silo0")))
    res.append({"id": f"/subscriptions/{generate.SUB}", "type": "Microsoft.Resources/subscriptions",
                "name": generate.SUB, "properties": {"managementGroupAncestorsChain": [{"name": "mg-other"}]}})
    assert statuses(audit(res), "FL-ID-004", silo="silo0") == {"pass"}


# -- the operation catalogue, PIM and user delegation (issue #11) -----------------------------------------------
BACKUP_CONTRIBUTOR = "e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1"
BLOB_DELEGATOR = "db58b8e5-c6ad-4a2a-8342-4190687cbf4a"


def _path_kinds(result: dict, rule: str, silo: str) -> set[str]:
    return {n["text"].split(":", 1)[0] for f in result["findings"] if f["rule_id"] == rule and f["silo"] == silo
            and f["status"] == "fail" for n in f["evidence"] if n["kind"] == "note" and ":" in n["text"]}


def test_storage_account_backup_contributor_is_a_copy_path_to_another_silo():
    res = sample_resources()
    res.append(_silo0_on_silo1(res, BACKUP_CONTRIBUTOR))
    result = audit(res)
    _cross_silo_seen(result)
    assert "copy" in _path_kinds(result, "FL-ID-004", "silo0")


@pytest.mark.parametrize("action", [f"{SA}/objectReplicationPolicies/write", f"{SA}/inventoryPolicies/write",
                                    f"{SA}/localusers/write", f"{SA}/privateEndpointConnections/write",
                                    f"{SA}/someFutureExport/action"])
def test_a_single_management_write_that_moves_or_exposes_data_is_a_path(action):
    res = sample_resources()
    res += [role_definition(CUSTOM, actions=[action]), _silo0_on_silo1(res, CUSTOM)]
    _cross_silo_seen(audit(res))


def test_a_pim_eligible_data_role_on_another_silo_is_access_reported_as_eligible():
    from tests.rules.test_identity_takeover import eligibility_instance

    res = sample_resources()
    res.append(eligibility_instance(storage(res, "silo1")["id"], ROLE["blob-reader"], principal(res, "uai-silo0")))
    result = audit(res)
    _cross_silo_seen(result)
    assert "eligible" in _path_kinds(result, "FL-ID-004", "silo0")
    edge = next(e for e in result["access"] if e.get("principal_silo") == "silo0" and e["silo"] == "silo1")
    assert "eligible" in edge["kinds"] and edge["chain"][0]["eligible"] is True


def test_a_user_delegation_key_alone_is_shown_inert_and_does_not_block():
    res = sample_resources()
    res.append(role_assignment(storage(res, "silo1")["id"], BLOB_DELEGATOR, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"))
    result = audit(res)
    assert statuses(result, "FL-WS-001", silo="silo1") == {"pass"}
    edge = next(e for e in result["access"] if e["principal_id"] == "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    assert edge["inert_kinds"] == ["delegation"]
    assert result["verdict"]["production"]["status"] == "ready"


def test_a_silo_whose_own_data_role_is_only_pim_eligible_cannot_train():
    """Training runs as the identity's active assignments: an eligible role must be activated first, so FL-ID-003
    does not count it (while every rule about outsiders does)."""
    from tests.rules.test_identity_takeover import eligibility_instance

    res = sample_resources()
    pid = principal(res, "uai-silo1")
    s1 = storage(res, "silo1")["id"]
    res = [r for r in res if not (r["type"] == "Microsoft.Authorization/roleAssignments"
                                  and r["properties"]["principalId"] == pid and r["properties"]["scope"] == s1)]
    res.append(eligibility_instance(s1, ROLE["blob-contributor"], pid))
    assert "fail" in statuses(audit(res), "FL-ID-003", silo="silo1")
