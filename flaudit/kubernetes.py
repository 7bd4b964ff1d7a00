"""Kubernetes silos: an Azure ML Kubernetes compute and the cluster it attaches, read the way Azure joins them.

An Azure ML ``Kubernetes`` compute names its cluster in ``properties.resourceId``: an AKS cluster
(``Microsoft.ContainerService/managedClusters``) or an Azure Arc-connected cluster
(``Microsoft.Kubernetes/connectedClusters``, a partner's or on-premises cluster). Azure ML itself describes
none of the cluster's network, so without this module every network question of such a silo is ``unknown``.

For AKS the nodes are VMSS instances in the agent pools' subnets (``agentPoolProfiles[].vnetSubnetID``, or the
separate ``managedClusters/agentPools`` resources, which win by name); without ``vnetSubnetID`` AKS creates its
own VNet in the node resource group (``properties.nodeResourceGroup``). :func:`cluster_for` resolves every pool to
its subnet (:attr:`Cluster.subnets`, one :class:`flaudit.model.NodeSubnet` per distinct subnet naming the pools
there), and :attr:`flaudit.model.Compute.node_subnets` reports them as the compute's subnets. The Azure ML
extension can schedule training pods on any pool (an instance type picks pools by nodeSelector, which ARM does not
show) and system pods run on the system pool, so silo code and data can run in every one of those subnets: the
existing network rules (FL-NET-001..006, FL-PE-*) judge each subnet through their own logic and combine
worst-case (any fail fails naming the pool and subnet, else any unknown is unknown, else pass), and pools in
several VNets put the silo in each of them (peering and private-endpoint questions are asked per VNet).
:meth:`Cluster.subnet_evidence` names the pool property that placed each subnet. A cluster is not placed (its
network findings ``unknown``) when a pool's ``vnetSubnetID`` is not a subnet id, when some pools name a subnet
and others do not (such a pool's network cannot be told from ARM), or when the pools are not in the input.

Egress follows ``networkProfile.outboundType``: ``loadBalancer`` (default), ``managedNATGateway`` and
``userAssignedNATGateway`` give the nodes a way to the Internet that only the subnet's NSG or route table can
stop; ``userDefinedRouting`` sends it wherever the subnet's route table says. In every case the subnet's NSG
and route table decide, which is what FL-NET-005's evaluator reads.

The Azure ML extension (``Microsoft.KubernetesConfiguration/extensions`` of type
``microsoft.azureml.kubernetes``) carries its settings as strings in ``configurationSettings``;
:class:`AzureMLExtension` reads them with the documented defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flaudit.arm import get_path, is_resource_id, name_of, norm, resource_group_id, subscription_of
from flaudit.model import NodeSubnet

MANAGED_CLUSTER = "microsoft.containerservice/managedclusters"
AGENT_POOL = "microsoft.containerservice/managedclusters/agentpools"
CONNECTED_CLUSTER = "microsoft.kubernetes/connectedclusters"
EXTENSION = "microsoft.kubernetesconfiguration/extensions"
AZUREML_EXTENSION_TYPE = "microsoft.azureml.kubernetes"
SUBNET = "microsoft.network/virtualnetworks/subnets"
VNET = "microsoft.network/virtualnetworks"

#: Types this module reads (added to flaudit.inventory.KNOWN_TYPES).
TYPES = (MANAGED_CLUSTER, AGENT_POOL, CONNECTED_CLUSTER, EXTENSION)

AKS_OUTBOUND_DOCS = "https://learn.microsoft.com/azure/aks/egress-outboundtype"
AKS_NODE_PIP_DOCS = "https://learn.microsoft.com/azure/aks/use-node-public-ips"


def _prop(resource_id: str, path: str, value: Any, **kw: Any) -> dict[str, Any]:
    from flaudit.findings import prop

    return prop(resource_id, path, value, **kw)


def _truthy(value: Any) -> bool | None:
    """A bool out of ARM's bools and the extension's string settings ("True"/"false"); None when absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


