"""The network index: both ARM shapes (inline and child resources), peering reach, CIDR overlap, private
endpoints seen from both sides, private DNS, routes and Azure ML compute placement."""

from __future__ import annotations

from typing import Any

from flaudit.inventory import Inventory
from flaudit.model import Compute
from flaudit.network import NetworkIndex, compute_placements, managed_private_endpoint_rules, overlaps

RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net"
NET = f"{RG}/providers/Microsoft.Network"
ST = f"{RG}/providers/Microsoft.Storage/storageAccounts/stsilo0"


def vnet(name: str, prefix: str, *, subnets: list[str] | None = None, peerings: list[dict] | None = None
         ) -> dict[str, Any]:
    vid = f"{NET}/virtualNetworks/{name}"
    return {"id": vid, "name": name, "type": "Microsoft.Network/virtualNetworks", "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": [prefix]},
                           "subnets": [{"id": f"{vid}/subnets/{s}", "name": s,
                                        "properties": {"addressPrefix": prefix}} for s in (subnets or ["default"])],
                           "virtualNetworkPeerings": peerings or []}}


def peering(src: str, dst: str, state: str = "Connected", remote_prefix: str | None = None, **flags: Any
            ) -> dict[str, Any]:
    props: dict[str, Any] = {"peeringState": state, "remoteVirtualNetwork": {"id": f"{NET}/virtualNetworks/{dst}"},
                             "allowVirtualNetworkAccess": True, "allowForwardedTraffic": False,
                             "allowGatewayTransit": False, "useRemoteGateways": False, **flags}
    if remote_prefix:
        props["remoteAddressSpace"] = {"addressPrefixes": [remote_prefix]}
    return {"id": f"{NET}/virtualNetworks/{src}/virtualNetworkPeerings/{src}-to-{dst}", "name": f"{src}-to-{dst}",
            "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings", "properties": props}


def index(*resources: dict[str, Any]) -> NetworkIndex:
    inv = Inventory()
    inv.extend(resources)
    return NetworkIndex(inv)


def vid(name: str) -> str:
    return f"{NET}/virtualNetworks/{name}"


# -- VNets and subnets -------------------------------------------------------------------------------------
def test_inline_and_separate_subnets_are_indexed_case_insensitively():
    sep = {"id": f"{vid('vnet-a')}/subnets/pe", "name": "pe", "type": "Microsoft.Network/virtualNetworks/subnets",
           "properties": {"addressPrefix": "10.0.1.0/24", "networkSecurityGroup": {"id": f"{NET}/networkSecurityGroups/n"}}}
    idx = index(vnet("vnet-a", "10.0.0.0/16"), sep)
    assert idx.subnet(f"{vid('vnet-a')}/subnets/DEFAULT".upper()) is not None
    assert idx.subnet_prefixes(sep["id"]) == ["10.0.1.0/24"]
    assert idx.subnet_nsg(sep["id"]).resource is None  # referenced, not in the input


def test_separate_subnet_resource_wins_over_the_inline_copy():
    v = vnet("vnet-a", "10.0.0.0/16")
    sep = {"id": f"{vid('vnet-a')}/subnets/default", "name": "default",
           "type": "Microsoft.Network/virtualNetworks/subnets",
           "properties": {"addressPrefixes": ["10.0.0.0/24", "10.0.9.0/24"]}}
    idx = index(v, sep)
    assert idx.subnet_prefixes(sep["id"]) == ["10.0.0.0/24", "10.0.9.0/24"]


# -- peering reach -------------------------------------------------------------------------------------------
def test_same_vnet_is_reachable():
    idx = index(vnet("vnet-a", "10.0.0.0/16", subnets=["x", "y"]))
    r = idx.reach(f"{vid('vnet-a')}/subnets/x", f"{vid('vnet-a')}/subnets/y")
    assert r.result == "yes" and r.how == "same-vnet"


def test_connected_peering_on_both_sides_is_reachable():
    idx = index(vnet("vnet-a", "10.0.0.0/16", peerings=[peering("vnet-a", "vnet-b")]),
                vnet("vnet-b", "10.1.0.0/16", peerings=[peering("vnet-b", "vnet-a")]))
    r = idx.reach(f"{vid('vnet-a')}/subnets/default", vid("vnet-b"))
    assert r.result == "yes" and r.how == "peering" and len(r.peerings) == 2
    assert idx.reachable(vid("vnet-b"), vid("vnet-a"))


def test_peering_initiated_on_one_side_is_not_reachable():
    idx = index(vnet("vnet-a", "10.0.0.0/16", peerings=[peering("vnet-a", "vnet-b", "Initiated")]),
                vnet("vnet-b", "10.1.0.0/16"))
    assert idx.reach(vid("vnet-a"), vid("vnet-b")).result == "no"


