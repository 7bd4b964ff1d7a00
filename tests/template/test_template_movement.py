"""The template source understands the data-movement types: an ARM template that adds object replication (as a
child resource named account/policy), a vaulted backup of a silo account whose vault identity is known only
after deployment, and a workspace connection with a stored key, on top of the hardened snapshot, gives the same
findings as the resources given directly."""

from __future__ import annotations

from pathlib import Path

from flaudit.inventory import Inventory
from flaudit.samples import generate
from flaudit.sources.template import expand_into
from tests import support
from tests.template.helpers import write_json

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"


def _template(silo0: str, silo1: str, silo2: str, workspace: str) -> dict:
    vault = "[resourceId('Microsoft.DataProtection/backupVaults', 'bv-fl')]"
    return {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "resources": [
            {"type": "Microsoft.Storage/storageAccounts/objectReplicationPolicies", "apiVersion": "2025-01-01",
             "name": f"{silo0}/default",
             "properties": {"sourceAccount": f"[resourceId('Microsoft.Storage/storageAccounts', '{silo0}')]",
                            "destinationAccount": "[resourceId('Microsoft.Storage/storageAccounts', 'stexfil')]",
                            "rules": [{"sourceContainer": "data", "destinationContainer": "copy"}]}},
            {"type": "Microsoft.DataProtection/backupVaults", "apiVersion": "2025-07-01", "name": "bv-fl",
             "location": "[resourceGroup().location]", "identity": {"type": "SystemAssigned"},
             "properties": {"storageSettings": [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}]}},
            {"type": "Microsoft.DataProtection/backupVaults/backupPolicies", "apiVersion": "2025-07-01",
             "name": "bv-fl/blobs", "dependsOn": [vault],
             "properties": {"objectType": "BackupPolicy",
                            "datasourceTypes": ["Microsoft.Storage/storageAccounts/blobServices"],
                            "policyRules": [{"name": "Default", "objectType": "AzureRetentionRule", "isDefault": True,
                                             "lifecycles": [{"sourceDataStore": {"dataStoreType": "VaultStore",
                                                                                 "objectType": "DataStoreInfoBase"},
                                                             "deleteAfter": {"objectType": "AbsoluteDeleteOption",
                                                                             "duration": "P30D"}}]}]}},
            {"type": "Microsoft.DataProtection/backupVaults/backupInstances", "apiVersion": "2025-07-01",
             "name": f"bv-fl/{silo1}", "dependsOn": [vault],
             "properties": {"objectType": "BackupInstance", "friendlyName": silo1,
                            "dataSourceInfo": {"objectType": "Datasource",
                                               "resourceID": f"[resourceId('Microsoft.Storage/storageAccounts', '{silo1}')]",
                                               "datasourceType": "Microsoft.Storage/storageAccounts/blobServices"},
                            "policyInfo": {"policyId": "[resourceId('Microsoft.DataProtection/backupVaults/backupPolicies', 'bv-fl', 'blobs')]"}}},
            {"type": "Microsoft.MachineLearningServices/workspaces/connections", "apiVersion": "2025-06-01",
             "name": f"{workspace}/silo2-blob",
             "properties": {"category": "AzureBlob", "authType": "AccountKey",
                            "target": f"[reference(resourceId('Microsoft.Storage/storageAccounts', '{silo2}'), '2025-01-01').primaryEndpoints.blob]",
                            "credentials": {"key": "[parameters('key')]"}}},
        ],
        "parameters": {"key": {"type": "securestring", "defaultValue": "bm90LWEtcmVhbC1rZXk="}},
    }


def test_template_movement_resources_are_judged_like_collected_ones(tmp_path: Path):
    res = support.sample_resources("hardened")
    names = {s: support.storage(res, s)["name"] for s in ("silo0", "silo1", "silo2")}
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]["name"]
    path = write_json(tmp_path / "movement.json", _template(names["silo0"], names["silo1"], names["silo2"], ws))
    inv = support.inventory(res)
    added = Inventory()
    assert expand_into(added, path, subscription_id=generate.SUB, resource_group=generate.RG) == 5
    inv.merge(added)
    result = support.audit(inv)
    assert support.statuses(result, "FL-DM-001", silo="silo0") == {"fail"}
    assert support.statuses(result, "FL-DM-003", silo="silo1") == {"fail"}
    assert support.statuses(result, "FL-WS-005", silo="silo2") == {"fail"}
    assert "bm90LWEtcmVhbC1rZXk" not in str(inv.resources)
    edge = next(e for e in result["access"] if e.get("rule_id") == "FL-DM-001")
    assert edge["relation"] == "external" and edge["principal_name"] == "stexfil"
