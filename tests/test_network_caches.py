"""The memos added to network evaluation for scan speed (issue #14) answer exactly what the uncached code answers.

Each is keyed on everything its answer depends on: NSGs share a parsed "shape" only when their rules have the same
names, defaults and contents in the same payload order (and each NSG still cites its own rules); a subnet's prefixes
and NSG reference, a peering's flags, an endpoint link's status and a storage account's required sub-resources are
worked out once and handed out so that no caller can change another's answer."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flaudit import nsg
from flaudit.arm import get_path
from flaudit.inventory import Inventory
from flaudit.network import NetworkIndex, PrivateEndpointLink
from flaudit.nsg import NsgRule, effective, evaluate, load_rules, parse_rule, service_tag_egress

RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net"
NET = f"{RG}/providers/Microsoft.Network"


def _sr(nsg_id: str, name: str, priority: Any, access: str = "Allow", direction: str = "Inbound", *,
        src: str = "*", dst: str = "*", ports: str = "22", protocol: str = "Tcp") -> dict[str, Any]:
    """A security rule in the REST shape ARM returns (plural fields present and empty)."""
    return {"id": f"{nsg_id}/securityRules/{name}", "name": name, "etag": 'W/"1"',
            "type": "Microsoft.Network/networkSecurityGroups/securityRules",
            "properties": {"provisioningState": "Succeeded", "protocol": protocol, "sourcePortRange": "*",
                           "destinationPortRange": ports, "sourceAddressPrefix": src, "destinationAddressPrefix": dst,
                           "access": access, "priority": priority, "direction": direction,
                           "sourcePortRanges": [], "destinationPortRanges": [], "sourceAddressPrefixes": [],
                           "destinationAddressPrefixes": []}}


def _template_rules(nsg_id: str, subnet_prefix: str) -> list[dict[str, Any]]:
    """A fleet template's rules: Azure ML inbound, an allow to Storage and to Sql, a deny of the Internet, and a
    rule naming the silo's own subnet prefix (so the evaluation depends on the subnet too)."""
    return [
        _sr(nsg_id, "AllowAzureMLInbound", 100, src="AzureMachineLearning", ports="44224"),
        _sr(nsg_id, "AllowSshFromAnywhere", 300, src="Internet", ports="22"),
        _sr(nsg_id, "AllowStorageOutbound", 100, direction="Outbound", src="VirtualNetwork", dst="Storage",
            ports="443"),
        _sr(nsg_id, "AllowSqlOutbound", 110, direction="Outbound", src="VirtualNetwork", dst="Sql.WestEurope",
            ports="443"),
        _sr(nsg_id, "AllowOwnSubnetOutbound", 120, direction="Outbound", src=subnet_prefix, dst="*", ports="8080"),
        _sr(nsg_id, "DenyInternetOutbound", 4000, "Deny", "Outbound", dst="Internet", ports="*", protocol="*"),
    ]


def _nsg(name: str, rules: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": f"{NET}/networkSecurityGroups/{name}", "name": name,
            "type": "Microsoft.Network/networkSecurityGroups", "location": "westeurope",
            "properties": {"provisioningState": "Succeeded", "securityRules": rules}}


def _vnet(i: int, nsg_id: str) -> dict[str, Any]:
    vid = f"{NET}/virtualNetworks/vnet-{i}"
    return {"id": vid, "name": f"vnet-{i}", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": [f"10.{i}.0.0/16"]},
                           "subnets": [{"id": f"{vid}/subnets/snet", "name": "snet",
                                        "properties": {"addressPrefix": f"10.{i}.1.0/24",
                                                       "networkSecurityGroup": {"id": nsg_id}}}]}}


def _variant(i: int, nsg_id: str) -> list[dict[str, Any]]:
    """NSG ``i``'s rules: 0-2 the template as is; then the same rules with one thing changed each: a priority, a
    name, the payload order, a priority written as text, a rule turned Deny. The rule naming an address names
    the same one in each, so the NSGs differ in nothing else (their subnets' prefixes differ)."""
    rules = _template_rules(nsg_id, "10.0.0.0/8")
    if i == 3:
        rules[2]["properties"]["priority"] = 130  # Storage now after Sql and the own-subnet rule
    elif i == 4:
        rules[0]["name"] = "AllowAzureML"
    elif i == 5:
        rules.reverse()
    elif i == 6:
        rules[1]["properties"]["priority"] = "300"
    elif i == 7:
        rules[1]["properties"]["access"] = "Deny"
    return rules