def test_connected_on_the_side_read_counts_when_the_other_vnet_is_not_in_the_input():
    idx = index(vnet("vnet-a", "10.0.0.0/16", peerings=[peering("vnet-a", "vnet-remote")]))
    assert idx.reach(vid("vnet-remote"), vid("vnet-a")).result == "yes"


def test_one_side_connected_and_the_other_disconnected_is_not_reachable():
    idx = index(vnet("vnet-a", "10.0.0.0/16", peerings=[peering("vnet-a", "vnet-b")]),
                vnet("vnet-b", "10.1.0.0/16", peerings=[peering("vnet-b", "vnet-a", "Disconnected")]))
    assert idx.reach(vid("vnet-a"), vid("vnet-b")).result == "no"


def test_no_peering_is_not_reachable_and_unread_vnets_are_unknown():
    idx = index(vnet("vnet-a", "10.0.0.0/16"), vnet("vnet-b", "10.1.0.0/16"))
    assert idx.reach(vid("vnet-a"), vid("vnet-b")).result == "no"
    assert idx.reach(vid("vnet-x"), vid("vnet-y")).result == "unknown"


def test_peering_is_not_transitive():
    idx = index(vnet("hub", "10.0.0.0/16", peerings=[peering("hub", "a"), peering("hub", "b")]),
                vnet("a", "10.1.0.0/16", peerings=[peering("a", "hub")]),
                vnet("b", "10.2.0.0/16", peerings=[peering("b", "hub")]))
    assert idx.reach(vid("a"), vid("b")).result == "no"


def test_separate_peering_resources_are_read():
    idx = index(vnet("vnet-a", "10.0.0.0/16"), vnet("vnet-b", "10.1.0.0/16"),
                peering("vnet-a", "vnet-b"), peering("vnet-b", "vnet-a"))
    assert idx.reach(vid("vnet-a"), vid("vnet-b")).result == "yes"
    assert len(idx.peerings_of(vid("vnet-a"))) == 1


# -- address overlap ----------------------------------------------------------------------------------------
def test_address_overlap_uses_cidr_arithmetic():
    assert overlaps(["10.0.0.0/16"], ["10.0.128.0/17"]) == [("10.0.0.0/16", "10.0.128.0/17")]
    assert overlaps(["10.0.0.0/16"], ["10.1.0.0/16"]) == []
    assert overlaps(["10.0.0.0/8"], ["fd00::/8"]) == []


def test_overlap_falls_back_to_the_peerings_remote_address_space_and_is_none_when_unknown():
    idx = index(vnet("vnet-a", "10.0.0.0/16",
                     peerings=[peering("vnet-a", "vnet-remote", remote_prefix="10.0.5.0/24")]))
    assert idx.address_overlap(vid("vnet-a"), vid("vnet-remote")) == [("10.0.0.0/16", "10.0.5.0/24")]
    assert idx.address_overlap(vid("vnet-a"), vid("vnet-nowhere")) is None


def test_overlap_asked_in_both_orders_lists_each_order_as_asked_and_answers_unknown_and_none_alike():
    idx = index(vnet("vnet-a", "10.0.0.0/16"), vnet("vnet-b", "10.0.128.0/17"), vnet("vnet-c", "10.9.0.0/16"))
    a, b, c = vid("vnet-a"), vid("vnet-b"), vid("vnet-c")
    assert idx.address_overlap(a, b) == [("10.0.0.0/16", "10.0.128.0/17")]
    assert idx.address_overlap(f"{b}/subnets/default", a) == [("10.0.128.0/17", "10.0.0.0/16")]
    assert idx.address_overlap(a, c) == [] and idx.address_overlap(c, a) == []
    assert idx.address_overlap(a, vid("vnet-nowhere")) is None and idx.address_overlap(vid("vnet-nowhere"), a) is None
    got = idx.address_overlap(a, b)
    got.append(("x", "y"))  # a caller's list is its own
    assert idx.address_overlap(a, b) == [("10.0.0.0/16", "10.0.128.0/17")]


# -- private endpoints ------------------------------------------------------------------------------------------
def pe(name: str, subnet: str, target: str, group: str, status: str = "Approved", manual: bool = False
       ) -> dict[str, Any]:
    conn = {"name": name, "properties": {"privateLinkServiceId": target, "groupIds": [group],
                                         "privateLinkServiceConnectionState": {"status": status}}}
    return {"id": f"{NET}/privateEndpoints/{name}", "name": name, "type": "Microsoft.Network/privateEndpoints",
            "properties": {"subnet": {"id": subnet},
                           "privateLinkServiceConnections": [] if manual else [conn],
                           "manualPrivateLinkServiceConnections": [conn] if manual else []}}


