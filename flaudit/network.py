"""The network index: every network resource of the inventory, joined the way Azure joins them.

ARM returns the same object in two shapes: a VNet's subnets and peerings inline under ``properties`` and as
separate child resources (Resource Graph, templates, some collectors); an NSG's ``securityRules`` inline and as
``networkSecurityGroups/securityRules``; a route table's ``routes`` likewise. Rules and evaluators read this
index so that both shapes (and a mix of them) give the same answer, and so no rule parses network payloads
on its own.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from flaudit import memo
from flaudit.arm import MISSING, get_path, is_resource_id, name_of, norm, parent_id, per_string

VNET = "microsoft.network/virtualnetworks"
SUBNET = "microsoft.network/virtualnetworks/subnets"
PEERING = "microsoft.network/virtualnetworks/virtualnetworkpeerings"
NSG = "microsoft.network/networksecuritygroups"
NSG_RULE = "microsoft.network/networksecuritygroups/securityrules"
NIC = "microsoft.network/networkinterfaces"
ROUTE_TABLE = "microsoft.network/routetables"
ROUTE = "microsoft.network/routetables/routes"
PE = "microsoft.network/privateendpoints"
DNS_ZONE = "microsoft.network/privatednszones"
DNS_LINK = "microsoft.network/privatednszones/virtualnetworklinks"
DNS_A = "microsoft.network/privatednszones/a"
STORAGE_PEC = "microsoft.storage/storageaccounts/privateendpointconnections"
SEP = "microsoft.network/serviceendpointpolicies"
SEP_DEFINITION = "microsoft.network/serviceendpointpolicies/serviceendpointpolicydefinitions"
VNET_GATEWAY = "microsoft.network/virtualnetworkgateways"
HUB_CONNECTION = "microsoft.network/virtualhubs/hubvirtualnetworkconnections"


def _subnet_ref(resource: dict[str, Any]) -> str | None:
    """``properties.subnet.id`` when it is an ARM subnet id; otherwise None (where the resource sits is then
    unknown, and it is never placed in a VNet named by an arbitrary string)."""
    ref = get_path(resource, "properties.subnet.id")
    return ref if is_resource_id(ref, SUBNET) else None


@per_string  # a pure function of the string, asked ~70 times per silo
def vnet_of(subnet_or_vnet_id: str | None) -> str:
    """The VNet id of a subnet id (or the id itself when it already names a VNet), normalised."""
    return _vnet_of(subnet_or_vnet_id)


def _vnet_of(subnet_or_vnet_id: str | None) -> str:
    low = norm(subnet_or_vnet_id)
    i = low.find("/subnets/")
    return low[:i] if i > 0 else low


def parse_prefixes(values: Iterable[Any]) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """CIDR prefixes out of strings; anything that is not an address (service tags) is skipped."""
    out = []
    for v in values:
        net = _prefix(str(v).strip())
        if net is not None:
            out.append(net)
    return out


@lru_cache(maxsize=1 << 14)
def _prefix(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """One prefix parsed (None when it is not one), once per string: the orchestrator's address space is compared
    with every silo's, and the networks are immutable."""
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def overlaps(a: Iterable[str], b: Iterable[str]) -> list[tuple[str, str]]:
    """Pairs of prefixes (one from each side, same IP version) whose address ranges intersect."""
    out = []
    for x in parse_prefixes(a):
        for y in parse_prefixes(b):
            if x.version == y.version:
                (xlo, xhi), (ylo, yhi) = _span(x), _span(y)
                if xlo <= yhi and ylo <= xhi:  # what ipaddress's overlaps() answers, as two integer ranges
                    out.append((str(x), str(y)))
    return out


