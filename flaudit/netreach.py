"""Network paths out of and into a silo: where silo compute can send data, and which networks can reach the
silo's private endpoints. The producer of path kind ``network`` (:func:`silo_network_paths`).

It asks the NSG evaluator (:mod:`flaudit.nsg`) and the network index (:class:`flaudit.network.NetworkIndex`)
and adds the two Azure semantics they do not hold:

**Egress to multi-tenant services.** An outbound Allow to a service tag whose endpoints any customer can own
(:data:`flaudit.nsg.EXFIL_TAGS`: ``Storage``, ``Sql``, ``EventHub``...) lets silo code write the data into an
attacker's account even when the Internet is denied. Only Storage can be confined: a *service endpoint policy*
on the subnet lets service endpoint traffic reach only the storage accounts (or resource groups,
subscriptions, ``/services/Azure/...`` aliases of Microsoft-managed storage) its definitions list. Azure
applies it only when the subnet has a ``Microsoft.Storage`` service endpoint, and only to accounts in the
endpoint's regions (its ``locations``; the VNet's region when the payload does not list them): traffic to
Storage in any other region is not filtered, so an Allow to the region-less ``Storage`` tag, or to
``Storage.<region>`` outside the endpoint's regions, stays open. Several policies on one subnet admit the union
of their resources. A policy admits the silo's own, the orchestrator's and the workspace's storage without
opening a path out of the deployment; another silo's account, any other account, a whole resource group or
subscription (anyone able to create an account there can receive the data) are paths. A route of 0.0.0.0/0
to an appliance does not catch service endpoint traffic (the endpoint's routes are more specific), so with
such a route the subnet's service endpoints are judged the same way.

**Ingress from outside networks.** A silo VNet (where its compute runs, or where its storage's private
endpoints sit) peered with a VNet that is neither the silo's own, another silo's (FL-NET-006/FL-PE-007), the
orchestrator's nor the workspace's lets that network reach the silo's endpoints: Connected, or Initiated on
the silo side (the far side can complete it at any time without the silo). ``useRemoteGateways`` on a silo
peering, a VPN/ExpressRoute gateway in the silo VNet itself, and a virtual WAN hub connection to it, let the
networks behind the gateway or hub (on-premises, other VNets) in. An Approved private endpoint of the silo's storage in an outside VNet is the
same path. When the far side cannot be established from the input the answer is unknown, never pass.

Data flow: model -> this evaluator -> reach.PRODUCERS -> rules (FL-NET-005, FL-NET-009, FL-NET-010).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flaudit import memo
from flaudit.arm import get_path, name_of, norm
from flaudit.findings import note, prop
from flaudit.network import PEERING, SEP, VNET, VNET_GATEWAY, NetworkIndex, placements_of, vnet_of
from flaudit.nsg import EXFIL_TAGS, TagEgress, classify_addresses, effective, service_tag_egress
from flaudit.paths import Hop, Path

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.model import Compute, Deployment, Silo

SEP_DOCS = "https://learn.microsoft.com/azure/virtual-network/virtual-network-service-endpoint-policies-overview"
#: Service endpoint service name (lower case) -> the service tag base its traffic goes to.
SERVICE_ENDPOINT_TAGS = {
    "microsoft.storage": "storage", "microsoft.storage.global": "storage", "microsoft.sql": "sql",
    "microsoft.azurecosmosdb": "azurecosmosdb", "microsoft.eventhub": "eventhub", "microsoft.servicebus": "servicebus",
    "microsoft.keyvault": "azurekeyvault", "microsoft.containerregistry": "azurecontainerregistry",
    "microsoft.cognitiveservices": "cognitiveservicesmanagement",
}
#: Microsoft-managed storage aliases a ``Global`` policy definition may list (Azure ML needs
#: ``/services/Azure/MachineLearning``): storage no customer owns.
ALIAS_PREFIX = "/services/azure"


_prop = prop
_note = note


# -- route tables --------------------------------------------------------------------------------------
def route_control(network: NetworkIndex, subnet_id: str) -> tuple[str, list[dict[str, Any]]]:
    """How the subnet's route table handles Internet-bound traffic.

    Returns (verdict, evidence): ``controlled`` when 0.0.0.0/0 goes to a VirtualAppliance (assumed to filter)
    or None (dropped) and no more specific public prefix goes straight to the Internet; ``leaks`` when such a
    more specific Internet route exists; ``missing`` when the table is referenced but not in the input;
    ``none`` otherwise.
    """
    ref = network.subnet_route_table(subnet_id)
    if ref is None:
        return "none", []
    if ref.resource is None:
        return "missing", [_note(f"route table {ref.id} is referenced but not in the input")]
    default_ok: dict[str, Any] | None = None
    leaks = []
    notes = []
    for r in network.routes(ref.id):
        prefix = str(get_path(r, "properties.addressPrefix") or "")
        hop = str(get_path(r, "properties.nextHopType") or "")
        rid = str(r.get("id") or f"{ref.id}/routes/{r.get('name', '')}")
        if prefix == "0.0.0.0/0":
            if hop.lower() in ("virtualappliance", "none"):
                default_ok = {"id": rid, "prefix": prefix, "hop": hop,
                              "ip": get_path(r, "properties.nextHopIpAddress")}
        elif hop.lower() == "internet" and classify_addresses([prefix], [], None).internet_some:
            leaks.append(_prop(rid, "properties.nextHopType", hop))
        elif hop.lower() == "internet" and prefix.split(".", 1)[0].lower() in EXFIL_TAGS:
            leaks.append(_prop(rid, "properties.addressPrefix", prefix))
            notes.append(_note(f"route {rid.rsplit('/', 1)[-1]} sends {prefix} straight out, bypassing the "
                               f"appliance: {EXFIL_TAGS[prefix.split('.', 1)[0].lower()]} are reachable"))
    if default_ok is None:
        return "none", [_note(f"route table {ref.id} has no 0.0.0.0/0 route to a VirtualAppliance or None")]
    ev = [_prop(default_ok["id"], "properties.nextHopType", default_ok["hop"]),
          _prop(default_ok["id"], "properties.addressPrefix", default_ok["prefix"])]
    if default_ok["hop"].lower() == "virtualappliance":
        ev.append(_note(f"Internet-bound traffic goes to the appliance at {default_ok['ip']}; flaudit assumes it "
                        "filters egress (its rules are not evaluated)"))
    if leaks:
        return "leaks", ev + leaks + notes
    return "controlled", ev + notes


# -- egress --------------------------------------------------------------------------------------------
@dataclass
class Egress:
    """One way silo compute can send data to a multi-tenant service, and whether a policy confines it."""

    subnet_id: str
    tag: TagEgress
    status: str  # open | confined | unknown
    why: str
    outsiders: list[tuple[str, str, str]] = field(default_factory=list)  # (id, name, relation) the data reaches
    evidence: list[dict[str, Any]] = field(default_factory=list)

    def hops(self) -> list[Hop]:
        rules = " + ".join(f"{name_of(r.nsg_id)}/{r.name} (priority {r.priority})" for r in self.tag.opening.rules)
        out = [Hop(f"NSG allows outbound {self.tag.opening.protocol} {_ports(self.tag)} to {self.tag.tag}"
                   + (f" via {rules}" if rules else " (no NSG rule stops it)"),
                   self.tag.opening.rules[0].nsg_id if self.tag.opening.rules else self.subnet_id)]
        out.append(Hop(self.why, self.subnet_id))
        return out


def _ports(t: TagEgress) -> str:
    from flaudit.nsg import format_ports

    return format_ports(t.opening.ports)


@dataclass(frozen=True)
class Members:
    """Which storage accounts and VNets belong to the FL deployment, and whose they are."""

    storage: dict[str, tuple[str, str]]  # norm id -> (relation-or-silo, name)
    vnets: dict[str, str]  # norm VNet id -> "silo:<name>" | "orchestrator" | "workspace"


@memo.whole("_netreach_members")
def members(d: Deployment) -> Members:
    storage: dict[str, tuple[str, str]] = {}
    vnets: dict[str, str] = {}
    for s in d.silos:
        if s.storage:
            storage[norm(s.storage.id)] = (f"silo:{s.name}", s.storage.name)
        for v in silo_vnets(d, s):
            vnets.setdefault(v, f"silo:{s.name}")
    o = d.orchestrator
    if o.storage:
        storage.setdefault(norm(o.storage.id), ("orchestrator", o.storage.name))
    for v in o.vnet_ids:
        vnets.setdefault(vnet_of(v), "orchestrator")
    if o.storage:
        for lk in d.network.private_endpoints_for(o.storage.id):
            if lk.approved and lk.vnet_id:
                vnets.setdefault(lk.vnet_id, "orchestrator")
    ws = d.workspace
    if ws is not None:
        deps = [ws.id] + [str(ws.prop(f"properties.{k}") or "") for k in
                          ("storageAccount", "keyVault", "containerRegistry", "applicationInsights")]
        wst = ws.prop("properties.storageAccount")
        if wst:
            storage.setdefault(norm(wst), ("workspace", name_of(str(wst))))
        for dep in deps:
            for lk in d.network.private_endpoints_for(dep) if dep else []:
                if lk.approved and lk.vnet_id:
                    vnets.setdefault(lk.vnet_id, "workspace")
    return Members(storage, vnets)


def _relation_of(owner: str, silo: Silo) -> str:
    if owner.startswith("silo:"):
        return "own-silo" if owner[5:] == silo.name else "other-silo"
    return owner


def _endpoint_regions(network: NetworkIndex, subnet_id: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Regions whose storage traffic takes the subnet's ``Microsoft.Storage`` service endpoint (lower case, no
    spaces), with evidence. ``Microsoft.Storage.Global`` (locations ``*``) is not credited: whether policies
    filter cross-region endpoint traffic is not documented."""
    regions: list[str] = []
    ev: list[dict[str, Any]] = []
    for ep in network.service_endpoints(subnet_id):
        service = str(ep.get("service") or "")
        if service.lower() != "microsoft.storage":
            continue
        if str(ep.get("provisioningState") or "Succeeded").lower() == "failed":
            continue
        locs = ep.get("locations")
        if not locs:
            vnet = network.vnet(subnet_id) or {}
            locs = [vnet["location"]] if vnet.get("location") else []
            ev.append(_note("the service endpoint lists no locations: its VNet's region "
                            f"{locs[0] if locs else '(unknown)'} is assumed (Azure adds the paired region too)"))
        regions += [str(x).lower().replace(" ", "") for x in locs]
        ev.append(_prop(subnet_id, "properties.serviceEndpoints[].service", service))
        ev.append(_prop(subnet_id, "properties.serviceEndpoints[].locations", locs))
    return regions, ev


