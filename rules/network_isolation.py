"""Network isolation: silo computes run in a private network that the Internet cannot reach into or out of,
and silo networks are not connected to each other.

Every NSG question goes to :mod:`flaudit.nsg`, every VNet/peering question to :class:`flaudit.network.NetworkIndex`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flaudit.rules._shared import each_placement, silo_computes, unresolved

from flaudit.arm import get_path, name_of
from flaudit.engine import Remediation, rule
from flaudit.findings import Fail, Finding, NotApplicable, Pass, Unknown, note, prop
from flaudit.kubernetes import node_public_ip
from flaudit.model import Compute, Deployment, Silo
from flaudit.netreach import SEP_DOCS, Egress, egress_of, member_reach, silo_ingress, silo_vnets
from flaudit.network import VNET, Placement, managed_open_egress, reopened_egress_finding_parts, vnet_of
from flaudit.nsg import effective

AML_VNET_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet"
AML_MANAGED_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-managed-network"
AML_NO_PIP_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-secure-training-vnet#compute-cluster"
NSG_DOCS = "https://learn.microsoft.com/azure/virtual-network/network-security-groups-overview"
EXFIL_DOCS = "https://learn.microsoft.com/azure/machine-learning/how-to-prevent-data-loss-exfiltration"
UDR_DOCS = "https://learn.microsoft.com/azure/virtual-network/virtual-networks-udr-overview"
PEERING_DOCS = "https://learn.microsoft.com/azure/virtual-network/virtual-network-peering-overview"
FL_VNET_DOCS = ("https://github.com/Azure-Samples/azure-ml-federated-learning/blob/main/docs/"
                "provisioning/silo_vnet_peering.md")

#: computeType values whose network placement Azure ML itself describes (subnet, enableNodePublicIp).
AML_MANAGED_TYPES = ("amlcompute", "computeinstance")


def _subnet_unreadable(d: Deployment, silo: Silo, c: Compute, subnet_id: str) -> Finding | None:
    """Unknown (on the compute) when its subnet is not in the input (or VNets were unreadable)."""
    if d.network.subnet(subnet_id) is not None:
        return None
    cov = d.inventory.coverage(VNET, vnet_of(subnet_id))
    why = "virtual networks were unreadable" if cov == "unreadable" else "the subnet is not in the input"
    return Unknown(c.id, f"Subnet {subnet_id} cannot be evaluated: {why}.", silo=silo.name,
                   evidence=[note(f"coverage: {cov}")])


def each_customer_subnet(d: Deployment, outside: str, judge: Callable[[Silo, Compute, str], Finding]
                         ) -> Iterator[Finding]:
    """For each silo compute in a customer VNet subnet the input holds: ``judge(silo, compute, subnet_id)``.

    Subnet-level controls (NSGs) exist only there. The rest fails closed or steps aside: an unresolved compute
    or an unreadable subnet is unknown; a compute outside any customer subnet (managed network, attached, none)
    is not applicable, ``outside`` saying what governs it instead.
    """
    for silo, c in silo_computes(d):
        if c is None:
            yield unresolved(silo)
            continue
        yield from each_placement(d, c, lambda p, silo=silo, c=c: [_customer_subnet(d, silo, c, p, outside, judge)])


def _customer_subnet(d: Deployment, silo: Silo, c: Compute, p: Placement, outside: str,
                     judge: Callable[[Silo, Compute, str], Finding]) -> Finding:
    if p.kind == "unknown" and p.reason:  # a subnet is named but cannot be placed: its controls are unknown
        return Unknown(c.id, f"Compute {c.name}: {p.reason}, so its subnet cannot be evaluated.",
                       silo=silo.name, evidence=c.subnet_evidence())
    if p.kind != "vnet" or not p.subnet_id:
        return NotApplicable(c.id, f"Compute {c.name} is not in a customer subnet ({p.kind}); {outside}",
                             silo=silo.name)
    missing = _subnet_unreadable(d, silo, c, p.subnet_id)
    return missing if missing else judge(silo, c, p.subnet_id)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-NET-001",
    title="Silo computes run in a virtual network or a workspace managed network",
    area="network-isolation",
    severity="high",
    blocks=("production",),
    rationale="A compute outside any private network runs on Azure ML's shared infrastructure with public "
    "addresses; nothing a silo controls separates it from the Internet. A customer VNet subnet "
    "(properties.properties.subnet) or the workspace managed network (managedNetwork.isolationMode "
    "AllowOnlyApprovedOutbound, or AllowInternetOutbound which isolates inbound but does not control egress) "
    "both count; managed-network computes have no subnet. A missing isolationMode means Disabled (Azure default).",
    remediation=Remediation(
        cli="az ml compute create --name silo0-01 --type AmlCompute --vnet-name vnet-silo0 --subnet snet-training "
        "--enable-node-public-ip false --workspace-name <ws> --resource-group <rg>\n"
        "# or: az ml workspace update --name <ws> --resource-group <rg> --managed-network allow_only_approved_outbound",
        bicep="resource compute 'Microsoft.MachineLearningServices/workspaces/computes@2024-10-01' = {\n"
        "  parent: workspace\n  name: 'silo0-01'\n  properties: {\n    computeType: 'AmlCompute'\n"
        "    properties: {\n      subnet: { id: siloSubnet.id }\n      enableNodePublicIp: false\n    }\n  }\n}",
        text="Create each silo compute in its silo's VNet subnet (or enable the workspace managed network with "
        "approved-outbound-only isolation).",
    ),
    references=(AML_VNET_DOCS, AML_MANAGED_DOCS),
    policy=("7804b5c7-01dc-4723-969b-ae300cc07ff1",),
)
def compute_in_private_network(d: Deployment) -> Iterable[Finding]:
    for silo, c in silo_computes(d):
        if c is None:
            yield unresolved(silo)
            continue
        yield from each_placement(d, c, lambda p, silo=silo, c=c: [_private_network(silo, c, p)])


def _private_network(silo: Silo, c: Compute, p: Placement) -> Finding:
    if p.kind == "vnet":
        return Pass(c.id, f"Compute {c.name} runs in subnet {name_of(p.subnet_id or '')} of VNet "
                    f"{name_of(vnet_of(p.subnet_id))}.", silo=silo.name,
                    evidence=c.subnet_evidence(p.subnet_id))
    if p.kind == "managed":
        ev = [prop(c.id, "properties.properties.subnet.id", None), p.mode_evidence()]
        if p.isolation_mode.lower() == "allowinternetoutbound":
            ev.append(note("AllowInternetOutbound isolates the compute from inbound traffic but does not "
                           "control egress (see FL-NET-005)"))
        return Pass(c.id, f"Compute {c.name} runs in the workspace managed network ({p.isolation_mode}).",
                    silo=silo.name, evidence=ev)
    if p.kind == "unknown" and p.reason:
        return Unknown(c.id, f"Compute {c.name}: {p.reason}, so where it runs is unknown.", silo=silo.name,
                       evidence=c.subnet_evidence())
    if p.kind == "unknown":
        return Unknown(c.id, f"Compute {c.name} has no subnet and its workspace {p.workspace_id} is not in the "
                       "input, so whether it runs in a managed network is unknown.", silo=silo.name,
                       evidence=[prop(c.id, "properties.properties.subnet.id", None)])
    if p.kind == "attached":
        return Unknown(c.id, f"Compute {c.name} is an attached {c.compute_type or 'compute'}: its network "
                       "placement is configured outside Azure ML and was not evaluated.", silo=silo.name,
                       evidence=[prop(c.id, "properties.computeType", c.compute_type)])
    return Fail(c.id, f"Compute {c.name} runs in no virtual network: no subnet, and the workspace "
                f"managed network is {p.isolation_mode}.", silo=silo.name,
                evidence=[prop(c.id, "properties.properties.subnet.id", None), p.mode_evidence()])


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-NET-002",
    title="Silo compute nodes have no public IP address",
    area="network-isolation",
    severity="high",
    blocks=("production",),
    rationale="With enableNodePublicIp true each node gets a public address (and a load balancer) reachable from "
    "the Internet, and outbound traffic leaves through it. A missing enableNodePublicIp means true: that is "
    "Azure ML's default for AmlCompute and ComputeInstance (the SDKs' enable_node_public_ip defaults to True).",
    remediation=Remediation(
        cli="az ml compute create --name silo0-01 --type AmlCompute --enable-node-public-ip false "
        "--vnet-name vnet-silo0 --subnet snet-training --workspace-name <ws> --resource-group <rg>",
        bicep="properties: {\n  computeType: 'AmlCompute'\n  properties: {\n    enableNodePublicIp: false\n"
        "    subnet: { id: siloSubnet.id }\n  }\n}",
        text="Recreate the compute without node public IPs (the setting cannot be changed in place). The FL "
        "sample's eyes-on/eyes-off sandboxes keep public IPs by default; its private family does not.",
    ),
    references=(AML_NO_PIP_DOCS, AML_VNET_DOCS),
)
def no_node_public_ip(d: Deployment) -> Iterable[Finding]:
    path = "properties.properties.enableNodePublicIp"
    for silo, c in silo_computes(d):
        if c is None:
            yield unresolved(silo)
            continue
        if c.cluster is not None:  # AKS: the agent pools' enableNodePublicIP; Arc: nodes Azure does not describe
            status, why, ev = node_public_ip(c.cluster)
            yield {"pass": Pass, "fail": Fail}.get(status, Unknown)(c.id, f"Compute {c.name}: {why}.",
                                                                    silo=silo.name, evidence=ev)
            continue
        if c.compute_type.lower() not in AML_MANAGED_TYPES:
            yield NotApplicable(c.id, f"Compute {c.name} is an attached {c.compute_type or 'compute'}; Azure ML "
                                "does not provision its addresses.", silo=silo.name,
                                evidence=[prop(c.id, "properties.computeType", c.compute_type)])
            continue
        raw = get_path(c.raw, path)
        value = True if raw is None else raw
        if isinstance(value, str):
            value = value.strip().lower() != "false"
        ev = [prop(c.id, path, value, default_assumed=raw is None,
                   default_note="missing means true (Azure ML default for AmlCompute and ComputeInstance)")]
        if value is False:
            yield Pass(c.id, f"Compute {c.name} nodes have no public IP.", silo=silo.name, evidence=ev)
        else:
            yield Fail(c.id, f"Compute {c.name} nodes get public IP addresses (enableNodePublicIp "
                       f"{'missing, default true' if raw is None else raw}).", silo=silo.name, evidence=ev)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-NET-003",
    title="Silo compute subnets have a network security group",
    area="network-isolation",
    severity="medium",
    blocks=("production",),
    rationale="Without an NSG on the subnet nothing filters traffic to or from the silo's nodes; Azure ML "
    "needs only inbound from the AzureMachineLearning and BatchNodeManagement service tags.",
    remediation=Remediation(
        cli="az network vnet subnet update --resource-group <rg> --vnet-name vnet-silo0 --name snet-training "
        "--network-security-group nsg-silo0",
        bicep="subnets: [\n  {\n    name: 'snet-training'\n    properties: {\n      addressPrefix: '10.100.1.0/25'\n"
        "      networkSecurityGroup: { id: nsg.id }\n    }\n  }\n]",
        text="Associate an NSG with every silo compute subnet.",
    ),
    references=(NSG_DOCS, AML_VNET_DOCS),
    policy=("e71308d3-144b-4262-b144-efdc3cc90517",),
)
def subnet_has_nsg(d: Deployment) -> Iterable[Finding]:
    def judge(silo: Silo, c: Compute, subnet_id: str) -> Finding:
        ref = d.network.subnet_nsg(subnet_id)
        if ref is None:
            return Fail(c.id, f"Subnet {name_of(subnet_id)} of compute {c.name} has no NSG.", silo=silo.name,
                        evidence=[prop(subnet_id, "properties.networkSecurityGroup.id", None)])
        if not ref.well_formed:
            return Unknown(c.id, f"Subnet {name_of(subnet_id)} of compute {c.name} names NSG {ref.id!r}, which is "
                           "not an ARM network security group id.", silo=silo.name,
                           evidence=[prop(subnet_id, "properties.networkSecurityGroup.id", ref.id)])
        return Pass(c.id, f"Subnet {name_of(subnet_id)} of compute {c.name} has NSG {name_of(ref.id)}.",
                    silo=silo.name, evidence=[prop(subnet_id, "properties.networkSecurityGroup.id", ref.id)])

    yield from each_customer_subnet(d, "see FL-NET-001.", judge)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-NET-004",
    title="No port of a silo compute subnet is reachable from the Internet",
    area="network-isolation",
    severity="high",
    blocks=("production",),
    rationale="An NSG rule allowing Internet traffic in (source Internet, *, Any, or any prefix covering public "
    "addresses, in the singular or plural fields) exposes the silo's nodes. Rules are evaluated in priority "
    "order with Azure's default rules; Azure ML's required inbound from the AzureMachineLearning and "
    "BatchNodeManagement service tags is not Internet exposure. A subnet without an NSG filters nothing.",
    remediation=Remediation(
        cli="az network nsg rule delete --resource-group <rg> --nsg-name nsg-silo0 --name <rule>\n"
        "az network nsg rule create --resource-group <rg> --nsg-name nsg-silo0 --name AllowAzureMLInbound "
        "--priority 100 --direction Inbound --access Allow --protocol Tcp --source-address-prefixes "
        "AzureMachineLearning --destination-port-ranges 44224",
        bicep="securityRules: [\n  {\n    name: 'AllowAzureMLInbound'\n    properties: {\n      priority: 100\n"
        "      direction: 'Inbound'\n      access: 'Allow'\n      protocol: 'Tcp'\n"
        "      sourceAddressPrefix: 'AzureMachineLearning'\n      sourcePortRange: '*'\n"
        "      destinationAddressPrefix: '*'\n      destinationPortRange: '44224'\n    }\n  }\n]",
        text="Remove inbound Allow rules whose source covers the Internet; allow only the Azure ML service tags.",
    ),
    references=(NSG_DOCS, AML_VNET_DOCS),
)
def no_internet_inbound(d: Deployment) -> Iterable[Finding]:
    def judge(silo: Silo, c: Compute, subnet_id: str) -> Finding:
        eff = effective(d.network, subnet_id)
        if eff.missing or eff.inbound.problems:
            return Unknown(c.id, f"Inbound exposure of subnet {name_of(subnet_id)} cannot be evaluated: "
                           + "; ".join(eff.inbound.problems) + ".", silo=silo.name,
                           evidence=[note(x) for x in eff.inbound.problems])
        if not eff.has_nsg:
            return Fail(c.id, f"Subnet {name_of(subnet_id)} of compute {c.name} has no NSG: no rule stops Internet "
                        "traffic to its nodes.", silo=silo.name,
                        evidence=[prop(subnet_id, "properties.networkSecurityGroup.id", None)])
        ev = eff.inbound.evidence()
        if eff.inbound.defaults_assumed:
            ev.append(note("the NSG payload has no defaultSecurityRules; Azure's defaults were assumed"))
        if eff.inbound.open:
            ports = eff.inbound.describe()
            return Fail(c.id, f"Internet traffic can reach subnet {name_of(subnet_id)} of compute {c.name}: {ports}.",
                        silo=silo.name, evidence=ev)
        return Pass(c.id, f"No port of subnet {name_of(subnet_id)} is reachable from the Internet.",
                    silo=silo.name, evidence=ev)

    yield from each_customer_subnet(d, "its inbound filtering is Azure ML's (see FL-NET-001).", judge)


# ----------------------------------------------------------------------------------------------------------
def _service_egress_verdict(c: Compute, silo: Silo, egress: list[Egress]
                            ) -> tuple[str, str, list[dict[str, Any]]]:
    """(status, message tail, evidence) of a subnet's multi-tenant service egress: ``fail`` when one is open,
    ``unknown`` when one cannot be decided, ``pass`` otherwise (confined ones cited)."""
    ev: list[dict[str, Any]] = []
    opened = [e for e in egress if e.status == "open"]
    undecided = [e for e in egress if e.status == "unknown"]
    for e in opened + undecided + [e for e in egress if e.status == "confined"]:
        ev += e.tag.opening.evidence() + e.evidence + [note(f"{e.tag.tag}: {e.why}")]
    for path in (p for e in opened for p in _paths_of(silo, e)):
        ev.append(path)
    if opened:
        return "fail", "; ".join(f"{e.tag.tag}: {e.why}" for e in opened), ev
    if undecided:
        return "unknown", "; ".join(f"{e.tag.tag}: {e.why}" for e in undecided), ev
    return "pass", "", ev


def _paths_of(silo: Silo, e: Egress) -> list[dict[str, Any]]:
    from flaudit.paths import Path

    return [Path("network", silo.name, e.subnet_id, oid, name, rel, tuple(e.hops()), "FL-NET-005").evidence()
            for oid, name, rel in e.outsiders]


@rule(
    id="FL-NET-005",
    title="Silo compute cannot send data to the Internet or to services any customer can own",
    area="network-isolation",
    severity="high",
    blocks=("production",),
    rationale="Code running in a silo must not be able to ship the silo's data out. Egress counts as blocked "
    "when an outbound NSG Deny covering the Internet (all protocols) sits above AllowInternetOutBound (65001), "
    "when the subnet's route table sends 0.0.0.0/0 to a VirtualAppliance (a firewall) or None, or when the "
    "workspace managed network is AllowOnlyApprovedOutbound. Azure's default NSG rules allow all outbound "
    "Internet traffic; AllowInternetOutbound managed networks do too. An outbound Allow to a service tag whose "
    "endpoints any customer can own (Storage, Storage.<region>, Sql, EventHub, AzureKeyVault, AzureMonitor...) "
    "is an exfiltration path as well, unless (Storage only) a service endpoint policy on the subnet confines "
    "it: the subnet needs a Microsoft.Storage service endpoint covering the tag's region, and the policies may "
    "admit only the FL deployment's storage accounts and /services/Azure aliases (Microsoft-managed storage). "
    "Service endpoint traffic also bypasses a 0.0.0.0/0 appliance route. Microsoft's Azure ML exfiltration "
    "recipe (Storage.<region> with such a policy, AzureMachineLearning, BatchNodeManagement.<region>, "
    "AzureActiveDirectory, MicrosoftContainerRegistry.<region>, AzureFrontDoor.FirstParty, Internet denied) "
    "passes.",
    remediation=Remediation(
        cli="az network nsg rule create --resource-group <rg> --nsg-name nsg-silo0 --name DenyInternetOutbound "
        "--priority 4000 --direction Outbound --access Deny --protocol '*' --source-address-prefixes '*' "
        "--destination-address-prefixes Internet --destination-port-ranges '*'",
        bicep="{\n  name: 'DenyInternetOutbound'\n  properties: {\n    priority: 4000\n    direction: 'Outbound'\n"
        "    access: 'Deny'\n    protocol: '*'\n    sourceAddressPrefix: '*'\n    sourcePortRange: '*'\n"
        "    destinationAddressPrefix: 'Internet'\n    destinationPortRange: '*'\n  }\n}",
        text="Deny outbound Internet in the silo NSG (keeping Allow rules for the AzureMachineLearning, "
        "AzureActiveDirectory and other required service tags above it), or route 0.0.0.0/0 through a firewall, "
        "or use a managed network with AllowOnlyApprovedOutbound. Allow Storage only as Storage.<region>, with a "
        "Microsoft.Storage service endpoint on the subnet and a service endpoint policy admitting the workspace "
        "and silo storage accounts and /services/Azure/MachineLearning (Microsoft's Azure ML exfiltration "
        "recipe); remove Allow rules to other multi-tenant service tags (Sql, EventHub, AzureKeyVault...).",
    ),
    references=(EXFIL_DOCS, SEP_DOCS, UDR_DOCS, AML_MANAGED_DOCS),
    policy=("fc5e4038-4584-4632-8c85-c0448d374b2c",),
)
def egress_blocked(d: Deployment) -> Iterable[Finding]:
    for silo, c in silo_computes(d):
        if c is None:
            yield unresolved(silo)
            continue
        yield from each_placement(d, c, lambda p, silo=silo, c=c: _egress(d, silo, c, p))


def _egress(d: Deployment, silo: Silo, c: Compute, p: Placement) -> Iterator[Finding]:
    """FL-NET-005's one finding for the compute at one placement."""
    if p.kind == "managed":
        approved_only = p.isolation_mode.lower() == "allowonlyapprovedoutbound"
        reopened = managed_open_egress(d.inventory.get(p.workspace_id)) if approved_only else []
        if reopened:
            text, ev = reopened_egress_finding_parts(p.workspace_id or "", reopened)
            yield Fail(c.id, f"Compute {c.name}: {text}", silo=silo.name, evidence=[p.mode_evidence()] + ev)
        elif approved_only:
            yield Pass(c.id, f"Compute {c.name}: the managed network allows only approved outbound traffic.",
                       silo=silo.name, evidence=[p.mode_evidence()])
        else:
            yield Fail(c.id, f"Compute {c.name}: the managed network allows all outbound Internet traffic "
                       f"({p.isolation_mode}).", silo=silo.name, evidence=[p.mode_evidence()])
        return
    if p.kind in ("unknown", "attached"):
        why = (p.why_unknown if p.kind == "unknown" else
               f"it is an attached {c.compute_type or 'compute'} whose network Azure ML does not describe")
        yield Unknown(c.id, f"Compute {c.name}: {why}, so its egress is unknown.", silo=silo.name)
        return
    if p.kind == "none" or not p.subnet_id:
        yield Fail(c.id, f"Compute {c.name} runs in no private network: nothing restricts its outbound "
                   "traffic.", silo=silo.name, evidence=[prop(c.id, "properties.properties.subnet.id", None),
                                                        p.mode_evidence()])
        return
    missing = _subnet_unreadable(d, silo, c, p.subnet_id)
    if missing:
        yield missing
        return
    route, route_ev, egress = egress_of(d, silo, p.subnet_id)
    if route == "controlled":
        status, tail, sev = _service_egress_verdict(c, silo, egress)
        if status == "pass":
            yield Pass(c.id, f"Compute {c.name}: Internet-bound traffic from subnet {name_of(p.subnet_id)} is "
                       "routed away from the Internet.", silo=silo.name, evidence=route_ev + sev)
        else:
            make = Fail if status == "fail" else Unknown
            yield make(c.id, f"Compute {c.name}: Internet-bound traffic is routed to an appliance, but service "
                       f"endpoint traffic bypasses it: {tail}.", silo=silo.name, evidence=route_ev + sev)
        return
    if route == "leaks":
        yield Fail(c.id, f"Compute {c.name}: the route table sends some public prefixes straight to the "
                   "Internet, bypassing the 0.0.0.0/0 appliance route.", silo=silo.name, evidence=route_ev)
        return
    eff = effective(d.network, p.subnet_id)
    if eff.missing or eff.outbound.problems:
        yield Unknown(c.id, f"Outbound filtering of subnet {name_of(p.subnet_id)} cannot be evaluated: "
                      + "; ".join(eff.outbound.problems) + ".", silo=silo.name,
                      evidence=[note(x) for x in eff.outbound.problems] + route_ev)
        return
    if not eff.has_nsg:
        result: Finding = Fail(c.id, f"Compute {c.name}: subnet {name_of(p.subnet_id)} has no NSG and no "
                               "egress route control: outbound Internet traffic is allowed.", silo=silo.name,
                               evidence=[prop(p.subnet_id, "properties.networkSecurityGroup.id", None)]
                               + route_ev)
    elif eff.outbound.open:
        ports = eff.outbound.describe()
        ev = eff.outbound.evidence() + route_ev
        if eff.outbound.defaults_assumed:
            ev.append(note("the NSG payload has no defaultSecurityRules; Azure's defaults were assumed"))
        result = Fail(c.id, f"Compute {c.name} can send traffic to the Internet: {ports}.", silo=silo.name,
                      evidence=ev)
    else:
        denied = ("outbound Internet traffic is denied by NSG rule(s) "
                  + ", ".join(f"{r.name} ({r.priority})" for r in eff.outbound.deciding_denies))
        status, tail, sev = _service_egress_verdict(c, silo, egress)
        ev = eff.outbound.evidence() + sev
        if status == "pass":
            yield Pass(c.id, f"Compute {c.name}: {denied}.", silo=silo.name, evidence=ev)
            return
        result = (Fail if status == "fail" else Unknown)(
            c.id, f"Compute {c.name}: {denied}, but data can still leave for services any customer can own: "
            f"{tail}.", silo=silo.name, evidence=ev)
    if route == "missing":  # the unread route table might block what the NSG allows
        yield Unknown(c.id, result.message + " The subnet's route table is not in the input and may route "
                      "egress to a firewall.", silo=silo.name, evidence=result.evidence)
    else:
        yield result


