"""The NSG evaluator: which ports the Internet can reach in a subnet (or NIC), and whether it can reach out.

This is the ONE implementation of network security group semantics in flaudit; every rule asks it. Azure's
rules, as applied here:

* Rules of one direction are processed by priority, lowest number first; the first rule that matches a flow
  decides it (Allow or Deny). Azure's default rules (AllowVnetInBound 65000, AllowAzureLoadBalancerInBound
  65001, DenyAllInBound 65500; AllowVnetOutBound 65000, AllowInternetOutBound 65001, DenyAllOutBound 65500) are
  supplied when a payload omits ``defaultSecurityRules``.
* Singular and plural fields are both read and combined: ``sourceAddressPrefix(es)``,
  ``destinationAddressPrefix(es)``, ``sourcePortRange(s)``, ``destinationPortRange(s)``, plus
  ``source/destinationApplicationSecurityGroups``. Ports are ``*``, ``N`` or ``N-M``; protocol ``*`` (or
  ``Any``) covers Tcp, Udp and Icmp.
* Addresses are classified with real CIDR arithmetic. ``*``, ``Any`` and ``Internet`` (any case) are the
  whole Internet; a prefix containing any public IPv4/IPv6 address (``0.0.0.0/0``, ``::/0``, ``0.0.0.0/1``,
  ``8.0.0.0/7``) is Internet exposure; RFC 1918 and other non-routable ranges are not. Service tags of
  Microsoft services (``AzureMachineLearning``, ``BatchNodeManagement``, ``AzureLoadBalancer``,
  ``Storage.WestEurope``...) are not the Internet: Azure ML's required inbound from them is not exposure.
  Tags whose addresses any Azure customer can originate traffic from (``AzureCloud``, ``AppService``,
  ``AzureFrontDoor.*``, ``ApiManagement``, ``AzureConnectors``) count as Internet. An unrecognised tag counts
  as possibly Internet on Allow rules (fail closed).
* An application security group as the *source* is never the Internet: an ASG only groups NICs of the same
  VNet, and traffic from them arrives from their private addresses (a member NIC's public IP is used for
  outbound NAT, not as the source an NSG sees inside the VNet). As a destination, an ASG may include the
  subnet's NICs, so an Allow to an ASG counts and a Deny to an ASG does not shadow anything.
* Fail-closed asymmetry: an Allow counts when it *could* match Internet traffic to the subnet; a Deny only
  shadows later rules when it matches *all* of it (every Internet address, every source port, the whole
  subnet). A Deny of ``8.0.0.0/7`` therefore does not hide a later Allow from ``*``, and a Deny of
  ``0.0.0.0/0`` (IPv4 only) does not hide it on a subnet with an IPv6 prefix (or unknown prefixes).
* Numeric ports and priorities (``destinationPortRange: 22``, ``priority: "200"``) are read as their value;
  a field that is neither text nor a number makes the rule not understood.
* Outbound, ``AzureFrontDoor.FirstParty`` is a Microsoft-only destination (Microsoft's Azure ML exfiltration
  recipe allows it), though as a source it stays public. Destinations any customer can own (``Storage``,
  ``Sql``, ``EventHub``... :data:`EXFIL_TAGS`) are not the Internet, but :func:`service_tag_egress` asks about
  each of them on its own (an Allow to one must not hide an Allow to another on the same port; a Deny to the
  whole tag shadows later Allows to it); :mod:`flaudit.netreach` judges them.
* Inbound traffic passes the subnet NSG and then the NIC NSG; outbound the NIC NSG and then the subnet NSG:
  a flow is allowed only when every NSG present allows it. No NSG at a layer allows everything there.
"""

from __future__ import annotations

import ipaddress
import marshal
from collections.abc import Iterable
from dataclasses import dataclass, field
from dataclasses import fields as dataclass_fields
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from flaudit import memo
from flaudit.arm import get_path, name_of, norm

if TYPE_CHECKING:  # pragma: no cover
    from flaudit.network import NetworkIndex

PROTOCOLS = ("Tcp", "Udp", "Icmp")
FULL = (0, 65535)
Interval = tuple[int, int]

#: Tags for the whole Internet (compared lower case).
INTERNET_TAGS = frozenset({"*", "any", "internet"})
#: Tags whose addresses any Azure customer can send from: as exposed as the Internet.
PUBLIC_CLOUD_TAGS = frozenset({"azurecloud", "appservice", "azurefrontdoor.backend", "azurefrontdoor.frontend",
                               "azurefrontdoor.firstparty", "apimanagement", "azureconnectors",
                               # services that run any customer's pipelines, indexers, agents or workflows:
                               # traffic from their addresses is not necessarily this tenant's (fail closed)
                               "datafactory", "logicapps", "azurecognitivesearch", "azuredevops", "azureeventgrid",
                               "azurebotservice", "powerbi"})
#: Microsoft service tags: their addresses are operated by Microsoft services, not the Internet at large.
SERVICE_TAGS = frozenset({
    "azureloadbalancer", "azuremachinelearning", "batchnodemanagement", "storage", "sql", "azureactivedirectory",
    "azuremonitor", "azureresourcemanager", "azurekeyvault", "azurecontainerregistry", "microsoftcontainerregistry",
    "gatewaymanager", "azuretrafficmanager", "azurebackup", "azuresiterecovery", "eventhub", "servicebus",
    "azurecosmosdb", "azuredatalake", "guestandhybridmanagement", "azureplatformdns", "azureplatformimds",
    "azureplatformlkm", "azureupdatedelivery", "azurearcinfrastructure", "azuredatabricks", "hdinsight",
    "cognitiveservicesmanagement", "datafactorymanagement",
    "azuresignalr", "azurestack", "microsoftcloudappsecurity",
    "storagesyncservice", "azureattestation", "azuremachinelearninginference", "azureopendatasets",
    "azureinformationprotection", "azureiothub", "azuredigitaltwins", "azurespringcloud", "windowsvirtualdesktop",
    "azurestorage", "electronicmail", "mysql", "postgresql", "sqlmanagement", "azureautomation",
    "logicappsmanagement", "microsoftpurviewpolicydistribution",
})
LOCAL_TAGS = frozenset({"virtualnetwork"})
#: Tags that name only Microsoft's own services when they are an outbound *destination*, although flaudit counts
#: them as public as a *source*. Microsoft's Azure ML exfiltration-prevention recipe allows outbound to
#: ``AzureFrontDoor.FirstParty`` (Microsoft services fronted by Front Door, e.g. mcr.microsoft.com's data
#: endpoints); ``AzureFrontDoor.Frontend`` stays public: any customer's Front Door profile answers there.
FIRST_PARTY_DESTINATION_TAGS = frozenset({"azurefrontdoor.firstparty"})