@dataclass
class AgentPool:
    """One agent pool: where its nodes sit and whether they get public addresses."""

    name: str
    resource_id: str  # the resource the evidence cites (the cluster for inline profiles, else the pool)
    path: str  # property path prefix in that resource ("properties.agentPoolProfiles[nodepool1]." or "properties.")
    raw: dict[str, Any]

    @property
    def subnet_ref(self) -> Any:
        return self.raw.get("vnetSubnetID") or None

    @property
    def public_ip(self) -> tuple[bool, bool]:
        """(enableNodePublicIP, default_assumed); AKS's default is false."""
        v = _truthy(self.raw.get("enableNodePublicIP"))
        return (False, True) if v is None else (v, False)


@dataclass
class Cluster:
    """The cluster a Kubernetes compute attaches: ``kind`` ``aks`` or ``arc``; ``raw`` None when not in the input."""

    id: str
    kind: str
    raw: dict[str, Any] | None
    pools: list[AgentPool] = field(default_factory=list)
    #: Every subnet the nodes run in once placed (one entry per distinct subnet, naming its pools); problem text
    #: when the cluster cannot be placed.
    subnets: list[NodeSubnet] = field(default_factory=list)
    subnet_problem: str | None = None

    def prop(self, path: str, default: Any = None) -> Any:
        return get_path(self.raw or {}, path, default)

    @property
    def name(self) -> str:
        return name_of(self.id)

    def subnet_evidence(self, subnet_id: str | None = None) -> list[dict[str, Any]]:
        """Evidence naming the cluster properties that place the compute (and how its egress leaves): for every
        subnet, or with ``subnet_id`` for that one."""
        if self.raw is None:
            return [_prop(self.id, "id", None)]
        ev = [e for s in self.subnets if subnet_id is None or norm(s.subnet_id) == norm(subnet_id)
              for e in s.evidence]
        if self.kind == "aks":
            ev.append(self.outbound_evidence())
        return ev

    @property
    def outbound_type(self) -> tuple[str, bool]:
        """(networkProfile.outboundType, default_assumed); AKS's default is loadBalancer."""
        v = self.prop("properties.networkProfile.outboundType")
        return (str(v), False) if v else ("loadBalancer", True)

    def outbound_evidence(self) -> dict[str, Any]:
        value, assumed = self.outbound_type
        return _prop(self.id, "properties.networkProfile.outboundType", value, default_assumed=assumed,
                     default_note="missing means loadBalancer (AKS default: egress through a public load balancer, "
                     "open unless the subnet's NSG or route table stops it)")


def _pools(cluster: dict[str, Any], inventory: Any) -> list[AgentPool]:
    cid = cluster["id"]
    out: dict[str, AgentPool] = {}
    for p in get_path(cluster, "properties.agentPoolProfiles") or []:
        if isinstance(p, dict) and p.get("name"):
            out[str(p["name"]).lower()] = AgentPool(str(p["name"]), cid,
                                                    f"properties.agentPoolProfiles[{p['name']}].", p)
    prefix = norm(cid) + "/agentpools/"
    for r in inventory.of_type(AGENT_POOL):
        if norm(r.get("id")).startswith(prefix):
            name = str(r.get("name") or name_of(r["id"])).split("/")[-1]
            out[name.lower()] = AgentPool(name, r["id"], "properties.", r.get("properties") or {})
    return [out[k] for k in sorted(out)]