# ----------------------------------------------------------------------------------------------------------
def _silo_vnets(d: Deployment, silo: Silo) -> list[str]:
    """The VNets of the silo's compute subnets (normalised, sorted), worked out once per silo: FL-NET-006, -007 and
    -008 each ask for every silo, twice. The list is shared: callers only read it."""
    cache = d.__dict__.setdefault("_rules_silo_vnets", {})
    hit = cache.get(id(silo))
    if hit is None or hit[0] is not silo:  # the silo is kept beside its answer, so its id is not reused
        hit = cache[id(silo)] = (silo, sorted({vnet_of(sid) for c in silo.computes for sid in c.subnet_ids}))
    return hit[1]


def _flag_on(value: Any) -> bool:
    """A peering flag is on when it is true or the text "true" in any case."""
    return value is True or str(value).lower() == "true"


def _peering_evidence(peerings: list[Any]) -> list[dict[str, Any]]:
    out = []
    for pr in peerings:
        out.append(prop(pr.id, "properties.peeringState", pr.state or None))
        for flag in ("allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways"):
            if (value := pr.prop(flag)) is not None:
                out.append(prop(pr.id, f"properties.{flag}", value))
        out.append({"kind": "network-path", "path_kind": "peering", "source": pr.vnet_display,
                    "detail": f"peering {name_of(pr.id)} to {pr.remote_display} (state {pr.state or 'missing'})"})
    return out


