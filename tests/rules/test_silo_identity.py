"""Silo identity (FL-ID-*): own user-assigned identity, no sharing, own data access, no cross-silo access (direct,
inherited, container-scoped, conditional, denied or exempted), live vs inert key roles, role-admin over other
silos, separation of model updates in the orchestrator's storage, unknowns, and the bundled samples' verdicts."""

from __future__ import annotations

from typing import Any

import flaudit.rules.silo_identity as pack
import pytest

from flaudit.config import parse_config
from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests import support

RULES = support.rules_of(pack)
SANDBOXES = ("open", "eyes-on", "eyes-off", "private")
ROLE = generate.ROLE
UAA = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
SA = "Microsoft.Storage/storageAccounts"
BLOB = f"{SA}/blobServices/containers/blobs"
RA_TYPE = "Microsoft.Authorization/roleAssignments"


def run(resources: list[dict[str, Any]], cfg: Any = "default", unreadable: list[Unreadable] = ()) -> dict[str, Any]:
    return support.run_area(resources, RULES, cfg, unreadable=unreadable)


st = support.storage_id


def pid(res: list[dict[str, Any]], silo: str) -> str:
    return support.principal(res, f"uai-{silo}")


def drop_assignments(res: list[dict[str, Any]], *, principal: str | None = None, scope: str | None = None) -> None:
    res[:] = [r for r in res if not (r["type"] == RA_TYPE
                                      and (principal is None or r["properties"]["principalId"] == principal)
                                      and (scope is None or r["properties"]["scope"] == scope))]


def fails(result: dict[str, Any], rule_id: str, silo: str = "*") -> list[dict[str, Any]]:
    return support.findings(result, rule_id, silo=silo, status="fail")


def use_identity(res: list[dict[str, Any]], compute: str, uai_name: str) -> None:
    uai = support.identity(res, uai_name)
    support.compute(res, compute)["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {
        uai["id"]: {"principalId": uai["properties"]["principalId"], "clientId": uai["properties"]["clientId"]}}}


# -- the bundled samples --------------------------------------------------------------------------------------
@pytest.mark.parametrize("posture", SANDBOXES)
def test_sandboxes_are_prototype_ready_and_fail_production_only_on_unseparated_updates(posture):
    result = run(support.sample_resources(posture))
    blocking = {p: {f["rule_id"] for f in result["findings"]
                    if p in f["blocks"] and f["status"] in ("fail", "unknown")} for p in ("prototype", "production")}
    assert blocking == {"prototype": set(), "production": {"FL-ID-008"}}
    # their Key Operator / Reader and Data Access roles are inert: allowSharedKeyAccess is false
    inert = fails(result, "FL-ID-006")
    assert len(inert) == 6 and all(f["severity"] == "low" and f["blocks"] == [] for f in inert)
    assert support.statuses(result, "FL-ID-005") == {"pass"}


def test_hardened_sample_passes_every_silo_identity_rule():
    result = run(support.sample_resources("hardened"))
    assert {f["status"] for f in result["findings"]} == {"pass"}
    assert {f["rule_id"] for f in result["findings"]} == {r.id for r in RULES}


# -- FL-ID-001 user-assigned identity -----------------------------------------------------------------------------
def test_compute_without_identity_fails():
    res = support.sample_resources("hardened")
    del support.compute(res, "silo1-01")["identity"]
    f = fails(run(res), "FL-ID-001", silo="silo1")
    assert len(f) == 1 and "no managed identity" in f[0]["message"]
    assert f[0]["evidence"][0]["default_assumed"] is True


def test_system_assigned_only_compute_fails():
    res = support.sample_resources("hardened")
    support.compute(res, "silo1-01")["identity"] = {"type": "SystemAssigned",
                                                    "principalId": "bbbbbbbb-0000-0000-0000-000000000001"}
    result = run(res)
    assert "system-assigned" in fails(result, "FL-ID-001", silo="silo1")[0]["message"]
    assert support.statuses(result, "FL-ID-001", silo="silo0") == {"pass"}


def test_unresolved_compute_is_unknown_not_pass():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][1]["computes"] = ["silo1-99"]
    result = run(support.sample_resources("hardened"), parse_config(doc, "c.yaml"))
    for rid in ("FL-ID-001", "FL-ID-002", "FL-ID-003", "FL-ID-004"):
        assert support.statuses(result, rid, silo="silo1") == {"unknown"}, rid