def _fleet(n: int = 8) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        nid = f"{NET}/networkSecurityGroups/nsg-{i}"
        out += [_nsg(f"nsg-{i}", _variant(i, nid)), _vnet(i, nid)]
    return out


def _index(resources: list[dict[str, Any]]) -> NetworkIndex:
    inv = Inventory()
    inv.extend(copy.deepcopy(resources))
    return NetworkIndex(inv)


def _subnet(i: int) -> str:
    return f"{NET}/virtualNetworks/vnet-{i}/subnets/snet"


def _clear_memos() -> None:
    nsg._SHAPES.clear()
    nsg._PARSED.clear()
    nsg._EVALUATED.clear()


def _direction(res: nsg.DirectionResult) -> tuple[Any, ...]:
    return ([(o.protocol, o.ports, [(r.nsg_id, r.name, r.priority, r.default) for r in o.rules]) for o in res.openings],
            [(r.nsg_id, r.name) for r in res.deciding_denies], res.problems, res.nsg_ids, res.defaults_assumed,
            res.direction)


def _answers(network: NetworkIndex, i: int) -> tuple[Any, ...]:
    eff = effective(network, _subnet(i))
    tags = [(t.tag, t.base, t.region, t.opening.protocol, t.opening.ports,
             [(r.nsg_id, r.name) for r in t.opening.rules]) for t in service_tag_egress(network, _subnet(i))]
    through = [(t.tag, t.opening.protocol, t.opening.ports, [(r.nsg_id, r.name) for r in t.opening.rules])
               for t in service_tag_egress(network, _subnet(i), frozenset({"storage", "sql"}),
                                           through_internet_rules=True)]
    return _direction(eff.inbound), _direction(eff.outbound), eff.nsg_ids, tags, through


@pytest.fixture
def fresh_memos():
    saved = (dict(nsg._SHAPES), dict(nsg._PARSED), dict(nsg._EVALUATED))
    _clear_memos()
    yield
    _clear_memos()
    nsg._SHAPES.update(saved[0])
    nsg._PARSED.update(saved[1])
    nsg._EVALUATED.update(saved[2])


def test_each_nsg_of_a_fleet_answers_as_if_it_were_the_only_one_evaluated(fresh_memos):
    resources = _fleet()
    network = _index(resources)
    together = [_answers(network, i) for i in range(8)]
    for i in range(8):
        _clear_memos()  # the NSG is now the first of its shape: nothing shared, everything worked out for it
        alone = _answers(_index(resources), i)
        assert together[i] == alone, i
    nsg_ids = {r.nsg_id for i in range(8) for r in nsg._loaded(network, f"{NET}/networkSecurityGroups/nsg-{i}").rules}
    assert len(nsg_ids) == 8  # every NSG cites its own rules


def test_nsgs_of_one_template_share_a_shape_and_any_difference_gives_another(fresh_memos):
    network = _index(_fleet())
    loaded = [nsg._loaded(network, f"{NET}/networkSecurityGroups/nsg-{i}") for i in range(8)]
    assert loaded[0].shape is loaded[1].shape is loaded[2].shape
    assert len({id(x.shape) for x in loaded[2:]}) == 6  # a priority, a name, the order, "300", Deny: each its own
    assert [r.nsg_id for r in loaded[2].ordered("Outbound").rules] == [f"{NET}/networkSecurityGroups/nsg-2"] * 7


@pytest.mark.parametrize("direction", ["Inbound", "Outbound", "inbound"])
def test_the_processing_order_reused_from_a_shape_is_the_order_sorting_gives(fresh_memos, direction):
    same = _index([_nsg(f"nsg-{i}", _template_rules(f"{NET}/networkSecurityGroups/nsg-{i}", "10.9.9.0/24"))
                   for i in range(2)])
    first, second = (nsg._loaded(same, f"{NET}/networkSecurityGroups/nsg-{i}") for i in range(2))
    first.ordered(direction)  # the first works it out and keeps it on the shape
    reused, sorted_ = second.ordered(direction), nsg._Ordered.of(second.rules, direction)
    assert reused.rules == sorted_.rules and all(a is b for a, b in zip(reused.rules, sorted_.rules, strict=True))
    assert (reused.inbound, reused.contents, reused.names_addresses, reused.mixed) == (
        sorted_.inbound, sorted_.contents, sorted_.names_addresses, sorted_.mixed)