@rule(
    id="FL-NET-006",
    title="Silo networks are not connected to each other",
    area="network-isolation",
    severity="critical",
    blocks=("production",),
    rationale="Two silos in one VNet, or in VNets joined by a Connected peering, can reach each other's nodes "
    "and private endpoints: network isolation between silos is gone and only identities keep one silo from "
    "another's data. Peering is not transitive, so silos peered only with the orchestrator are not connected "
    "to each other (unless the hub forwards traffic, see FL-NET-007).",
    remediation=Remediation(
        cli="az network vnet peering delete --resource-group <rg> --vnet-name vnet-silo0 --name <peering>",
        bicep="// do not declare Microsoft.Network/virtualNetworks/virtualNetworkPeerings between silo VNets;\n"
        "// give each silo its own VNet",
        text="Give every silo its own VNet and remove peerings between silo VNets; peer each silo only with the "
        "orchestrator VNet if needed.",
    ),
    references=(PEERING_DOCS, FL_VNET_DOCS),
)
def silos_not_connected(d: Deployment) -> Iterable[Finding]:
    silos_by_vnet: dict[str, list[Silo]] = {}
    for s in d.silos:
        for v in _silo_vnets(d, s):
            silos_by_vnet.setdefault(v, []).append(s)
    unread = {v for v in silos_by_vnet if v not in d.network.vnets}
    for silo in d.silos:
        mine = _silo_vnets(d, silo)
        if not silo.computes:
            yield unresolved(silo)
            continue
        unplaced = [f"compute {c.name}: {c.subnet_problem}" for c in silo.computes if c.subnet_problem]
        if not mine and unplaced:
            yield Unknown(silo.computes[0].id, f"Silo {silo.name}: which network its computes are in is unknown: "
                          + "; ".join(unplaced) + ".", silo=silo.name, evidence=[note(u) for u in unplaced])
            continue
        if not mine:
            yield NotApplicable(silo.computes[0].id, f"Silo {silo.name}: its computes are not in customer VNets "
                                "(a workspace managed network is shared by every compute of the workspace; silos "
                                "there are separated by identity, not by network).", silo=silo.name)
            continue
        fails: list[dict[str, Any]] = []
        unknowns: list[str] = list(unplaced)
        joined: list[str] = []
        for va in mine:
            unknowns += [f"peering {pr.id} names no ARM VNet id as its remote network ({pr.remote_display!r})"
                         for pr in d.network.peerings_of(va) if not pr.remote_id]
            # only VNets that share or peer with va can connect; unread VNets' peerings are unknown
            candidates = {va} | d.network.neighbours(va) | (unread if va in unread else set())
            for vb in sorted(candidates):
                others = [o for o in silos_by_vnet.get(vb, []) if o is not silo]
                if not others:
                    continue
                reach = d.network.reach(va, vb)
                for other in others:
                    if reach.result == "yes":
                        joined.append(f"{other.name} ({'same VNet' if reach.how == 'same-vnet' else 'peered'})")
                        fails += ([prop(va, "id", va), note(f"silo {other.name} uses the same VNet {va}")]
                                  if reach.how == "same-vnet" else _peering_evidence(reach.peerings))
                    elif reach.result == "unknown":
                        unknowns.append(f"{other.name}: {reach.how}")
        anchor = mine[0]
        if fails:
            yield Fail(anchor, f"Silo {silo.name}'s network is connected to silo(s) {', '.join(sorted(set(joined)))}.",
                       silo=silo.name, evidence=fails)
        elif unknowns:
            yield Unknown(anchor, f"Silo {silo.name}: connectivity to other silos cannot be established: "
                          + "; ".join(sorted(set(unknowns))) + ".", silo=silo.name,
                          evidence=[note(u) for u in sorted(set(unknowns))])
        else:
            peers = [pr for v in mine for pr in d.network.peerings_of(v)]
            yield Pass(anchor, f"Silo {silo.name}'s VNet is neither shared with nor peered to another silo's VNet.",
                       silo=silo.name, evidence=_peering_evidence(peers) or [note("the VNet has no peerings")])


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-NET-007",
    title="Silo peerings with the orchestrator (or other networks) are reported",
    area="network-isolation",
    severity="info",
    blocks=(),
    rationale="A silo peered with the orchestrator VNet lets the orchestrator network reach the silo's private "
    "endpoints; the FL sample does this on purpose, so the peering itself is reported, not failed. "
    "allowForwardedTraffic or allowGatewayTransit on either side lets traffic transit through the hub "
    "(an appliance or gateway there can join silos to each other or to other networks): that fails at "
    "medium severity and blocks production. Peerings to networks outside the FL deployment and remote gateways "
    "are judged by FL-NET-009; the orchestrator's reach to silo endpoints is reported by FL-NET-010.",
    remediation=Remediation(
        cli="az network vnet peering update --resource-group <rg> --vnet-name vnet-silo0 --name <peering> "
        "--set allowForwardedTraffic=false allowGatewayTransit=false",
        bicep="properties: {\n  allowVirtualNetworkAccess: true\n  allowForwardedTraffic: false\n"
        "  allowGatewayTransit: false\n  useRemoteGateways: false\n  remoteVirtualNetwork: { id: orchestratorVnet.id }\n}",
        text="Keep silo peerings to the orchestrator plain: no forwarded traffic, no gateway transit.",
    ),
    references=(PEERING_DOCS, FL_VNET_DOCS),
)
def silo_peerings_reported(d: Deployment) -> Iterable[Finding]:
    orch_vnets = {vnet_of(v) for v in d.orchestrator.vnet_ids}
    silo_vnets = {v for s in d.silos for v in _silo_vnets(d, s)}
    for silo in d.silos:
        mine = _silo_vnets(d, silo)
        if not mine:
            continue
        reported = False
        for va in mine:
            for vb in sorted(d.network.neighbours(va)):
                if vb in silo_vnets and vb not in orch_vnets:
                    continue  # silo-to-silo peerings are FL-NET-006's
                sides = d.network.peerings_between(va, vb)
                role = "orchestrator" if vb in orch_vnets else "another"
                flagged = [(pr, f) for pr in sides for f in ("allowForwardedTraffic", "allowGatewayTransit")
                           if _flag_on(pr.prop(f))]
                ev = _peering_evidence(sides)
                reported = True
                if flagged:
                    f = Fail(va, f"Silo {silo.name}'s VNet is peered with {role} VNet {name_of(vb)} with "
                             + ", ".join(sorted({fl for _, fl in flagged})) + " enabled: traffic can transit "
                             "through the peering.", silo=silo.name, evidence=ev, subject=vb)
                    f.severity, f.blocks = "medium", ("production",)
                    yield f
                else:
                    yield Pass(va, f"Silo {silo.name}'s VNet is peered with {role} VNet {name_of(vb)} "
                               "(no forwarded traffic or gateway transit).", silo=silo.name, evidence=ev, subject=vb)
        if not reported:
            yield NotApplicable(mine[0], f"Silo {silo.name}'s VNet has no peerings.", silo=silo.name)