def _span(net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> tuple[int, int]:
    """First and last address of a network as integers (its broadcast address is the first with every host bit
    set): comparing these is ipaddress's overlaps() without building each silo prefix's broadcast address."""
    lo = int(net.network_address)
    return lo, lo | ((1 << (net.max_prefixlen - net.prefixlen)) - 1)


#: Resource types whose payload carries inline ``privateEndpointConnections`` that flaudit reads.
PRIVATE_LINK_TARGET_TYPES = (
    "microsoft.storage/storageaccounts",
    "microsoft.machinelearningservices/workspaces",
    "microsoft.keyvault/vaults",
    "microsoft.containerregistry/registries",
)


@dataclass
class Peering:
    """One side of a VNet peering as read from ``vnet_id``."""

    id: str
    vnet_id: str  # normalised: the VNet this side belongs to
    remote_id: str  # normalised remote VNet id ("" when the payload does not say)
    state: str  # peeringState: Connected | Initiated | Disconnected | "" when missing
    raw: dict[str, Any]

    def prop(self, name: str, default: Any = None) -> Any:
        """``get_path(raw, "properties." + name)``, starting from ``properties`` when the payload spells it so.

        Each flag is read once per peering (FL-NET-006, FL-NET-007 and the ingress evaluator each cite every
        flag of every silo peering); the payload is fixed for the index's life, as the index's caches assume."""
        got = memo.keyed(self, "_prop_memo", name, lambda: self._prop(name))
        return default if got is MISSING else got

    def _prop(self, name: str) -> Any:
        """The value at ``properties.<name>``, or MISSING."""
        props = self.raw.get("properties", MISSING)
        if props is MISSING:  # absent, or spelt in another case: get_path matches it case-insensitively
            return get_path(self.raw, f"properties.{name}", MISSING)
        return get_path(props, name, MISSING)

    @property
    def remote_display(self) -> str:
        """The remote VNet id as the payload wrote it (for evidence), or the normalised one."""
        return str(self.prop("remoteVirtualNetwork.id") or self.remote_id)

    @property
    def vnet_display(self) -> str:
        """This side's VNet id as written in the peering id (for evidence)."""
        low = self.id.lower()
        i = low.find("/virtualnetworkpeerings/")
        return self.id[:i] if i > 0 else self.vnet_id

    @property
    def connected(self) -> bool:
        return self.state.lower() == "connected"

    @property
    def remote_prefixes(self) -> list[str]:
        return [str(p) for p in (self.prop("remoteAddressSpace.addressPrefixes") or [])]


@dataclass
class PrivateEndpointLink:
    """A private endpoint connected to a target resource, with the connection state seen from both sides.

    ``pe_status`` comes from the endpoint's ``privateLinkServiceConnections`` (or manual ones),
    ``target_status`` from the target's ``privateEndpointConnections``. They normally agree; when they do
    not, :attr:`status` takes the one that is not ``Approved`` (fail closed) and both stay in the evidence.
    """

    pe_id: str  # ARM id as written (may be absent from the inventory)
    target_id: str  # normalised
    group_ids: list[str]
    subnet_id: str | None
    pe_status: str | None
    target_status: str | None
    pe: dict[str, Any] | None = None  # the private endpoint resource when the inventory has it
    connection_id: str | None = None  # the target-side connection id
    manual: bool = False

    @property
    def status(self) -> str:
        """The connection state; an endpoint whose own provisioning failed carries nothing whatever it says.

        Asked by a dozen rules and evaluators per endpoint: kept with the values it was worked out from (the
        index sets ``target_status`` after creating the link), and worked out again when any of them changed."""
        kept = self.__dict__.get("_status_memo")
        if kept is not None and kept[0] == self.pe_status and kept[1] == self.target_status and kept[2] is self.pe:
            return kept[3]
        out = self._status()
        self.__dict__["_status_memo"] = (self.pe_status, self.target_status, self.pe, out)
        return out

    def _status(self) -> str:
        if str(get_path(self.pe or {}, "properties.provisioningState") or "").lower() == "failed":
            return "Failed"
        states = [s for s in (self.target_status, self.pe_status) if s]
        if not states:
            return "Unknown"
        for s in states:
            if s.lower() != "approved":
                return s
        return states[0]

    @property
    def approved(self) -> bool:
        return self.status.lower() == "approved"

    @property
    def vnet_id(self) -> str:
        return vnet_of(self.subnet_id) if self.subnet_id else ""

    def has_group(self, group: str) -> bool:
        return group.lower() in {g.lower() for g in self.group_ids}

    def evidence(self) -> dict[str, Any]:
        return {"kind": "network-path", "path_kind": "private-endpoint", "source": self.subnet_id or "",
                "detail": (f"private endpoint {self.pe_id} groups {','.join(self.group_ids) or '?'}; "
                           f"connection state on the endpoint: {self.pe_status or 'not in the input'}, "
                           f"on the target: {self.target_status or 'not in the input'}")}


@dataclass
class Reach:
    """Whether traffic from one VNet can reach another: ``yes``, ``no`` or ``unknown``, and through what."""

    result: str
    how: str  # same-vnet | peering | none | text explaining the unknown
    peerings: list[Peering] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.result == "yes"


@dataclass
class Reference:
    """A resource another resource points at (``subnet.networkSecurityGroup.id``): present or missing."""

    id: str
    resource: dict[str, Any] | None
    #: False when ``id`` is not an ARM id of the expected type: it can match nothing, so whatever depends on
    #: the reference is unknown (never a pass on the strength of a string being present).
    well_formed: bool = True


class NetworkIndex:
    """Joined view of VNets, subnets, peerings, NSGs, NICs, route tables, private endpoints, DNS zones, service
    endpoint policies (inline and separate definitions), virtual network gateways and virtual WAN hub
    connections."""

    def __init__(self, inventory: Any):
        self.inventory = inventory
        self.vnets: dict[str, dict[str, Any]] = {norm(v["id"]): v for v in inventory.of_type(VNET)}
        self.subnets: dict[str, dict[str, Any]] = {}
        self.peerings: dict[str, list[Peering]] = {}
        self._index_vnets()
        self.nsgs: dict[str, dict[str, Any]] = {norm(n["id"]): n for n in inventory.of_type(NSG)}
        self._separate_rules: dict[str, list[dict[str, Any]]] = {}
        for r in inventory.of_type(NSG_RULE):
            self._separate_rules.setdefault(norm(parent_id(r["id"])), []).append(r)
        self.nics: dict[str, dict[str, Any]] = {norm(n["id"]): n for n in inventory.of_type(NIC)}
        self.route_tables: dict[str, dict[str, Any]] = {norm(t["id"]): t for t in inventory.of_type(ROUTE_TABLE)}
        self._separate_routes: dict[str, list[dict[str, Any]]] = {}
        for r in inventory.of_type(ROUTE):
            self._separate_routes.setdefault(norm(parent_id(r["id"])), []).append(r)
        self.private_endpoints: dict[str, dict[str, Any]] = {norm(p["id"]): p for p in inventory.of_type(PE)}
        self._pe_links: dict[str, list[PrivateEndpointLink]] = {}
        self._index_private_endpoints()
        self.dns_zones: dict[str, list[dict[str, Any]]] = {}  # zone name (lower) -> zone resources
        for z in inventory.of_type(DNS_ZONE):
            self.dns_zones.setdefault(str(z.get("name") or name_of(z["id"])).lower(), []).append(z)
        self._dns_links: dict[str, list[dict[str, Any]]] = {}
        for link in inventory.of_type(DNS_LINK):
            self._dns_links.setdefault(norm(parent_id(link["id"])), []).append(link)
        self._a_records: dict[str, list[dict[str, Any]]] = {}
        for rec in inventory.of_type(DNS_A):
            self._a_records.setdefault(norm(parent_id(rec["id"])), []).append(rec)
        self.endpoint_policies: dict[str, dict[str, Any]] = {norm(p["id"]): p for p in inventory.of_type(SEP)}
        self._separate_definitions: dict[str, list[dict[str, Any]]] = {}
        for df in inventory.of_type(SEP_DEFINITION):
            self._separate_definitions.setdefault(norm(parent_id(df["id"])), []).append(df)
        self.gateways: dict[str, dict[str, Any]] = {norm(g["id"]): g for g in inventory.of_type(VNET_GATEWAY)}
        self._hub_connections: dict[str, list[dict[str, Any]]] = {}
        for hc in inventory.of_type(HUB_CONNECTION):
            remote = vnet_of(get_path(hc, "properties.remoteVirtualNetwork.id"))
            if remote:
                self._hub_connections.setdefault(remote, []).append(hc)

    # -- VNets, subnets, peerings ---------------------------------------------------------------------
    def _index_vnets(self) -> None:
        for vid, v in self.vnets.items():
            for s in get_path(v, "properties.subnets") or []:
                if isinstance(s, dict) and s.get("id"):
                    self.subnets[norm(s["id"])] = s
            for p in get_path(v, "properties.virtualNetworkPeerings") or []:
                if isinstance(p, dict):
                    self._add_peering(vid, p)
        for s in self.inventory.of_type(SUBNET):
            sid = norm(s["id"])
            merged = dict(self.subnets.get(sid) or {})
            merged.update(s)  # a separate subnet resource is the fuller read; it wins
            self.subnets[sid] = merged
        for p in self.inventory.of_type(PEERING):
            vid = vnet_of(parent_id(p["id"]))
            known = {norm(x.id) for x in self.peerings.get(vid, [])}
            if norm(p["id"]) in known:
                self.peerings[vid] = [x for x in self.peerings[vid] if norm(x.id) != norm(p["id"])]
            self._add_peering(vid, p)

    def _add_peering(self, vnet_id: str, p: dict[str, Any]) -> None:
        ref = get_path(p, "properties.remoteVirtualNetwork.id")
        remote = norm(ref) if is_resource_id(ref, VNET) else ""  # a remote that is not a VNet id joins nothing
        state = str(get_path(p, "properties.peeringState") or "")
        pid = p.get("id") or f"{vnet_id}/virtualNetworkPeerings/{p.get('name', '')}"
        self.peerings.setdefault(vnet_id, []).append(Peering(pid, vnet_id, remote, state, p))

    @property
    def _incoming(self) -> dict[str, list[Peering]]:
        """Remote VNet id -> the peerings (read on other VNets) that point at it."""
        return memo.once(self, "_incoming_cache", lambda: memo.grouped(
            (p.remote_id, p) for peers in self.peerings.values() for p in peers if p.remote_id))

    def _gateway_index(self) -> dict[str, tuple[list[str], list[dict[str, Any]]]]:
        """VNet id -> (ids of the gateways whose IP configurations sit in it, its GatewaySubnets)."""
        index: dict[str, tuple[list[str], list[dict[str, Any]]]] = {}
        for g in self.gateways.values():
            for ipc in get_path(g, "properties.ipConfigurations") or []:
                gv = vnet_of(get_path(ipc, "properties.subnet.id"))
                index.setdefault(gv, ([], []))[0].append(str(g["id"]))
        for sid, sub in self.subnets.items():
            if sid.endswith("/subnets/gatewaysubnet"):
                index.setdefault(vnet_of(sid), ([], []))[1].append(sub)
        return index

    def neighbours(self, vnet_id: str) -> set[str]:
        """VNets joined to ``vnet_id`` by a peering read on either side (any state)."""
        v = vnet_of(vnet_id)
        return ({p.remote_id for p in self.peerings.get(v, []) if p.remote_id}
                | {p.vnet_id for p in self._incoming.get(v, [])}) - {v}

    def vnet(self, vnet_id: str | None) -> dict[str, Any] | None:
        return self.vnets.get(vnet_of(vnet_id)) if vnet_id else None

    def subnet(self, subnet_id: str | None) -> dict[str, Any] | None:
        return self.subnets.get(norm(subnet_id)) if subnet_id else None

    def vnet_prefixes(self, vnet_id: str) -> list[str] | None:
        """A VNet's address space; from a peering's ``remoteAddressSpace`` when the VNet itself is not read.

        Worked out once per VNet (it depends on ``vnet_of(vnet_id)`` alone); each caller gets its own list."""
        got = memo.keyed(self, "_prefix_memo", vnet_of(vnet_id) if vnet_id else "",
                         lambda: self._vnet_prefixes(vnet_id))
        return None if got is None else list(got)

    def _vnet_prefixes(self, vnet_id: str) -> list[str] | None:
        v = self.vnet(vnet_id)
        own = [str(p) for p in (get_path(v, "properties.addressSpace.addressPrefixes") or [])] if v else []
        if own:
            return own
        # a VNet always has an address space: none in its payload means unknown, never "no addresses"
        for p in self._incoming.get(vnet_of(vnet_id), []):
            if p.remote_prefixes:
                return p.remote_prefixes
        return None

    def subnet_prefixes(self, subnet_id: str) -> list[str] | None:
        """A subnet's address prefixes (``addressPrefix`` and ``addressPrefixes``), None when the subnet is not in
        the input. Read once per subnet (the effective exposure and each service-tag question ask); each caller
        gets its own list."""
        got = memo.keyed(self, "_subnet_prefix_memo", norm(subnet_id), lambda: self._subnet_prefixes(subnet_id))
        return None if got is None else list(got)

    def _subnet_prefixes(self, subnet_id: str) -> tuple[str, ...] | None:
        s = self.subnet(subnet_id)
        if s is None:
            return None
        one = get_path(s, "properties.addressPrefix")
        many = get_path(s, "properties.addressPrefixes") or []
        return tuple(str(p) for p in ([one] if one else []) + list(many))

    def peerings_of(self, vnet_id: str) -> list[Peering]:
        return list(self.peerings.get(vnet_of(vnet_id), []))

    def peerings_between(self, a: str, b: str) -> list[Peering]:
        """Both sides' peering objects between VNets ``a`` and ``b`` that the inventory holds."""
        return self._between(vnet_of(a), vnet_of(b))

    def _between(self, va: str, vb: str) -> list[Peering]:
        """:meth:`peerings_between` of two VNet ids already normalised (:func:`vnet_of`)."""
        # indexed once: a hub VNet can hold a peering per silo
        pairs = memo.once(self, "_peering_pairs", lambda: memo.grouped(
            ((local, p.remote_id), p) for local, peers in self.peerings.items() for p in peers))
        return pairs.get((va, vb), []) + pairs.get((vb, va), [])

    def reach(self, a: str, b: str) -> Reach:
        """Can traffic from ``a`` (subnet or VNet) reach VNet (or subnet) ``b``?

        Same VNet: yes. Otherwise only a direct peering carries traffic (peering is not transitive; routing
        through a hub appliance is not followed). Azure shows ``peeringState: Connected`` only once both
        sides exist, so one Connected side read from the input is enough; but a side that is present and not
        Connected (Initiated, Disconnected) means no traffic flows. When neither VNet's peerings were read, the
        answer is unknown rather than no.
        """
        va, vb = vnet_of(a), vnet_of(b)
        if not va or not vb:
            return Reach("unknown", "a VNet id is missing")
        if va == vb:
            return Reach("yes", "same-vnet")
        sides = self._between(va, vb)
        if sides:
            if all(p.connected for p in sides):
                return Reach("yes", "peering", sides)
            if any(p.state for p in sides if not p.connected):
                return Reach("no", "peering not Connected on every side read", sides)
            # A peering whose state the input does not carry may well be Connected: not a "no".
            return Reach("unknown", "the peering's peeringState is not in the input", sides)
        if va not in self.vnets and vb not in self.vnets:
            return Reach("unknown", f"neither {va} nor {vb} is in the input, so their peerings are unknown")
        for v in (va, vb):
            if self.inventory.unreadable_for(PEERING, v):
                return Reach("unknown", f"the peerings of {v} were unreadable")
        # at least one side was read and has no peering to the other: a Connected peering has both sides
        return Reach("no", "none")

    def reachable(self, a: str, b: str) -> bool:
        """True when :meth:`reach` says yes (same VNet or a Connected peering)."""
        return bool(self.reach(a, b))

    def address_overlap(self, a: str, b: str) -> list[tuple[str, str]] | None:
        """Overlapping prefixes of two VNets' address spaces; ``None`` when either space is unknown.

        Answered once per pair of VNets (a hub is compared with each silo, and each silo with the hub): the
        answer depends on the two VNets alone (:meth:`vnet_prefixes`), and "unknown" and "no overlap" are
        symmetric, so the reverse pair's answer serves when it is one of those."""
        key = (vnet_of(a), vnet_of(b))
        answers = self.__dict__.setdefault("_overlap_memo", {})
        got = answers.get(key, MISSING)
        if got is MISSING:
            got = answers.get(key[::-1], MISSING)
            if got is MISSING or got:  # an overlap is listed in the asking order: computed for this order
                pa, pb = self.vnet_prefixes(a), self.vnet_prefixes(b)
                got = None if pa is None or pb is None else overlaps(pa, pb)
            answers[key] = got
        return None if got is None else list(got)

    # -- NSGs -----------------------------------------------------------------------------------------
    def nsg_ref(self, resource: dict[str, Any] | None) -> Reference | None:
        """The NSG a subnet or NIC names (``properties.networkSecurityGroup.id``), or None if it names none."""
        nid = get_path(resource or {}, "properties.networkSecurityGroup.id")
        if not nid:
            return None
        return Reference(str(nid), self.nsgs.get(norm(nid)), is_resource_id(nid, NSG))

    def subnet_nsg(self, subnet_id: str) -> Reference | None:
        """The NSG the subnet names (see :meth:`nsg_ref`), worked out once per subnet: the effective exposure,
        the service-tag questions and FL-NET-003 each ask. Shared: treat it as read-only."""
        return memo.keyed(self, "_subnet_nsg_memo", norm(subnet_id), lambda: self.nsg_ref(self.subnet(subnet_id)))

    def nsg_rules(self, nsg_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], bool]:
        """(security rules, default rules, defaults_assumed) of an NSG, merging inline and separate rules.

        When the payload has no ``defaultSecurityRules`` Azure's six defaults are supplied (Azure creates them
        on every NSG and does not let them be removed) and ``defaults_assumed`` is True.
        """
        nsg = self.nsgs.get(norm(nsg_id)) or {}
        rules: dict[str, dict[str, Any]] = {}
        for r in get_path(nsg, "properties.securityRules") or []:
            if isinstance(r, dict):
                rules[str(r.get("name") or r.get("id") or len(rules)).lower()] = r
        for r in self._separate_rules.get(norm(nsg_id), []):
            rules[str(r.get("name") or name_of(r["id"])).lower()] = r
        defaults = get_path(nsg, "properties.defaultSecurityRules")
        if defaults:
            return list(rules.values()), [r for r in defaults if isinstance(r, dict)], False
        return list(rules.values()), azure_default_rules(nsg_id), True

    def nics_in_subnet(self, subnet_id: str) -> list[dict[str, Any]]:
        sid = norm(subnet_id)
        out = []
        for nic in self.nics.values():
            for ipc in get_path(nic, "properties.ipConfigurations") or []:
                if norm(get_path(ipc, "properties.subnet.id")) == sid:
                    out.append(nic)
                    break
        return out

    # -- service endpoints and their policies ---------------------------------------------------------
    def service_endpoints(self, subnet_id: str) -> list[dict[str, Any]]:
        """The subnet's ``serviceEndpoints`` entries (``service``, ``locations``, ``provisioningState``)."""
        return [e for e in get_path(self.subnet(subnet_id) or {}, "properties.serviceEndpoints") or []
                if isinstance(e, dict)]

    def subnet_endpoint_policies(self, subnet_id: str) -> list[Reference]:
        """The service endpoint policies the subnet names, each present in the input or missing."""
        out = []
        for ref in get_path(self.subnet(subnet_id) or {}, "properties.serviceEndpointPolicies") or []:
            pid = get_path(ref, "id") if isinstance(ref, dict) else None
            if pid:
                out.append(Reference(str(pid), self.endpoint_policies.get(norm(pid))))
        return out

    def policy_definitions(self, policy_id: str) -> list[dict[str, Any]]:
        """A policy's definitions: inline ``serviceEndpointPolicyDefinitions`` and separate child resources
        (the separate read wins for the same name)."""
        policy = self.endpoint_policies.get(norm(policy_id)) or {}
        out: dict[str, dict[str, Any]] = {}
        for df in get_path(policy, "properties.serviceEndpointPolicyDefinitions") or []:
            if isinstance(df, dict):
                out[str(df.get("name") or df.get("id") or len(out)).lower()] = df
        for df in self._separate_definitions.get(norm(policy_id), []):
            out[str(df.get("name") or name_of(df["id"])).lower()] = df
        return list(out.values())

    # -- gateways -------------------------------------------------------------------------------------
    def vnet_gateways(self, vnet_id: str) -> tuple[list[str], bool]:
        """Virtual network gateways (VPN / ExpressRoute) deployed in a VNet: (gateway ids, decided).

        A gateway sits in the VNet's ``GatewaySubnet``: the subnet's ``ipConfigurations`` name the gateway's
        IP configuration, and a ``virtualNetworkGateways`` resource names the subnet. ``decided`` is False when
        the VNet has a GatewaySubnet whose IP configurations the input does not carry and no gateway resource
        was read for it: a gateway may be there.
        """
        v = vnet_of(vnet_id)
        gateway_ids, gateway_subnets = memo.once(self, "_gateway_index", self._gateway_index).get(v, ([], []))
        found: set[str] = set(gateway_ids)
        undecided = False
        for sub in gateway_subnets:
            ipcs = get_path(sub, "properties.ipConfigurations")
            if ipcs is None and not found:
                undecided = True
            for ipc in ipcs or []:
                ref = str(get_path(ipc, "id") or "")
                low = ref.lower()
                if "/virtualnetworkgateways/" in low:
                    found.add(ref[:low.index("/ipconfigurations/")] if "/ipconfigurations/" in low else ref)
        return sorted(found), not undecided

    def hub_connections(self, vnet_id: str) -> list[dict[str, Any]]:
        """Virtual WAN hub connections (``virtualHubs/hubVirtualNetworkConnections``) whose remote VNet is
        ``vnet_id``: the hub routes between every network on the WAN (branches, other VNets) and it."""
        return list(self._hub_connections.get(vnet_of(vnet_id), []))

    # -- routes ---------------------------------------------------------------------------------------
    def subnet_route_table(self, subnet_id: str) -> Reference | None:
        rid = get_path(self.subnet(subnet_id) or {}, "properties.routeTable.id")
        if not rid:
            return None
        return Reference(str(rid), self.route_tables.get(norm(rid)), is_resource_id(rid, ROUTE_TABLE))

    def routes(self, route_table_id: str) -> list[dict[str, Any]]:
        table = self.route_tables.get(norm(route_table_id)) or {}
        out: dict[str, dict[str, Any]] = {}
        for r in get_path(table, "properties.routes") or []:
            if isinstance(r, dict):
                out[str(r.get("name") or r.get("id") or len(out)).lower()] = r
        for r in self._separate_routes.get(norm(route_table_id), []):
            out[str(r.get("name") or name_of(r["id"])).lower()] = r
        return list(out.values())

    # -- private endpoints ----------------------------------------------------------------------------
    def _index_private_endpoints(self) -> None:
        by_pe: dict[tuple[str, str], PrivateEndpointLink] = {}
        for pid, pe in self.private_endpoints.items():
            subnet = _subnet_ref(pe)
            for field_name, manual in (("privateLinkServiceConnections", False),
                                       ("manualPrivateLinkServiceConnections", True)):
                for conn in get_path(pe, f"properties.{field_name}") or []:
                    target = norm(get_path(conn, "properties.privateLinkServiceId"))
                    if not target:
                        continue
                    link = PrivateEndpointLink(
                        pe_id=pe["id"], target_id=target,
                        group_ids=[str(g) for g in get_path(conn, "properties.groupIds") or []],
                        subnet_id=subnet, pe_status=get_path(conn, "properties.privateLinkServiceConnectionState.status"),
                        target_status=None, pe=pe, manual=manual)
                    by_pe[(pid, target)] = link
        # the target's view: inline privateEndpointConnections on any resource, and separate connection resources
        targets: list[tuple[str, dict[str, Any]]] = []
        for rtype in PRIVATE_LINK_TARGET_TYPES:
            for res in self.inventory.of_type(rtype):
                for conn in get_path(res, "properties.privateEndpointConnections") or []:
                    if isinstance(conn, dict):
                        targets.append((norm(res["id"]), conn))
        for conn in self.inventory.of_type(STORAGE_PEC):
            targets.append((norm(parent_id(conn["id"])), conn))
        for target, conn in targets:
            pe_id = get_path(conn, "properties.privateEndpoint.id")
            if not pe_id:
                continue
            status = get_path(conn, "properties.privateLinkServiceConnectionState.status")
            key = (norm(pe_id), target)
            link = by_pe.get(key)
            if link is None:
                pe = self.private_endpoints.get(norm(pe_id))
                link = PrivateEndpointLink(pe_id=pe_id, target_id=target, group_ids=[],
                                           subnet_id=_subnet_ref(pe or {}),
                                           pe_status=None, target_status=None, pe=pe)
                by_pe[key] = link
            link.target_status = status
            link.connection_id = conn.get("id")
        for link in by_pe.values():
            self._pe_links.setdefault(link.target_id, []).append(link)
        for links in self._pe_links.values():  # in the order private_endpoints_for gives, sorted once
            links.sort(key=lambda link: norm(link.pe_id))

    def private_endpoints_for(self, target_id: str | None) -> list[PrivateEndpointLink]:
        """Every private endpoint connected to ``target_id`` (from either side), in a stable order."""
        if not target_id:
            return []
        return list(self._pe_links.get(norm(target_id), ()))

    # -- private DNS ----------------------------------------------------------------------------------
    def zones_named(self, zone_name: str) -> list[dict[str, Any]]:
        return list(self.dns_zones.get(zone_name.lower(), []))

    def zone_links(self, zone_id: str) -> list[dict[str, Any]]:
        """Virtual network links of a zone: inline (rare) and as child resources."""
        return list(self._dns_links.get(norm(zone_id), []))

    def zone_linked_vnets(self, zone_id: str) -> dict[str, dict[str, Any]]:
        """Linked VNet id (normalised) -> its virtual network link, for one zone (computed once per zone)."""
        return memo.keyed(self, "_linked_cache", norm(zone_id), lambda: {
            vnet_of(get_path(link, "properties.virtualNetwork.id")): link
            for link in self.zone_links(zone_id) if get_path(link, "properties.virtualNetwork.id")})

    def a_records(self, zone_id: str) -> dict[str, list[str]]:
        """Relative record name (lower case) -> IPv4 addresses, for a zone's A record sets in the input."""
        return memo.keyed(self, "_a_cache", norm(zone_id), lambda: self._a_records_of(norm(zone_id)))

    def _a_records_of(self, key: str) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for rec in self._a_records.get(key, []):
            name = str(rec.get("name") or name_of(rec["id"])).split("/")[-1].lower()
            ips = [str(get_path(a, "ipv4Address")) for a in get_path(rec, "properties.aRecords") or []
                   if get_path(a, "ipv4Address")]
            out.setdefault(name, []).extend(ips)
        return out


