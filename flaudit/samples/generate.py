"""Build ARM-native FL deployments in the shapes the Azure REST API returns.

The bundled samples (``flaudit scan --sample NAME``), the benchmarks and many tests use these builders, so a
posture is described once. Postures follow the Azure ML FL sample's reference sandboxes:

``open``      no VNets; silo storage public (publicNetworkAccess Enabled, defaultAction Allow).
``eyes-on``   computes in silo VNets (peered to the orchestrator VNet), silo storage still public.
``eyes-off``  silo storage behind blob private endpoints, publicNetworkAccess Disabled; computes keep node
              public IPs, nothing blocks outbound Internet traffic, the workspace stays public.
``private``   like eyes-off, plus the workspace behind a private endpoint and no node public IPs; egress
              still open.
``hardened``  meant to pass production: everything private, egress denied, least-privilege roles with ABAC
              conditions on the orchestrator storage, hardened storage and workspace settings.

Like the FL sample, sandboxes grant each silo identity Storage Blob Data Contributor, Storage Account Key
Operator Service Role and Reader and Data Access on its own storage and on the orchestrator's, with shared-key
access disabled on both accounts.

Regenerate the bundled files with ``python -m flaudit.samples.generate`` (writes flaudit/samples/*.json).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from flaudit.network import azure_default_rules

POSTURES = ("open", "eyes-on", "eyes-off", "private", "hardened")
SUB = "6b6f2d51-8c3e-4f1a-9d7b-2f4e5a6c7d80"
RG = "rg-fl-sample"
LOC = "westeurope"
WS_NAME = "aml-fl-sample"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"

ROLE = {
    "blob-contributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "blob-reader": "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
    "key-operator": "81a9662b-bebf-436f-a333-f67b29880f12",
    "reader-data-access": "c12c1c16-33a1-487b-954d-41c89c60f349",
    "contributor": "b24988ac-6180-42a0-ab88-20f7382dd24c",
    "reader": "acdd72a7-3385-48ef-bd42-f606fba81ae7",
}
NS = uuid.UUID("0b4f3e2a-6a57-4c4e-9f55-1d3c2b7a9e10")


def _uuid(*parts: Any) -> str:
    return str(uuid.uuid5(NS, "/".join(str(p) for p in parts)))


def rg_id(sub: str = SUB, rg: str = RG) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


def _rid(provider_type: str, name: str, sub: str = SUB, rg: str = RG) -> str:
    return f"{rg_id(sub, rg)}/providers/{provider_type}/{name}"


class Builder:
    """Accumulates resources for one deployment; methods add one kind of resource each."""

    def __init__(self, posture: str, n_silos: int = 3, sub: str = SUB, rg: str = RG):
        if posture not in POSTURES:
            raise ValueError(f"unknown posture {posture!r}")
        self.posture, self.n, self.sub, self.rg = posture, n_silos, sub, rg
        self.resources: list[dict[str, Any]] = []
        self.ws_id = _rid("Microsoft.MachineLearningServices/workspaces", WS_NAME, sub, rg)
        self.vnets = posture != "open"
        self.private_storage = posture in ("eyes-off", "private", "hardened")
        self.private_ws = posture in ("private", "hardened")
        self.hardened = posture == "hardened"

    # -- helpers ----------------------------------------------------------------------------------
    def rid(self, provider_type: str, name: str) -> str:
        return _rid(provider_type, name, self.sub, self.rg)

    def add(self, res: dict[str, Any]) -> dict[str, Any]:
        self.resources.append(res)
        return res

    # -- identities ------------------------------------------------------------------------------
    def identity(self, name: str) -> dict[str, Any]:
        rid = self.rid("Microsoft.ManagedIdentity/userAssignedIdentities", name)
        return self.add({
            "id": rid, "name": name, "type": "Microsoft.ManagedIdentity/userAssignedIdentities", "location": LOC,
            "tags": {},
            "properties": {"tenantId": TENANT, "principalId": _uuid("principal", rid), "clientId": _uuid("client", rid)},
        })

    # -- storage -----------------------------------------------------------------------------------
    def storage(self, name: str, *, private: bool, hardened: bool, tags: dict[str, str]) -> dict[str, Any]:
        rid = self.rid("Microsoft.Storage/storageAccounts", name)
        props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "minimumTlsVersion": "TLS1_2",
            "supportsHttpsTrafficOnly": True,
            "allowBlobPublicAccess": False,
            "allowSharedKeyAccess": False,
            "isHnsEnabled": False,
            "publicNetworkAccess": "Disabled" if private else "Enabled",
            "networkAcls": {"bypass": "AzureServices", "virtualNetworkRules": [], "ipRules": [],
                            "defaultAction": "Deny" if private else "Allow"},
            "encryption": {"services": {"blob": {"enabled": True, "keyType": "Account"},
                                        "file": {"enabled": True, "keyType": "Account"}},
                           "keySource": "Microsoft.Storage"},
            "primaryEndpoints": {"blob": f"https://{name}.blob.core.windows.net/",
                                 "dfs": f"https://{name}.dfs.core.windows.net/"},
            "privateEndpointConnections": [],
        }
        if hardened:
            props["allowCrossTenantReplication"] = False
            props["allowedCopyScope"] = "PrivateLink"
            props["networkAcls"]["bypass"] = "None"
            props["encryption"]["requireInfrastructureEncryption"] = True
        return self.add({"id": rid, "name": name, "type": "Microsoft.Storage/storageAccounts", "location": LOC,
                         "kind": "StorageV2", "sku": {"name": "Standard_LRS", "tier": "Standard"}, "tags": tags,
                         "properties": props})

    # -- network -----------------------------------------------------------------------------------
    def nsg(self, name: str) -> dict[str, Any]:
        rid = self.rid("Microsoft.Network/networkSecurityGroups", name)
        rules = [
            self._nsg_rule(rid, "AllowAzureMLInbound", 100, "Inbound", "Allow", "AzureMachineLearning", "44224"),
            self._nsg_rule(rid, "AllowBatchNodeManagementInbound", 110, "Inbound", "Allow",
                           "BatchNodeManagement", "29876-29877"),
        ]
        if self.hardened:
            rules += [
                self._nsg_rule(rid, "AllowAzureMLOutbound", 100, "Outbound", "Allow", "VirtualNetwork", "443",
                               dest="AzureMachineLearning"),
                self._nsg_rule(rid, "AllowEntraOutbound", 110, "Outbound", "Allow", "VirtualNetwork", "443",
                               dest="AzureActiveDirectory"),
                self._nsg_rule(rid, "DenyInternetOutbound", 4000, "Outbound", "Deny", "*", "*", dest="Internet",
                               protocol="*"),
            ]
        return self.add({"id": rid, "name": name, "type": "Microsoft.Network/networkSecurityGroups", "location": LOC,
                         "etag": 'W/"00000000-0000-0000-0000-000000000000"',
                         "properties": {"provisioningState": "Succeeded", "securityRules": rules,
                                        "defaultSecurityRules": azure_default_rules(rid)}})

    @staticmethod
    def _nsg_rule(nsg_id: str, name: str, priority: int, direction: str, access: str, source: str, ports: str,
                  dest: str = "*", protocol: str = "Tcp") -> dict[str, Any]:
        return {"id": f"{nsg_id}/securityRules/{name}", "name": name,
                "type": "Microsoft.Network/networkSecurityGroups/securityRules",
                "properties": {"provisioningState": "Succeeded", "protocol": protocol, "sourcePortRange": "*",
                               "destinationPortRange": ports, "sourceAddressPrefix": source,
                               "destinationAddressPrefix": dest, "access": access, "priority": priority,
                               "direction": direction, "sourcePortRanges": [], "destinationPortRanges": [],
                               "sourceAddressPrefixes": [], "destinationAddressPrefixes": []}}

    def vnet(self, name: str, prefix: str, subnet_prefix: str, nsg_id: str | None) -> dict[str, Any]:
        rid = self.rid("Microsoft.Network/virtualNetworks", name)
        subnet: dict[str, Any] = {"id": f"{rid}/subnets/snet-training", "name": "snet-training",
                                  "type": "Microsoft.Network/virtualNetworks/subnets",
                                  "properties": {"addressPrefix": subnet_prefix, "provisioningState": "Succeeded",
                                                 "privateEndpointNetworkPolicies": "Disabled",
                                                 "privateLinkServiceNetworkPolicies": "Enabled"}}
        if nsg_id:
            subnet["properties"]["networkSecurityGroup"] = {"id": nsg_id}
        return self.add({"id": rid, "name": name, "type": "Microsoft.Network/virtualNetworks", "location": LOC,
                         "properties": {"provisioningState": "Succeeded",
                                        "addressSpace": {"addressPrefixes": [prefix]},
                                        "subnets": [subnet], "virtualNetworkPeerings": [],
                                        "enableDdosProtection": False}})

    def peer(self, a: dict[str, Any], b: dict[str, Any]) -> None:
        for x, y in ((a, b), (b, a)):
            name = f"peer-{x['name']}-to-{y['name']}"
            x["properties"]["virtualNetworkPeerings"].append({
                "id": f"{x['id']}/virtualNetworkPeerings/{name}", "name": name,
                "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
                "properties": {"provisioningState": "Succeeded", "peeringState": "Connected",
                               "peeringSyncLevel": "FullyInSync", "remoteVirtualNetwork": {"id": y["id"]},
                               "remoteAddressSpace": y["properties"]["addressSpace"],
                               "allowVirtualNetworkAccess": True, "allowForwardedTraffic": False,
                               "allowGatewayTransit": False, "useRemoteGateways": False}})

    def private_endpoint(self, name: str, subnet_id: str, target: dict[str, Any], group: str) -> dict[str, Any]:
        rid = self.rid("Microsoft.Network/privateEndpoints", name)
        conn_name = f"{name}-conn"
        pe = self.add({
            "id": rid, "name": name, "type": "Microsoft.Network/privateEndpoints", "location": LOC,
            "properties": {
                "provisioningState": "Succeeded", "subnet": {"id": subnet_id},
                "privateLinkServiceConnections": [{
                    "id": f"{rid}/privateLinkServiceConnections/{conn_name}", "name": conn_name,
                    "properties": {"privateLinkServiceId": target["id"], "groupIds": [group],
                                   "privateLinkServiceConnectionState": {"status": "Approved",
                                                                         "description": "Auto-Approved",
                                                                         "actionsRequired": "None"}}}],
                "manualPrivateLinkServiceConnections": [],
                "networkInterfaces": [{"id": self.rid("Microsoft.Network/networkInterfaces", f"{name}.nic")}],
                "customDnsConfigs": [],
            }})
        if target["type"] == "Microsoft.Storage/storageAccounts":
            target["properties"]["privateEndpointConnections"].append({
                "id": f"{target['id']}/privateEndpointConnections/{name}.{_uuid(rid)[:8]}",
                "name": f"{name}.{_uuid(rid)[:8]}",
                "type": "Microsoft.Storage/storageAccounts/privateEndpointConnections",
                "properties": {"provisioningState": "Succeeded", "privateEndpoint": {"id": rid},
                               "privateLinkServiceConnectionState": {"status": "Approved",
                                                                     "description": "Auto-Approved",
                                                                     "actionsRequired": "None"}}})
        else:
            target["properties"].setdefault("privateEndpointConnections", []).append({
                "id": f"{target['id']}/privateEndpointConnections/{name}",
                "name": name, "type": f"{target['type']}/privateEndpointConnections",
                "properties": {"privateEndpoint": {"id": rid}, "provisioningState": "Succeeded",
                               "privateLinkServiceConnectionState": {"status": "Approved",
                                                                     "description": "Auto-Approved",
                                                                     "actionsRequired": "None"}}})
        return pe

    def dns_zone(self, zone: str, vnets: list[dict[str, Any]], records: dict[str, str]) -> None:
        zid = f"{rg_id(self.sub, self.rg)}/providers/Microsoft.Network/privateDnsZones/{zone}"
        self.add({"id": zid, "name": zone, "type": "Microsoft.Network/privateDnsZones", "location": "global",
                  "properties": {"provisioningState": "Succeeded", "numberOfRecordSets": len(records) + 1,
                                 "numberOfVirtualNetworkLinks": len(vnets)}})
        for v in vnets:
            lname = f"link-{v['name']}"
            self.add({"id": f"{zid}/virtualNetworkLinks/{lname}", "name": lname,
                      "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks", "location": "global",
                      "properties": {"provisioningState": "Succeeded", "virtualNetwork": {"id": v["id"]},
                                     "registrationEnabled": False, "virtualNetworkLinkState": "Completed"}})
        for host, ip in records.items():
            self.add({"id": f"{zid}/A/{host}", "name": host, "type": "Microsoft.Network/privateDnsZones/A",
                      "properties": {"ttl": 10, "fqdn": f"{host}.{zone}.", "isAutoRegistered": False,
                                     "aRecords": [{"ipv4Address": ip}]}})

    # -- Azure ML ------------------------------------------------------------------------------------
    def workspace(self, deps: dict[str, str]) -> dict[str, Any]:
        props: dict[str, Any] = {
            "friendlyName": WS_NAME, "provisioningState": "Succeeded",
            "storageAccount": deps["storage"], "keyVault": deps["keyvault"], "containerRegistry": deps["acr"],
            "applicationInsights": self.rid("Microsoft.Insights/components", "appi-aml-fl-sample"),
            "hbiWorkspace": self.hardened, "v1LegacyMode": False,
            "publicNetworkAccess": "Disabled" if self.private_ws else "Enabled",
            "allowPublicAccessWhenBehindVnet": False, "privateEndpointConnections": [],
            "managedNetwork": {"isolationMode": "Disabled", "status": {"status": "Inactive"}},
            "workspaceId": _uuid("ws", self.ws_id), "discoveryUrl": f"https://{LOC}.api.azureml.ms/discovery",
        }
        return self.add({"id": self.ws_id, "name": WS_NAME, "type": "Microsoft.MachineLearningServices/workspaces",
                         "location": LOC, "kind": "Default", "sku": {"name": "Basic", "tier": "Basic"},
                         "identity": {"type": "SystemAssigned", "principalId": _uuid("principal", self.ws_id),
                                      "tenantId": TENANT},
                         "properties": props})

    def compute(self, name: str, uai: dict[str, Any], subnet_id: str | None) -> dict[str, Any]:
        rid = f"{self.ws_id}/computes/{name}"
        inner: dict[str, Any] = {
            "vmSize": "STANDARD_DS3_V2", "vmPriority": "Dedicated", "osType": "Linux",
            "scaleSettings": {"maxNodeCount": 4, "minNodeCount": 0, "nodeIdleTimeBeforeScaleDown": "PT5M"},
            "remoteLoginPortPublicAccess": "Disabled",
            "enableNodePublicIp": not (self.private_ws or self.hardened),
            "isolatedNetwork": False,
        }
        if subnet_id:
            inner["subnet"] = {"id": subnet_id}
        return self.add({
            "id": rid, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/computes", "location": LOC,
            "identity": {"type": "UserAssigned", "userAssignedIdentities": {
                uai["id"]: {"principalId": uai["properties"]["principalId"],
                            "clientId": uai["properties"]["clientId"]}}},
            "properties": {"computeType": "AmlCompute", "computeLocation": LOC, "provisioningState": "Succeeded",
                           "disableLocalAuth": True, "description": f"FL compute {name}", "properties": inner},
        })

    def datastore(self, name: str, account: str) -> dict[str, Any]:
        return self.add({
            "id": f"{self.ws_id}/datastores/{name}", "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/datastores",
            "properties": {"datastoreType": "AzureBlob", "accountName": account, "containerName": "data",
                           "endpoint": "core.windows.net", "protocol": "https",
                           "credentials": {"credentialsType": "None"},
                           "serviceDataAccessAuthIdentity": "None", "isDefault": False,
                           "description": f"FL datastore {name}", "tags": {}},
        })

    def assign(self, scope: str, role: str, principal_id: str, condition: str | None = None) -> None:
        name = _uuid("ra", scope, role, principal_id)
        props: dict[str, Any] = {
            "roleDefinitionId": f"/subscriptions/{self.sub}/providers/Microsoft.Authorization/roleDefinitions/{ROLE[role]}",
            "principalId": principal_id, "principalType": "ServicePrincipal", "scope": scope,
            "createdOn": "2026-11-01T10:00:00.0000000Z", "updatedOn": "2026-11-01T10:00:00.0000000Z",
            "createdBy": None, "updatedBy": None, "delegatedManagedIdentityResourceId": None,
            "description": None, "condition": None, "conditionVersion": None,
        }
        if condition:
            props["condition"], props["conditionVersion"] = condition, "2.0"
        self.add({"id": f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}", "name": name,
                  "type": "Microsoft.Authorization/roleAssignments", "properties": props})

    # -- the whole deployment --------------------------------------------------------------------------
    def build(self) -> list[dict[str, Any]]:
        suffix = _uuid(self.sub, self.rg)[:6].replace("-", "")
        ws_storage = self.storage(f"stamlws{suffix}", private=self.private_ws, hardened=self.hardened,
                                  tags={"fl-role": "workspace"})
        kv = self.add({"id": self.rid("Microsoft.KeyVault/vaults", f"kv-aml-fl-{suffix}"), "name": f"kv-aml-fl-{suffix}",
                       "type": "Microsoft.KeyVault/vaults", "location": LOC,
                       "properties": {"tenantId": TENANT, "sku": {"family": "A", "name": "standard"},
                                      "enableRbacAuthorization": True, "enableSoftDelete": True,
                                      "enablePurgeProtection": self.hardened,
                                      "publicNetworkAccess": "Disabled" if self.private_ws else "Enabled",
                                      "networkAcls": {"bypass": "AzureServices",
                                                      "defaultAction": "Deny" if self.private_ws else "Allow",
                                                      "ipRules": [], "virtualNetworkRules": []}}})
        acr = self.add({"id": self.rid("Microsoft.ContainerRegistry/registries", f"acramlfl{suffix}"),
                        "name": f"acramlfl{suffix}", "type": "Microsoft.ContainerRegistry/registries",
                        "location": LOC, "sku": {"name": "Premium", "tier": "Premium"},
                        "properties": {"adminUserEnabled": False,
                                       "publicNetworkAccess": "Disabled" if self.private_ws else "Enabled",
                                       "networkRuleSet": {"defaultAction": "Deny" if self.private_ws else "Allow",
                                                          "ipRules": []},
                                       "anonymousPullEnabled": False}})
        ws = self.workspace({"storage": ws_storage["id"], "keyvault": kv["id"], "acr": acr["id"]})

        orch_uai = self.identity("uai-orchestrator")
        orch_st = self.storage(f"storch{suffix}", private=self.private_storage, hardened=self.hardened,
                               tags={"fl-role": "orchestrator"})
        orch_vnet = None
        if self.vnets:
            orch_nsg = self.nsg("nsg-orchestrator")
            orch_vnet = self.vnet("vnet-orchestrator", "10.0.0.0/16", "10.0.0.0/24", orch_nsg["id"])
        self.compute("orchestrator-01", orch_uai, orch_vnet["properties"]["subnets"][0]["id"] if orch_vnet else None)
        self.datastore("datastore_orchestrator", orch_st["name"])
        if self.hardened:
            self.assign(orch_st["id"], "blob-contributor", orch_uai["properties"]["principalId"])
        else:
            for role in ("blob-contributor", "key-operator", "reader-data-access"):
                self.assign(orch_st["id"], role, orch_uai["properties"]["principalId"])

        blob_zone_records: dict[str, str] = {}
        zone_vnets: list[dict[str, Any]] = [orch_vnet] if orch_vnet else []
        pe_subnets: list[tuple[str, dict[str, Any]]] = []
        for i in range(self.n):
            s = f"silo{i}"
            uai = self.identity(f"uai-{s}")
            st = self.storage(f"st{s}{suffix}", private=self.private_storage, hardened=self.hardened,
                              tags={"silo": s})
            vnet = None
            if self.vnets:
                nsg = self.nsg(f"nsg-{s}")
                second, third = divmod(i + 1, 256)
                vnet = self.vnet(f"vnet-{s}", f"10.{100 + second}.{third}.0/24", f"10.{100 + second}.{third}.0/25",
                                 nsg["id"])
                if orch_vnet is not None:
                    self.peer(vnet, orch_vnet)
                zone_vnets.append(vnet)
            self.compute(f"{s}-01", uai, vnet["properties"]["subnets"][0]["id"] if vnet else None)
            self.datastore(f"datastore_{s}", st["name"])
            pid = uai["properties"]["principalId"]
            if self.hardened:
                self.assign(st["id"], "blob-contributor", pid)
                blob = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
                cond = ("((!(ActionMatches{'" + blob + "/read'}) AND !(ActionMatches{'" + blob + "/write'}) "
                        "AND !(ActionMatches{'" + blob + "/add/action'}) AND !(ActionMatches{'" + blob + "/delete'})) "
                        f"OR (@Resource[{blob}:path] StringStartsWith '{s}/'))")
                self.assign(orch_st["id"], "blob-contributor", pid, condition=cond)
            else:
                for scope in (st["id"], orch_st["id"]):
                    for role in ("blob-contributor", "key-operator", "reader-data-access"):
                        self.assign(scope, role, pid)
            if self.private_storage and vnet is not None:
                pe_subnets.append((s, vnet))
                self.private_endpoint(f"pe-{st['name']}-blob", vnet["properties"]["subnets"][0]["id"], st, "blob")
                prefix = vnet["properties"]["subnets"][0]["properties"]["addressPrefix"].split("/")[0]
                blob_zone_records[st["name"]] = prefix.rsplit(".", 1)[0] + ".10"
        if self.private_storage and orch_vnet is not None:
            self.private_endpoint(f"pe-{orch_st['name']}-blob", orch_vnet["properties"]["subnets"][0]["id"], orch_st,
                                  "blob")
            blob_zone_records[orch_st["name"]] = "10.0.0.10"
        if self.private_ws and orch_vnet is not None:
            sub_id = orch_vnet["properties"]["subnets"][0]["id"]
            self.private_endpoint("pe-aml-workspace", sub_id, ws, "amlworkspace")
            self.private_endpoint(f"pe-{ws_storage['name']}-blob", sub_id, ws_storage, "blob")
            blob_zone_records[ws_storage["name"]] = "10.0.0.11"
            self.private_endpoint(f"pe-{kv['name']}", sub_id, kv, "vault")
            self.private_endpoint(f"pe-{acr['name']}", sub_id, acr, "registry")
            self.dns_zone("privatelink.api.azureml.ms", zone_vnets, {})
        if blob_zone_records:
            self.dns_zone("privatelink.blob.core.windows.net", zone_vnets, blob_zone_records)
        return self.resources


COLLECTED_TYPES = (
    "microsoft.machinelearningservices/workspaces", "microsoft.machinelearningservices/workspaces/computes",
    "microsoft.machinelearningservices/workspaces/datastores", "microsoft.storage/storageaccounts",
    "microsoft.network/virtualnetworks", "microsoft.network/networksecuritygroups",
    "microsoft.network/privateendpoints", "microsoft.network/privatednszones",
    "microsoft.network/privatednszones/virtualnetworklinks", "microsoft.network/privatednszones/a",
    "microsoft.network/routetables", "microsoft.network/serviceendpointpolicies",
    "microsoft.authorization/roleassignments",
    "microsoft.authorization/roledefinitions", "microsoft.authorization/denyassignments",
    "microsoft.managedidentity/userassignedidentities", "microsoft.keyvault/vaults",
    "microsoft.containerregistry/registries",
    # listed per storage account / per vault / per workspace by the collector: none exist in the samples
    "microsoft.storage/storageaccounts/objectreplicationpolicies", "microsoft.storage/storageaccounts/inventorypolicies",
    "microsoft.dataprotection/backupvaults", "microsoft.dataprotection/backupvaults/backupinstances",
    "microsoft.dataprotection/backupvaults/backuppolicies", "microsoft.machinelearningservices/workspaces/connections",
    "microsoft.datashare/accounts",
    "microsoft.authorization/roleeligibilityscheduleinstances",
    "microsoft.managedidentity/userassignedidentities/federatedidentitycredentials",
)


def snapshot(posture: str, n_silos: int = 3, *, sub: str = SUB, rg: str = RG) -> dict[str, Any]:
    """A flaudit snapshot document for one posture, as if collected from the resource group."""
    resources = Builder(posture, n_silos, sub, rg).build()
    scope = rg_id(sub, rg).lower()
    return {
        "kind": "flaudit.snapshot",
        "snapshot_version": 1,
        "tool": {"name": "flaudit", "version": "sample"},
        "collected_at": "2026-11-30T09:00:00+00:00",
        "scope": {"subscriptions": [sub], "resource_groups": [rg],
                  "note": f"bundled sample: {posture} posture with {n_silos} silos (synthetic)"},
        "collected": [{"scope": scope, "resource_type": t} for t in COLLECTED_TYPES],
        "unreadable": [],
        "resources": resources,
    }


def collected(posture: str, n_silos: int = 3) -> tuple[Any, Any]:
    """(inventory, FL config) of a posture as live collection of the resource group would give them: every
    collected type marked as read, so an absent resource is known absent. The benchmarks' fleet."""
    from flaudit.config import parse_config
    from flaudit.inventory import Inventory

    inv = Inventory()
    inv.extend(Builder(posture, n_silos).build())
    inv.collected = {(rg_id().lower(), t) for t in COLLECTED_TYPES}
    return inv, parse_config(fl_config(n_silos), "generated")