# ----------------------------------------------------------------------------------------------------------
@rule(
    id="FL-NET-008",
    title="Peered VNets do not have overlapping address spaces",
    area="network-isolation",
    severity="medium",
    blocks=("production",),
    rationale="Peered VNets with overlapping address spaces route ambiguously: traffic meant for a silo's own "
    "private endpoint can be sent across the peering, and Azure refuses to sync the peering. Overlap is "
    "computed with real CIDR arithmetic over the VNets' addressSpace (or the peering's remoteAddressSpace "
    "when the remote VNet is not in the input).",
    remediation=Remediation(
        cli="az network vnet update --resource-group <rg> --name vnet-silo0 --address-prefixes 10.101.0.0/24",
        bicep="addressSpace: {\n  addressPrefixes: [ '10.101.0.0/24' ]  // unique across every peered VNet\n}",
        text="Give every silo and the orchestrator a non-overlapping address space.",
    ),
    references=(PEERING_DOCS,),
)
def peered_no_overlap(d: Deployment) -> Iterable[Finding]:
    members: list[tuple[str | None, str]] = []
    for silo in d.silos:
        members += [(silo.name, v) for v in _silo_vnets(d, silo)]
    members += [(None, vnet_of(v)) for v in d.orchestrator.vnet_ids]
    seen: set[str] = set()
    for silo_name, va in members:
        if va in seen:
            continue
        seen.add(va)
        remotes = sorted(d.network.neighbours(va))
        if not remotes:
            yield NotApplicable(va, f"VNet {name_of(va)} has no peerings.", silo=silo_name)
            continue
        overlaps, unknown = [], []
        own_unknown = d.network.vnet_prefixes(va) is None
        for vb in remotes:
            o = d.network.address_overlap(va, vb)
            if o is None:
                if d.network.vnet_prefixes(vb) is None:  # name the VNet whose space is missing, not its peer
                    unknown.append(vb)
            elif o:
                overlaps.append((vb, o))
        ev = [prop(va, "properties.addressSpace.addressPrefixes", d.network.vnet_prefixes(va))]
        for vb, o in overlaps:
            ev.append(prop(vb, "properties.addressSpace.addressPrefixes", d.network.vnet_prefixes(vb)))
            ev += [note(f"{a} overlaps {b} ({name_of(vb)})") for a, b in o]
        if overlaps:
            yield Fail(va, f"VNet {name_of(va)} overlaps the address space of peered VNet(s) "
                       + ", ".join(name_of(v) for v, _ in overlaps) + ".", silo=silo_name, evidence=ev)
        elif own_unknown:
            yield Unknown(va, f"VNet {va}: its own address space is not in the input, so overlap with its "
                          f"{len(remotes)} peered VNet(s) cannot be computed.", silo=silo_name, evidence=ev)
        elif unknown:
            yield Unknown(va, f"VNet {name_of(va)}: the address space of peered VNet(s) "
                          + ", ".join(unknown) + " is not in the input.", silo=silo_name, evidence=ev)
        else:
            for vb in remotes:
                ev.append(prop(vb, "properties.addressSpace.addressPrefixes", d.network.vnet_prefixes(vb)))
            yield Pass(va, f"VNet {name_of(va)} shares no addresses with its {len(remotes)} peered VNet(s).",
                       silo=silo_name, evidence=ev)