def _confine_storage(d: Deployment, silo: Silo, subnet_id: str, t: TagEgress) -> Egress:
    """Whether the subnet's service endpoint policies confine ``t`` (a Storage tag egress) to the deployment."""
    net = d.network
    regions, ev = _endpoint_regions(net, subnet_id)
    policies = net.subnet_endpoint_policies(subnet_id)
    ev.append(_prop(subnet_id, "properties.serviceEndpointPolicies", [p.id for p in policies] or None))
    any_account = [("any storage account", f"{t.meaning} ({t.tag})", "external")]
    if not regions:
        return Egress(subnet_id, t, "open", f"the subnet has no Microsoft.Storage service endpoint, so no service "
                      f"endpoint policy filters its traffic to {t.tag}: {t.meaning} are reachable", any_account, ev)
    if t.region is None or t.region not in regions:
        where = "every region" if t.region is None else t.region
        return Egress(subnet_id, t, "open", f"{t.tag} covers {where}, but the service endpoint (and so any policy) "
                      f"filters only accounts in {', '.join(sorted(set(regions)))}: accounts elsewhere are "
                      "reachable", any_account, ev)
    if not policies:
        return Egress(subnet_id, t, "open", f"no service endpoint policy on the subnet: {t.meaning} in "
                      f"{t.region} are reachable through its service endpoint", any_account, ev)
    missing = [p.id for p in policies if p.resource is None]
    if missing:
        cov = d.inventory.coverage(SEP)
        why = "unreadable" if cov == "unreadable" else "not in the input"
        return Egress(subnet_id, t, "unknown", f"service endpoint policy {', '.join(missing)} is {why}, so what "
                      f"it admits is unknown", [], ev)
    m = members(d)
    outsiders: list[tuple[str, str, str]] = []
    undecided: list[str] = []
    admitted = 0
    for p in policies:
        state = str(get_path(p.resource or {}, "properties.provisioningState") or "Succeeded")
        if state.lower() == "failed":
            outsiders += any_account
            ev.append(_prop(p.id, "properties.provisioningState", state))
            continue
        for df in net.policy_definitions(p.id):
            did = str(df.get("id") or f"{p.id}/serviceEndpointPolicyDefinitions/{df.get('name', '')}")
            service = str(get_path(df, "properties.service") or "Microsoft.Storage")
            resources = [str(x) for x in get_path(df, "properties.serviceResources") or []]
            ev.append(_prop(did, "properties.service", service))
            ev.append(_prop(did, "properties.serviceResources", resources))
            for entry in resources:
                admitted += 1
                low = norm(entry if entry.startswith("/") else "/" + entry)
                if low == ALIAS_PREFIX or low.startswith(ALIAS_PREFIX + "/"):
                    ev.append(_note(f"{entry}: storage Microsoft manages for Azure services (an alias no customer "
                                    "owns)"))
                elif "/providers/microsoft.storage/storageaccounts/" in low:
                    owner = m.storage.get(low)
                    if owner is None:
                        outsiders.append((entry, name_of(entry), "external"))
                    else:
                        rel = _relation_of(owner[0], silo)
                        if rel == "other-silo":
                            outsiders.append((entry, owner[1], rel))
                elif low.startswith("/subscriptions/") and "/providers/" not in low:
                    outsiders.append((entry, f"every storage account in {entry}", "external"))
                else:
                    undecided.append(entry)
    if admitted == 0:
        undecided.append("(no resources listed)")
    if outsiders:
        names = ", ".join(sorted({n for _, n, _ in outsiders}))
        return Egress(subnet_id, t, "open", f"the service endpoint policy admits storage outside the silo's "
                      f"deployment: {names}", outsiders, ev)
    if undecided:
        return Egress(subnet_id, t, "unknown", "the service endpoint policy lists entries flaudit does not "
                      f"understand: {', '.join(undecided)}", [], ev)
    return Egress(subnet_id, t, "confined", f"service endpoint policy {', '.join(name_of(p.id) for p in policies)} "
                  f"confines {t.tag} to the FL deployment's storage accounts", [], ev)


