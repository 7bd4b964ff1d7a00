"""Kubernetes silo fixtures, written in the shapes of the REST API examples (values are ours, shapes are theirs):

* managed cluster: azure-rest-api-specs specification/containerservice/resource-manager/Microsoft.ContainerService/
  aks/stable/2025-07-01/examples/ManagedClustersGet.json (agentPoolProfiles[], networkProfile, nodeResourceGroup),
  with the documented apiServerAccessProfile / disableLocalAccounts / vnetSubnetID / enableNodePublicIP fields;
* Kubernetes compute: specification/machinelearningservices/.../stable/2025-09-01/examples/Compute/get/
  KubernetesCompute.json;
* extension: specification/kubernetesconfiguration/.../extensions/stable/2025-03-01/examples/GetExtension.json;
* connected cluster: specification/hybridkubernetes/.../Microsoft.Kubernetes/stable/2026-03-01/examples/
  GetClusterExample.json (plus connectivityStatus and privateLinkScopeResourceId from connectedClusters.json);
* route table: specification/network/.../examples/RouteTableGet.json.
"""

from __future__ import annotations

from typing import Any

from flaudit.samples import generate
from tests.support import compute

SUB = generate.SUB
RG = generate.RG


def aks_id(name: str, sub: str = SUB, rg: str = RG) -> str:
    return f"/subscriptions/{sub}/resourcegroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"


def managed_cluster(name: str, subnet_id: str | None, *, private: bool = True, outbound: str = "userDefinedRouting",
                    node_public_ip: bool = False, disable_local_accounts: bool = True,
                    authorized: list[str] | None = None) -> dict[str, Any]:
    pool: dict[str, Any] = {
        "name": "nodepool1", "count": 3, "vmSize": "Standard_DS1_v2", "maxPods": 110, "osType": "Linux",
        "mode": "System", "provisioningState": "Succeeded", "orchestratorVersion": "1.31.2",
        "currentOrchestratorVersion": "1.31.2", "enableNodePublicIP": node_public_ip,
    }
    if subnet_id:
        pool["vnetSubnetID"] = subnet_id
    return {
        "id": aks_id(name), "location": "eastus", "name": name, "tags": {},
        "type": "Microsoft.ContainerService/ManagedClusters",
        "properties": {
            "provisioningState": "Succeeded", "kubernetesVersion": "1.31.2", "dnsPrefix": name,
            "fqdn": f"{name}-abcd1234.hcp.eastus.azmk8s.io",
            "agentPoolProfiles": [pool],
            "nodeResourceGroup": f"MC_{RG}_{name}_eastus",
            "identityProfile": {"kubeletidentity": {
                "resourceId": f"/subscriptions/{SUB}/resourcegroups/MC_{RG}_{name}_eastus/providers/"
                              f"Microsoft.ManagedIdentity/userAssignedIdentities/{name}-agentpool",
                "clientId": "9e3c6f1a-2b4d-4c5e-8f70-1a2b3c4d5e6f",
                "objectId": "7d1e2f3a-4b5c-4d6e-9f80-a1b2c3d4e5f7"}},
            "enableRBAC": True,
            "disableLocalAccounts": disable_local_accounts,
            "apiServerAccessProfile": {"enablePrivateCluster": private,
                                       "authorizedIPRanges": list(authorized or [])},
            "networkProfile": {"networkPlugin": "azure", "serviceCidr": "172.16.0.0/16",
                               "dnsServiceIP": "172.16.0.10", "loadBalancerSku": "standard",
                               "outboundType": outbound, "ipFamilies": ["IPv4"]},
        },
    }


def kubernetes_compute(ws_id: str, name: str, cluster_id: str, uai: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": f"{ws_id}/computes/{name}", "type": "Microsoft.MachineLearningServices/workspaces/computes",
        "name": name, "location": "eastus",
        "identity": {"type": "UserAssigned", "userAssignedIdentities": {uai["id"]: {
            "principalId": uai["properties"]["principalId"], "clientId": uai["properties"]["clientId"]}}},
        "properties": {
            "createdOn": "2026-11-01T22:00:00.0000000+00:00", "description": "AKS silo",
            "resourceId": cluster_id, "computeType": "Kubernetes", "provisioningState": "Succeeded",
            "isAttachedCompute": True, "disableLocalAuth": True,
            "properties": {"relayConnectionString": None, "serviceBusConnectionString": None,
                           "extensionPrincipalId": None, "extensionInstanceReleaseTrain": "stable",
                           "vcName": None, "namespace": "default", "defaultInstanceType": "defaultInstanceType"},
        },
    }


