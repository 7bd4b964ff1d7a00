"""Workspace access (FL-WS-*): the workspace's, orchestrator's, other silos' and unlisted principals' access to silo
storage with its chain as evidence; conditional and group principals; resource-instance firewall rules; datastores
with stored credentials; inert key grants; unknowns; and the bundled samples' verdicts."""

from __future__ import annotations

from typing import Any

import flaudit.rules.workspace_access as pack
import pytest

from flaudit.config import parse_config
from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests import support

RULES = support.rules_of(pack)
ROLE = generate.ROLE
RA_TYPE = "Microsoft.Authorization/roleAssignments"
DS_TYPE = "Microsoft.MachineLearningServices/workspaces/datastores"
GROUP = "cccccccc-0000-0000-0000-000000000001"
STRANGER = "eeeeeeee-0000-0000-0000-000000000001"


def run(resources: list[dict[str, Any]], cfg: Any = "default", unreadable: list[Unreadable] = ()) -> dict[str, Any]:
    return support.run_area(resources, RULES, cfg, unreadable=unreadable)


st = support.storage_id


def ws_principal(res: list[dict[str, Any]]) -> str:
    return support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]["identity"]["principalId"]


def fails(result: dict[str, Any], rule_id: str, silo: str = "*") -> list[dict[str, Any]]:
    return support.findings(result, rule_id, silo=silo, status="fail")


def access_chain(finding: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for e in finding["evidence"] if e["kind"] == "access"]


# -- the bundled samples --------------------------------------------------------------------------------------
@pytest.mark.parametrize("posture", generate.POSTURES)
def test_bundled_samples_pass_every_workspace_access_rule(posture):
    result = run(support.sample_resources(posture))
    assert {f["status"] for f in result["findings"]} == {"pass"}
    assert {f["rule_id"] for f in result["findings"]} == {r.id for r in RULES}


# -- FL-WS-001 principals outside the silo ---------------------------------------------------------------------
def test_workspace_identity_with_contributor_on_the_resource_group_fails_every_silo_with_its_chain():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(generate.rg_id(), ROLE["contributor"], ws_principal(res)))
    result = run(res)
    f = fails(result, "FL-WS-001")
    assert {x["silo"] for x in f} == {"silo0", "silo1", "silo2"}
    one = next(x for x in f if x["silo"] == "silo1")
    assert "workspace's identity" in one["message"] and "mgmt-write" in one["message"]
    assert one["blocks"] == ["production"] and one["subject"] == ws_principal(res)
    chain = access_chain(one)
    assert chain and chain[0]["principal_id"] == ws_principal(res)
    assert chain[0]["principal_name"] == f"{generate.WS_NAME} (system-assigned)"
    assert chain[0]["role_name"] == "Contributor" and chain[0]["scope"] == generate.rg_id().lower()
    assert chain[0]["assignment_id"].startswith(generate.rg_id())
    assert "Microsoft.Storage/storageAccounts/write" in {a for e in chain for a in e["matched_actions"]}
    assert any(e["kind"] == "note" and e["text"].startswith("mgmt-write: ") and "re-enable shared keys" in e["text"]
               for e in one["evidence"])
    # shared keys are off: Contributor's listKeys is inert and reported apart, blocking nothing
    inert = fails(result, "FL-WS-004", silo="silo1")
    assert len(inert) == 1 and inert[0]["blocks"] == [] and inert[0]["severity"] == "low"


def test_orchestrator_identity_with_data_on_a_silo_fails():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo2"), ROLE["blob-reader"],
                                       support.principal(res, "uai-orchestrator")))
    f = fails(run(res), "FL-WS-001", silo="silo2")
    assert len(f) == 1 and "orchestrator compute's identity" in f[0]["message"] and "data" in f[0]["message"]


def test_other_silo_identity_is_critical():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo2"), ROLE["blob-reader"], support.principal(res, "uai-silo0")))
    f = fails(run(res), "FL-WS-001", silo="silo2")
    assert len(f) == 1 and f[0]["severity"] == "critical" and "silo0's identity" in f[0]["message"]


def test_unlisted_principal_inherited_from_the_subscription_fails():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(f"/subscriptions/{generate.SUB}", ROLE["blob-reader"], STRANGER,
                                       principal_type="User"))
    f = fails(run(res), "FL-WS-001")
    assert len(f) == 3 and all("not named in the FL config" in x["message"] for x in f)
    assert access_chain(f[0])[0]["scope"] == f"/subscriptions/{generate.SUB}"