def subnet_egress(d: Deployment, silo: Silo, subnet_id: str, *, route: str = "none") -> list[Egress]:
    """Every multi-tenant service egress of a silo compute subnet, judged. ``route``: :func:`route_control`'s
    verdict; when ``controlled`` only the subnet's service endpoint traffic bypasses the appliance."""
    net = d.network
    if route == "controlled":
        bases = frozenset(SERVICE_ENDPOINT_TAGS[str(e.get("service") or "").lower()]
                          for e in net.service_endpoints(subnet_id)
                          if str(e.get("service") or "").lower() in SERVICE_ENDPOINT_TAGS)
        if not bases:
            return []
        tags = []
        regions, _ = _endpoint_regions(net, subnet_id)
        for t in service_tag_egress(net, subnet_id, bases, through_internet_rules=True):
            if t.confinable and t.region is None and regions:
                # only traffic to the endpoint's regions takes the endpoint (and so bypasses the appliance);
                # storage elsewhere follows 0.0.0.0/0 to the appliance
                tags += [TagEgress(f"Storage.{r} (service endpoint traffic)", t.base, r, t.opening)
                         for r in dict.fromkeys(regions)]
            else:
                tags.append(t)
    else:
        tags = service_tag_egress(net, subnet_id)
    out = []
    for t in tags:
        if t.confinable:
            out.append(_confine_storage(d, silo, subnet_id, t))
        else:
            out.append(Egress(subnet_id, t, "open", f"{t.tag} reaches {t.meaning}; no Azure policy confines it "
                              "(service endpoint policies cover Storage only)",
                              [(t.tag, f"{t.meaning} ({t.tag})", "external")]))
    return out