def azureml_extension(cluster_id: str, settings: dict[str, str], name: str = "azmlext") -> dict[str, Any]:
    return {
        "id": f"{cluster_id}/providers/Microsoft.KubernetesConfiguration/extensions/{name}",
        "type": "Microsoft.KubernetesConfiguration/extensions", "name": name,
        "properties": {"extensionType": "microsoft.azureml.kubernetes", "autoUpgradeMinorVersion": True,
                       "releaseTrain": "Stable", "version": "1.1.60",
                       "scope": {"cluster": {"releaseNamespace": "azureml"}},
                       "configurationSettings": dict(settings), "provisioningState": "Succeeded",
                       "currentVersion": "1.1.60", "statuses": [], "isSystemExtension": False},
    }


#: The private silo's extension: training only, HTTPS only, an internal router should inference be enabled.
SECURE_EXTENSION = {"enableTraining": "True", "enableInference": "False", "allowInsecureConnections": "False",
                    "inferenceRouterServiceType": "loadBalancer", "internalLoadBalancerProvider": "azure"}
#: What the FL sample's deploy_aks_azureml_extension*.bicep installs (its parameter defaults).
SAMPLE_EXTENSION = {"enableTraining": "true", "enableInference": "false", "inferenceRouterServiceType": "loadBalancer",
                    "allowInsecureConnections": "true", "internalLoadBalancerProvider": "azure",
                    "inferenceLoadBalancerHA": "false"}


def connected_cluster(name: str, *, status: str | None = "Connected", sub: str = SUB, rg: str = RG
                      ) -> dict[str, Any]:
    props: dict[str, Any] = {
        "agentVersion": "1.21.10", "distribution": "k3s", "distributionVersion": "1.0", "kubernetesVersion": "1.30.0",
        "arcAgentProfile": {"agentAutoUpgrade": "Enabled", "agentState": "Succeeded",
                            "desiredAgentVersion": "1.21.10"},
        "privateLinkState": "Disabled", "provisioningState": "Succeeded", "totalNodeCount": 2,
        "oidcIssuerProfile": {"enabled": True}, "securityProfile": {"workloadIdentity": {"enabled": True}},
    }
    if status is not None:
        props["connectivityStatus"] = status
    return {"name": name, "type": "Microsoft.Kubernetes/connectedClusters",
            "id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Kubernetes/connectedClusters/{name}",
            "identity": {"type": "SystemAssigned", "principalId": "d8cd1fd9-154f-4da7-b348-595f283c13a3",
                         "tenantId": generate.TENANT},
            "location": "eastus", "properties": props, "tags": {}}


def firewall_route_table(name: str, firewall_ip: str = "10.0.1.4") -> dict[str, Any]:
    rid = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Network/routeTables/{name}"
    return {"id": rid, "name": name, "type": "Microsoft.Network/routeTables", "location": "eastus",
            "properties": {"disableBgpRoutePropagation": True, "provisioningState": "Succeeded",
                           "routes": [{"id": f"{rid}/routes/default-to-firewall", "name": "default-to-firewall",
                                       "properties": {"addressPrefix": "0.0.0.0/0",
                                                      "nextHopType": "VirtualAppliance",
                                                      "nextHopIpAddress": firewall_ip,
                                                      "provisioningState": "Succeeded"}}]}}


def subnet_of(resources: list[dict[str, Any]], silo: str) -> dict[str, Any]:
    for r in resources:
        if r["type"] == "Microsoft.Network/virtualNetworks" and r["name"] == f"vnet-{silo}":
            return r["properties"]["subnets"][0]
    raise KeyError(silo)