def _place(c: Cluster, inventory: Any) -> None:
    """Resolve every subnet the cluster's nodes run in, or say why they cannot be named (fail closed)."""
    if not c.pools:
        c.subnet_problem = f"the agent pools of AKS cluster {c.name} are not in the input"
        return
    refs = [(p, p.subnet_ref) for p in c.pools]
    bad = [f"{p.name}: {ref!r}" for p, ref in refs if ref and not is_resource_id(ref, SUBNET)]
    if bad:
        c.subnet_problem = (f"agent pool vnetSubnetID of AKS cluster {c.name} is not an ARM subnet id ("
                            + "; ".join(bad) + ")")
        return
    named = [(p, ref) for p, ref in refs if ref]
    if named and len(named) < len(refs):
        c.subnet_problem = (f"AKS cluster {c.name}: agent pool(s) "
                            + ", ".join(p.name for p, ref in refs if not ref) + " name no vnetSubnetID while "
                            + ", ".join(p.name for p, _ in named) + " do")
        return
    if named:
        by_subnet: dict[str, list[tuple[AgentPool, str]]] = {}
        for p, ref in named:
            by_subnet.setdefault(norm(ref), []).append((p, ref))
        c.subnets = [NodeSubnet(group[0][1], tuple(p.name for p, _ in group),
                                tuple(_prop(p.resource_id, p.path + "vnetSubnetID", ref) for p, ref in group))
                     for _, group in sorted(by_subnet.items())]
        return
    # No vnetSubnetID: AKS created its own VNet in the node resource group.
    node_rg = c.prop("properties.nodeResourceGroup")
    sub = subscription_of(c.id)
    rg_of_cluster = (resource_group_id(c.id) or "").rsplit("/", 1)[-1]
    assumed = False
    if not node_rg and rg_of_cluster and (c.raw or {}).get("location"):
        # AKS's default node resource group name (a template often leaves it out): MC_<rg>_<cluster>_<location>
        node_rg, assumed = f"MC_{rg_of_cluster}_{c.name}_{c.raw['location']}", True
    if not node_rg or not sub:
        c.subnet_problem = (f"AKS cluster {c.name} names no vnetSubnetID and no nodeResourceGroup, so its nodes' "
                            "network is unknown")
        return
    rg = norm(f"/subscriptions/{sub}/resourceGroups/{node_rg}")
    vnets = [v for v in inventory.of_type(VNET) if norm(resource_group_id(v["id"])) == rg]
    subnets = [s for v in vnets for s in get_path(v, "properties.subnets") or [] if isinstance(s, dict) and s.get("id")]
    if len(vnets) != 1 or len(subnets) != 1:
        c.subnet_problem = (f"AKS cluster {c.name} uses the AKS-managed VNet of node resource group {node_rg}, and "
                            f"the input holds {len(vnets)} VNet(s) with {len(subnets)} subnet(s) there (one of "
                            "each is needed to place the nodes)")
        return
    c.subnets = [NodeSubnet(subnets[0]["id"], tuple(p.name for p in c.pools), (
        _prop(c.id, "properties.nodeResourceGroup", node_rg, default_assumed=assumed,
              default_note="missing means MC_<resource group>_<cluster>_<location> (AKS default)"),
        _prop(subnets[0]["id"], "id", subnets[0]["id"])))]


def cluster_for(compute_raw: dict[str, Any], inventory: Any) -> Cluster | None:
    """The cluster a Kubernetes compute attaches (``properties.resourceId``); None for other computes."""
    if str(get_path(compute_raw, "properties.computeType") or "").lower() != "kubernetes":
        return None
    rid = get_path(compute_raw, "properties.resourceId")
    if is_resource_id(rid, MANAGED_CLUSTER):
        raw = inventory.get(rid)
        c = Cluster(rid, "aks", raw)
        if raw is None:
            c.subnet_problem = f"its AKS cluster {rid} (properties.resourceId) is not in the input"
            return c
        c.pools = _pools(raw, inventory)
        _place(c, inventory)
        return c
    if is_resource_id(rid, CONNECTED_CLUSTER):
        return Cluster(rid, "arc", inventory.get(rid))
    return None