def test_conditional_assignment_fails_and_says_conditional():
    res = support.sample_resources("hardened")
    cond = ("(@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] "
            "StringStartsWith 'shared/')")
    res.append(support.role_assignment(st(res, "silo0"), ROLE["blob-reader"], ws_principal(res), condition=cond))
    f = fails(run(res), "FL-WS-001", silo="silo0")
    assert len(f) == 1 and "conditional access" in f[0]["message"]
    assert all(e["condition"] == cond for e in access_chain(f[0]))


def test_group_principal_is_possible_access_unless_the_config_names_it_for_the_silo():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo1"), ROLE["blob-reader"], GROUP, principal_type="Group"))
    f = fails(run(res), "FL-WS-001", silo="silo1")
    assert len(f) == 1 and "Microsoft Graph" in f[0]["message"] and f[0]["subject"] == GROUP
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][1]["groups"] = [GROUP.upper()]
    assert support.statuses(run(res, parse_config(doc, "c.yaml")), "FL-WS-001", silo="silo1") == {"pass"}
    # a group named for silo1 is still foreign to silo0
    res.append(support.role_assignment(st(res, "silo0"), ROLE["blob-reader"], GROUP, principal_type="Group"))
    f0 = fails(run(res, parse_config(doc, "c.yaml")), "FL-WS-001", silo="silo0")
    assert len(f0) == 1 and "silo1's identity" in f0[0]["message"]


def test_deny_that_excludes_the_principal_still_fails():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(generate.rg_id(), ROLE["blob-reader"], ws_principal(res)))
    res.append(deny(generate.rg_id(), exclude=[ws_principal(res)]))
    f = fails(run(res), "FL-WS-001", silo="silo0")
    assert len(f) == 1 and any("excludePrincipals" in e.get("text", "") for e in f[0]["evidence"])


def test_deny_that_applies_removes_the_path():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(generate.rg_id(), ROLE["blob-reader"], ws_principal(res)))
    silo_pids = [support.principal(res, f"uai-silo{i}") for i in range(3)]
    res.append(deny(generate.rg_id(), exclude=silo_pids + [support.principal(res, "uai-orchestrator")]))
    assert support.statuses(run(res), "FL-WS-001") == {"pass"}


def test_unknown_role_is_unknown():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo0"), "99999999-9999-9999-9999-999999999999", STRANGER))
    f = support.findings(run(res), "FL-WS-001", silo="silo0")
    assert [x["status"] for x in f] == ["unknown"]


def test_role_assignments_unreadable_is_unknown():
    res = [r for r in support.sample_resources("hardened") if r["type"] != RA_TYPE]
    result = run(res, unreadable=[Unreadable(generate.rg_id(), RA_TYPE, 403, "AuthorizationFailed")])
    f = support.findings(result, "FL-WS-001")
    assert {x["status"] for x in f} == {"unknown"} and "HTTP 403" in f[0]["message"]
    assert support.statuses(result, "FL-WS-004") == {"unknown"}


def test_role_assignments_absent_from_a_file_input_is_unknown():
    res = [r for r in support.sample_resources("hardened") if r["type"] != RA_TYPE]
    result = support.run_area(res, [pack.only_own_principals], collected=False)
    assert support.statuses(result, "FL-WS-001") == {"unknown"}


def test_unresolved_silo_storage_is_unknown():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][0]["datastore"] = "nope"
    result = run(support.sample_resources("hardened"), parse_config(doc, "c.yaml"))
    for rid in ("FL-WS-001", "FL-WS-002", "FL-WS-004"):
        assert support.statuses(result, rid, silo="silo0") == {"unknown"}, rid


# -- FL-WS-002 resource-instance rules ----------------------------------------------------------------------------
def test_resource_instance_rule_naming_the_workspace_fails():
    res = support.sample_resources("hardened")
    ws_id = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]["id"]
    support.storage(res, "silo0")["properties"]["networkAcls"]["resourceAccessRules"] = [
        {"tenantId": generate.TENANT, "resourceId": ws_id.upper()}]
    f = fails(run(res), "FL-WS-002", silo="silo0")
    assert len(f) == 1 and f[0]["evidence"][0]["path"] == "properties.networkAcls.resourceAccessRules[0]"
    assert "inactive while publicNetworkAccess is Disabled" in f[0]["message"]


def test_resource_instance_rule_with_an_azure_ml_wildcard_fails():
    res = support.sample_resources("eyes-on")
    support.storage(res, "silo2")["properties"]["networkAcls"]["resourceAccessRules"] = [
        {"tenantId": generate.TENANT, "resourceId": "/subscriptions/*/resourceGroups/*/providers/"
                                                    "Microsoft.MachineLearningServices/workspaces/*"}]
    f = fails(run(res), "FL-WS-002", silo="silo2")
    assert len(f) == 1 and "inactive" not in f[0]["message"]