def azure_default_rules(nsg_id: str) -> list[dict[str, Any]]:
    """Azure's default security rules, in the REST shape, for NSG payloads that omit them."""
    rows = [("AllowVnetInBound", 65000, "Inbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
            ("AllowAzureLoadBalancerInBound", 65001, "Inbound", "Allow", "AzureLoadBalancer", "*"),
            ("DenyAllInBound", 65500, "Inbound", "Deny", "*", "*"),
            ("AllowVnetOutBound", 65000, "Outbound", "Allow", "VirtualNetwork", "VirtualNetwork"),
            ("AllowInternetOutBound", 65001, "Outbound", "Allow", "*", "Internet"),
            ("DenyAllOutBound", 65500, "Outbound", "Deny", "*", "*")]
    return [{"id": f"{nsg_id}/defaultSecurityRules/{n}", "name": n,
             "type": "Microsoft.Network/networkSecurityGroups/defaultSecurityRules",
             "properties": {"provisioningState": "Succeeded", "description": "Default rule", "protocol": "*",
                            "sourcePortRange": "*", "destinationPortRange": "*", "sourceAddressPrefix": src,
                            "destinationAddressPrefix": dst, "access": acc, "priority": prio, "direction": d}}
            for n, prio, d, acc, src, dst in rows]


# -- Azure ML compute placement --------------------------------------------------------------------------
MANAGED_MODES = ("allowonlyapprovedoutbound", "allowinternetoutbound")


@dataclass
class Placement:
    """Where a compute's nodes run, as far as the network goes.

    ``kind``: ``vnet`` (a customer subnet), ``managed`` (the workspace's managed network), ``none`` (neither:
    Azure ML's shared infrastructure with public addresses), ``attached`` (an attached compute such as
    Kubernetes, whose network Azure ML does not describe) or ``unknown`` (the workspace was not read).
    """

    kind: str
    subnet_id: str | None = None
    workspace_id: str = ""
    #: For ``vnet``: the AKS agent pools whose nodes sit in ``subnet_id`` (empty for a compute's own subnet).
    pools: tuple[str, ...] = ()
    workspace: dict[str, Any] | None = None
    isolation_mode: str = "Disabled"
    mode_default_assumed: bool = False
    reason: str = ""  # for ``unknown``: why the placement could not be established

    @property
    def why_unknown(self) -> str:
        return self.reason or f"its workspace {self.workspace_id} is not in the input"

    def mode_evidence(self) -> dict[str, Any]:
        from flaudit.findings import prop

        return prop(self.workspace_id, "properties.managedNetwork.isolationMode", self.isolation_mode,
                    default_assumed=self.mode_default_assumed,
                    default_note="missing means Disabled (no managed network; Azure default)")


def managed_isolation_mode(workspace: dict[str, Any] | None) -> tuple[str, bool]:
    """(isolationMode, default_assumed) of a workspace's managed network; missing means ``Disabled``."""
    mode = get_path(workspace or {}, "properties.managedNetwork.isolationMode")
    return (str(mode), False) if mode else ("Disabled", True)


def compute_placements(compute: Any, inventory: Any) -> list[Placement]:
    """Placements of a :class:`flaudit.model.Compute`, one per subnet its nodes run in
    (:attr:`~flaudit.model.Compute.node_subnets`: one for a compute cluster, one per agent-pool subnet for an AKS
    cluster); without a subnet, the one placement its workspace's managed network (or nothing) gives it."""
    if compute.node_subnets:
        return [Placement("vnet", subnet_id=s.subnet_id, workspace_id=compute.workspace_id, pools=s.pools)
                for s in compute.node_subnets]
    if getattr(compute, "subnet_problem", None):  # a subnet is named, but not as an ARM subnet id: fail closed
        return [Placement("unknown", workspace_id=compute.workspace_id, reason=compute.subnet_problem)]
    if compute.compute_type.lower() not in ("amlcompute", "computeinstance"):
        return [Placement("attached", workspace_id=compute.workspace_id)]
    ws = inventory.get(compute.workspace_id) if compute.workspace_id else None
    if ws is None:
        return [Placement("unknown", workspace_id=compute.workspace_id)]
    mode, assumed = managed_isolation_mode(ws)
    kind = "managed" if mode.lower() in MANAGED_MODES else "none"
    return [Placement(kind, workspace_id=ws.get("id", compute.workspace_id), workspace=ws, isolation_mode=mode,
                      mode_default_assumed=assumed)]


def placements_of(deployment: Any, compute: Any) -> list[Placement]:
    """Where the compute runs (:func:`compute_placements`: one customer-subnet placement per subnet its nodes run
    in, several for an AKS cluster whose agent pools span subnets; else the workspace managed network, attached,
    none or unknown), worked out once per compute and kept on the deployment: the network path producer and a
    dozen rules ask about every silo compute. Shared: callers only read it."""
    return memo.per_object(deployment, "_placements", compute,
                           lambda: compute_placements(compute, deployment.inventory))


#: Service tags that stand for the whole Internet (or every Azure customer's addresses) as a destination.
OPEN_EGRESS_TAGS = frozenset({"internet", "azurecloud", "*", "any"})


def managed_outbound_rules(workspace: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    """``managedNetwork.outboundRules`` as (name, rule): ARM returns a name -> rule map; some exports a list."""
    rules = get_path(workspace or {}, "properties.managedNetwork.outboundRules") or {}
    if isinstance(rules, dict):
        return [(str(k), v) for k, v in rules.items() if isinstance(v, dict)]
    if isinstance(rules, list):
        return [(str(r.get("name", "")), r.get("properties", r)) for r in rules if isinstance(r, dict)]
    return []


#: DNS suffixes under which every customer's accounts of a multi-tenant data service live (public cloud).
MULTI_TENANT_DOMAINS = (
    "blob.core.windows.net", "dfs.core.windows.net", "file.core.windows.net", "queue.core.windows.net",
    "table.core.windows.net", "web.core.windows.net", "blob.storage.azure.net", "database.windows.net",
    "documents.azure.com", "servicebus.windows.net", "vault.azure.net", "azurecr.io", "azurewebsites.net",
    "azure-api.net", "azurefd.net", "cloudapp.azure.com", "azure-devices.net", "ods.opinsights.azure.com",
    "cognitiveservices.azure.com", "openai.azure.com", "inference.ml.azure.com",
)


def managed_open_egress(workspace: dict[str, Any] | None) -> list[tuple[str, str]]:
    """User-defined outbound rules that re-open the Internet in an AllowOnlyApprovedOutbound managed network.

    An FQDN rule for ``*``, or a ServiceTag rule to ``Internet``/``AzureCloud`` or to address prefixes covering
    public space, undoes the approved-only mode: (rule name, why) for each. So does a user-defined rule to
    services any customer can own: a ServiceTag rule to a tag of :data:`flaudit.nsg.EXFIL_TAGS` (``Storage``,
    ``Sql``...), or an FQDN wildcard over their shared domains (``*.blob.core.windows.net``...). Rules Azure ML
    adds itself (category ``Required``, ``Recommended``, ``Dependency``) are its own, confined by the managed
    network (e.g. its storage service endpoint policy), and are not counted.
    """
    from flaudit.nsg import EXFIL_TAGS, _tag_base, classify_addresses

    out = []
    for name, rule in managed_outbound_rules(workspace):
        kind = str(rule.get("type", "")).lower()
        dest = rule.get("destination")
        user_defined = str(rule.get("category") or "UserDefined").lower() == "userdefined"
        if kind == "fqdn":
            fqdn = str(dest if not isinstance(dest, dict) else dest.get("fqdn", "")).strip()
            if fqdn in ("*", "*.*") or not fqdn:
                out.append((name, f"FQDN rule to {fqdn or '(empty)'}"))
            elif user_defined and fqdn.startswith("*.") and any(
                    s == fqdn[2:].lower() or s.endswith("." + fqdn[2:].lower()) for s in MULTI_TENANT_DOMAINS):
                out.append((name, f"FQDN rule to {fqdn}: every customer's endpoints under it"))
        elif kind == "servicetag" and isinstance(dest, dict):
            if str(dest.get("action", "Allow")).lower() == "deny":
                continue
            tag = str(dest.get("serviceTag", "")).strip().lower()
            prefixes = [str(p) for p in dest.get("addressPrefixes") or []]
            if tag in OPEN_EGRESS_TAGS:
                out.append((name, f"service tag rule to {dest.get('serviceTag')}"))
            elif user_defined and _tag_base(tag) in EXFIL_TAGS:
                out.append((name, f"service tag rule to {dest.get('serviceTag')}: "
                                  f"{EXFIL_TAGS[_tag_base(tag)]}"))
            elif prefixes and classify_addresses(prefixes, [], None).internet_some:
                out.append((name, f"service tag rule to public prefixes {', '.join(prefixes[:5])}"))
    return out


def reopened_egress_finding_parts(workspace_id: str, reopened: list[tuple[str, str]]
                                  ) -> tuple[str, list[dict[str, Any]]]:
    """Message tail and evidence for :func:`managed_open_egress` results (shared by the egress rules)."""
    from flaudit.findings import prop

    text = ("the managed network is AllowOnlyApprovedOutbound but outbound rules re-open the Internet: "
            + "; ".join(f"{n} ({why})" for n, why in reopened) + ".")
    return text, [prop(workspace_id, f"properties.managedNetwork.outboundRules.{n}", why) for n, why in reopened]


def managed_private_endpoint_rules(workspace: dict[str, Any] | None, target_id: str, group: str
                                   ) -> list[tuple[str, dict[str, Any]]]:
    """The workspace managed network's ``PrivateEndpoint`` outbound rules to ``target_id``/``group``.

    ``managedNetwork.outboundRules`` is a map of rule name -> rule (``type``, ``destination.serviceResourceId``,
    ``destination.subresourceTarget``, ``status``); older payloads use a list of named rules, read too.
    """
    out = []
    for name, rule in managed_outbound_rules(workspace):
        if str(rule.get("type", "")).lower() != "privateendpoint":
            continue
        dest = rule.get("destination") or {}
        if norm(dest.get("serviceResourceId")) == norm(target_id) and \
                str(dest.get("subresourceTarget", "")).lower() == group.lower():
            out.append((name, rule))
    return out