# -- ingress -------------------------------------------------------------------------------------------
@dataclass
class Ingress:
    """A network that is not the silo's own and can reach the silo's networks (or may)."""

    silo: str
    vnet_id: str  # the silo-side VNet
    kind: str  # peering | remote-gateway | gateway | private-endpoint
    remote_id: str
    relation: str  # external | orchestrator | workspace
    status: str  # open | latent | closed | unknown
    why: str
    extra: list[dict[str, Any]] = field(default_factory=list)
    peerings: list[Any] = field(default_factory=list)  # flaudit.network.Peering sides, cited lazily

    @property
    def evidence(self) -> list[dict[str, Any]]:
        """Peering names, remote ids, states and gateway flags, then anything else the judgement read."""
        return [e for p in self.peerings for e in _peering_ev(p)] + self.extra

    def hops(self) -> list[Hop]:
        return [Hop(self.why, self.vnet_id)]


def silo_vnets(d: Deployment, silo: Silo) -> list[str]:
    """The silo's networks: its computes' VNets, and the VNets of its storage's approved private endpoints that
    the compute reaches (an endpoint in any other VNet is someone else's network: see :func:`silo_ingress`).
    A silo whose computes are in no VNet (managed network, attached compute) has nothing to anchor on: the
    VNets of its storage's endpoints that no other FL member uses are taken as its own."""
    return memo.keyed(d, "_netreach_silo_vnets", silo.name, lambda: _silo_vnets(d, silo))