def test_identity_without_a_principal_id_in_the_input_is_unknown():
    res = support.sample_resources("hardened")
    uai = support.identity(res, "uai-silo2")
    res.remove(uai)
    support.compute(res, "silo2-01")["identity"]["userAssignedIdentities"][uai["id"]] = {}
    result = run(res)
    assert support.statuses(result, "FL-ID-001", silo="silo2") == {"pass"}  # it is user-assigned
    for rid in ("FL-ID-003", "FL-ID-004", "FL-ID-007", "FL-ID-008"):
        found = support.findings(result, rid, silo="silo2")
        assert [f["status"] for f in found] == ["unknown"], rid
        assert "principal id of uai-silo2" in found[0]["message"]


# -- FL-ID-002 shared identity ------------------------------------------------------------------------------------
def test_two_silos_sharing_one_identity_is_critical_and_breaks_isolation():
    res = support.sample_resources("hardened")
    use_identity(res, "silo1-01", "uai-silo0")
    result = run(res)
    shared = fails(result, "FL-ID-002")
    assert {f["silo"] for f in shared} == {"silo0", "silo1"}
    assert all(f["severity"] == "critical" for f in shared)
    assert "silo1" in next(f for f in shared if f["silo"] == "silo0")["message"]
    # silo1's compute now runs as an identity holding silo0's data roles
    cross = fails(result, "FL-ID-004", silo="silo1")
    assert [f["resource_id"] for f in cross] == [st(res, "silo0")]


def test_a_shared_identity_is_reported_once_per_account_so_finding_ids_stay_unique():
    res = support.sample_resources("hardened")
    use_identity(res, "silo1-01", "uai-silo0")
    res.append(support.role_assignment(generate.rg_id(), ROLE["contributor"], pid(res, "silo0")))
    result = run(res)
    ids = [f["id"] for f in result["findings"]]
    assert len(ids) == len(set(ids))
    cross = fails(result, "FL-ID-004")
    assert {f["resource_id"] for f in cross} == {st(res, s) for s in ("silo0", "silo1", "silo2")}


def test_identity_shared_with_the_orchestrator_fails():
    res = support.sample_resources("hardened")
    use_identity(res, "silo2-01", "uai-orchestrator")
    f = fails(run(res), "FL-ID-002", silo="silo2")
    assert len(f) == 1 and "orchestrator" in f[0]["message"] and f[0]["severity"] == "critical"


# -- FL-ID-003 own data access ------------------------------------------------------------------------------------
def test_missing_data_role_on_own_storage_fails_both_profiles():
    res = support.sample_resources("hardened")
    drop_assignments(res, principal=pid(res, "silo0"), scope=st(res, "silo0"))
    result = run(res)
    f = fails(result, "FL-ID-003", silo="silo0")
    assert len(f) == 1 and "training will fail" in f[0]["message"]
    assert set(f[0]["blocks"]) == {"prototype", "production"} and f[0]["resource_id"] == st(res, "silo0")


def test_key_role_alone_is_not_data_access():
    res = support.sample_resources("hardened")
    drop_assignments(res, principal=pid(res, "silo0"), scope=st(res, "silo0"))
    res.append(support.role_assignment(st(res, "silo0"), ROLE["key-operator"], pid(res, "silo0")))
    assert fails(run(res), "FL-ID-003", silo="silo0")


def test_data_role_removed_by_a_deny_assignment_fails_and_names_the_deny():
    res = support.sample_resources("hardened")
    res.append(deny_assignment(st(res, "silo0"), [pid(res, "silo0")]))
    f = fails(run(res), "FL-ID-003", silo="silo0")
    assert f and "deny" in f[0]["message"]
    assert any("denied by deny assignment" in e.get("text", "") for e in f[0]["evidence"])


def test_missing_write_to_the_orchestrator_storage_fails():
    res = support.sample_resources("hardened")
    drop_assignments(res, principal=pid(res, "silo2"), scope=st(res, "orchestrator"))
    f = fails(run(res), "FL-ID-003", silo="silo2")
    assert len(f) == 1 and f[0]["resource_id"] == st(res, "orchestrator") and "model updates" in f[0]["message"]


def test_unreadable_role_assignments_make_own_access_unknown():
    res = support.sample_resources("hardened")
    drop_assignments(res)
    result = run(res, unreadable=[Unreadable(generate.rg_id(), RA_TYPE, 403, "AuthorizationFailed")])
    for rid in ("FL-ID-003", "FL-ID-004", "FL-ID-007", "FL-ID-008"):
        assert support.statuses(result, rid) == {"unknown"}, rid
    assert "403" in support.findings(result, "FL-ID-003")[0]["message"]