def test_a_rule_built_from_its_contents_shared_dict_equals_one_built_field_by_field():
    raw = _sr(f"{NET}/networkSecurityGroups/nsg-x", "AllowSsh", 200, src="8.0.0.0/7")
    rule, problems = parse_rule(raw, f"{NET}/networkSecurityGroups/nsg-x", default=True)
    fields, _ = nsg._parse_props(raw["properties"])
    plain = NsgRule(f"{NET}/networkSecurityGroups/nsg-x", "AllowSsh", *fields, True)
    assert rule == plain and repr(rule) == repr(plain) and hash(rule) == hash(plain) and problems == []
    assert (rule.allow, rule.names_addresses, rule.content) == (plain.allow, plain.names_addresses, plain.content)
    again, _ = parse_rule(raw, f"{NET}/networkSecurityGroups/nsg-y")
    assert again.nsg_id.endswith("nsg-y") and rule.nsg_id.endswith("nsg-x") and not again.default


def test_problems_of_an_nsg_of_a_shared_shape_name_that_nsg(fresh_memos):
    bad = [_nsg(f"nsg-{i}", [_sr(f"{NET}/networkSecurityGroups/nsg-{i}", "Broken", "high"),
                             _sr(f"{NET}/networkSecurityGroups/nsg-{i}", "Wide", 100, ports="1-99999")])
           for i in range(2)]
    network = _index(bad)
    for i in range(2):
        nid = f"{NET}/networkSecurityGroups/nsg-{i}"
        rules, assumed, problems = load_rules(network, nid)
        assert problems == [f"NSG {nid} rule Broken: priority 'high' is not a number",
                            f"NSG {nid} rule Wide: port range '1-99999' is outside 0-65535"]
        assert assumed and [r.name for r in rules][:1] == ["Wide"] and {r.nsg_id for r in rules} == {nid}


def test_load_rules_hands_out_lists_no_caller_can_change_for_another(fresh_memos):
    network = _index(_fleet(1))
    nid = f"{NET}/networkSecurityGroups/nsg-0"
    rules, _, problems = load_rules(network, nid)
    before = _answers(network, 0)
    rules.clear()
    problems.append("changed")
    network.__dict__.pop("_effective_cache", None)
    assert _answers(network, 0) == before and len(load_rules(network, nid)[0]) == 12
    assert evaluate(load_rules(network, nid)[0], "Outbound", ["10.0.1.0/24"], nid).openings == \
        effective(network, _subnet(0)).outbound.openings


def test_subnet_prefixes_and_nsg_reference_are_what_the_subnet_payload_says():
    network = _index(_fleet(2))
    for i in range(2):
        sid = _subnet(i)
        got = network.subnet_prefixes(sid)
        assert got == [f"10.{i}.1.0/24"] and network.subnet_prefixes(sid.upper()) == got
        got.append("0.0.0.0/0")  # the caller's own list
        assert network.subnet_prefixes(sid) == [f"10.{i}.1.0/24"]
        ref = network.subnet_nsg(sid)
        plain = network.nsg_ref(network.subnet(sid))
        assert (ref.id, ref.resource, ref.well_formed) == (plain.id, plain.resource, plain.well_formed)
    missing = f"{NET}/virtualNetworks/vnet-9/subnets/snet"
    assert network.subnet_prefixes(missing) is None and network.subnet_nsg(missing) is None


def test_a_peering_flag_is_the_payload_value_and_a_missing_one_the_callers_default():
    peering = {"id": f"{NET}/virtualNetworks/vnet-0/virtualNetworkPeerings/p", "name": "p",
               "properties": {"peeringState": "Connected", "allowForwardedTraffic": None,
                              "AllowGatewayTransit": True,
                              "remoteVirtualNetwork": {"id": f"{NET}/virtualNetworks/vnet-1"}}}
    vnet = _vnet(0, f"{NET}/networkSecurityGroups/nsg-0")
    vnet["properties"]["virtualNetworkPeerings"] = [peering]
    p = _index([vnet]).peerings_of(f"{NET}/virtualNetworks/vnet-0")[0]
    for _ in range(2):  # asked again: the memo answers the same
        assert p.prop("allowForwardedTraffic", "dflt") is None  # present and null is not missing
        assert p.prop("allowGatewayTransit") is True  # matched case-insensitively, as get_path does
        assert p.prop("useRemoteGateways") is None and p.prop("useRemoteGateways", False) is False
        assert p.prop("remoteVirtualNetwork.id") == get_path(peering, "properties.remoteVirtualNetwork.id")
        assert p.remote_display == f"{NET}/virtualNetworks/vnet-1"