def fl_config(n_silos: int = 3, *, sub: str = SUB, rg: str = RG) -> dict[str, Any]:
    return {
        "aml": {"subscription_id": sub, "resource_group_name": rg, "workspace_name": WS_NAME},
        "federated_learning": {
            "orchestrator": {"compute": "orchestrator-01", "datastore": "datastore_orchestrator"},
            "silos": [{"name": f"silo{i}", "computes": [f"silo{i}-01"], "datastore": f"datastore_silo{i}",
                       "training_data": {"type": "uri_file", "mode": "download", "path": f"silo{i}/train.csv"},
                       "testing_data": {"type": "uri_file", "mode": "download", "path": f"silo{i}/test.csv"}}
                      for i in range(n_silos)],
        },
        "training_parameters": {"num_of_iterations": 5, "epochs": 1, "lr": 0.05, "batch_size": 64},
    }


def main(argv: list[str] | None = None) -> None:
    """Rewrite the bundled samples; ``--help`` explains and changes nothing, any other argument is refused."""
    import argparse

    import yaml

    parser = argparse.ArgumentParser(
        prog="python -m flaudit.samples.generate",
        description="Regenerate the bundled sample deployments (flaudit/samples/{"
        + ",".join(POSTURES) + "}.json) and their FL config (config.yaml) in place, from the code in this module. "
        "Run it after changing the generator; the files are committed.")
    parser.parse_args(argv)
    here = Path(__file__).parent
    for posture in POSTURES:
        (here / f"{posture}.json").write_text(json.dumps(snapshot(posture), indent=1) + "\n")
    (here / "config.yaml").write_text(
        "# FL config for the bundled samples, in the Azure ML FL sample's config.yaml shape.\n"
        + yaml.safe_dump(fl_config(), sort_keys=False))


if __name__ == "__main__":
    main()
