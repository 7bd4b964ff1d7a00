"""NSG perturbations that must never pass: plural fields mixing private and public prefixes, odd port syntax,
numeric ports and priorities, ``*`` in plural port ranges, IPv6, case variants, separate rule resources, a
dual-stack subnet behind an IPv4-only Deny, and egress openings above the Internet deny. Each adds one rule to
silo1's NSG in the hardened sample, which otherwise passes FL-NET-004/005."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.adversarial.common import not_passing, nsg, security_rule
from tests.support import audit, by_name, sample_resources, statuses

IN, OUT = "Inbound", "Outbound"


def _with(*rules: dict[str, Any]) -> list[dict[str, Any]]:
    res = sample_resources()
    nsg(res, "nsg-silo1")["properties"]["securityRules"].extend(copy.deepcopy(list(rules)))
    return res


@pytest.mark.parametrize("rule", [
    security_rule("plural-mixed", 200, IN, "Allow", sourceAddressPrefix="",
                  sourceAddressPrefixes=["10.0.0.0/8", "0.0.0.0/1"], destinationPortRange="22"),
    security_rule("plural-star-ports", 200, IN, "Allow", sourceAddressPrefix="Internet", destinationPortRange="",
                  destinationPortRanges=["*"]),
    security_rule("ipv6-any", 200, IN, "Allow", sourceAddressPrefix="::/0", destinationPortRange="443"),
    security_rule("priority-text", "200", IN, "Allow", sourceAddressPrefix="Internet", destinationPortRange="443"),
    security_rule("lower-tag", 200, IN, "Allow", sourceAddressPrefix="internet", destinationPortRange="443"),
    security_rule("lower-enums", 200, "inbound", "allow", sourceAddressPrefix="Internet", destinationPortRange="443"),
    security_rule("upper-protocol", 200, IN, "Allow", sourceAddressPrefix="Internet", protocol="TCP",
                  destinationPortRange="22"),
    security_rule("numeric-port", 200, IN, "Allow", sourceAddressPrefix="Internet", destinationPortRange=22),
    security_rule("space-in-tag", 200, IN, "Allow", sourceAddressPrefix="Internet ", destinationPortRange="22"),
    security_rule("azurecloud-region", 200, IN, "Allow", sourceAddressPrefix="AzureCloud.WestEurope",
                  destinationPortRange="22"),
    security_rule("typo-tag", 200, IN, "Allow", sourceAddressPrefix="Interent", destinationPortRange="22"),
    security_rule("public-to-plural-subnet", 200, IN, "Allow", sourceAddressPrefix="0.0.0.0/0",
                  destinationAddressPrefix="", destinationAddressPrefixes=["10.100.2.0/25"], destinationPortRange="22"),
], ids=lambda r: r["name"])
def test_inbound_allow_variants_expose_the_subnet(rule):
    not_passing(audit(_with(rule)), "FL-NET-004", "silo1")


@pytest.mark.parametrize("rule", [
    security_rule("port-list-in-one-string", 200, IN, "Allow", sourceAddressPrefix="Internet",
                  destinationPortRange="20-30,443"),
    security_rule("no-priority", None, IN, "Allow", sourceAddressPrefix="Internet", destinationPortRange="443"),
    security_rule("protocol-all", 200, IN, "Allow", sourceAddressPrefix="Internet", protocol="All",
                  destinationPortRange="22"),
    security_rule("dict-port", 200, IN, "Allow", sourceAddressPrefix="Internet", destinationPortRange={"from": 22}),
], ids=lambda r: r["name"])
def test_inbound_rules_not_understood_are_unknown(rule):
    assert not_passing(audit(_with(rule)), "FL-NET-004", "silo1") == {"unknown"}


@pytest.mark.parametrize("ports", [{"destinationPortRange": 22},
                                   {"destinationPortRange": "", "destinationPortRanges": [22, 3389]}],
                         ids=["singular", "plural"])
def test_deny_with_numeric_ports_does_not_shadow_every_port(ports):
    """A Deny of port 22 written as a number must not become a Deny of all ports hiding the Allow below it."""
    res = _with(security_rule("deny-ssh", 150, IN, "Deny", sourceAddressPrefix="Internet", **ports),
                security_rule("allow-all", 200, IN, "Allow", sourceAddressPrefix="Internet"))
    not_passing(audit(res), "FL-NET-004", "silo1")


def test_flattened_rule_without_properties_block():
    rule = security_rule("flat", 200, IN, "Allow", sourceAddressPrefix="Internet", destinationPortRange="22")
    not_passing(audit(_with({"name": rule["name"], **rule["properties"]})), "FL-NET-004", "silo1")


def test_separate_security_rule_resource():
    res = sample_resources()
    group = nsg(res, "nsg-silo1")
    rule = security_rule("separate", 200, IN, "Allow", sourceAddressPrefix="Internet", destinationPortRange="22")
    rule["id"] = group["id"] + "/securityRules/separate"
    res.append(rule)
    not_passing(audit(res), "FL-NET-004", "silo1")


def test_rule_property_names_in_other_casing_are_not_understood():
    rule = security_rule("cased", 200, IN, "Allow", destinationPortRange="22")
    props = rule["properties"]
    props["SourceAddressPrefix"] = "Internet"
    del props["sourceAddressPrefix"]
    not_passing(audit(_with(rule)), "FL-NET-004", "silo1")


def test_ipv4_only_deny_does_not_shadow_ipv6_on_a_dual_stack_subnet():
    res = _with(security_rule("deny-v4", 150, IN, "Deny", sourceAddressPrefix="0.0.0.0/0"),
                security_rule("allow-any", 200, IN, "Allow", sourceAddressPrefix="*"))
    vnet = by_name(res, "Microsoft.Network/virtualNetworks", "vnet-silo1")
    subnet = vnet["properties"]["subnets"][0]["properties"]
    subnet["addressPrefixes"] = [subnet.pop("addressPrefix"), "fd00:db8:deca::/64"]
    not_passing(audit(res), "FL-NET-004", "silo1")


def test_ipv4_only_deny_still_shadows_on_an_ipv4_subnet():
    """Control for the test above: without an IPv6 prefix the same rules expose nothing."""
    res = _with(security_rule("deny-v4", 150, IN, "Deny", sourceAddressPrefix="0.0.0.0/0"),
                security_rule("allow-any", 200, IN, "Allow", sourceAddressPrefix="*"))
    assert statuses(audit(res), "FL-NET-004", silo="silo1") == {"pass"}


@pytest.mark.parametrize("rule", [
    security_rule("udp-out", 100, OUT, "Allow", destinationAddressPrefix="Internet", protocol="Udp"),
    security_rule("two-halves", 100, OUT, "Allow", destinationAddressPrefix="",
                  destinationAddressPrefixes=["0.0.0.0/1", "128.0.0.0/1"]),
    security_rule("v6-out", 100, OUT, "Allow", destinationAddressPrefix="::/0"),
    security_rule("azurecloud-out", 100, OUT, "Allow", destinationAddressPrefix="AzureCloud"),
    security_rule("numeric-port-out", 100, OUT, "Allow", destinationAddressPrefix="Internet",
                  destinationPortRange=443),
], ids=lambda r: r["name"])
def test_egress_allows_above_the_internet_deny(rule):
    not_passing(audit(_with(rule)), "FL-NET-005", "silo1")


def test_egress_deny_with_numeric_port_does_not_become_deny_all():
    res = sample_resources()
    for r in nsg(res, "nsg-silo1")["properties"]["securityRules"]:
        if r["name"] == "DenyInternetOutbound":
            r["properties"]["destinationPortRange"] = 25
    not_passing(audit(res), "FL-NET-005", "silo1")


def _peer(res: list[dict[str, Any]], a: str, b: str, state: Any = "Connected", separate: bool = False) -> None:
    """A peering from silo ``a``'s VNet to silo ``b``'s (remote id lower-cased, as some exports write it)."""
    va = by_name(res, "Microsoft.Network/virtualNetworks", f"vnet-{a}")
    vb = by_name(res, "Microsoft.Network/virtualNetworks", f"vnet-{b}")
    peering = {"id": f"{va['id']}/virtualNetworkPeerings/peer-{a}-{b}", "name": f"peer-{a}-{b}",
               "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
               "properties": {"peeringState": state, "remoteVirtualNetwork": {"id": vb["id"].lower()},
                              "allowVirtualNetworkAccess": True,
                              "remoteAddressSpace": copy.deepcopy(vb["properties"]["addressSpace"])}}
    if separate:
        res.append(peering)
    else:
        va["properties"]["virtualNetworkPeerings"].append(peering)


@pytest.mark.parametrize(("state", "separate"), [("connected", False), ("Connected", True), (None, False)],
                         ids=["lower-case-state", "separate-resource", "state-missing"])
def test_silo_vnets_peered(state, separate):
    res = sample_resources()
    _peer(res, "silo0", "silo1", state, separate)
    not_passing(audit(res), "FL-NET-006", "silo1")


def _route_table(res: list[dict[str, Any]], routes: list[tuple[str, str]]) -> None:
    """Drop silo1's NSG Internet deny and send its subnet's traffic through a route table instead."""
    group = nsg(res, "nsg-silo1")["properties"]
    group["securityRules"] = [r for r in group["securityRules"] if r["name"] != "DenyInternetOutbound"]
    rt_id = f"{by_name(res, 'Microsoft.Network/virtualNetworks', 'vnet-silo1')['id'].split('/providers/')[0]}" \
            "/providers/Microsoft.Network/routeTables/rt-silo1"
    res.append({"id": rt_id, "name": "rt-silo1", "type": "Microsoft.Network/routeTables",
                "properties": {"disableBgpRoutePropagation": True, "routes": [
                    {"name": f"r{i}", "properties": {"addressPrefix": prefix, "nextHopType": hop,
                                                     **({"nextHopIpAddress": "10.100.2.200"}
                                                        if hop.lower() == "virtualappliance" else {})}}
                    for i, (prefix, hop) in enumerate(routes)]}})
    vnet = by_name(res, "Microsoft.Network/virtualNetworks", "vnet-silo1")
    vnet["properties"]["subnets"][0]["properties"]["routeTable"] = {"id": rt_id}


def test_default_route_to_an_appliance_blocks_egress():
    """Control for the test below: 0.0.0.0/0 to a virtual appliance is the documented egress block."""
    res = sample_resources()
    _route_table(res, [("0.0.0.0/0", "VirtualAppliance")])
    assert statuses(audit(res), "FL-NET-005", silo="silo1") == {"pass"}


def test_more_specific_route_to_the_internet_beside_the_appliance_route():
    res = sample_resources()
    _route_table(res, [("0.0.0.0/0", "VirtualAppliance"), ("1.2.3.0/24", "Internet")])
    not_passing(audit(res), "FL-NET-005", "silo1")


def _managed(res: list[dict[str, Any]], mode: Any) -> None:
    """Move the silo computes into the workspace managed network with isolation ``mode``."""
    for name in ("silo0-01", "silo1-01", "silo2-01", "orchestrator-01"):
        by_name(res, "Microsoft.MachineLearningServices/workspaces/computes", name)[
            "properties"]["properties"].pop("subnet", None)
    ws = by_name(res, "Microsoft.MachineLearningServices/workspaces", "aml-fl-sample")
    ws["properties"]["managedNetwork"] = {"isolationMode": mode, "outboundRules": {}, "status": {"status": "Active"}}


@pytest.mark.parametrize("mode", ["AllowInternetOutbound", "Disabled", None, "Weird"])
def test_managed_network_mode_that_is_not_approved_outbound_only(mode):
    res = sample_resources()
    _managed(res, mode)
    not_passing(audit(res), "FL-NET-005", "silo1")


@pytest.mark.parametrize("change", ["subnet-not-in-vnet", "vnet-not-in-input"])
def test_compute_subnet_that_cannot_be_read(change):
    res = sample_resources()
    if change == "subnet-not-in-vnet":
        sub = by_name(res, "Microsoft.MachineLearningServices/workspaces/computes", "silo1-01")[
            "properties"]["properties"]["subnet"]
        sub["id"] = sub["id"].replace("snet-training", "snet-other")
    else:
        res.remove(by_name(res, "Microsoft.Network/virtualNetworks", "vnet-silo1"))
    result = audit(res)
    for rule in ("FL-NET-003", "FL-NET-004", "FL-NET-005"):
        assert not_passing(result, rule, "silo1") == {"unknown"}