# -- the Azure ML extension ----------------------------------------------------------------------------------
@dataclass
class AzureMLExtension:
    """The ``microsoft.azureml.kubernetes`` extension on a cluster, its settings read with their defaults.

    Defaults are the extension's documented ones (how-to-deploy-kubernetes-extension): training and inference
    off unless enabled, ``allowInsecureConnections`` false, ``inferenceRouterServiceType`` required when
    inference is on. Values are strings in ARM (``"True"``).
    """

    id: str
    raw: dict[str, Any]

    def setting(self, name: str) -> Any:
        settings = get_path(self.raw, "properties.configurationSettings") or {}
        for k, v in settings.items() if isinstance(settings, dict) else []:
            if str(k).lower() == name.lower():
                return v
        return None

    def flag(self, name: str) -> tuple[bool, bool]:
        """(value, default_assumed) of a boolean setting whose default is false."""
        v = _truthy(self.setting(name))
        return (False, True) if v is None else (v, False)

    def evidence(self, name: str, default: Any = False) -> dict[str, Any]:
        raw = self.setting(name)
        return _prop(self.id, f"properties.configurationSettings.{name}", default if raw is None else raw,
                     default_assumed=raw is None, default_note=f"missing means {default} (extension default)")

    @property
    def inference(self) -> bool:
        return self.flag("enableInference")[0]

    @property
    def router_public(self) -> tuple[bool | None, str]:
        """Whether the inference router (azureml-fe) gets a public address, and why.

        ``loadBalancer`` without ``internalLoadBalancerProvider: azure`` is a public Azure load balancer;
        ``nodePort`` opens a port on every node (public only where nodes have public IPs: None here, the
        caller knows the nodes); ``clusterIP`` stays inside the cluster.
        """
        kind = str(self.setting("inferenceRouterServiceType") or "").lower()
        internal = str(self.setting("internalLoadBalancerProvider") or "").lower() == "azure"
        if kind == "loadbalancer":
            return (not internal, "public load balancer" if not internal else "internal Azure load balancer")
        if kind == "nodeport":
            return None, "a port on every node"
        if kind == "clusterip":
            return False, "a cluster-internal address"
        return None, f"inferenceRouterServiceType {kind or '(missing)'}"


def extensions_on(cluster_id: str, inventory: Any) -> list[AzureMLExtension]:
    """The Azure ML extensions installed on a cluster (extension ids nest under the cluster id)."""
    prefix = norm(cluster_id) + "/providers/microsoft.kubernetesconfiguration/extensions/"
    return [AzureMLExtension(e["id"], e) for e in inventory.of_type(EXTENSION)
            if norm(e.get("id")).startswith(prefix)
            and str(get_path(e, "properties.extensionType") or "").lower() == AZUREML_EXTENSION_TYPE]


def node_public_ip(cluster: Cluster) -> tuple[str, str, list[dict[str, Any]]]:
    """(status, sentence, evidence) for FL-NET-002 on an AKS silo: any pool with enableNodePublicIP fails. An
    Arc-connected cluster's nodes are not described by Azure at all: unknown."""
    if cluster.kind == "arc":
        return "unknown", (f"the nodes of Arc-connected cluster {cluster.name} are outside what Azure describes, so "
                           "whether they have public addresses is unknown"), [_prop(cluster.id, "type", cluster.kind)]
    if cluster.raw is None:
        return "unknown", f"its AKS cluster {cluster.id} is not in the input", [_prop(cluster.id, "id", None)]
    if not cluster.pools:
        return "unknown", f"the agent pools of AKS cluster {cluster.name} are not in the input", []
    ev, public = [], []
    for p in cluster.pools:
        value, assumed = p.public_ip
        ev.append(_prop(p.resource_id, p.path + "enableNodePublicIP", value, default_assumed=assumed,
                        default_note="missing means false (AKS default)"))
        if value:
            public.append(p.name)
    if public:
        return "fail", f"agent pool(s) {', '.join(public)} of AKS cluster {cluster.name} give nodes public IPs", ev
    return "pass", f"no agent pool of AKS cluster {cluster.name} gives nodes public IPs", ev