def storage(conns: list[tuple[str, str]] | None = None) -> dict[str, Any]:
    return {"id": ST, "name": "stsilo0", "type": "Microsoft.Storage/storageAccounts",
            "properties": {"privateEndpointConnections": [
                {"id": f"{ST}/privateEndpointConnections/{n}", "name": n,
                 "properties": {"privateEndpoint": {"id": f"{NET}/privateEndpoints/{n}"},
                                "privateLinkServiceConnectionState": {"status": s}}} for n, s in (conns or [])]}}


def test_private_endpoint_indexed_by_target_with_both_sides_state():
    sub = f"{vid('vnet-a')}/subnets/default"
    idx = index(vnet("vnet-a", "10.0.0.0/16"), pe("pe1", sub, ST, "blob"), storage([("pe1", "Approved")]))
    [link] = idx.private_endpoints_for(ST.upper())
    assert (link.pe_status, link.target_status, link.status, link.approved) == ("Approved", "Approved", "Approved", True)
    assert link.has_group("BLOB") and link.vnet_id == vid("vnet-a").lower()


def test_disagreeing_states_take_the_non_approved_one():
    idx = index(pe("pe1", "x", ST, "blob", "Approved"), storage([("pe1", "Pending")]))
    [link] = idx.private_endpoints_for(ST)
    assert link.status == "Pending" and not link.approved


def test_manual_connections_and_target_only_connections_are_indexed():
    idx = index(pe("pe-manual", "x", ST, "blob", "Pending", manual=True), storage([("pe-other", "Approved")]))
    links = {lk.pe_id.rsplit("/", 1)[1]: lk for lk in idx.private_endpoints_for(ST)}
    assert links["pe-manual"].manual and links["pe-manual"].status == "Pending"
    assert links["pe-other"].group_ids == [] and links["pe-other"].status == "Approved"
    assert links["pe-other"].pe is None


def test_separate_storage_private_endpoint_connection_resources_are_read():
    conn = {"id": f"{ST}/privateEndpointConnections/c1", "name": "c1",
            "type": "Microsoft.Storage/storageAccounts/privateEndpointConnections",
            "properties": {"privateEndpoint": {"id": f"{NET}/privateEndpoints/pe1"},
                           "privateLinkServiceConnectionState": {"status": "Rejected"}}}
    idx = index(pe("pe1", "x", ST, "blob", "Approved"), conn)
    assert idx.private_endpoints_for(ST)[0].status == "Rejected"


# -- private DNS, routes ----------------------------------------------------------------------------------------
def test_private_dns_zone_links_and_a_records():
    zid = f"{NET}/privateDnsZones/privatelink.blob.core.windows.net"
    idx = index({"id": zid, "name": "privatelink.blob.core.windows.net", "type": "Microsoft.Network/privateDnsZones"},
                {"id": f"{zid}/virtualNetworkLinks/l1", "name": "l1",
                 "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
                 "properties": {"virtualNetwork": {"id": vid("vnet-a")}}},
                {"id": f"{zid}/A/stsilo0", "name": "stsilo0", "type": "Microsoft.Network/privateDnsZones/A",
                 "properties": {"aRecords": [{"ipv4Address": "10.0.0.4"}]}})
    [zone] = idx.zones_named("PrivateLink.Blob.Core.Windows.Net")
    assert list(idx.zone_linked_vnets(zone["id"])) == [vid("vnet-a").lower()]
    assert idx.a_records(zone["id"]) == {"stsilo0": ["10.0.0.4"]}


def test_route_table_inline_and_separate_routes():
    rt = f"{NET}/routeTables/rt"
    v = vnet("vnet-a", "10.0.0.0/16")
    v["properties"]["subnets"][0]["properties"]["routeTable"] = {"id": rt}
    idx = index(v, {"id": rt, "name": "rt", "type": "Microsoft.Network/routeTables",
                    "properties": {"routes": [{"name": "a", "properties": {"addressPrefix": "1.0.0.0/8",
                                                                           "nextHopType": "Internet"}}]}},
                {"id": f"{rt}/routes/default", "name": "default", "type": "Microsoft.Network/routeTables/routes",
                 "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance",
                                "nextHopIpAddress": "10.0.0.4"}})
    ref = idx.subnet_route_table(f"{vid('vnet-a')}/subnets/default")
    assert ref is not None and ref.resource is not None
    assert sorted(r["name"] for r in idx.routes(rt)) == ["a", "default"]