def test_an_endpoint_links_status_follows_a_later_change_of_either_side():
    pe = {"id": f"{NET}/privateEndpoints/pe", "properties": {"provisioningState": "Succeeded"}}
    link = PrivateEndpointLink(pe["id"], "/x", ["blob"], None, "Approved", None, pe)
    assert link.status == "Approved" and link.approved
    link.target_status = "Pending"  # the index fills the target's side in after creating the link
    assert link.status == "Pending" and not link.approved
    link.pe_status = "Rejected"
    assert link.status == "Pending"  # the target's side is read first
    link.target_status = "Approved"
    assert link.status == "Rejected"
    link.pe = {"id": pe["id"], "properties": {"provisioningState": "Failed"}}
    assert link.status == "Failed"


def test_required_groups_of_an_account_are_worked_out_for_that_account():
    from flaudit.rules.private_endpoints import _required_groups, required_groups

    from flaudit.model import StorageAccount

    class _D:  # what required_groups reads of a deployment: its inventory (no datastores here)
        inventory = Inventory()

    d = _D()
    hns, flat = (StorageAccount(f"{RG}/providers/Microsoft.Storage/storageAccounts/{n}", n,
                                {"id": f"{RG}/providers/Microsoft.Storage/storageAccounts/{n}", "name": n,
                                 "properties": {"isHnsEnabled": on}}) for n, on in (("sthns", True), ("stflat", False)))
    for _ in range(2):
        assert required_groups(d, hns) == _required_groups(d, hns) == ["blob", "dfs"]
        assert required_groups(d, flat) == _required_groups(d, flat) == ["blob"]
    required_groups(d, hns).append("file")  # the caller's own list
    assert required_groups(d, hns) == ["blob", "dfs"]


def test_a_rule_among_the_default_rules_stays_a_default_rule_whatever_another_nsg_lists(fresh_memos):
    from flaudit.network import azure_default_rules

    own = f"{NET}/networkSecurityGroups/nsg-own"
    listed = f"{NET}/networkSecurityGroups/nsg-listed"
    first, second = _sr(own, "AllowSsh", 65000, src="Internet"), _sr(own, "AllowHttps", 65000, src="Internet",
                                                                      ports="443")
    # nsg-own: both rules its own, Azure's defaults assumed; nsg-listed: the second among its default rules
    own_nsg = _nsg("nsg-own", [first, second])
    listed_nsg = _nsg("nsg-listed", [copy.deepcopy(first)])
    listed_nsg["properties"]["defaultSecurityRules"] = [copy.deepcopy(second)] + azure_default_rules(listed)
    network = _index([own_nsg, listed_nsg])
    got = {n: {r.name: r.default for r in nsg._loaded(network, n).rules} for n in (own, listed)}
    assert got[own]["AllowHttps"] is False and got[listed]["AllowHttps"] is True
    # at one priority a custom rule comes before a default one, then names decide
    assert [r.name for r in nsg._loaded(network, own).ordered("Inbound").rules][:3] == [
        "AllowHttps", "AllowSsh", "AllowVnetInBound"]
    assert [r.name for r in nsg._loaded(network, listed).ordered("Inbound").rules][:3] == [
        "AllowSsh", "AllowHttps", "AllowVnetInBound"]


def test_rule_values_the_serialisation_cannot_write_are_keyed_by_their_text_and_parsed_as_written():
    class Port(str):  # a str subclass, as a non-JSON source might hand over
        pass

    nid = f"{NET}/networkSecurityGroups/nsg-x"
    odd = _sr(nid, "Odd", 100, ports=Port("8080"))
    plain = _sr(nid, "Odd", 100, ports="8080")
    _, _, odd_key = nsg._rule_key(odd)
    _, _, plain_key = nsg._rule_key(plain)
    assert isinstance(odd_key, str) and isinstance(plain_key, bytes)
    assert parse_rule(odd, nid) == parse_rule(plain, nid)
    assert parse_rule(odd, nid)[0].destination_ports == ((8080, 8080),)
    one, true = (nsg._rule_key(_sr(nid, "R", v))[2] for v in (1, True))
    assert one != true and nsg._rule_key(_sr(nid, "R", 1))[2] == one