# ----------------------------------------------------------------------------------------------------------
GATEWAY_DOCS = "https://learn.microsoft.com/azure/vpn-gateway/vpn-gateway-peering-gateway-transit"


def _ingress_path(i: Any) -> dict[str, Any]:
    from flaudit.paths import Path

    return Path("network", i.silo, i.vnet_id or i.remote_id, i.remote_id, name_of(i.remote_id) or i.remote_id,
                "external", tuple(i.hops()), "FL-NET-009", conditional=i.status == "latent").evidence()


@rule(
    id="FL-NET-009",
    title="Silo networks are reachable only from the FL deployment",
    area="network-isolation",
    severity="high",
    blocks=("production",),
    rationale="A network that can send packets into a silo VNet (where the silo compute runs or its storage's "
    "private endpoints sit) reaches the silo's data endpoints; then only identities keep it out. A VNet peering "
    "to a network that is not the silo's, the orchestrator's or the workspace's is such a path when Connected, "
    "and a latent one when Initiated on the silo side (whoever controls the far VNet can complete it without "
    "the silo). useRemoteGateways on a silo peering, a VPN or ExpressRoute gateway in the silo VNet, and a virtual WAN "
    "hub connection to it let the networks behind the gateway or hub (on-premises, other VNets) in. An Approved private endpoint of the silo's "
    "storage in an outside VNet is the same path. Peerings between silos are FL-NET-006's. When the silo VNet, "
    "its peerings or its GatewaySubnet cannot be read, the answer is unknown.",
    remediation=Remediation(
        cli="az network vnet peering delete --resource-group <rg> --vnet-name vnet-silo0 --name <peering>\n"
        "az network vnet peering update --resource-group <rg> --vnet-name vnet-silo0 --name <peering> "
        "--set useRemoteGateways=false",
        bicep="properties: {\n  remoteVirtualNetwork: { id: orchestratorVnet.id }  // FL networks only\n"
        "  useRemoteGateways: false\n}",
        text="Peer silo VNets only with the orchestrator's network; do not use remote gateways or deploy gateways "
        "in silo VNets; keep silo storage private endpoints in the silo's own VNet.",
    ),
    references=(PEERING_DOCS, GATEWAY_DOCS, FL_VNET_DOCS),
)
def silo_reachable_only_from_deployment(d: Deployment) -> Iterable[Finding]:
    for silo in d.silos:
        vnets = silo_vnets(d, silo)
        anchor = vnets[0] if vnets else (silo.storage.id if silo.storage else "")
        found = silo_ingress(d, silo)
        if not vnets and not found:
            if not silo.computes and silo.storage is None:
                yield unresolved(silo)
            else:
                yield NotApplicable(anchor, f"Silo {silo.name} has no VNet of its own (no compute subnet, no storage "
                                    "private endpoint in a VNet).", silo=silo.name)
            continue
        outside = [i for i in found if i.relation == "external"]
        opened = [i for i in outside if i.status in ("open", "latent")]
        undecided = [i for i in outside if i.status == "unknown"]
        ev = [e for i in opened + undecided for e in i.evidence]
        if opened:
            yield Fail(anchor, f"Silo {silo.name}'s network can be reached from outside the FL deployment: "
                       + "; ".join(i.why for i in opened) + ".", silo=silo.name,
                       evidence=[_ingress_path(i) for i in opened] + ev)
        elif undecided:
            yield Unknown(anchor, f"Silo {silo.name}: whether networks outside the FL deployment reach its network "
                          "is unknown: " + "; ".join(i.why for i in undecided) + ".", silo=silo.name,
                          evidence=ev + [note(i.why) for i in undecided])
        else:
            seen = [p for i in found if i.relation != "external" for p in i.peerings]
            yield Pass(anchor, f"Silo {silo.name}'s network ({', '.join(name_of(v) for v in vnets)}) is peered only "
                       "within the FL deployment and has no gateway.", silo=silo.name,
                       evidence=[prop(p.id, "properties.peeringState", p.state or None) for p in seen]
                       or [note("the silo VNets have no peerings")])