def test_own_access_only_through_a_configured_group_is_unknown():
    res = support.sample_resources("hardened")
    group = "cccccccc-0000-0000-0000-000000000001"
    drop_assignments(res, principal=pid(res, "silo0"), scope=st(res, "silo0"))
    res.append(support.role_assignment(st(res, "silo0"), ROLE["blob-contributor"], group, principal_type="Group"))
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][0]["groups"] = [group]
    result = run(res, parse_config(doc, "c.yaml"))
    f = [x for x in support.findings(result, "FL-ID-003", silo="silo0") if x["resource_id"] == st(res, "silo0")]
    assert [x["status"] for x in f] == ["unknown"] and "Microsoft Graph" in f[0]["message"]


# -- FL-ID-004 cross-silo access ------------------------------------------------------------------------------------
def test_contributor_on_the_resource_group_reaches_every_other_silo():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(generate.rg_id(), ROLE["contributor"], pid(res, "silo0")))
    f = fails(run(res), "FL-ID-004", silo="silo0")
    assert {x["resource_id"] for x in f} == {st(res, "silo1"), st(res, "silo2")}
    assert all(x["severity"] == "critical" and set(x["blocks"]) == {"prototype", "production"} for x in f)
    assert "mgmt-write" in f[0]["message"] and "keys" not in f[0]["message"]  # shared keys are off: inert
    chain = [e for e in f[0]["evidence"] if e["kind"] == "access"]
    assert chain and all(e["scope"] == generate.rg_id().lower() and e["role_name"] == "Contributor" for e in chain)


def test_container_scope_grant_on_another_silo_is_cross_silo_data_access():
    res = support.sample_resources("hardened")
    container = f"{st(res, 'silo2')}/blobServices/default/containers/data"
    res.append(support.role_assignment(container, ROLE["blob-reader"], pid(res, "silo1")))
    f = fails(run(res), "FL-ID-004", silo="silo1")
    assert len(f) == 1 and "data access" in f[0]["message"] and f[0]["resource_id"] == st(res, "silo2")
    assert f[0]["evidence"][0]["matched_actions"] == [f"{BLOB}/read"]


def test_conditional_cross_silo_grant_fails_and_says_conditional():
    res = support.sample_resources("hardened")
    cond = f"(@Resource[{BLOB}:path] StringStartsWith 'public/')"
    res.append(support.role_assignment(st(res, "silo1"), ROLE["blob-reader"], pid(res, "silo0"), condition=cond))
    f = fails(run(res), "FL-ID-004", silo="silo0")
    assert len(f) == 1 and "conditional" in f[0]["message"] and f[0]["evidence"][0]["condition"] == cond


def test_deny_that_excludes_the_principal_does_not_save_it():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(generate.rg_id(), ROLE["blob-reader"], pid(res, "silo0")))
    res.append(deny_assignment(st(res, "silo1"), ["00000000-0000-0000-0000-000000000000"],
                               exclude=[pid(res, "silo0")]))
    f = fails(run(res), "FL-ID-004", silo="silo0")
    assert {x["resource_id"] for x in f} == {st(res, "silo1"), st(res, "silo2")}
    s1 = next(x for x in f if x["resource_id"] == st(res, "silo1"))
    assert any("excludePrincipals" in e.get("text", "") for e in s1["evidence"])


def test_deny_that_applies_to_the_principal_removes_the_cross_silo_path():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo1"), ROLE["blob-reader"], pid(res, "silo0")))
    res.append(deny_assignment(st(res, "silo1"), ["00000000-0000-0000-0000-000000000000"],
                               exclude=[pid(res, "silo1")], actions=[f"{SA}/blobServices/generateUserDelegationKey/action"]))
    result = run(res)
    assert support.statuses(result, "FL-ID-004", silo="silo0") == {"pass"}
    assert support.statuses(result, "FL-ID-003", silo="silo1") == {"pass"}  # its own grant is exempted


def test_unknown_role_on_another_silo_is_unknown():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo1"), "99999999-9999-9999-9999-999999999999", pid(res, "silo0")))
    f = support.findings(run(res), "FL-ID-004", silo="silo0")
    assert [x["status"] for x in f] == ["unknown"] and "cannot read" in f[0]["message"]


