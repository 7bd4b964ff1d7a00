"""ARM resources for configured data movement, in the shapes of the REST API examples (our own values):

* object replication: specification/storage/resource-manager/Microsoft.Storage/stable/2025-01-01/examples/
  StorageAccountListObjectReplicationPolicies.json (and StorageAccountGetObjectReplicationPolicy.json for rules)
* blob inventory: .../Microsoft.Storage/stable/2025-01-01/examples/StorageAccountGetBlobInventoryPolicy.json
* backup: specification/dataprotection/resource-manager/Microsoft.DataProtection/stable/2025-07-01/examples/
  VaultCRUD/GetBackupVault.json, BackupInstanceOperations/GetBackupInstance.json, PolicyCRUD/GetBackupPolicy.json
* data share: specification/datashare/resource-manager/Microsoft.DataShare/stable/2021-08-01/examples/
  Accounts_Get.json, Shares_Get.json, DataSets_ListByShare.json
* connections: specification/machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/
  2025-06-01/examples/WorkspaceConnection/list.json, get.json
"""

from __future__ import annotations

from typing import Any

from flaudit.samples import generate

RG = generate.rg_id()


def object_replication(account_id: str, source: str, destination: str, *, policy_id: str =
                       "c6c23999-fd4e-433a-bcf9-1db69d27cd8a") -> dict[str, Any]:
    return {
        "id": f"{account_id}/objectReplicationPolicies/{policy_id}",
        "name": policy_id,
        "type": "Microsoft.Storage/storageAccounts/objectReplicationPolicies",
        "properties": {
            "policyId": policy_id,
            "sourceAccount": source,
            "destinationAccount": destination,
            "rules": [{"ruleId": "d5d18a48-8801-4554-aeaa-74faf65f5ef9", "sourceContainer": "data",
                       "destinationContainer": "dcont139", "filters": {"prefixMatch": ["blobA"]}}],
        },
    }


def inventory_policy(account_id: str, destination: str = "inventory", *, enabled: bool = True,
                     rule_enabled: bool = True) -> dict[str, Any]:
    return {
        "name": "DefaultInventoryPolicy",
        "type": "Microsoft.Storage/storageAccounts/inventoryPolicies",
        "id": f"{account_id}/inventoryPolicies/default",
        "properties": {
            "lastModifiedTime": "2026-11-05T02:53:39.0932539Z",
            "policy": {
                "type": "Inventory", "enabled": enabled,
                "rules": [{
                    "name": "inventoryPolicyRule1",
                    "definition": {"format": "Csv", "filters": {"blobTypes": ["blockBlob"], "prefixMatch": ["silo"]},
                                   "objectType": "Blob", "schedule": "Daily",
                                   "schemaFields": ["Name", "Creation-Time", "Content-Length", "Metadata"]},
                    "destination": destination, "enabled": rule_enabled,
                }],
            },
        },
    }


def backup_vault(name: str = "bv-fl", *, principal_id: str = "6a1f5b8e-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
                 ) -> dict[str, Any]:
    return {
        "identity": {"type": "SystemAssigned", "principalId": principal_id,
                     "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"},
        "id": f"{RG}/providers/Microsoft.DataProtection/backupVaults/{name}",
        "name": name, "type": "Microsoft.DataProtection/backupVaults", "location": generate.LOC,
        "properties": {
            "monitoringSettings": {"azureMonitorAlertSettings": {"alertsForAllJobFailures": "Enabled"}},
            "provisioningState": "Succeeded",
            "storageSettings": [{"datastoreType": "VaultStore", "type": "LocallyRedundant"}],
            "securitySettings": {"softDeleteSettings": {"state": "Enabled", "retentionDurationInDays": 14}},
        },
    }