def _silo_vnets(d: Deployment, silo: Silo) -> list[str]:
    own = {vnet_of(v) for v in silo.vnet_ids}
    # every member's compute VNets, once (a silo never claims another member's VNet)
    taken = memo.once(d, "_netreach_compute_vnets",
                      lambda: {vnet_of(v) for m in [d.orchestrator, *d.silos] for v in m.vnet_ids})
    out = set(own)
    if silo.storage:
        for lk in d.network.private_endpoints_for(silo.storage.id):
            if lk.approved and lk.vnet_id and lk.vnet_id not in taken and \
                    (not own or any(d.network.reach(v, lk.vnet_id).result == "yes" for v in own)):
                out.add(lk.vnet_id)
    return sorted(out)


def _peering_ev(pr: Any) -> list[dict[str, Any]]:
    out = [_prop(pr.id, "properties.peeringState", pr.state or None),
           _prop(pr.id, "properties.remoteVirtualNetwork.id", pr.remote_display)]
    for flag in ("allowVirtualNetworkAccess", "allowGatewayTransit", "useRemoteGateways"):
        if (value := pr.prop(flag)) is not None:
            out.append(_prop(pr.id, f"properties.{flag}", value))
    return out


def _true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def silo_ingress(d: Deployment, silo: Silo) -> list[Ingress]:
    """Every way a network outside the silo reaches (or may reach) the silo's VNets or storage endpoints.

    Other silos' networks are FL-NET-006's and FL-PE-007's question and are skipped here. Computed once per
    silo (the rule and the producer both ask).
    """
    return memo.keyed(d, "_netreach_ingress", silo.name, lambda: _silo_ingress(d, silo))