def aks_silo(resources: list[dict[str, Any]], silo: str = "silo1", *, extension: dict[str, str] | None = None,
             route_to_firewall: bool = True, **cluster: Any) -> dict[str, Any]:
    """Turn ``silo``'s compute (``<silo>-01``) into a Kubernetes compute attached to an AKS cluster in the silo's
    own subnet (same name, same identity), with the Azure ML extension; returns the cluster resource."""
    old = compute(resources, f"{silo}-01")
    uai_id = next(iter(old["identity"]["userAssignedIdentities"]))
    uai = next(r for r in resources if r["id"] == uai_id)
    subnet = subnet_of(resources, silo)
    cl = managed_cluster(f"aks-{silo}", subnet["id"], **cluster)
    resources.remove(old)
    ws_id = old["id"].rsplit("/computes/", 1)[0]
    resources += [cl, kubernetes_compute(ws_id, f"{silo}-01", cl["id"], uai),
                  azureml_extension(cl["id"], extension if extension is not None else SECURE_EXTENSION)]
    if route_to_firewall:
        rt = firewall_route_table(f"rt-{silo}")
        resources.append(rt)
        subnet["properties"]["routeTable"] = {"id": rt["id"]}
    return cl


# -- agent pools in several subnets ------------------------------------------------------------------------------
def agent_pool_profile(name: str, subnet_id: str | None, *, mode: str = "User", node_public_ip: bool = False
                       ) -> dict[str, Any]:
    """An ``agentPoolProfiles[]`` entry (ManagedClustersGet.json's shape) for a user pool, e.g. a GPU pool."""
    pool: dict[str, Any] = {"name": name, "count": 2, "vmSize": "Standard_NC6s_v3", "maxPods": 110, "osType": "Linux",
                            "type": "VirtualMachineScaleSets", "mode": mode, "provisioningState": "Succeeded",
                            "orchestratorVersion": "1.31.2", "currentOrchestratorVersion": "1.31.2",
                            "enableNodePublicIP": node_public_ip}
    if subnet_id:
        pool["vnetSubnetID"] = subnet_id
    return pool


def agent_pool_resource(cluster: dict[str, Any], name: str, subnet_id: str, *, node_public_ip: bool = False
                        ) -> dict[str, Any]:
    """A separate ``managedClusters/agentPools`` resource (AgentPoolsGet.json's shape, with vnetSubnetID and
    enableNodePublicIP, documented pool properties, and the type a list response carries)."""
    return {"id": f"{cluster['id']}/agentPools/{name}", "name": name,
            "type": "Microsoft.ContainerService/managedClusters/agentPools",
            "properties": {"provisioningState": "Succeeded", "count": 2, "vmSize": "Standard_NC6s_v3", "maxPods": 110,
                           "osType": "Linux", "mode": "User", "orchestratorVersion": "1.31.2",
                           "currentOrchestratorVersion": "1.31.2", "vnetSubnetID": subnet_id,
                           "enableNodePublicIP": node_public_ip}}


def vnet_of_silo(resources: list[dict[str, Any]], silo: str) -> dict[str, Any]:
    return next(r for r in resources if r["type"] == "Microsoft.Network/virtualNetworks" and r["name"] == f"vnet-{silo}")


def add_subnet(vnet: dict[str, Any], name: str, prefix: str, *, like: dict[str, Any] | None = None,
               nsg_id: str | None = None) -> dict[str, Any]:
    """Add a subnet to ``vnet`` (SubnetGet.json's shape): the NSG and route table of ``like`` unless ``nsg_id``
    names another NSG (``""``: no NSG)."""
    props: dict[str, Any] = {"addressPrefix": prefix, "provisioningState": "Succeeded",
                             "privateEndpointNetworkPolicies": "Disabled",
                             "privateLinkServiceNetworkPolicies": "Enabled"}
    base = (like or {}).get("properties", {})
    for key in ("networkSecurityGroup", "routeTable"):
        if key in base:
            props[key] = dict(base[key])
    if nsg_id is not None:
        props.pop("networkSecurityGroup", None)
        if nsg_id:
            props["networkSecurityGroup"] = {"id": nsg_id}
    subnet = {"id": f"{vnet['id']}/subnets/{name}", "name": name, "type": "Microsoft.Network/virtualNetworks/subnets",
              "properties": props}
    vnet["properties"]["subnets"].append(subnet)
    return subnet