def test_key_operator_on_another_silo_with_shared_key_on_is_cross_silo_access():
    res = support.sample_resources("hardened")
    support.storage(res, "silo1")["properties"]["allowSharedKeyAccess"] = True
    res.append(support.role_assignment(st(res, "silo1"), ROLE["key-operator"], pid(res, "silo0")))
    result = run(res)
    f = fails(result, "FL-ID-004", silo="silo0")
    assert len(f) == 1 and "keys" in f[0]["message"]
    assert not fails(result, "FL-ID-006", silo="silo0")


def test_key_operator_on_another_silo_with_shared_key_off_is_inert_but_reported():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo1"), ROLE["key-operator"], pid(res, "silo0")))
    result = run(res)
    assert support.statuses(result, "FL-ID-004", silo="silo0") == {"pass"}
    f = fails(result, "FL-ID-006", silo="silo0")
    assert len(f) == 1 and f[0]["severity"] == "medium" and f[0]["blocks"] == [] and "silo1" in f[0]["message"]


# -- FL-ID-005 / FL-ID-006 key roles ----------------------------------------------------------------------------------
def test_key_operator_on_own_storage_with_shared_key_on_fails_production():
    res = support.sample_resources("hardened")
    del support.storage(res, "silo0")["properties"]["allowSharedKeyAccess"]  # missing means true
    res.append(support.role_assignment(st(res, "silo0"), ROLE["key-operator"], pid(res, "silo0")))
    result = run(res)
    f = fails(result, "FL-ID-005", silo="silo0")
    assert len(f) == 1 and f[0]["blocks"] == ["production"]
    prop_ev = f[0]["evidence"][0]
    assert prop_ev["path"] == "properties.allowSharedKeyAccess" and prop_ev["default_assumed"] is True
    assert not fails(result, "FL-ID-006")


def test_key_operator_on_own_storage_with_shared_key_off_is_low_and_blocks_nothing():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo0"), ROLE["key-operator"], pid(res, "silo0")))
    result = run(res)
    assert support.statuses(result, "FL-ID-005", silo="silo0") == {"pass"}
    f = fails(result, "FL-ID-006", silo="silo0")
    assert len(f) == 1 and f[0]["severity"] == "low" and f[0]["blocks"] == [] and "inert" in f[0]["message"]
    remediation = pack.inert_key_roles.remediation
    assert "msi_storage_rw.bicep" in remediation.text and "Storage Account Key Operator Service Role" in remediation.text
    assert "Reader and Data Access" in remediation.text and "az role assignment delete" in remediation.cli


def test_unreadable_role_assignments_make_key_rules_unknown():
    res = support.sample_resources("hardened")
    drop_assignments(res)
    result = run(res, unreadable=[Unreadable(generate.rg_id(), RA_TYPE, 403, "AuthorizationFailed")])
    assert support.statuses(result, "FL-ID-005") == {"unknown"}
    assert support.statuses(result, "FL-ID-006") == {"unknown"}


# -- FL-ID-007 role admin ------------------------------------------------------------------------------------------
def test_user_access_administrator_on_the_subscription_is_critical():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(f"/subscriptions/{generate.SUB}", UAA, pid(res, "silo2")))
    f = fails(run(res), "FL-ID-007", silo="silo2")
    assert len(f) == 1 and f[0]["severity"] == "critical" and set(f[0]["blocks"]) == {"prototype", "production"}
    assert "silo0" in f[0]["message"] and "silo1" in f[0]["message"]
    assert f[0]["evidence"][0]["role_name"] == "User Access Administrator"


def test_role_admin_on_own_storage_only_does_not_cover_other_silos():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo2"), RBAC_ADMIN, pid(res, "silo2")))
    assert support.statuses(run(res), "FL-ID-007", silo="silo2") == {"pass"}


# -- FL-ID-008 model updates ------------------------------------------------------------------------------------------
def test_unconditional_data_role_on_the_orchestrator_account_fails_production():
    result = run(support.sample_resources("eyes-off"))
    f = fails(result, "FL-ID-008", silo="silo0")
    assert len(f) == 1 and f[0]["blocks"] == ["production"] and f[0]["severity"] == "high"
    assert "on the whole account: no ABAC condition" in f[0]["message"]