def backup_policy(vault_id: str, store: str = "VaultStore", name: str = "blobpolicy") -> dict[str, Any]:
    return {
        "id": f"{vault_id}/backupPolicies/{name}", "name": name,
        "type": "Microsoft.DataProtection/backupVaults/backupPolicies",
        "properties": {
            "policyRules": [
                {"backupParameters": {"backupType": "Discrete", "objectType": "AzureBackupParams"},
                 "trigger": {"schedule": {"repeatingTimeIntervals": ["R/2026-11-20T08:00:00+00:00/P1D"]},
                             "taggingCriteria": [{"tagInfo": {"tagName": "Default", "id": "Default_"},
                                                  "taggingPriority": 99, "isDefault": True}],
                             "objectType": "ScheduleBasedTriggerContext"},
                 "dataStore": {"dataStoreType": store, "objectType": "DataStoreInfoBase"},
                 "name": "BackupDaily", "objectType": "AzureBackupRule"},
                {"lifecycles": [{"sourceDataStore": {"dataStoreType": store, "objectType": "DataStoreInfoBase"},
                                 "deleteAfter": {"objectType": "AbsoluteDeleteOption", "duration": "P30D"}}],
                 "isDefault": True, "name": "Default", "objectType": "AzureRetentionRule"},
            ],
            "datasourceTypes": ["Microsoft.Storage/storageAccounts/blobServices"],
            "objectType": "BackupPolicy",
        },
    }


def backup_instance(vault_id: str, account: dict[str, Any], policy_id: str, *, name: str = "blob-silo",
                    uai: str | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {
        "friendlyName": name,
        "dataSourceInfo": {"resourceID": account["id"], "resourceUri": account["id"],
                           "datasourceType": "Microsoft.Storage/storageAccounts/blobServices",
                           "resourceName": account["name"], "resourceType": "Microsoft.Storage/storageAccounts",
                           "resourceLocation": generate.LOC, "objectType": "Datasource"},
        "dataSourceSetInfo": {"resourceID": account["id"], "resourceUri": account["id"],
                              "datasourceType": "Microsoft.Storage/storageAccounts/blobServices",
                              "resourceName": account["name"], "resourceType": "Microsoft.Storage/storageAccounts",
                              "resourceLocation": generate.LOC, "objectType": "DatasourceSet"},
        "policyInfo": {"policyId": policy_id, "policyVersion": "3.2"},
        "protectionStatus": {"status": "ProtectionConfigured"},
        "provisioningState": "Succeeded", "objectType": "BackupInstance",
    }
    if uai:
        props["identityDetails"] = {"useSystemAssignedIdentity": False, "userAssignedIdentityArmUrl": uai}
    return {"id": f"{vault_id}/backupInstances/{name}", "name": name,
            "type": "Microsoft.DataProtection/backupVaults/backupInstances", "tags": {"key1": "val1"},
            "properties": props}


def connection(workspace_id: str, name: str, target: str, auth: str, *, category: str = "AzureBlob",
               metadata: dict[str, str] | None = None) -> dict[str, Any]:
    props: dict[str, Any] = {"category": category, "target": target, "authType": auth,
                             "expiryTime": "2027-03-15T14:30:00Z"}
    if metadata is not None:
        props["metadata"] = metadata
    return {"id": f"{workspace_id}/connections/{name}", "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/connections", "properties": props}


def share_account(name: str = "dsfl") -> dict[str, Any]:
    return {"properties": {"userName": "FL Admin", "createdAt": "2026-11-14T04:47:52.9614956Z",
                           "provisioningState": "Succeeded", "userEmail": "fl-admin@example.org"},
            "location": generate.LOC, "tags": {"fl": "sample"},
            "identity": {"type": "SystemAssigned", "principalId": "7b2c3d4e-5f60-4a1b-8c2d-3e4f5a6b7c8d"},
            "id": f"{RG}/providers/Microsoft.DataShare/accounts/{name}", "name": name,
            "type": "Microsoft.DataShare/accounts"}


def share(account_id: str, name: str = "partners") -> dict[str, Any]:
    return {"properties": {"description": "weekly extract", "terms": "Confidential", "shareKind": "CopyBased",
                           "userName": "FL Admin", "createdAt": "2026-11-14T06:15:15.6818898Z",
                           "userEmail": "fl-admin@example.org"},
            "id": f"{account_id}/shares/{name}", "name": name, "type": "Microsoft.DataShare/accounts/shares"}


def dataset(share_id: str, account: dict[str, Any], name: str = "silo-data", *, kind: str = "Container"
            ) -> dict[str, Any]:
    sub = account["id"].split("/")[2]
    rg = account["id"].split("/")[4]
    return {"kind": kind,
            "properties": {"storageAccountName": account["name"], "containerName": "data",
                           "subscriptionId": sub, "resourceGroup": rg},
            "id": f"{share_id}/dataSets/{name}", "name": name, "type": "Microsoft.DataShare/accounts/shares/dataSets"}
