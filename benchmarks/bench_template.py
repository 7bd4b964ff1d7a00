"""Time the expansion of a template with N silos (a copy loop over a module), as `bicep build` would emit it.

Each silo module creates a user-assigned identity, a storage account (with a property copy for its network
rules), an Azure ML compute in the silo subnet and three role assignments whose principal is read back with
reference(); the parent then grants every silo's identity on the orchestrator storage from the module outputs.

    python benchmarks/bench_template.py [--silos 100] [--repeat 5]

Target: under 2 s for 100 silos.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from flaudit.inventory import Inventory
from flaudit.sources.template import expand_into

SCHEMA = "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#"
ROLES = ["ba92f5b4-2d11-453d-a403-e96b0029c9fe", "81a9662b-bebf-436f-a333-f67b29880f12",
         "c12c1c16-33a1-487b-954d-41c89c60f349"]


def silo_module() -> dict:
    return {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "parameters": {"siloName": {"type": "string"}, "region": {"type": "string"},
                       "workspaceName": {"type": "string"}, "subnetId": {"type": "string"},
                       "roles": {"type": "array", "defaultValue": ROLES}},
        "variables": {"storageName": "[take(format('st{0}{1}', replace(parameters('siloName'), '-', ''), "
                                     "uniqueString(resourceGroup().id, parameters('siloName'))), 24)]",
                      "identityName": "[format('uai-{0}', parameters('siloName'))]"},
        "resources": [
            {"type": "Microsoft.ManagedIdentity/userAssignedIdentities", "apiVersion": "2023-01-31",
             "name": "[variables('identityName')]", "location": "[parameters('region')]"},
            {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01",
             "name": "[variables('storageName')]", "location": "[parameters('region')]", "kind": "StorageV2",
             "sku": {"name": "Standard_LRS"},
             "properties": {"publicNetworkAccess": "Disabled", "allowSharedKeyAccess": False,
                            "minimumTlsVersion": "TLS1_2",
                            "networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices", "copy": [
                                {"name": "virtualNetworkRules", "count": 1,
                                 "input": {"id": "[parameters('subnetId')]", "action": "Allow"}}]}}},
            {"type": "Microsoft.MachineLearningServices/workspaces/computes", "apiVersion": "2024-04-01",
             "name": "[format('{0}/{1}-01', parameters('workspaceName'), parameters('siloName'))]",
             "location": "[parameters('region')]",
             "identity": {"type": "UserAssigned", "userAssignedIdentities": {
                 "[resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName'))]": {}}},
             "properties": {"computeType": "AmlCompute", "disableLocalAuth": True,
                            "properties": {"vmSize": "Standard_DS3_v2", "enableNodePublicIp": False,
                                           "subnet": {"id": "[parameters('subnetId')]"}}}},
            {"copy": {"name": "roleAssignments", "count": "[length(parameters('roles'))]"},
             "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
             "scope": "[format('Microsoft.Storage/storageAccounts/{0}', variables('storageName'))]",
             "name": "[guid(resourceGroup().id, variables('storageName'), variables('identityName'), "
                     "parameters('roles')[copyIndex()])]",
             "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
                                                "parameters('roles')[copyIndex()])]",
                            "principalId": "[reference(resourceId('Microsoft.ManagedIdentity/userAssignedIdentities', "
                                           "variables('identityName')), '2023-01-31').principalId]",
                            "principalType": "ServicePrincipal"}},
        ],
        "outputs": {"principalId": {"type": "string", "value": "[reference(resourceId("
                                    "'Microsoft.ManagedIdentity/userAssignedIdentities', variables('identityName')), "
                                    "'2023-01-31', 'Full').properties.principalId]"}},
    }


def template() -> dict:
    return {
        "$schema": SCHEMA, "contentVersion": "1.0.0.0",
        "parameters": {"siloCount": {"type": "int", "defaultValue": 100},
                       "regions": {"type": "array", "defaultValue": ["westeurope", "northeurope", "eastus"]}},
        "variables": {"ws": "aml-bench", "orch": "storchbench"},
        "resources": [
            {"type": "Microsoft.MachineLearningServices/workspaces", "apiVersion": "2024-04-01",
             "name": "[variables('ws')]", "location": "[resourceGroup().location]",
             "identity": {"type": "SystemAssigned"}, "properties": {"publicNetworkAccess": "Disabled"}},
            {"type": "Microsoft.Storage/storageAccounts", "apiVersion": "2023-01-01", "name": "[variables('orch')]",
             "location": "[resourceGroup().location]", "kind": "StorageV2", "sku": {"name": "Standard_LRS"},
             "properties": {"publicNetworkAccess": "Disabled"}},
            {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2023-09-01", "name": "vnet-bench",
             "location": "[resourceGroup().location]",
             "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/8"]}, "copy": [
                 {"name": "subnets", "count": "[parameters('siloCount')]",
                  "input": {"name": "[format('snet-silo{0}', copyIndex('subnets'))]",
                            "properties": {"addressPrefix": "[format('10.{0}.0.0/16', copyIndex('subnets', 1))]"}}}]}},
            {"copy": {"name": "silos", "count": "[parameters('siloCount')]"},
             "type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01",
             "name": "[format('silo-{0}', copyIndex())]",
             "properties": {"expressionEvaluationOptions": {"scope": "inner"}, "mode": "Incremental",
                            "parameters": {
                                "siloName": {"value": "[format('silo{0}', copyIndex())]"},
                                "region": {"value": "[parameters('regions')[mod(copyIndex(), "
                                                    "length(parameters('regions')))]]"},
                                "workspaceName": {"value": "[variables('ws')]"},
                                "subnetId": {"value": "[resourceId('Microsoft.Network/virtualNetworks/subnets', "
                                                      "'vnet-bench', format('snet-silo{0}', copyIndex()))]"}},
                            "template": silo_module()}},
            {"copy": {"name": "siloToOrch", "count": "[parameters('siloCount')]"},
             "type": "Microsoft.Authorization/roleAssignments", "apiVersion": "2022-04-01",
             "scope": "[format('Microsoft.Storage/storageAccounts/{0}', variables('orch'))]",
             "name": "[guid(variables('orch'), string(copyIndex()))]",
             "properties": {"roleDefinitionId": "[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', "
                                                "'ba92f5b4-2d11-453d-a403-e96b0029c9fe')]",
                            "principalId": "[reference(resourceId('Microsoft.Resources/deployments', "
                                           "format('silo-{0}', copyIndex()))).outputs.principalId.value]"}},
        ],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--silos", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench_main.json"
        path.write_text(json.dumps(template(), indent=2), encoding="utf-8")
        times = []
        for _ in range(args.repeat):
            inv = Inventory()
            start = time.perf_counter()
            n = expand_into(inv, path, params={"siloCount": args.silos})
            times.append(time.perf_counter() - start)
        assert not inv.unsupported, inv.unsupported
    print(f"template with {args.silos} silos: {n} resources flaudit reads, "
          f"{sum(inv.ignored_types.values())} ignored, {len(inv.unsupported)} unsupported")
    print(f"expansion: median {statistics.median(times):.3f} s, best {min(times):.3f} s over {args.repeat} runs "
          f"(target < 2 s)")


if __name__ == "__main__":
    main()