def test_data_role_inherited_from_the_resource_group_reaches_every_update():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(generate.rg_id(), ROLE["blob-reader"], pid(res, "silo1")))
    f = fails(run(res), "FL-ID-008", silo="silo1")
    assert len(f) == 1 and f"inherited from resource group {generate.RG.lower()}" in f[0]["message"]
    assert {e["scope"] for e in f[0]["evidence"] if e["kind"] == "access"} == {generate.rg_id().lower()}


def test_condition_without_a_path_attribute_does_not_separate_silos():
    res = support.sample_resources("hardened")
    for r in res:
        if r["type"] == RA_TYPE and r["properties"]["condition"]:
            r["properties"]["condition"] = f"(@Resource[{BLOB}:tags] StringEquals 'x')"
    assert {f["silo"] for f in fails(run(res), "FL-ID-008")} == {"silo0", "silo1", "silo2"}


def test_condition_leaving_delete_unrestricted_fails():
    res = support.sample_resources("hardened")
    for r in res:
        if r["type"] == RA_TYPE and r["properties"]["condition"]:
            r["properties"]["condition"] = r["properties"]["condition"].replace(f" AND !(ActionMatches{{'{BLOB}/delete'}})", "")
    f = fails(run(res), "FL-ID-008", silo="silo1")
    assert len(f) == 1 and "delete" in f[0]["message"]


def test_same_condition_on_two_silos_does_not_separate_them():
    res = support.sample_resources("hardened")
    conds = [r for r in res if r["type"] == RA_TYPE and r["properties"]["condition"]]
    conds[1]["properties"]["condition"] = conds[0]["properties"]["condition"]
    assert fails(run(res), "FL-ID-008")


def test_container_per_silo_separates_updates_but_a_shared_container_does_not():
    res = support.sample_resources("eyes-off")
    orch = st(res, "orchestrator")
    for s in ("silo0", "silo1", "silo2"):
        drop_assignments(res, principal=pid(res, s), scope=orch)
        res.append(support.role_assignment(f"{orch}/blobServices/default/containers/updates-{s}",
                                           ROLE["blob-contributor"], pid(res, s)))
    result = run(res)
    assert support.statuses(result, "FL-ID-008") == {"pass"}
    assert support.statuses(result, "FL-ID-003") == {"pass"}  # container write counts
    res.append(support.role_assignment(f"{orch}/blobServices/default/containers/updates-silo0",
                                       ROLE["blob-reader"], pid(res, "silo1")))
    f = fails(run(res), "FL-ID-008", silo="silo0")
    assert len(f) == 1 and "shared with silo1" in f[0]["message"]


def test_live_keys_on_the_orchestrator_storage_reach_every_update():
    res = support.sample_resources("hardened")
    support.storage(res, "orchestrator")["properties"]["allowSharedKeyAccess"] = True
    res.append(support.role_assignment(st(res, "orchestrator"), ROLE["reader-data-access"], pid(res, "silo0")))
    f = fails(run(res), "FL-ID-008", silo="silo0")
    assert len(f) == 1 and "keys" in f[0]["message"]


def test_missing_orchestrator_storage_is_unknown():
    doc = generate.fl_config()
    doc["federated_learning"]["orchestrator"]["datastore"] = "nope"
    result = run(support.sample_resources("hardened"), parse_config(doc, "c.yaml"))
    assert support.statuses(result, "FL-ID-008") == {"unknown"}


# -- helpers ------------------------------------------------------------------------------------------------------
def deny_assignment(scope: str, principals: list[str], exclude: list[str] = (), actions: list[str] = ()
                    ) -> dict[str, Any]:
    """A deny assignment in the shape of GetDenyAssignmentByScope.json, denying blob data."""
    name = f"dddddddd-0000-0000-0000-{abs(hash((scope, tuple(principals)))) % 10**12:012d}"
    everyone = "00000000-0000-0000-0000-000000000000"
    return {"id": f"{scope}/providers/Microsoft.Authorization/denyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/denyAssignments",
            "properties": {"denyAssignmentName": "deny blob data", "description": "test",
                           "permissions": [{"actions": list(actions), "notActions": [],
                                            "dataActions": ["Microsoft.Storage/storageAccounts/blobServices/*"],
                                            "notDataActions": []}],
                           "scope": scope, "doNotApplyToChildScopes": False,
                           "principals": [{"id": p, "type": "SystemDefined" if p == everyone else "ServicePrincipal"}
                                          for p in principals],
                           "excludePrincipals": [{"id": p, "type": "ServicePrincipal"} for p in exclude],
                           "isSystemProtected": True}}