_NON_PUBLIC_V4 = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24",
    "224.0.0.0/4", "240.0.0.0/4")]
_NON_PUBLIC_V6 = [ipaddress.ip_network(n) for n in (
    "::/128", "::1/128", "fc00::/7", "fe80::/10", "ff00::/8", "2001:db8::/32")]
#: IPv6 global unicast: a prefix covering it covers the IPv6 Internet.
_GLOBAL_V6 = ipaddress.ip_network("2000::/3")


# -- interval arithmetic (ports and IPv4 address ranges) ------------------------------------------------
def _merge(intervals: list[Interval]) -> list[Interval]:
    out: list[Interval] = []
    for lo, hi in sorted(intervals):
        if out and lo <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _intersect(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return _merge(out)


def _subtract(a: list[Interval], b: list[Interval]) -> list[Interval]:
    out = list(a)
    for blo, bhi in b:
        nxt = []
        for lo, hi in out:
            if bhi < lo or blo > hi:
                nxt.append((lo, hi))
                continue
            if lo < blo:
                nxt.append((lo, blo - 1))
            if hi > bhi:
                nxt.append((bhi + 1, hi))
        out = nxt
    return _merge(out)


def _v4_interval(net: ipaddress.IPv4Network) -> Interval:
    return int(net.network_address), int(net.broadcast_address)


PUBLIC_V4: list[Interval] = _subtract([(0, 2**32 - 1)], _merge([_v4_interval(n) for n in _NON_PUBLIC_V4]))


def format_ports(intervals: list[Interval]) -> str:
    if intervals == [FULL]:
        return "*"
    return ",".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in intervals)


def parse_ports(values: list[str]) -> tuple[list[Interval], list[str]]:
    """Port intervals from ``*``, ``N`` and ``N-M`` strings; returns (intervals, problems)."""
    out: list[Interval] = []
    problems: list[str] = []
    for raw in values:
        v = str(raw).strip()
        if v in ("*", "any", "Any"):
            out.append(FULL)
            continue
        try:
            if "-" in v:
                lo_s, hi_s = v.split("-", 1)
                lo, hi = int(lo_s), int(hi_s)
            else:
                lo = hi = int(v)
        except ValueError:
            problems.append(f"port range {v!r} is not a port, a range or '*'")
            continue
        if not (0 <= lo <= hi <= 65535):
            problems.append(f"port range {v!r} is outside 0-65535")
            continue
        out.append((lo, hi))
    return _merge(out), problems


# -- address classification ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AddressSet:
    """What a rule's source or destination field covers, as far as the Internet and the subnet go."""

    internet_some: bool  # could include some Internet address
    internet_all: bool  # covers every Internet address
    local_may: bool  # could include the audited subnet's addresses
    local_all: bool  # covers the whole audited subnet
    text: str  # the values as written, for evidence
    #: covers every IPv6 Internet address too (``*``, ``Internet``, ``::/0``); ``internet_all`` alone may mean
    #: IPv4 only (``0.0.0.0/0``), which leaves a dual-stack subnet's IPv6 traffic undecided
    internet_all_v6: bool = False


def _tag_base(value: str) -> str:
    """``Storage.WestEurope`` -> ``storage``; ``AzureFrontDoor.Backend`` stays whole."""
    low = value.strip().lower()
    if low in PUBLIC_CLOUD_TAGS:
        return low
    return low.split(".", 1)[0]


def classify_addresses(values: list[str], asgs: list[str], local: list[str] | None,
                       also_public: frozenset[str] = frozenset(), *, destination: bool = False) -> AddressSet:
    """Classify a field's prefixes/tags/ASGs against the Internet and the local subnet prefixes.

    ``also_public``: service tag bases (lower case) to count as public for this question, e.g. ``storage`` when
    asking whether data can leave for any storage account in Azure. ``destination``: the field is an outbound
    rule's destination, where :data:`FIRST_PARTY_DESTINATION_TAGS` name Microsoft's own services only.
    """
    return _classify(tuple(values), tuple(asgs), None if local is None else tuple(local), also_public, destination)


@lru_cache(maxsize=65536)
def _classify(values: tuple[str, ...], asgs: tuple[str, ...], local: tuple[str, ...] | None,
              also_public: frozenset[str], destination: bool = False) -> AddressSet:
    """The work of :func:`classify_addresses`, cached: every silo NSG repeats the same fields and tags."""
    local_nets = [n for n in (_net(str(p)) for p in (local or [])) if n is not None]
    some = allv = local_may = local_all = all_v6 = False
    v4_cover: list[Interval] = []
    for raw in values:
        v = str(raw).strip()
        if not v:
            continue
        low = v.lower()
        if low in ("*", "any"):
            some = allv = local_may = local_all = all_v6 = True
            continue
        if low == "internet":
            some = allv = all_v6 = True
            continue
        net = _net(v)
        if net is not None:
            if net.version == 4:
                iv = _v4_interval(net)
                if _intersect([iv], PUBLIC_V4):
                    some = True
                v4_cover.append(iv)
            elif not any(net.subnet_of(n) for n in _NON_PUBLIC_V6 if n.version == 6):
                some = True
                all_v6 = all_v6 or _GLOBAL_V6.subnet_of(net)
            if local is None or any(net.version == n.version and net.overlaps(n) for n in local_nets):
                local_may = True
            continue
        base = _tag_base(v)
        if base in also_public:
            some = True
        elif destination and base in FIRST_PARTY_DESTINATION_TAGS:
            pass
        elif base in LOCAL_TAGS:
            local_may = local_all = True
        elif base in PUBLIC_CLOUD_TAGS:
            some = True
        elif base in SERVICE_TAGS:
            pass
        else:  # unrecognised: possibly Internet, possibly local (fail closed for Allow rules)
            some = local_may = True
    if v4_cover and not _subtract(PUBLIC_V4, _merge(v4_cover)):
        allv = True
    if local_nets and v4_cover and all(
            n.version == 4 and not _subtract([_v4_interval(n)], _merge(v4_cover)) for n in local_nets):
        local_all = True
    if asgs:
        local_may = True
    text = ",".join([str(v) for v in values if str(v).strip()] + [f"asg:{name_of(a)}" for a in asgs])
    return AddressSet(some, allv, local_may, local_all, text or "(none)", all_v6)