def _deployment(n: int = 3):
    from flaudit.config import parse_config
    from flaudit.samples import generate
    from flaudit.topology import build_deployment

    inv = Inventory()
    inv.extend(generate.Builder("hardened", n).build())
    inv.collected = {(generate.rg_id().lower(), t) for t in generate.COLLECTED_TYPES}
    return build_deployment(inv, parse_config(generate.fl_config(n), "test"))


def test_a_computes_cached_placements_are_what_its_payload_gives_and_the_rules_and_producer_share_them():
    from flaudit.rules._shared import placements_of as rules_placements_of

    from flaudit.model import Compute
    from flaudit.network import compute_placements, placements_of

    d = _deployment()
    computes = [c for s in d.silos for c in s.computes] + list(d.orchestrator.computes)
    assert len(computes) >= 4
    for c in computes:
        got = placements_of(d, c)
        assert got == compute_placements(c, d.inventory)
        assert rules_placements_of(d, c) is got and placements_of(d, c) is got
    # another compute object whose payload names no ARM subnet id: its own entry, never the first one's
    raw = copy.deepcopy(computes[0].raw)
    raw["properties"]["properties"]["subnet"]["id"] = "test-subnet-resource-id"
    twin = Compute(computes[0].id, computes[0].name, raw)
    assert placements_of(d, twin) == compute_placements(twin, d.inventory) != placements_of(d, computes[0])
    assert [p.kind for p in placements_of(d, twin)] == ["unknown"]


def test_a_silos_cached_compute_vnets_are_the_vnets_of_its_compute_subnets():
    from flaudit.rules.network_isolation import _silo_vnets

    from flaudit.network import vnet_of

    d = _deployment()
    for s in d.silos:
        assert _silo_vnets(d, s) == sorted({vnet_of(sid) for c in s.computes for sid in c.subnet_ids})
        assert _silo_vnets(d, s) is _silo_vnets(d, s)
    other = copy.copy(d.silos[0])
    other.computes = []
    assert _silo_vnets(d, other) == [] and _silo_vnets(d, d.silos[0]) != []


def _layered(network: NetworkIndex, subnet: str, nic: str | None) -> tuple[Any, ...]:
    """The effective exposure worked out the long way: every layer evaluated (a missing one is :func:`no_nsg`),
    then :func:`combine` in Azure's order."""
    local = network.subnet_prefixes(subnet) or None
    refs = [network.subnet_nsg(subnet), network.nsg_ref(network.nics.get(nic.lower())) if nic else None]
    out = []
    for direction in ("Inbound", "Outbound"):
        layers = []
        for ref in refs:
            if ref is None or ref.resource is None:
                layers.append(nsg.no_nsg(direction))
                continue
            rules, assumed, problems = load_rules(network, ref.id)
            res = evaluate(rules, direction, local, ref.id)
            res.defaults_assumed, res.problems = assumed, problems + res.problems
            layers.append(res)
        combined = nsg.combine(*(layers if direction == "Inbound" else layers[::-1]))
        for gone in dict.fromkeys(r.id for r in refs if r is not None and r.resource is None):
            combined.problems.append(f"NSG {gone} is referenced but not in the input")
        out.append(_direction(combined))
    return tuple(out)