def test_resource_instance_rule_for_another_service_passes():
    res = support.sample_resources("hardened")
    support.storage(res, "silo0")["properties"]["networkAcls"]["resourceAccessRules"] = [
        {"tenantId": generate.TENANT, "resourceId": f"{generate.rg_id()}/providers/Microsoft.Synapse/workspaces/syn"}]
    assert support.statuses(run(res), "FL-WS-002", silo="silo0") == {"pass"}


def test_missing_resource_access_rules_pass_with_the_default_stated():
    res = support.sample_resources("hardened")
    del support.storage(res, "silo0")["properties"]["networkAcls"]
    f = support.findings(run(res), "FL-WS-002", silo="silo0")
    assert [x["status"] for x in f] == ["pass"] and f[0]["evidence"][0]["default_assumed"] is True


# -- FL-WS-003 datastores -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ctype", ["AccountKey", "Sas", "ServicePrincipal", "Certificate"])
def test_datastore_with_stored_credentials_fails_both_profiles(ctype):
    res = support.sample_resources("hardened")
    support.by_name(res, DS_TYPE, "datastore_silo1")["properties"]["credentials"] = {"credentialsType": ctype}
    f = fails(run(res), "FL-WS-003", silo="silo1")
    assert len(f) == 1 and ctype in f[0]["message"] and set(f[0]["blocks"]) == {"prototype", "production"}
    assert f[0]["evidence"][1] == {"kind": "property", "resource_id": f[0]["resource_id"],
                                   "path": "properties.credentials.credentialsType", "value": ctype}


def test_every_datastore_is_checked_not_only_the_configured_one():
    res = support.sample_resources("hardened")
    ws_id = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]["id"]
    account = support.storage(res, "silo2")["name"]
    res.append({"id": f"{ws_id}/datastores/legacy_copy", "name": "legacy_copy", "type": DS_TYPE,
                "properties": {"datastoreType": "AzureBlob", "accountName": account, "containerName": "data",
                               "endpoint": "core.windows.net", "protocol": "https",
                               "credentials": {"credentialsType": "AccountKey"}}})
    result = run(res)
    f = fails(result, "FL-WS-003", silo="silo2")
    assert len(f) == 1 and f[0]["resource_id"].endswith("/datastores/legacy_copy")
    assert support.statuses(result, "FL-WS-003", silo="silo0") == {"pass"}


def test_datastore_without_credentials_type_is_unknown():
    res = support.sample_resources("hardened")
    del support.by_name(res, DS_TYPE, "datastore_silo0")["properties"]["credentials"]
    assert support.statuses(run(res), "FL-WS-003", silo="silo0") == {"unknown"}


def test_unreadable_datastores_are_unknown_for_silos_not_seen():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][0]["datastore"] = "nope"
    res = support.sample_resources("hardened")
    ws_id = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]["id"]
    result = run(res, parse_config(doc, "c.yaml"),
                 unreadable=[Unreadable(ws_id, DS_TYPE, 403, "AuthorizationFailed")])
    assert support.statuses(result, "FL-WS-003", silo="silo0") == {"unknown"}


# -- FL-WS-004 inert outsider keys ---------------------------------------------------------------------------------------
def test_outsider_key_role_is_inert_with_shared_keys_off_and_live_with_them_on():
    res = support.sample_resources("hardened")
    res.append(support.role_assignment(st(res, "silo0"), ROLE["key-operator"], ws_principal(res)))
    result = run(res)
    assert support.statuses(result, "FL-WS-001", silo="silo0") == {"pass"}
    assert [f["severity"] for f in fails(result, "FL-WS-004", silo="silo0")] == ["low"]
    support.storage(res, "silo0")["properties"]["allowSharedKeyAccess"] = True
    result = run(res)
    f = fails(result, "FL-WS-001", silo="silo0")
    assert len(f) == 1 and "keys" in f[0]["message"]
    assert support.statuses(result, "FL-WS-004", silo="silo0") == {"pass"}


def deny(scope: str, exclude: list[str]) -> dict[str, Any]:
    """An everyone-deny on blob data at ``scope`` in the shape of GetDenyAssignmentByScope.json."""
    name = "dddddddd-0000-0000-0000-000000000042"
    return {"id": f"{scope}/providers/Microsoft.Authorization/denyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/denyAssignments",
            "properties": {"denyAssignmentName": "managed app lock", "description": "test",
                           "permissions": [{"actions": ["Microsoft.Storage/*"], "notActions": [],
                                            "dataActions": ["Microsoft.Storage/*"], "notDataActions": []}],
                           "scope": scope, "doNotApplyToChildScopes": False,
                           "principals": [{"id": "00000000-0000-0000-0000-000000000000", "type": "SystemDefined"}],
                           "excludePrincipals": [{"id": p, "type": "ServicePrincipal"} for p in exclude],
                           "isSystemProtected": True}}