@lru_cache(maxsize=4096)
def _net(value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """The network a prefix string names, or None for service tags and garbage (cached: tags repeat)."""
    try:
        return ipaddress.ip_network(value.strip(), strict=False)
    except ValueError:
        return None


def _is_net(value: str) -> bool:
    return _net(str(value)) is not None


# -- rules ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NsgRule:
    """One security rule, singular and plural fields combined."""

    nsg_id: str
    name: str
    priority: int
    direction: str  # Inbound | Outbound
    access: str  # Allow | Deny
    protocols: tuple[str, ...]  # subset of PROTOCOLS (Esp/Ah rules carry none of them)
    protocol_text: str
    sources: tuple[str, ...]
    destinations: tuple[str, ...]
    source_asgs: tuple[str, ...]
    destination_asgs: tuple[str, ...]
    source_ports: tuple[Interval, ...]
    destination_ports: tuple[Interval, ...]
    default: bool = False

    @classmethod
    def _of(cls, nsg_id: str, name: str, fields: tuple[Any, ...], default: bool,
            derived: dict[str, Any] | None = None) -> NsgRule:
        """The rule built from :func:`_parse_props`'s fields (priority to destination_ports, in field order),
        filling the instance dict at once: the frozen dataclass's __init__ sets each of its 14 fields through
        object.__setattr__, which is most of the cost of loading 11,000 rules at 1,000 silos. Equal to
        ``NsgRule(nsg_id, name, *fields, default)`` (tests/test_evaluator_caches.py)."""
        rule = object.__new__(cls)
        rule.__dict__.update(zip(_NSG_RULE_FIELDS, (nsg_id, name, *fields, default), strict=True))
        if derived:  # derived values of these fields, worked out once for every rule of this content
            rule.__dict__.update(derived)
        return rule

    # Derived values asked for in every evaluation, kept in the instance dict on first use (the dataclass is frozen,
    # so they cannot go stale; written past the frozen __setattr__ on purpose, and not fields: equality, hashing
    # and repr are unchanged). functools.cached_property would do the same behind a lock, at several times the cost.
    @property
    def allow(self) -> bool:
        got = self.__dict__.get("_allow")
        if got is None:
            got = self.__dict__["_allow"] = self.access.lower() == "allow"
        return got

    @property
    def content(self) -> tuple[Any, ...]:
        """Every field but the NSG id: what :func:`evaluate` reads of the rule (its cache key)."""
        got = self.__dict__.get("_content")
        if got is None:
            got = self.__dict__["_content"] = (
                self.name, self.priority, self.direction, self.access, self.protocols, self.protocol_text,
                self.sources, self.destinations, self.source_asgs, self.destination_asgs, self.source_ports,
                self.destination_ports, self.default)
        return got

    @property
    def names_addresses(self) -> bool:
        """Whether a source or destination is an address prefix (only then do the subnet's own prefixes change
        how the rule is classified; tags and ``*`` do not depend on them)."""
        got = self.__dict__.get("_names_addresses")
        if got is None:
            got = self.__dict__["_names_addresses"] = self._names_addresses()
        return got

    def _names_addresses(self) -> bool:
        return any(_net(str(v).strip()) is not None for v in self.sources + self.destinations)

    def evidence(self, ports: list[Interval] | None = None, protocol: str | None = None) -> dict[str, Any]:
        return {"kind": "nsg-rule", "nsg_id": self.nsg_id, "rule": self.name, "priority": self.priority,
                "direction": self.direction, "access": self.access,
                "source": ",".join(self.sources + tuple(f"asg:{name_of(a)}" for a in self.source_asgs)) or "*",
                "destination": ",".join(self.destinations + tuple(f"asg:{name_of(a)}" for a in self.destination_asgs)),
                "protocol": protocol or self.protocol_text,
                "ports": format_ports(list(ports) if ports is not None else list(self.destination_ports))}


_NSG_RULE_FIELDS = tuple(f.name for f in dataclass_fields(NsgRule))


def _field(props: dict[str, Any], singular: str, plural: str) -> list[str]:
    """Values of a singular and a plural field combined, as strings.

    Numbers (``destinationPortRange: 22``, as templates and hand-written exports carry them) are read as
    their text: dropping them would turn a Deny of port 22 into a Deny of every port and hide the Allows
    below it. Other non-string values are kept as text too, so the parser reports them (-> unknown).
    """
    out: list[str] = []
    one = props.get(singular)
    many = props.get(plural)
    values = ([one] if one is not None else []) + (list(many) if isinstance(many, list)
                                                   else [many] if many not in (None, "") else [])
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            out.append(repr(v))
        elif str(v).strip():
            out.append(str(v).strip())
    return out


#: The properties :func:`parse_rule` reads. Its answer depends on these values and on nothing else but the
#: rule's NSG id and name (which it only copies), so the parsed part is cached by their values (:func:`_rule_key`).
_RULE_FIELDS = ("priority", "direction", "access", "protocol", "sourcePortRange", "sourcePortRanges",
                "destinationPortRange", "destinationPortRanges", "sourceAddressPrefix", "sourceAddressPrefixes",
                "destinationAddressPrefix", "destinationAddressPrefixes", "sourceApplicationSecurityGroups",
                "destinationApplicationSecurityGroups")
#: Parsed rule contents by their _RULE_FIELDS values' serialisation (which tells 1 from True, 1.0 and "1", as
#: the parser does). Every NSG carries the same six default rules, and fleets repeat the same
#: custom rules in every silo's NSG: a 1,000-silo deployment parses a dozen distinct rules, not 11,000.
_PARSED: dict[bytes | str, tuple[tuple[Any, ...] | None, tuple[str, ...], dict[str, Any] | None]] = {}
_PARSED_MAX = 1 << 14


def parse_rule(raw: dict[str, Any], nsg_id: str, *, default: bool = False) -> tuple[NsgRule | None, list[str]]:
    """An :class:`NsgRule` from the REST shape (``properties`` nested or flattened); problems when unusable."""
    props, name, key = _rule_key(raw)
    _, problems, template = _parsed(key, props)
    messages = [f"NSG {nsg_id} rule {name}: {p}" for p in problems] if problems else []
    if template is None:
        return None, messages
    return _build(template, nsg_id, name, default), messages


def _rule_key(raw: dict[str, Any]) -> tuple[dict[str, Any], str, bytes | str]:
    """(properties, rule name, :data:`_PARSED` key) of a rule payload.

    The key is the marshal serialisation of the :data:`_RULE_FIELDS` values: it records each value's exact type
    (1, True, 1.0 and "1" differ, as the parser treats them) and can be read back, so two rules share a key only
    when their values are the same; and it costs a third less than their repr, for 11,000 rules at 1,000 silos.
    Values marshal cannot write (subclasses of the JSON types, from other sources) fall back to the repr, which
    never equals a serialisation (text, not bytes)."""
    props = raw.get("properties")
    if not isinstance(props, dict):
        props = raw
    name = str(raw.get("name") or name_of(str(raw.get("id") or "")) or "(unnamed)")
    values = list(map(props.get, _RULE_FIELDS))
    try:
        return props, name, marshal.dumps(values, 2)
    except ValueError:
        return props, name, repr(values)


def _parsed(key: bytes | str, props: dict[str, Any]) -> tuple[tuple[Any, ...] | None, tuple[str, ...], dict[str, Any] | None]:
    """(fields, problems, instance-dict template) of a rule's properties, parsed once per content."""
    parsed = _PARSED.get(key)
    if parsed is None:
        fields, problems = _parse_props(props)
        if len(_PARSED) >= _PARSED_MAX:
            _PARSED.clear()
        parsed = _PARSED[key] = (fields, problems, None if fields is None else _template(fields))
    return parsed


def _build(template: dict[str, Any], nsg_id: str, name: str, default: bool) -> NsgRule:
    """``NsgRule._of(nsg_id, name, fields, default, derived)``, from the instance dict every rule of this content
    shares (one dict copy instead of zipping 14 fields: 11,000 rules at 1,000 silos)."""
    rule = object.__new__(NsgRule)
    held = rule.__dict__
    held.update(template)
    held["nsg_id"] = nsg_id
    held["name"] = name
    held["default"] = default
    return rule


def _template(fields: tuple[Any, ...]) -> dict[str, Any]:
    """The instance dict of a rule of these parsed fields (NSG id, name and ``default`` to be filled in by
    :func:`parse_rule`), its derived values included."""
    return NsgRule._of("", "", fields, False, _derived(fields)).__dict__.copy()


def _derived(fields: tuple[Any, ...]) -> dict[str, Any]:
    """The derived values of :class:`NsgRule` that depend on its parsed fields alone (not on its NSG, name or
    ``default``), as the instance dict holds them once asked: every rule of the same content shares them."""
    probe = NsgRule._of("", "", fields, False)
    return {"_allow": probe.allow, "_names_addresses": probe.names_addresses}


def _parse_props(props: dict[str, Any]) -> tuple[tuple[Any, ...] | None, tuple[str, ...]]:
    """The NsgRule fields a rule's properties give (None when unusable) and the problems found, each to be
    prefixed with the rule's place."""
    problems: list[str] = []
    try:
        priority = int(props.get("priority"))
    except (TypeError, ValueError):
        return None, (f"priority {props.get('priority')!r} is not a number",)
    direction = str(props.get("direction") or "")
    access = str(props.get("access") or "")
    if direction.lower() not in ("inbound", "outbound") or access.lower() not in ("allow", "deny"):
        return None, (f"direction {direction!r} / access {access!r} not understood",)
    proto = str(props.get("protocol") or "*")
    pl = proto.lower()
    if pl in ("*", "any"):
        protocols: tuple[str, ...] = PROTOCOLS
    elif pl in ("tcp", "udp", "icmp"):
        protocols = (pl.title(),)
    elif pl in ("esp", "ah"):
        protocols = ()
    else:
        return None, (f"protocol {proto!r} not understood",)
    sports, p1 = parse_ports(_field(props, "sourcePortRange", "sourcePortRanges") or ["*"])
    dports, p2 = parse_ports(_field(props, "destinationPortRange", "destinationPortRanges") or ["*"])
    problems += p1 + p2

    def asg(key: str) -> tuple[str, ...]:
        return tuple(str(get_path(a, "id")) for a in props.get(key) or [] if get_path(a, "id"))

    sources = tuple(_field(props, "sourceAddressPrefix", "sourceAddressPrefixes"))
    destinations = tuple(_field(props, "destinationAddressPrefix", "destinationAddressPrefixes"))
    for label, values, key in (("source", sources, "sourceApplicationSecurityGroups"),
                               ("destination", destinations, "destinationApplicationSecurityGroups")):
        if not values and not asg(key):
            problems.append(f"no {label} address prefix or application security group")
    # NsgRule's fields from priority to destination_ports, in its order (built positionally, once per content)
    fields = (priority, direction.title(), access.title(), protocols, proto, sources, destinations,
              asg("sourceApplicationSecurityGroups"), asg("destinationApplicationSecurityGroups"),
              tuple(sports), tuple(dports))
    return fields, tuple(problems)


# -- evaluation ----------------------------------------------------------------------------------------
@dataclass
class Opening:
    """Internet traffic a direction lets through: protocol, destination ports, and the rules that allowed it."""

    protocol: str
    ports: list[Interval]
    rules: list[NsgRule]

    def evidence(self) -> list[dict[str, Any]]:
        return [r.evidence(self.ports, self.protocol) for r in self.rules]

    def describe(self) -> str:
        names = " + ".join(f"{name_of(r.nsg_id)}/{r.name} ({r.priority})" for r in self.rules) or "no NSG"
        return f"{self.protocol} {format_ports(self.ports)} via {names}"


@dataclass
class DirectionResult:
    """Evaluation of one direction for Internet traffic."""

    direction: str
    openings: list[Opening] = field(default_factory=list)  # what the Internet can reach / be reached on
    deciding_denies: list[NsgRule] = field(default_factory=list)  # denies that closed part of the space
    problems: list[str] = field(default_factory=list)  # why the answer may be wrong (-> unknown)
    defaults_assumed: bool = False
    nsg_ids: list[str] = field(default_factory=list)

    @property
    def open(self) -> bool:
        return bool(self.openings)

    def grouped(self) -> list[Opening]:
        """Openings with the same rules and ports merged across protocols (``Tcp,Udp,Icmp *``), for
        messages and evidence that say each deciding rule once."""
        out: dict[tuple[Any, ...], Opening] = {}
        for o in self.openings:
            key = (tuple((r.nsg_id, r.name) for r in o.rules), tuple(o.ports))
            if key in out:
                out[key].protocol += f",{o.protocol}"
            else:
                out[key] = Opening(o.protocol, list(o.ports), list(o.rules))
        return list(out.values())

    def describe(self) -> str:
        return "; ".join(o.describe() for o in self.grouped())

    def evidence(self) -> list[dict[str, Any]]:
        if self.openings:
            return [e for o in self.grouped() for e in o.evidence()]
        return [r.evidence() for r in self.deciding_denies]

    def ports_open(self) -> dict[str, str]:
        merged: dict[str, list[Interval]] = {}
        for o in self.openings:
            merged[o.protocol] = _merge(merged.get(o.protocol, []) + o.ports)
        return {p: format_ports(v) for p, v in merged.items()}


#: What :func:`evaluate` decided, by everything it depends on: the rules' content in priority order (every field
#: but the NSG id, names included), the direction, whether the subnet may be dual-stack, its prefixes (only when
#: some rule names addresses: tags and ``*`` are classified without them), and the two service-tag sets. Rules
#: are referred to by position, so every NSG's result cites its own rule objects (rules of several NSGs in one
#: call add their NSG ids to the key). A fleet's silo NSGs hold the same rules, and each silo subnet its own
#: prefixes: 2,000 evaluations become a handful.
_EVALUATED: dict[tuple[Any, ...], tuple[list[tuple[str, tuple[Interval, ...], int]], list[int], list[str]]] = {}


def evaluate(rules: list[NsgRule], direction: str, local_prefixes: list[str] | None = None,
             nsg_id: str = "", also_public: frozenset[str] = frozenset(),
             deny_covers: frozenset[str] = frozenset()) -> DirectionResult:
    """Internet traffic through one NSG in one direction (Inbound: from the Internet to the subnet;
    Outbound: from the subnet to the Internet). ``also_public`` widens "Internet" by service tags (see
    :func:`classify_addresses`). ``deny_covers``: destination values (lower case, e.g. ``storage``) that a Deny
    covers entirely for this question, when the question is only about that service's addresses."""
    return _decide(_Ordered.of(rules, direction), local_prefixes, nsg_id, also_public, deny_covers)


@dataclass(frozen=True, eq=False)
class _Ordered:
    """The rules of one direction in the order Azure processes them, with the parts of :func:`evaluate`'s memo
    key that depend on the rules alone. Worked out once per NSG and direction (:class:`_Loaded`), not per
    question: the effective exposure and each service-tag question of a subnet ask the same NSG."""

    inbound: bool
    rules: list[NsgRule]
    contents: tuple[tuple[Any, ...], ...]  # every rule's content, in order
    names_addresses: bool  # some rule names an address prefix (only then do the subnet's prefixes matter)
    #: rules of one NSG (as load_rules gives them) compare equal exactly when their content does; rules of several
    #: NSGs in one call keep their NSG ids in the key, so a deny deduplicated by equality stays so
    mixed: tuple[str, ...] | None

    @classmethod
    def of(cls, rules: Iterable[NsgRule], direction: str) -> _Ordered:
        wanted = direction.lower()
        ordered = sorted((r for r in rules if r.direction.lower() == wanted),
                         key=lambda r: (r.priority, r.default, r.name.lower()))
        mixed = tuple(r.nsg_id for r in ordered) if any(r.nsg_id != ordered[0].nsg_id for r in ordered) else None
        return cls(wanted == "inbound", ordered, tuple(r.content for r in ordered),
                   any(r.names_addresses for r in ordered), mixed)


def _decide(o: _Ordered, local_prefixes: list[str] | None, nsg_id: str, also_public: frozenset[str],
            deny_covers: frozenset[str]) -> DirectionResult:
    """:func:`evaluate` over rules already ordered: the memo lookup, and the result citing ``o``'s rules."""
    inbound, ordered = o.inbound, o.rules
    # A subnet with an IPv6 prefix (or one whose prefixes are unknown) can carry IPv6 Internet traffic, which
    # a Deny of 0.0.0.0/0 does not cover.
    dual_stack = local_prefixes is None or any(":" in str(p) for p in local_prefixes)
    local = None if local_prefixes is None else tuple(local_prefixes)
    key = (o.contents, inbound, dual_stack, local if o.names_addresses else local is None, also_public,
           deny_covers, o.mixed)
    decided = _EVALUATED.get(key)
    if decided is None:
        if len(_EVALUATED) >= 1 << 12:
            _EVALUATED.clear()
        decided = _EVALUATED[key] = _evaluate(ordered, inbound, dual_stack, local, also_public, deny_covers)
    openings, denies, problems = decided
    return DirectionResult("Inbound" if inbound else "Outbound",
                           [Opening(proto, list(ports), [ordered[i]] if i >= 0 else []) for proto, ports, i in openings],
                           [ordered[i] for i in denies], list(problems), nsg_ids=[nsg_id] if nsg_id else [])


def _evaluate(ordered: list[NsgRule], inbound: bool, dual_stack: bool, local: tuple[str, ...] | None,
              also_public: frozenset[str], deny_covers: frozenset[str]
              ) -> tuple[list[tuple[str, tuple[Interval, ...], int]], list[int], list[str]]:
    """The work of :func:`evaluate` over rules in priority order: openings as (protocol, ports, position of the
    allowing rule or -1 when no rule decides), positions of the deciding denies, problems."""
    openings: list[tuple[str, tuple[Interval, ...], int]] = []
    denies: list[int] = []
    problems: list[str] = []
    undecided: dict[str, list[Interval]] = {p: [FULL] for p in PROTOCOLS}
    # classify_addresses's work, called directly with the tuples it would build (the same cache keys)
    src_local, src_public = (None, also_public) if inbound else (local, frozenset())
    dst_local, dst_public = (local, frozenset()) if inbound else (None, also_public)
    for i, r in enumerate(ordered):
        if not any(undecided.values()):
            break  # every protocol and port is decided: no later rule can match anything
        src = _classify(r.sources, r.source_asgs, src_local, src_public, False)
        dst = _classify(r.destinations, r.destination_asgs, dst_local, dst_public, not inbound)
        remote = src if inbound else dst
        if r.allow:
            remote_ok = remote.internet_some
        elif deny_covers and not inbound and any(v.strip().lower() in deny_covers for v in r.destinations):
            remote_ok = True
        else:
            remote_ok = remote.internet_all and (remote.internet_all_v6 or not dual_stack)
        local_ok = (dst if inbound else src).local_may if r.allow else (dst if inbound else src).local_all
        if not (remote_ok and local_ok):
            continue
        if not r.allow and list(r.source_ports) != [FULL]:
            continue  # a Deny limited to some source ports leaves other client ports undecided
        for proto in r.protocols:
            ports = [FULL] if proto == "Icmp" else list(r.destination_ports)
            matched = _intersect(undecided[proto], ports)
            if not matched:
                continue
            undecided[proto] = _subtract(undecided[proto], matched)
            if r.allow:
                openings.append((proto, tuple(matched), i))
            elif r not in [ordered[j] for j in denies]:
                denies.append(i)
    left = {p: v for p, v in undecided.items() if v}
    if left:
        problems.append(
            f"no rule decides {'inbound' if inbound else 'outbound'} Internet traffic for "
            + ", ".join(f"{p} {format_ports(v)}" for p, v in left.items())
            + " (default rules incomplete); treated as allowed")
        openings += [(p, tuple(v), -1) for p, v in left.items()]
    return openings, denies, problems


def combine(first: DirectionResult, second: DirectionResult) -> DirectionResult:
    """Traffic that passes two NSGs in sequence: the intersection of what each lets through."""
    out = DirectionResult(first.direction, problems=first.problems + second.problems,
                          defaults_assumed=first.defaults_assumed or second.defaults_assumed,
                          nsg_ids=first.nsg_ids + second.nsg_ids)
    for a in first.openings:
        for b in second.openings:
            if a.protocol == b.protocol:
                ports = _intersect(a.ports, b.ports)
                if ports:
                    out.openings.append(Opening(a.protocol, ports, a.rules + b.rules))
    out.deciding_denies = first.deciding_denies + [r for r in second.deciding_denies if r not in first.deciding_denies]
    return out


def no_nsg(direction: str) -> DirectionResult:
    """A layer without an NSG: everything passes."""
    return DirectionResult(direction.title(), [Opening(p, [FULL], []) for p in PROTOCOLS])


def load_rules(network: NetworkIndex, nsg_id: str) -> tuple[list[NsgRule], bool, list[str]]:
    """Parsed rules (custom + default) of an NSG in the index: (rules, defaults_assumed, problems); parsed once
    per NSG and cached on the index (each caller gets its own lists)."""
    got = _loaded(network, nsg_id)
    return list(got.rules), got.assumed, list(got.problems)


@dataclass(eq=False)
class _Shape:
    """What an NSG's rules give that does not depend on the NSG's id, shared by every NSG whose rules have the same
    names, defaults and contents in the same order (a fleet's silo NSGs, made from one template): each rule's
    instance-dict template and parse problems, and, worked out from the first such NSG, each direction's
    processing order (as positions among the parsed rules) with its memo-key parts, and the tag bases outbound
    Allows name."""

    rows: tuple[tuple[dict[str, Any] | None, str, bool, tuple[str, ...]], ...]  # (template, name, default, problems)
    orders: dict[str, tuple[tuple[int, ...], tuple[tuple[Any, ...], ...], bool]] = field(default_factory=dict)
    allowed_bases: frozenset[str] | None = None
    #: the instance dict of each usable rule but for its NSG id (name and ``default`` filled in), in order
    instances: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:
        self.instances = tuple({**template, "name": name, "default": is_default}
                               for template, name, is_default, _ in self.rows if template is not None)


#: NSG shapes by their rules' (parse key, name, default) in payload order. Bounded like :data:`_PARSED`.
_SHAPES: dict[tuple[tuple[bytes | str, str, bool], ...], _Shape] = {}


@dataclass(eq=False)
class _Loaded:
    """One NSG's parsed rules as cached on the index, with what every question about them starts from (each
    worked out on first use): the rules of each direction in processing order, and the service tag bases
    outbound Allows name. Read-only: :func:`load_rules` hands out copies."""

    rules: tuple[NsgRule, ...]
    assumed: bool
    problems: tuple[str, ...]
    shape: _Shape
    _ordered: dict[str, _Ordered] = field(default_factory=dict)

    def ordered(self, direction: str) -> _Ordered:
        got = self._ordered.get(direction)
        if got is None:
            wanted = direction.lower()
            known = self.shape.orders.get(wanted)
            if known is None:  # the first NSG of this shape: sort, and keep the order for the others
                got = _Ordered.of(self.rules, direction)
                at = {id(r): i for i, r in enumerate(self.rules)}
                self.shape.orders[wanted] = (tuple(at[id(r)] for r in got.rules), got.contents, got.names_addresses)
            else:  # the same rules in the same order: the same processing order; one NSG's rules, so not mixed
                positions, contents, names_addresses = known
                rules = self.rules
                got = _Ordered(wanted == "inbound", [rules[i] for i in positions], contents, names_addresses, None)
            self._ordered[direction] = got
        return got

    def allowed_bases(self) -> frozenset[str]:
        """Tag bases (lower case) of the destinations of outbound Allow rules."""
        if self.shape.allowed_bases is None:
            self.shape.allowed_bases = frozenset(_tag_base(v) for r in self.rules
                                                 if r.allow and r.direction == "Outbound" for v in r.destinations)
        return self.shape.allowed_bases


def _loaded(network: NetworkIndex, nsg_id: str) -> _Loaded:
    return memo.keyed(network, "_parsed_nsg_cache", norm(nsg_id), lambda: _load_rules(network, nsg_id))


def _load_rules(network: NetworkIndex, nsg_id: str) -> _Loaded:
    """The NSG's rules as :func:`parse_rule` gives them (custom, then default; unusable ones left out, their
    problems kept), built from the NSG's :class:`_Shape`."""
    custom, defaults, assumed = network.nsg_rules(nsg_id)
    parts = [(_rule_key(raw), is_default) for rows, is_default in ((custom, False), (defaults, True)) for raw in rows]
    signature = tuple((key, name, is_default) for (_, name, key), is_default in parts)
    shape = _SHAPES.get(signature)
    if shape is None:
        if len(_SHAPES) >= 1 << 12:
            _SHAPES.clear()
        shape = _SHAPES[signature] = _Shape(tuple(
            (template, name, is_default, problems)
            for (props, name, key), is_default in parts for _, problems, template in (_parsed(key, props),)))
    rules = []
    new = object.__new__
    for instance in shape.instances:  # _build(template, nsg_id, name, default) for each usable row
        rule = new(NsgRule)
        held = rule.__dict__
        held.update(instance)
        held["nsg_id"] = nsg_id
        rules.append(rule)
    problems = tuple(f"NSG {nsg_id} rule {name}: {p}" for _, name, _, probs in shape.rows for p in probs)
    return _Loaded(tuple(rules), assumed, problems, shape)


@dataclass
class Effective:
    """Effective Internet exposure of a subnet (and optionally one NIC in it)."""

    subnet_id: str
    inbound: DirectionResult
    outbound: DirectionResult
    nsg_ids: list[str]  # the NSGs that applied, subnet first
    missing: list[str]  # NSG ids referenced but absent from the inventory
    subnet_known: bool

    @property
    def has_nsg(self) -> bool:
        return bool(self.nsg_ids)

    @property
    def problems(self) -> list[str]:
        return sorted(set(self.inbound.problems + self.outbound.problems))


def _layer(network: NetworkIndex, ref_id: str | None, direction: str, local: list[str] | None
           ) -> tuple[DirectionResult | None, str | None, bool]:
    """One NSG layer: (result, or None when no NSG applies and everything passes; nsg id applied or None;
    missing?)."""
    if not ref_id:
        return None, None, False
    if norm(ref_id) not in network.nsgs:
        return None, None, True
    got = _loaded(network, ref_id)
    res = _decide(got.ordered(direction), local, ref_id, frozenset(), frozenset())
    res.defaults_assumed = got.assumed
    res.problems = list(got.problems) + res.problems
    return res, ref_id, False


def _through(first: DirectionResult | None, second: DirectionResult | None, direction: str) -> DirectionResult:
    """:func:`combine` of two layers where None is a layer without an NSG (:func:`no_nsg`), without building and
    intersecting the everything-passes layer when only one side has an NSG (a silo subnet without a NIC NSG, at
    every silo). ``combine(x, no_nsg)`` keeps x's openings in x's order, ``combine(no_nsg, x)`` lists them by
    protocol (Tcp, Udp, Icmp), each with its own ports and rules (x's ports are merged and within 0-65535, as
    :func:`_decide` gives them); direction, problems, defaults and NSG ids are x's. ``x`` is a fresh result of
    :func:`_layer`, nobody else's, so it is reordered in place."""
    if first is None and second is None:
        return combine(no_nsg(direction), no_nsg(direction))
    if second is None:  # combine(first, no_nsg): first's openings in first's order
        first.openings = [o for o in first.openings if o.protocol in PROTOCOLS and o.ports]
        return first
    if first is None:  # combine(no_nsg, second): second's openings by protocol
        second.openings = [o for p in PROTOCOLS for o in second.openings if o.protocol == p and o.ports]
        return second
    return combine(first, second)


def effective(network: NetworkIndex, subnet_id: str, nic_id: str | None = None) -> Effective:
    """Effective inbound and outbound Internet exposure of ``subnet_id`` (and ``nic_id`` when given).

    Results are cached on the index (several rules ask about the same subnet); treat them as read-only.
    """
    return memo.keyed(network, "_effective_cache", (norm(subnet_id), norm(nic_id)),
                      lambda: _effective(network, subnet_id, nic_id))


def _effective(network: NetworkIndex, subnet_id: str, nic_id: str | None) -> Effective:
    subnet = network.subnet(subnet_id)
    local = network.subnet_prefixes(subnet_id) or None
    sref = network.subnet_nsg(subnet_id)
    nic = network.nics.get(norm(nic_id)) if nic_id else None
    nref = network.nsg_ref(nic) if nic is not None else None
    results = {}
    applied: list[str] = []
    missing: list[str] = []
    for direction in ("Inbound", "Outbound"):
        s_res, s_id, s_missing = _layer(network, sref.id if sref else None, direction, local)
        n_res, n_id, n_missing = _layer(network, nref.id if nref else None, direction, local)
        if direction == "Inbound":
            results[direction] = _through(s_res, n_res, direction)
        else:
            results[direction] = _through(n_res, s_res, direction)
        for i, m, ref in ((s_id, s_missing, sref), (n_id, n_missing, nref)):
            if i and i not in applied:
                applied.append(i)
            if m and ref and ref.id not in missing:
                missing.append(ref.id)
    for m in missing:
        for res in results.values():
            res.problems.append(f"NSG {m} is referenced but not in the input")
    return Effective(subnet_id, results["Inbound"], results["Outbound"], applied, missing, subnet is not None)


#: Service tags (base, lower case) that, as an outbound destination, reach endpoints any Azure customer can own and
#: write to: an Allow to them lets silo code ship data to an attacker's account even with the Internet denied.
#: Decided per tag from Microsoft's service tag list and the Azure ML exfiltration guide (which names Storage
#: and AzureFrontDoor.Frontend as exfiltration paths, and Entra ID, Resource Manager, Azure Machine Learning
#: and Microsoft Container Registry as destinations without customer write access). Tags that are already
#: the Internet to flaudit (AzureCloud, AppService, AzureFrontDoor.Frontend... see PUBLIC_CLOUD_TAGS) are
#: plain Internet egress and not repeated here. Only ``storage`` can be confined (service endpoint policies
#: cover Microsoft.Storage only).
EXFIL_TAGS: dict[str, str] = {
    "storage": "any customer's storage accounts (blob, file, queue, table, Data Lake Gen2)",
    "azurestorage": "any customer's storage accounts",
    "sql": "any customer's Azure SQL and Synapse servers",
    "sqlmanagement": "any customer's SQL managed instances' management endpoints",
    "mysql": "any customer's Azure Database for MySQL servers",
    "postgresql": "any customer's Azure Database for PostgreSQL servers",
    "azurecosmosdb": "any customer's Cosmos DB accounts",
    "azuredatalake": "any customer's Data Lake Storage Gen1 accounts",
    "eventhub": "any customer's Event Hubs namespaces",
    "servicebus": "any customer's Service Bus namespaces",
    "azurekeyvault": "any customer's key vaults (a secret write carries data)",
    "azurecontainerregistry": "any customer's container registries (an image push carries data)",
    "azuremonitor": "any customer's Log Analytics workspaces and Application Insights ingestion endpoints",
    "azureiothub": "any customer's IoT hubs",
    "azuredigitaltwins": "any customer's Digital Twins instances",
    "azuresignalr": "any customer's SignalR services",
    "azurespringcloud": "any customer's Spring Apps",
    "azuredatabricks": "any customer's Databricks workspaces",
    "azuremachinelearninginference": "any customer's Azure ML online endpoints",
    "cognitiveservicesmanagement": "any customer's Azure AI services resources",
    "azurebackup": "any customer's Recovery Services and Backup vaults",
    "azuresiterecovery": "any customer's Site Recovery vaults",
    "storagesyncservice": "any customer's Storage Sync services",
    "azureautomation": "any customer's Automation accounts (webhooks accept data)",
    "electronicmail": "mail relays (SMTP out of Azure)",
}
#: The bases a service endpoint policy can confine.
CONFINABLE_TAGS = frozenset({"storage", "azurestorage"})
#: Kept for callers that only need the names.
DATA_SERVICE_TAGS = frozenset(EXFIL_TAGS)


def tag_region(value: str) -> str | None:
    """``Storage.WestEurope`` -> ``westeurope``; ``Storage`` -> None (every region)."""
    parts = value.strip().split(".", 1)
    return parts[1].lower().replace(" ", "") if len(parts) == 2 and parts[1] else None


@dataclass(frozen=True)
class TagEgress:
    """Outbound traffic an NSG lets through to one multi-tenant service tag (``Storage.WestEurope``...)."""

    tag: str  # as the rule wrote it
    base: str  # lower-case tag base, a key of EXFIL_TAGS
    region: str | None  # lower case, None for every region
    opening: Opening  # protocol, ports and the rules that allow it

    @property
    def meaning(self) -> str:
        return EXFIL_TAGS.get(self.base, "a multi-tenant service")

    @property
    def confinable(self) -> bool:
        return self.base in CONFINABLE_TAGS


def service_tag_egress(network: NetworkIndex, subnet_id: str, bases: frozenset[str] | None = None,
                       *, through_internet_rules: bool = False) -> list[TagEgress]:
    """Outbound traffic the subnet's NSG lets through to multi-tenant data services (``Storage``, ``Sql``...).

    These tags cover every customer's accounts in Azure, not only the silo's, so an Allow to them is a way
    to ship data out even when the Internet is denied (for Storage, Azure's remedy is a service endpoint
    policy on the subnet). One :class:`TagEgress` per tag value an allowing rule names; openings that only
    plain Internet rules allow are left to the Internet egress question, unless ``through_internet_rules``
    (for service endpoint traffic that bypasses an appliance route: then every allowing rule counts, and a
    subnet without an NSG allows everything). ``bases`` narrows the tags asked about.
    """
    wanted = frozenset(EXFIL_TAGS) if bases is None else bases
    ref = network.subnet_nsg(subnet_id)
    if ref is None or ref.resource is None:
        if not through_internet_rules:
            return []
        return [TagEgress(b, b, None, Opening(",".join(PROTOCOLS), [FULL], [])) for b in sorted(wanted)]
    got = _loaded(network, ref.id)
    outbound = got.ordered("Outbound")
    local = network.subnet_prefixes(subnet_id) or None
    named = sorted(got.allowed_bases() & wanted)
    # Each service is asked about on its own: the evaluator tracks ports, not destinations, so an Allow to
    # Storage on 443 would otherwise hide a later Allow to Sql on 443.
    out: list[TagEgress] = []
    if through_internet_rules:
        for b in sorted(wanted):
            for o in _decide(outbound, local, ref.id, frozenset({b}), frozenset({b})).grouped():
                tags = [v for r in o.rules for v in r.destinations if _tag_base(v) == b]
                out += [TagEgress(v, b, tag_region(v), o) for v in tags] or [TagEgress(b, b, None, o)]
        return out
    for b in named:
        for o in _decide(outbound, local, ref.id, frozenset({b}), frozenset({b})).grouped():
            for r in o.rules:
                out += [TagEgress(v, b, tag_region(v), o) for v in r.destinations if _tag_base(v) == b]
    return out