def open_egress_nsg(resources: list[dict[str, Any]], silo: str, name: str) -> dict[str, Any]:
    """A copy of ``nsg-<silo>`` (NetworkSecurityGroupGet.json's shape) whose outbound Internet deny is replaced by
    an explicit Allow to Internet: the subnet behind it can send data anywhere."""
    import copy

    base = next(r for r in resources if r["type"] == "Microsoft.Network/networkSecurityGroups"
                and r["name"] == f"nsg-{silo}")
    nsg = copy.deepcopy(base)
    old_id, nsg["id"], nsg["name"] = base["id"], base["id"].rsplit("/", 1)[0] + "/" + name, name
    props = nsg["properties"]
    props["securityRules"] = [r for r in props["securityRules"] if r["name"] != "DenyInternetOutbound"]
    props["securityRules"].append({
        "id": f"{nsg['id']}/securityRules/AllowInternetOutbound", "name": "AllowInternetOutbound",
        "type": "Microsoft.Network/networkSecurityGroups/securityRules",
        "properties": {"provisioningState": "Succeeded", "protocol": "*", "sourcePortRange": "*",
                       "destinationPortRange": "*", "sourceAddressPrefix": "*", "destinationAddressPrefix": "Internet",
                       "access": "Allow", "priority": 100, "direction": "Outbound"}})
    for rule in props["securityRules"] + props.get("defaultSecurityRules", []):
        rule["id"] = rule["id"].replace(old_id, nsg["id"])
    props.pop("subnets", None)
    resources.append(nsg)
    return nsg


def peering(vnet: dict[str, Any], remote: dict[str, Any]) -> dict[str, Any]:
    """A Connected peering (VirtualNetworkPeeringGet.json's shape) from ``vnet`` to ``remote``."""
    name = f"peer-{vnet['name']}-to-{remote['name']}"
    return {"id": f"{vnet['id']}/virtualNetworkPeerings/{name}", "name": name,
            "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
            "properties": {"provisioningState": "Succeeded", "peeringState": "Connected",
                           "peeringSyncLevel": "FullyInSync", "remoteVirtualNetwork": {"id": remote["id"]},
                           "remoteAddressSpace": {"addressPrefixes": list(remote["properties"]["addressSpace"]
                                                                          ["addressPrefixes"])},
                           "allowVirtualNetworkAccess": True, "allowForwardedTraffic": False,
                           "allowGatewayTransit": False, "useRemoteGateways": False}}


def second_vnet(resources: list[dict[str, Any]], silo: str, name: str, prefix: str, *, peered: bool = True,
                dns: bool = True) -> dict[str, Any]:
    """A second VNet for ``silo`` (VirtualNetworkGet.json's shape) with one subnet (``snet-<name>``) behind the
    silo's NSG and route table; ``peered``: Connected peerings both ways with ``vnet-<silo>``; ``dns``: every
    private DNS zone linked to ``vnet-<silo>`` is linked to it too. Returns the VNet."""
    home = vnet_of_silo(resources, silo)
    vnet = {"id": home["id"].rsplit("/", 1)[0] + "/" + name, "name": name, "type": "Microsoft.Network/virtualNetworks",
            "location": home["location"],
            "properties": {"provisioningState": "Succeeded", "addressSpace": {"addressPrefixes": [prefix]},
                           "subnets": [], "virtualNetworkPeerings": [], "enableDdosProtection": False}}
    add_subnet(vnet, f"snet-{name}", prefix, like=home["properties"]["subnets"][0])
    if peered:
        vnet["properties"]["virtualNetworkPeerings"].append(peering(vnet, home))
        home["properties"]["virtualNetworkPeerings"].append(peering(home, vnet))
    if dns:
        for link in [r for r in resources if r["type"] == "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
                     and r["properties"]["virtualNetwork"]["id"].lower() == home["id"].lower()]:
            zone = link["id"].rsplit("/virtualNetworkLinks/", 1)[0]
            resources.append({**link, "id": f"{zone}/virtualNetworkLinks/link-{name}", "name": f"link-{name}",
                              "properties": {**link["properties"], "virtualNetwork": {"id": vnet["id"]}}})
    resources.append(vnet)
    return vnet