def _silo_ingress(d: Deployment, silo: Silo) -> list[Ingress]:
    net = d.network
    m = members(d)
    # an FL member whose compute was not resolved may own the far VNet: a peering to it is not proof of an outsider
    unresolved = memo.once(d, "_netreach_unresolved", lambda: [
        f"the compute of {'silo ' + x.name if x is not d.orchestrator else 'the orchestrator'}"
        for x in [d.orchestrator, *d.silos] if not x.computes] + (
        ["the workspace (not in the input)"] if d.workspace is None else []))
    out: list[Ingress] = []
    for v in silo_vnets(d, silo):
        if v not in net.vnets:
            cov = d.inventory.coverage(VNET, v)
            out.append(Ingress(silo.name, v, "peering", "", "external", "unknown",
                               f"VNet {v} is {'unreadable' if cov == 'unreadable' else 'not in the input'}, so "
                               "the networks peered with it are unknown"))
            continue
        if d.inventory.unreadable_for(PEERING, v):
            out.append(Ingress(silo.name, v, "peering", "", "external", "unknown",
                               f"the peerings of VNet {name_of(v)} were unreadable"))
        for remote in sorted(net.neighbours(v)):
            owner = m.vnets.get(remote)
            if owner is not None and owner.startswith("silo:"):
                continue  # the silo's own other VNet, or another silo's (FL-NET-006)
            relation = owner or "external"
            sides = net.peerings_between(v, remote)
            mine = [p for p in sides if p.vnet_id == v]
            shown = mine[0].remote_display if mine else (sides[0].vnet_display if sides else remote)
            names = ", ".join(name_of(p.id) for p in sides)
            states = {p.state.lower() for p in sides}
            if "connected" in states:
                status, why = "open", (f"peering {names} (Connected) joins {name_of(v)} to "
                                       f"{'VNet ' + name_of(remote) if owner else 'VNet ' + shown + ', outside the FL deployment'}")
            elif any(p.state.lower() == "initiated" for p in mine):
                status, why = "latent", (f"peering {names} from {name_of(v)} to {remote} is Initiated: whoever "
                                         "controls the far VNet can complete it at any time")
            elif states and states <= {"disconnected", "initiated"}:
                status, why = "closed", f"peering {names} is {'/'.join(sorted(states))}: no traffic flows"
            else:
                status, why = "unknown", f"peering {names} carries no peeringState"
            if relation == "external" and status in ("open", "latent") and unresolved:
                status, why = "unknown", (f"{why}; but {', '.join(unresolved)} could not be resolved, so whether "
                                          f"that VNet belongs to the FL deployment is unknown")
            out.append(Ingress(silo.name, v, "peering", shown, relation, status, why, peerings=sides))
            for p in mine:
                if _true(p.prop("useRemoteGateways")) and p.state.lower() in ("connected", "initiated", ""):
                    gws, _ = net.vnet_gateways(remote) if remote in net.vnets else ([], False)
                    gw_txt = ", ".join(name_of(g) for g in gws) if gws else f"the gateway of VNet {remote}"
                    out.append(Ingress(silo.name, v, "remote-gateway", gws[0] if gws else remote, "external",
                                       "open" if p.state.lower() == "connected" else "latent",
                                       f"peering {name_of(p.id)} uses remote gateways: the networks behind "
                                       f"{gw_txt} (on-premises, other VNets) reach {name_of(v)}",
                                       peerings=[p]))
        for hc in net.hub_connections(v):
            if str(get_path(hc, "properties.provisioningState") or "Succeeded").lower() == "failed":
                continue
            hub = str(hc["id"])[:str(hc["id"]).lower().find("/hubvirtualnetworkconnections/")]
            out.append(Ingress(silo.name, v, "gateway", hub, "external", "open",
                               f"virtual WAN hub {name_of(hub)} connects {name_of(v)} (connection "
                               f"{name_of(hc['id'])}): every network on the WAN (branches, other VNets) reaches it",
                               [_prop(hc["id"], "properties.remoteVirtualNetwork.id",
                                      get_path(hc, "properties.remoteVirtualNetwork.id"))]))
        gws, decided = net.vnet_gateways(v)
        for g in gws:
            out.append(Ingress(silo.name, v, "gateway", g, "external", "open",
                               f"virtual network gateway {name_of(g)} in {name_of(v)} connects the networks behind "
                               "it (on-premises, other VNets) to the silo network",
                               [_prop(g, "id", g)]))
        if not decided and d.inventory.coverage(VNET_GATEWAY, v) != "collected":
            out.append(Ingress(silo.name, v, "gateway", f"{v}/subnets/GatewaySubnet", "external", "unknown",
                               f"VNet {name_of(v)} has a GatewaySubnet whose IP configurations are not in the "
                               "input: a VPN or ExpressRoute gateway may connect other networks"))
    if silo.storage:
        for lk in d.network.private_endpoints_for(silo.storage.id):
            if not lk.approved:
                continue
            if not lk.vnet_id:
                out.append(Ingress(silo.name, "", "private-endpoint", lk.pe_id, "external", "unknown",
                                   f"approved private endpoint {name_of(lk.pe_id)} of {silo.storage.name} is not in "
                                   "the input, so the network it sits in is unknown", [lk.evidence()]))
                continue
            owner = m.vnets.get(lk.vnet_id)
            if owner is None:
                out.append(Ingress(silo.name, lk.vnet_id, "private-endpoint", lk.vnet_id, "external", "open",
                                   f"approved private endpoint {name_of(lk.pe_id)} of {silo.storage.name} sits in "
                                   f"VNet {lk.vnet_id}, outside the FL deployment", [lk.evidence()]))
    return out


