"""The network AKS creates for a templated cluster that brings no subnet of its own.

An AKS cluster whose agent pools name no ``vnetSubnetID`` runs in a VNet that AKS itself creates, with the
cluster, in the node resource group (``properties.nodeResourceGroup``, by default ``MC_<rg>_<cluster>_<location>``):
a VNet ``10.224.0.0/12`` with one subnet ``10.224.0.0/16`` and an AKS-managed network security group that starts
with Azure's default rules only (AKS adds inbound rules later for Services of type LoadBalancer, which FL-K8S-004
judges for the Azure ML inference router). A template does not declare these, yet deploying it creates them, so
the template source adds them (as :func:`managed_network`), noted in ``input.notes``, so the network rules judge
what the template provisions instead of answering ``unknown``. Live collection reads the real ones instead.
"""

from __future__ import annotations

from typing import Any

from flaudit.arm import get_path, norm, resource_group_id, subscription_of

CLUSTER = "microsoft.containerservice/managedclusters"
AGENT_POOL = "microsoft.containerservice/managedclusters/agentpools"
AKS_VNET_PREFIX = "10.224.0.0/12"  # AKS's documented defaults for the VNet it creates
AKS_SUBNET_PREFIX = "10.224.0.0/16"


def _brings_subnet(cluster: dict[str, Any], resources: list[dict[str, Any]]) -> bool:
    pools = [p for p in get_path(cluster, "properties.agentPoolProfiles") or [] if isinstance(p, dict)]
    prefix = norm(cluster.get("id")) + "/agentpools/"
    pools += [r.get("properties") or {} for r in resources
              if norm(r.get("type")) == AGENT_POOL and norm(r.get("id")).startswith(prefix)]
    return any(p.get("vnetSubnetID") for p in pools)


def managed_network(cluster: dict[str, Any], resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """VNet (with its subnet) and NSG AKS creates for ``cluster``; [] when a pool names a subnet (or when the
    cluster's subscription, resource group or location is not known)."""
    from flaudit.network import azure_default_rules

    if _brings_subnet(cluster, resources):
        return []
    sub, rg = subscription_of(cluster.get("id") or ""), resource_group_id(cluster.get("id") or "")
    location, name = cluster.get("location"), cluster.get("name")
    node_rg = get_path(cluster, "properties.nodeResourceGroup")
    if not node_rg and rg and location and name:
        node_rg = f"MC_{rg.rsplit('/', 1)[-1]}_{name}_{location}"
    if not (sub and node_rg and isinstance(location, str)):
        return []
    base = f"/subscriptions/{sub}/resourceGroups/{node_rg}/providers/Microsoft.Network"
    nsg_id = f"{base}/networkSecurityGroups/aks-agentpool-nsg"
    vnet_id = f"{base}/virtualNetworks/aks-vnet"
    nsg = {"id": nsg_id, "name": "aks-agentpool-nsg", "type": "Microsoft.Network/networkSecurityGroups",
           "location": location, "properties": {"securityRules": [], "defaultSecurityRules": azure_default_rules(nsg_id)}}
    vnet = {"id": vnet_id, "name": "aks-vnet", "type": "Microsoft.Network/virtualNetworks", "location": location,
            "properties": {"addressSpace": {"addressPrefixes": [AKS_VNET_PREFIX]}, "virtualNetworkPeerings": [],
                           "subnets": [{"id": f"{vnet_id}/subnets/aks-subnet", "name": "aks-subnet",
                                        "properties": {"addressPrefix": AKS_SUBNET_PREFIX,
                                                       "networkSecurityGroup": {"id": nsg_id}}}]}}
    return [vnet, nsg]


def aks_managed_networks(resources: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(created network resource, its cluster) for every templated AKS cluster without a subnet of its own."""
    return [(r, c) for c in resources if norm(c.get("type")) == CLUSTER for r in managed_network(c, resources)]