@rule(
    id="FL-NET-010",
    title="The orchestrator's network reach to silo storage endpoints is reported",
    area="network-isolation",
    severity="info",
    blocks=(),
    rationale="Defence in depth: a silo's storage should be reachable only from the silo. An orchestrator (or "
    "workspace) VNet in the same VNet as, or peered (Connected) with, the VNet of a silo storage private endpoint "
    "can send packets to it, and a privatelink zone linked to that VNet resolves the account to it; only "
    "identities and RBAC then keep the orchestrator out. The FL sample peers every silo with the orchestrator on "
    "purpose, so this is reported, never failed or blocking: the finding passes and names each reach, and the "
    "reach is a network path (relation orchestrator or workspace) in access[] and the diagram. Unknown when a "
    "peering's state is not in the input.",
    remediation=Remediation(
        cli="az network private-dns link vnet delete --resource-group <rg> --zone-name privatelink.blob.core.windows.net "
        "--name <orchestrator link>",
        bicep="// keep silo storage private endpoints out of VNets the orchestrator is peered with, or do not link\n"
        "// the privatelink zone holding silo records to the orchestrator VNet",
        text="If the orchestrator has no need to reach silo storage, place silo endpoints in a subnet the "
        "orchestrator peering cannot reach (or drop the peering) and keep silo records out of its DNS.",
    ),
    references=(PEERING_DOCS, FL_VNET_DOCS),
)
def orchestrator_reach_reported(d: Deployment) -> Iterable[Finding]:
    from flaudit.paths import Hop, Path

    for silo in d.silos:
        if silo.storage is None:
            continue
        reach = member_reach(d, silo)
        yes = [r for r in reach if r.network == "yes"]
        undecided = [r for r in reach if r.network == "unknown"]
        if yes:
            paths = [Path("network", silo.name, silo.storage.id, r.vnet_id, f"{r.member} VNet {name_of(r.vnet_id)}",
                          r.member, (Hop(f"{r.member} VNet {name_of(r.vnet_id)} reaches endpoint "
                                         f"{name_of(r.pe_id)}", r.vnet_id), Hop(f"private DNS: {r.dns}", r.pe_id)),
                          "FL-NET-010").evidence() for r in yes]
            yield Pass(silo.storage.id, f"Reported: the {' and '.join(sorted({r.member for r in yes}))} network "
                       f"reaches {silo.storage.name}'s private endpoint(s): "
                       + "; ".join(f"{name_of(r.vnet_id)} -> {name_of(r.pe_id)} (DNS {r.dns})" for r in yes)
                       + ". Only identities keep it from the data.", silo=silo.name,
                       evidence=paths + [e for r in yes for e in r.evidence])
        elif undecided:
            yield Unknown(silo.storage.id, f"Whether the orchestrator's network reaches {silo.storage.name}'s "
                          "private endpoints is unknown (peering state not in the input).", silo=silo.name,
                          evidence=[e for r in undecided for e in r.evidence])
        else:
            yield Pass(silo.storage.id, f"No orchestrator or workspace network reaches {silo.storage.name}'s "
                       "private endpoints.", silo=silo.name,
                       evidence=[note(f"{len(reach)} orchestrator/workspace VNet x endpoint pair(s) checked")])