@pytest.mark.parametrize("nic_nsg", [None, "nsg-nic", "nsg-gone"])
@pytest.mark.parametrize("subnet_nsg", [None, "nsg-0", "nsg-5", "nsg-nic", "nsg-gone"])
def test_the_effective_exposure_of_one_nsg_layer_is_what_combining_it_with_an_open_layer_gives(subnet_nsg, nic_nsg):
    resources = _fleet()
    nid = lambda n: f"{NET}/networkSecurityGroups/{n}"  # noqa: E731
    nic_rules = [_sr(nid("nsg-nic"), "AllowRdp", 100, src="Internet", ports="3389"),
                 _sr(nid("nsg-nic"), "AllowUdp", 110, src="*", ports="53", protocol="Udp"),
                 _sr(nid("nsg-nic"), "AllowDnsOut", 100, direction="Outbound", dst="Internet", ports="53",
                     protocol="Udp"),
                 _sr(nid("nsg-nic"), "AllowHttpsOut", 110, direction="Outbound", dst="Internet", ports="443"),
                 _sr(nid("nsg-nic"), "DenyAll", 4000, "Deny", "Outbound", dst="*", ports="*", protocol="*")]
    resources.append(_nsg("nsg-nic", nic_rules))
    vnet = resources[1]
    subnet = vnet["properties"]["subnets"][0]
    if subnet_nsg is None:
        del subnet["properties"]["networkSecurityGroup"]
    else:
        subnet["properties"]["networkSecurityGroup"] = {"id": nid(subnet_nsg)}
    nic = f"{NET}/networkInterfaces/nic-0"
    nic_props: dict[str, Any] = {"ipConfigurations": [{"id": f"{nic}/ipConfigurations/ipconfig1", "name": "ipconfig1",
                                                       "properties": {"subnet": {"id": _subnet(0)}}}]}
    if nic_nsg:
        nic_props["networkSecurityGroup"] = {"id": nid(nic_nsg)}
    resources.append({"id": nic, "name": "nic-0", "type": "Microsoft.Network/networkInterfaces",
                      "location": "westeurope", "properties": nic_props})
    network = _index(resources)
    for with_nic in (None, nic):
        eff = effective(network, _subnet(0), with_nic)
        assert (_direction(eff.inbound), _direction(eff.outbound)) == _layered(network, _subnet(0), with_nic)


@pytest.mark.parametrize("url", [
    "https://stsilo0.blob.core.windows.net/", "https://StSilo0.BLOB.core.windows.net", "https://a.b.c//",
    "https://a.b.c/x", "https://a..b/", "https://a.b.c:443/", "https://u@a.b/", "http://a.b/", "https://a.b/\n",
    "https://a.b.c.", "HTTPS://a.b.c/", "https:///", "https://[::1]/", "https://a.b\t.c/", "https://a.b.c/?",
    " https://a.b.c/", "https://st.blob.core.chinacloudapi.cn/", "https://st.dfs.core.windows.net/#x", "",
])
def test_an_endpoint_urls_host_is_what_urlparse_reads(url):
    from urllib.parse import urlparse

    from flaudit.rules.private_endpoints import _hostname

    assert _hostname(url) == urlparse(url).hostname


def test_an_nsgs_loaded_rules_are_the_rules_parse_rule_gives_for_its_payload(fresh_memos):
    from flaudit.network import azure_default_rules

    resources = _fleet()
    network = _index(resources)
    for i in range(8):
        nid = f"{NET}/networkSecurityGroups/nsg-{i}"
        payload = [(r, False) for r in _variant(i, nid)] + [(r, True) for r in azure_default_rules(nid)]
        expected = [parse_rule(r, nid, default=dflt)[0] for r, dflt in payload]
        for _ in range(2):  # the first NSG of a shape, and one built from the shape
            got = nsg._load_rules(network, nid).rules
            assert list(got) == expected
            assert [(r.nsg_id, r.name, r.default, r.allow, r.names_addresses) for r in got] == \
                [(r.nsg_id, r.name, r.default, r.allow, r.names_addresses) for r in expected]
            assert list(got[0].__dict__)[:3] == ["nsg_id", "name", "priority"]


def test_prefix_overlap_by_integer_ranges_is_what_ipaddress_answers():
    import ipaddress
    import itertools

    from flaudit.network import overlaps

    prefixes = ["10.0.0.0/8", "10.0.0.0/16", "10.0.1.0/24", "10.0.1.128/25", "10.0.2.0/24", "10.1.0.0/16",
                "10.255.255.255/32", "11.0.0.0/8", "0.0.0.0/0", "192.168.0.0/16", "10.0.1.7/24", "fd00::/8",
                "fd00:1::/32", "fe80::/10", "::/0", "2001:db8::/128", "2001:db8::1/64"]
    for x, y in itertools.product(prefixes, repeat=2):
        nx, ny = ipaddress.ip_network(x, strict=False), ipaddress.ip_network(y, strict=False)
        expected = [(str(nx), str(ny))] if nx.version == ny.version and nx.overlaps(ny) else []
        assert overlaps([x], [y]) == expected, (x, y)
