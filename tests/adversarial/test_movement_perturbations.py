"""Attempts to hide configured data movement, stored credentials or unmodelled children from flaudit, each
pinned: the hardened sample with one thing added must stop being ready for production."""

from __future__ import annotations

import pytest

from tests import movement_fixtures as mf
from tests import support


def _production(res) -> str:
    return support.audit(res)["verdict"]["production"]["status"]


def _ws(res) -> str:
    return support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]["id"]


def test_replication_with_ids_in_another_case_and_a_trailing_slash_is_still_seen():
    res = support.sample_resources("hardened")
    s0, s1 = support.storage(res, "silo0"), support.storage(res, "silo1")
    res.append(mf.object_replication(s1["id"], s0["id"].upper() + "/", s1["id"].lower()))
    assert support.statuses(support.audit(res), "FL-DM-001", silo="silo0") == {"fail"}


def test_replication_policy_without_rules_still_counts():
    # rules can be added to an existing policy at any time; the policy itself is the standing path
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    pol = mf.object_replication(s0["id"], s0["name"], "elsewhere")
    pol["properties"]["rules"] = []
    res.append(pol)
    assert _production(res) == "not_ready"


def test_backup_naming_the_account_only_in_its_datasource_set_is_seen():
    res = support.sample_resources("hardened")
    vault = mf.backup_vault()
    pol = mf.backup_policy(vault["id"])
    bi = mf.backup_instance(vault["id"], support.storage(res, "silo2"), pol["id"])
    bi["properties"]["dataSourceInfo"]["resourceID"] = bi["properties"]["dataSourceInfo"]["resourceID"].upper()
    del bi["properties"]["dataSourceSetInfo"]
    res += [vault, pol, bi]
    assert support.statuses(support.audit(res), "FL-DM-003", silo="silo2") == {"fail"}


def test_backup_policy_mixing_operational_and_vaulted_stores_is_vaulted():
    res = support.sample_resources("hardened")
    vault = mf.backup_vault()
    pol = mf.backup_policy(vault["id"], "OperationalStore")
    pol["properties"]["policyRules"][1]["lifecycles"][0]["targetDataStoreCopySettings"] = [
        {"dataStore": {"dataStoreType": "VaultStore", "objectType": "DataStoreInfoBase"}, "copyAfter": {
            "objectType": "ImmediateCopyOption"}}]
    res += [vault, pol, mf.backup_instance(vault["id"], support.storage(res, "silo0"), pol["id"])]
    assert support.statuses(support.audit(res), "FL-DM-003", silo="silo0") == {"fail"}


@pytest.mark.parametrize("host", ["{a}.privatelink.blob.core.windows.net", "{a}.z12.blob.storage.azure.net",
                                  "{a}.BLOB.core.windows.net:443", "{a}.dfs.core.chinacloudapi.cn"])
def test_connection_targets_in_other_endpoint_spellings_are_resolved(host):
    res = support.sample_resources("hardened")
    name = support.storage(res, "silo1")["name"]
    res.append(mf.connection(_ws(res), "c", "https://" + host.format(a=name.upper()) + "/data", "SAS"))
    assert support.statuses(support.audit(res), "FL-WS-005", silo="silo1") == {"fail"}


def test_connection_auth_type_in_another_case_is_still_a_stored_secret():
    res = support.sample_resources("hardened")
    name = support.storage(res, "silo0")["name"]
    res.append(mf.connection(_ws(res), "c", f"https://{name}.blob.core.windows.net/", "accountkey"))
    assert _production(res) == "not_ready"


def test_unmodelled_grandchild_of_a_silo_account_with_an_odd_type_case_blocks():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo2")
    res.append({"id": f"{st['id']}/blobServices/default/containers/data/someNewThing/x", "name": "x",
                "type": "MICROSOFT.STORAGE/storageAccounts/blobServices/containers/someNewThing", "properties": {}})
    result = support.audit(res)
    assert [u["resource_type"] for u in result["input"]["unmodelled"]] == [
        "microsoft.storage/storageaccounts/blobservices/containers/somenewthing"]
    assert result["verdict"]["production"]["status"] == "unknown"


def test_child_of_the_orchestrator_account_is_listed_too():
    # the orchestrator's storage receives model updates derived from silo data: its children count as well
    res = support.sample_resources("hardened")
    st = support.storage(res, "orchestrator")
    res.append({"id": f"{st['id']}/localUsers/u", "name": "u", "type": "Microsoft.Storage/storageAccounts/localUsers",
                "properties": {}})
    result = support.audit(res)
    assert [(u["parent_kind"], u["silo"]) for u in result["input"]["unmodelled"]] == [("orchestrator-storage", None)]
    assert "the orchestrator's storage" in support.single(support.findings(result, "FL-TOP-006", status="unknown"))[
        "message"]


def test_policy_on_a_silo_account_with_an_unresolvable_source_counts_as_sourced_there():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    res.append(mf.object_replication(s0["id"], "[unsupported:resources[3].properties.sourceAccount]", "elsewhere"))
    assert support.statuses(support.audit(res), "FL-DM-001", silo="silo0") == {"fail"}


def test_policy_on_a_silo_account_replicating_into_it_is_not_a_path():
    res = support.sample_resources("hardened")
    s0, ws_st = support.storage(res, "silo0"), support.storage(res, "orchestrator")
    res.append(mf.object_replication(s0["id"], ws_st["name"], s0["name"]))
    assert support.statuses(support.audit(res), "FL-DM-001", silo="silo0") == {"pass"}