# -- the orchestrator's reach (defence in depth) -------------------------------------------------------
@dataclass
class Reach:
    """Whether an FL member's network (orchestrator, workspace) reaches a silo storage private endpoint."""

    member: str  # orchestrator | workspace
    vnet_id: str
    pe_id: str
    network: str  # yes | no | unknown
    dns: str  # resolves | no-link | unknown
    extra: list[dict[str, Any]] = field(default_factory=list)
    peerings: list[Any] = field(default_factory=list)
    link: Any = None  # the flaudit.network.PrivateEndpointLink reached

    @property
    def evidence(self) -> list[dict[str, Any]]:
        return ([self.link.evidence()] if self.link is not None else []) + \
            [_prop(p.id, "properties.peeringState", p.state or None) for p in self.peerings] + self.extra


def member_reach(d: Deployment, silo: Silo) -> list[Reach]:
    """Orchestrator and workspace VNets that reach the silo storage's approved private endpoints (peering or
    same VNet) and whether the storage private DNS zone linked to them resolves the account (once per silo)."""
    return memo.keyed(d, "_netreach_reach", silo.name, lambda: _member_reach(d, silo))


def _member_reach(d: Deployment, silo: Silo) -> list[Reach]:
    if silo.storage is None:
        return []
    net = d.network
    # the orchestrator's and workspace's VNets, once
    hubs = memo.once(d, "_netreach_hubs", lambda: sorted((v, o) for v, o in members(d).vnets.items()
                                                         if not o.startswith("silo:")))
    out = []
    for v, owner in hubs:
        for lk in net.private_endpoints_for(silo.storage.id):
            if not lk.approved or not lk.vnet_id:
                continue
            r = net.reach(v, lk.vnet_id)
            ev: list[dict[str, Any]] = []
            dns = "unknown"
            groups = [g.lower() for g in lk.group_ids] or ["blob"]
            for g in groups:
                for z in net.zones_named(f"privatelink.{g}.core.windows.net"):
                    if v in net.zone_linked_vnets(z["id"]):
                        recs = net.a_records(z["id"])
                        dns = "resolves" if not recs or silo.storage.name.lower() in recs else "no-link"
                        ev.append(_prop(z["id"], "virtualNetworkLinks", v))
                        break
                else:
                    if net.zones_named(f"privatelink.{g}.core.windows.net"):
                        dns = "no-link"
            out.append(Reach(owner, v, lk.pe_id, r.result, dns, ev, list(r.peerings), lk))
    return out


# -- the producer --------------------------------------------------------------------------------------
def egress_of(d: Deployment, silo: Silo, subnet_id: str) -> tuple[str, list[dict[str, Any]], list[Egress]]:
    """(route verdict, route evidence, judged service egress) of one silo subnet, computed once."""
    return memo.keyed(d, "_netreach_egress", (silo.name, norm(subnet_id)), lambda: _egress_of(d, silo, subnet_id))


def _egress_of(d: Deployment, silo: Silo, subnet_id: str) -> tuple[str, list[dict[str, Any]], list[Egress]]:
    route, ev = route_control(d.network, subnet_id)
    return route, ev, subnet_egress(d, silo, subnet_id, route=route)


