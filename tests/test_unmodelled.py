"""Nothing data-bearing is silently ignored: child resources of silo storage, silo identities, silo computes and
the workspace that flaudit does not model are listed by name in the result (input.unmodelled); the ones not on
the documented inert list make FL-TOP-006 unknown for production only. Shapes: LocalUserGet.json,
BlobContainersGet.json, BlobServicesGet.json (Microsoft.Storage 2025-01-01 examples), FederatedIdentityCredentialGet
(Microsoft.ManagedIdentity 2023-01-31), Azure ML 2025-06-01 OnlineEndpoint/get."""

from __future__ import annotations

from typing import Any

from flaudit.unmodelled import DATA_BEARING, INERT
from tests import support


def _local_user(account_id: str) -> dict[str, Any]:
    return {"id": f"{account_id}/localUsers/user1", "name": "user1",
            "type": "Microsoft.Storage/storageAccounts/localUsers",
            "properties": {"permissionScopes": [{"permissions": "rwdlc", "service": "blob", "resourceName": "data"}],
                           "homeDirectory": "homedirectory", "hasSshPassword": True, "sid": "S-1-2-0-125132-153423-36235-1000"}}


def _fic(identity_id: str) -> dict[str, Any]:
    return {"id": f"{identity_id}/federatedIdentityCredentials/gh", "name": "gh",
            "type": "Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials",
            "properties": {"issuer": "https://token.actions.githubusercontent.com",
                           "subject": "repo:someone/else:ref:refs/heads/main", "audiences": ["api://AzureADTokenExchange"]}}


def _blob_service(account_id: str) -> dict[str, Any]:
    return {"id": f"{account_id}/blobServices/default", "name": "default",
            "type": "Microsoft.Storage/storageAccounts/blobServices",
            "properties": {"cors": {"corsRules": []}, "deleteRetentionPolicy": {"enabled": True, "days": 7}}}


def _container(account_id: str) -> dict[str, Any]:
    return {"id": f"{account_id}/blobServices/default/containers/data", "name": "data",
            "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
            "properties": {"publicAccess": "Container", "hasImmutabilityPolicy": False, "hasLegalHold": False}}


def test_local_user_on_a_silo_account_is_listed_and_makes_production_unknown():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo1")
    res.append(_local_user(st["id"]))
    result = support.audit(res)
    listed = result["input"]["unmodelled"]
    assert [(u["silo"], u["parent_kind"], u["resource_type"], u["data_bearing"], u["count"]) for u in listed] == [
        ("silo1", "silo-storage", "microsoft.storage/storageaccounts/localusers", True, 1)]
    assert listed[0]["ids"] == [f"{st['id']}/localUsers/user1"]
    f = support.single(support.findings(result, "FL-TOP-006", status="unknown"))
    assert f["blocks"] == ["production"] and "localusers" in f["message"]
    assert result["verdict"]["production"]["status"] == "unknown"
    assert result["verdict"]["prototype"]["status"] == "ready"
    assert "hasSshPassword" not in str(listed)  # the id and type only, never the body


def test_federated_credential_on_a_silo_identity_is_modelled_as_a_takeover_not_listed_as_unmodelled():
    res = support.sample_resources("hardened")
    res.append(_fic(support.identity(res, "uai-silo0")["id"]))
    result = support.audit(res)
    assert result["input"]["unmodelled"] == []
    assert "fail" in support.statuses(result, "FL-ID-009", silo="silo0")
    assert result["verdict"]["production"]["status"] == "not_ready"


def test_inert_children_are_listed_but_do_not_block():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo0")
    res += [_blob_service(st["id"]), _container(st["id"])]  # container: account has allowBlobPublicAccess false
    result = support.audit(res)
    assert {(u["resource_type"], u["data_bearing"]) for u in result["input"]["unmodelled"]} == {
        ("microsoft.storage/storageaccounts/blobservices", False),
        ("microsoft.storage/storageaccounts/blobservices/containers", False)}
    assert result["verdict"]["production"]["status"] == "ready"
    assert "inert" in support.single(support.findings(result, "FL-TOP-006"))["message"]


def test_container_is_data_bearing_when_the_account_allows_public_access():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo0")
    st["properties"]["allowBlobPublicAccess"] = True
    res.append(_container(st["id"]))
    listed = support.audit(res)["input"]["unmodelled"]
    assert [(u["resource_type"].rsplit("/", 1)[-1], u["data_bearing"]) for u in listed] == [("containers", True)]


def test_an_unlisted_child_type_fails_closed_and_unrelated_resources_are_not_listed():
    res = support.sample_resources("hardened")
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    res.append({"id": f"{ws['id']}/onlineEndpoints/ep", "name": "ep",
                "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
                "properties": {"authMode": "Key"}})
    res.append({"id": f"{ws['id']}/somethingNew/x", "name": "x",
                "type": "Microsoft.MachineLearningServices/workspaces/somethingNew", "properties": {}})
    res.append({"id": "/subscriptions/x/resourceGroups/other/providers/Microsoft.Web/sites/app", "name": "app",
                "type": "Microsoft.Web/sites", "properties": {}})
    result = support.audit(res)
    listed = {u["resource_type"]: u for u in result["input"]["unmodelled"]}
    assert set(listed) == {"microsoft.machinelearningservices/workspaces/onlineendpoints",
                           "microsoft.machinelearningservices/workspaces/somethingnew"}
    assert all(u["data_bearing"] and u["parent_kind"] == "workspace" for u in listed.values())
    assert "fail closed" in listed["microsoft.machinelearningservices/workspaces/somethingnew"]["reason"]
    assert len(support.findings(result, "FL-TOP-006", status="unknown")) == 2


def test_extension_resources_under_a_silo_account_are_its_children():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo2")
    res.append({"id": f"{st['id']}/providers/Microsoft.Insights/diagnosticSettings/toElsewhere",
                "name": "toElsewhere", "type": "Microsoft.Insights/diagnosticSettings",
                "properties": {"storageAccountId": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Storage/storageAccounts/logs"}})
    listed = support.audit(res)["input"]["unmodelled"]
    assert [(u["silo"], u["resource_type"], u["data_bearing"]) for u in listed] == [
        ("silo2", "microsoft.insights/diagnosticsettings", True)]


def test_the_inert_and_data_bearing_lists_do_not_overlap():
    assert not set(INERT) & set(DATA_BEARING)


def test_local_user_on_an_account_with_local_users_disabled_is_inert():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo1")
    st["properties"]["isLocalUserEnabled"] = False
    res.append(_local_user(st["id"]))
    result = support.audit(res)
    assert [u["data_bearing"] for u in result["input"]["unmodelled"]] == [False]
    assert result["verdict"]["production"]["status"] == "ready"


def test_top_level_resources_of_unread_types_are_nobodys_children_and_children_under_them_still_count():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo1")
    rg = st["id"].split("/providers/")[0]
    res.append({"id": f"{rg}/providers/Microsoft.Web/sites/app1", "name": "app1", "type": "Microsoft.Web/sites",
                "properties": {}})
    res.append(_local_user(st["id"]))
    listed = support.audit(res)["input"]["unmodelled"]
    assert [(u["parent_id"], u["resource_type"]) for u in listed] == [
        (st["id"], "microsoft.storage/storageaccounts/localusers")]