def test_default_rules_are_assumed_only_when_the_payload_lacks_them():
    nid = f"{NET}/networkSecurityGroups/n"
    idx = index({"id": nid, "name": "n", "type": "Microsoft.Network/networkSecurityGroups",
                 "properties": {"securityRules": []}})
    _, defaults, assumed = idx.nsg_rules(nid)
    assert assumed and [r["name"] for r in defaults][:3] == ["AllowVnetInBound", "AllowAzureLoadBalancerInBound",
                                                            "DenyAllInBound"]


# -- Azure ML placement -------------------------------------------------------------------------------------------
WS = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws"


def _compute(subnet: str | None) -> Compute:
    inner = {"subnet": {"id": subnet}} if subnet else {}
    return Compute(f"{WS}/computes/c1", "c1", {"properties": {"computeType": "AmlCompute", "properties": inner}})


def _ws(mode: str | None, rules: Any = None) -> dict[str, Any]:
    mn: dict[str, Any] = {}
    if mode:
        mn["isolationMode"] = mode
    if rules is not None:
        mn["outboundRules"] = rules
    return {"id": WS, "name": "ws", "type": "Microsoft.MachineLearningServices/workspaces",
            "properties": {"managedNetwork": mn}}


def test_compute_placement_subnet_managed_none_unknown():
    def placement(c, inv):
        [p] = compute_placements(c, inv)
        return p

    inv = Inventory()
    assert placement(_compute(f"{vid('a')}/subnets/s"), inv).kind == "vnet"
    assert placement(_compute(None), inv).kind == "unknown"
    inv.extend([_ws("AllowOnlyApprovedOutbound")])
    assert placement(_compute(None), inv).kind == "managed"
    inv2 = Inventory()
    inv2.extend([_ws(None)])
    p = placement(_compute(None), inv2)
    assert p.kind == "none" and p.isolation_mode == "Disabled" and p.mode_default_assumed


def test_managed_private_endpoint_outbound_rules_match_target_and_subresource():
    rules = {"silo0-blob": {"type": "PrivateEndpoint", "status": "Active", "category": "UserDefined",
                            "destination": {"serviceResourceId": ST.upper(), "subresourceTarget": "blob"}},
             "pypi": {"type": "FQDN", "destination": "pypi.org"}}
    assert [n for n, _ in managed_private_endpoint_rules(_ws("AllowOnlyApprovedOutbound", rules), ST, "blob")] == \
        ["silo0-blob"]
    assert managed_private_endpoint_rules(_ws("AllowOnlyApprovedOutbound", rules), ST, "dfs") == []


def test_unreadable_peerings_make_reach_unknown_instead_of_no():
    from flaudit.inventory import Unreadable

    inv = Inventory()
    inv.extend([vnet("vnet-a", "10.0.0.0/16"), vnet("vnet-b", "10.1.0.0/16")])
    inv.unreadable.append(Unreadable(RG, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings", 403, "denied"))
    assert NetworkIndex(inv).reach(vid("vnet-a"), vid("vnet-b")).result == "unknown"


def test_a_peering_without_peering_state_is_unknown_not_unreachable():
    from flaudit.inventory import Inventory
    from flaudit.network import NetworkIndex

    def vnet(name, prefix, remote):
        vid = f"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/{name}"
        return {"id": vid, "name": name, "type": "Microsoft.Network/virtualNetworks",
                "properties": {"addressSpace": {"addressPrefixes": [prefix]}, "subnets": [],
                               "virtualNetworkPeerings": [{
                                   "id": f"{vid}/virtualNetworkPeerings/p", "name": "p",
                                   "properties": {"remoteVirtualNetwork": {"id": remote}}}]}}

    base = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/"
    inv = Inventory()
    inv.extend([vnet("a", "10.1.0.0/16", base + "b"), vnet("b", "10.2.0.0/16", base + "a")])
    reach = NetworkIndex(inv).reach(base + "a", base + "b")
    assert reach.result == "unknown" and "peeringState" in reach.how


def test_a_peering_property_reads_as_get_path_from_the_payload_does():
    from flaudit.arm import get_path
    from flaudit.network import Peering

    for raw in ({"properties": {"peeringState": "Connected", "Remote": {"id": "x"}}}, {"Properties": {"peeringState": 1}},
                {"properties": None}, {}, {"properties": {"remote": None}}):
        p = Peering("id", "v", "r", "", raw)
        for name in ("peeringState", "remote.id", "remote", "missing"):
            assert p.prop(name, "dflt") == get_path(raw, f"properties.{name}", "dflt"), (raw, name)