def silo_network_paths(d: Deployment) -> Iterable[Path]:
    """Paths of kind ``network``: open Internet and multi-tenant service egress of silo compute subnets
    (FL-NET-005), outside networks reaching silo networks (FL-NET-009), the orchestrator's and workspace's
    networks reaching silo storage endpoints (FL-NET-010)."""
    for silo in d.silos:
        for c in silo.computes:
            yield from _egress_paths(d, silo, c)
        for i in silo_ingress(d, silo):
            if i.status in ("open", "latent") and i.relation == "external":
                yield Path("network", silo.name, i.vnet_id, i.remote_id, name_of(i.remote_id) or i.remote_id,
                           "external", tuple(i.hops()), "FL-NET-009", conditional=i.status == "latent")
        for r in member_reach(d, silo):
            if r.network == "yes":
                yield Path("network", silo.name, silo.storage.id if silo.storage else r.pe_id, r.vnet_id,
                           f"{r.member} VNet {name_of(r.vnet_id)}", r.member,
                           (Hop(f"{r.member} VNet {name_of(r.vnet_id)} reaches private endpoint "
                                f"{name_of(r.pe_id)}", r.vnet_id),
                            Hop(f"private DNS: {r.dns}", r.pe_id)), "FL-NET-010")


def _egress_paths(d: Deployment, silo: Silo, c: Compute) -> Iterator[Path]:
    """FL-NET-005's open egress of one silo compute as paths: the Internet (no private network, an
    AllowInternetOutbound managed network, an NSG or route that lets it out), managed-network rules that
    re-open egress, and multi-tenant service egress no policy confines; from every subnet the compute runs in."""
    for p in placements_of(d, c):
        yield from _placement_egress_paths(d, silo, c, p)


def _here(c: Compute, p: Any) -> Hop:
    """The first hop of a compute's egress path: where it runs."""
    pools = f" (agent pool{'s' if len(p.pools) > 1 else ''} {', '.join(p.pools)})" if p.pools else ""
    return Hop(f"compute {c.name} runs {'in subnet ' + name_of(p.subnet_id) if p.subnet_id else 'in ' + p.kind}"
               + pools, c.id)


def _placement_egress_paths(d: Deployment, silo: Silo, c: Compute, p: Any) -> Iterator[Path]:
    """The egress paths of one placement; the first hop is written only for a path found (a hardened silo has
    none)."""
    internet = ("Internet", "the Internet", "external")
    if p.kind == "none":
        yield Path("network", silo.name, c.id, *internet,
                   (_here(c, p), Hop("no private network: nothing restricts outbound traffic", c.id)), "FL-NET-005")
        return
    if p.kind == "managed":
        if p.isolation_mode.lower() == "allowinternetoutbound":
            yield Path("network", silo.name, c.id, *internet,
                       (_here(c, p), Hop("the managed network is AllowInternetOutbound", p.workspace_id)), "FL-NET-005")
        else:
            from flaudit.network import managed_open_egress

            for name, why in managed_open_egress(p.workspace):
                rid = f"{p.workspace_id}/outboundRules/{name}"
                yield Path("network", silo.name, c.id, rid, why, "external",
                           (_here(c, p), Hop(f"managed network outbound rule {name}: {why}", p.workspace_id)), "FL-NET-005")
        return
    sid = p.subnet_id
    if p.kind != "vnet" or not sid or d.network.subnet(sid) is None:
        return
    route, _, egress = egress_of(d, silo, sid)
    if route == "leaks":
        yield Path("network", silo.name, sid, *internet,
                   (_here(c, p), Hop("the route table sends public prefixes straight to the Internet", sid)), "FL-NET-005")
    elif route in ("none", "missing"):
        eff = effective(d.network, sid)
        if eff.outbound.open and not eff.outbound.problems and route == "none":
            yield Path("network", silo.name, sid, *internet,
                       (_here(c, p), Hop(f"outbound Internet allowed: {eff.outbound.describe()}", sid)), "FL-NET-005")
    for e in egress:
        if e.status == "open":
            for oid, oname, rel in e.outsiders:
                yield Path("network", silo.name, sid, oid, oname, rel, (_here(c, p), *e.hops()), "FL-NET-005")
