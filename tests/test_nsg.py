"""The NSG evaluator: priority order, singular/plural fields, tags, CIDR arithmetic, defaults, layering."""

from __future__ import annotations

from typing import Any

import pytest

from flaudit.inventory import Inventory
from flaudit.network import NetworkIndex, azure_default_rules
from flaudit.nsg import classify_addresses, effective, evaluate, parse_ports, parse_rule, service_tag_egress

RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-net"
NSG_ID = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-silo"
NIC_NSG_ID = f"{RG}/providers/Microsoft.Network/networkSecurityGroups/nsg-nic"
VNET_ID = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet-silo"
SUBNET_ID = f"{VNET_ID}/subnets/snet-training"
NIC_ID = f"{RG}/providers/Microsoft.Network/networkInterfaces/nic-1"


def sr(name: str, priority: int, access: str = "Allow", direction: str = "Inbound", *, src: Any = "*",
       dst: Any = "*", ports: Any = "*", protocol: str = "Tcp", sports: Any = "*", nsg: str = NSG_ID,
       src_asgs: list[str] | None = None, dst_asgs: list[str] | None = None) -> dict[str, Any]:
    """A security rule in the REST shape; list values go to the plural fields (as ARM returns them)."""
    props: dict[str, Any] = {"provisioningState": "Succeeded", "protocol": protocol, "access": access,
                             "priority": priority, "direction": direction,
                             "sourcePortRanges": [], "destinationPortRanges": [],
                             "sourceAddressPrefixes": [], "destinationAddressPrefixes": []}
    for single, plural, value in (("sourceAddressPrefix", "sourceAddressPrefixes", src),
                                  ("destinationAddressPrefix", "destinationAddressPrefixes", dst),
                                  ("destinationPortRange", "destinationPortRanges", ports),
                                  ("sourcePortRange", "sourcePortRanges", sports)):
        if isinstance(value, list):
            props[plural] = value
        elif value is not None:
            props[single] = value
    if src_asgs:
        props["sourceApplicationSecurityGroups"] = [{"id": a} for a in src_asgs]
    if dst_asgs:
        props["destinationApplicationSecurityGroups"] = [{"id": a} for a in dst_asgs]
    return {"id": f"{nsg}/securityRules/{name}", "name": name, "etag": 'W/"1"',
            "type": "Microsoft.Network/networkSecurityGroups/securityRules", "properties": props}


def nsg(rules: list[dict[str, Any]], nsg_id: str = NSG_ID) -> dict[str, Any]:
    """An NSG without defaultSecurityRules (the evaluator supplies Azure's defaults)."""
    return {"id": nsg_id, "name": nsg_id.rsplit("/", 1)[1], "type": "Microsoft.Network/networkSecurityGroups",
            "location": "westeurope", "properties": {"provisioningState": "Succeeded", "securityRules": rules}}


def vnet(nsg_id: str | None = NSG_ID, prefix: str = "10.100.1.0/25") -> dict[str, Any]:
    subnet: dict[str, Any] = {"id": SUBNET_ID, "name": "snet-training",
                              "properties": {"addressPrefix": prefix}}
    if nsg_id:
        subnet["properties"]["networkSecurityGroup"] = {"id": nsg_id}
    return {"id": VNET_ID, "name": "vnet-silo", "type": "Microsoft.Network/virtualNetworks", "location": "westeurope",
            "properties": {"addressSpace": {"addressPrefixes": ["10.100.1.0/24"]}, "subnets": [subnet]}}


def index(*resources: dict[str, Any]) -> NetworkIndex:
    inv = Inventory()
    inv.extend(resources)
    return NetworkIndex(inv)


def inbound(*rules: dict[str, Any]):
    return effective(index(vnet(), nsg(list(rules))), SUBNET_ID).inbound


def outbound(*rules: dict[str, Any]):
    return effective(index(vnet(), nsg(list(rules))), SUBNET_ID).outbound


# -- defaults ----------------------------------------------------------------------------------------------
def test_azure_default_rules_admit_no_internet_inbound_and_decide_with_denyallinbound():
    res = inbound()
    assert not res.open
    assert [r.name for r in res.deciding_denies] == ["DenyAllInBound"]
    assert res.defaults_assumed is True
    assert res.evidence()[0] == {"kind": "nsg-rule", "nsg_id": NSG_ID, "rule": "DenyAllInBound", "priority": 65500,
                                 "direction": "Inbound", "access": "Deny", "source": "*", "destination": "*",
                                 "protocol": "*", "ports": "*"}


def test_azure_default_rules_allow_internet_outbound_through_allowinternetoutbound():
    res = outbound()
    assert res.ports_open() == {"Tcp": "*", "Udp": "*", "Icmp": "*"}
    assert {(r.name, r.priority) for o in res.openings for r in o.rules} == {("AllowInternetOutBound", 65001)}


def test_payload_default_rules_are_used_instead_of_assumed_ones():
    raw = nsg([])
    raw["properties"]["defaultSecurityRules"] = [
        {"name": "DenyAllInBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                                                  "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                                                  "access": "Deny", "priority": 65500, "direction": "Inbound"}},
        {"name": "DenyAllOutBound", "properties": {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                                                   "sourceAddressPrefix": "*", "destinationAddressPrefix": "*",
                                                   "access": "Deny", "priority": 65500, "direction": "Outbound"}}]
    eff = effective(index(vnet(), raw), SUBNET_ID)
    assert not eff.outbound.open  # no AllowInternetOutBound in this payload's defaults
    assert eff.outbound.defaults_assumed is False


# -- Internet sources ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("source", ["Internet", "internet", "INTERNET", "*", "Any", "0.0.0.0/0", "::/0",
                                    "0.0.0.0/1", "8.0.0.0/7", "10.0.0.0/7", "52.174.10.4", "AzureCloud",
                                    "AzureCloud.WestEurope", "SomeFutureTag"])
def test_source_covering_public_addresses_exposes_the_port(source):
    res = inbound(sr("AllowSsh", 300, src=source, ports="22"))
    assert res.ports_open() == {"Tcp": "22"}
    ev = res.evidence()[0]
    assert (ev["rule"], ev["priority"], ev["access"], ev["ports"]) == ("AllowSsh", 300, "Allow", "22")


@pytest.mark.parametrize("source", ["10.0.0.0/8", "172.16.0.0/12", "192.168.10.0/24", "VirtualNetwork",
                                    "AzureLoadBalancer", "AzureMachineLearning", "BatchNodeManagement",
                                    "Storage.WestEurope", "azuremachinelearning", "100.64.0.0/10", "fd00::/8"])
def test_private_ranges_and_service_tags_are_not_internet_exposure(source):
    assert not inbound(sr("AllowFromPrivate", 300, src=source, ports="22")).open


def test_azure_ml_required_inbound_rules_are_not_exposure():
    res = inbound(sr("AllowAzureMLInbound", 100, src="AzureMachineLearning", ports="44224"),
                  sr("AllowBatchNodeManagementInbound", 110, src="BatchNodeManagement", ports="29876-29877"))
    assert not res.open


def test_plural_source_prefixes_with_one_public_range_expose():
    res = inbound(sr("AllowMixed", 200, src=["10.0.0.0/8", "192.168.0.0/16", "52.10.0.0/16"], ports="443"))
    assert res.ports_open() == {"Tcp": "443"}
    assert res.evidence()[0]["source"] == "10.0.0.0/8,192.168.0.0/16,52.10.0.0/16"


def test_plural_destination_port_ranges_are_all_read():
    res = inbound(sr("AllowMany", 200, src="Internet", ports=["22", "3389", "8000-8100"]))
    assert res.ports_open() == {"Tcp": "22,3389,8000-8100"}


def test_singular_and_plural_fields_combine():
    rule = sr("Both", 200, src="10.0.0.0/8", ports="22")
    rule["properties"]["sourceAddressPrefixes"] = ["20.0.0.0/8"]
    rule["properties"]["destinationPortRanges"] = ["80"]
    assert inbound(rule).ports_open() == {"Tcp": "22,80"}


def test_port_range_and_star_and_protocols():
    assert inbound(sr("Web", 200, src="*", ports="80-443")).ports_open() == {"Tcp": "80-443"}
    assert inbound(sr("All", 200, src="*", ports="*", protocol="*")).ports_open() == \
        {"Tcp": "*", "Udp": "*", "Icmp": "*"}
    assert inbound(sr("Dns", 200, src="*", ports="53", protocol="Udp")).ports_open() == {"Udp": "53"}
    assert inbound(sr("Ping", 200, src="*", protocol="Icmp")).ports_open() == {"Icmp": "*"}
    assert not inbound(sr("Ipsec", 200, src="*", protocol="Esp")).open


# -- priority and shadowing -------------------------------------------------------------------------------------
def test_deny_with_lower_priority_number_shadows_a_later_allow():
    res = inbound(sr("DenyInternet", 100, "Deny", src="Internet"), sr("AllowSsh", 200, src="Internet", ports="22"))
    assert not res.open
    assert [r.name for r in res.deciding_denies][0] == "DenyInternet"


def test_allow_with_lower_priority_number_wins_over_a_later_deny():
    res = inbound(sr("AllowSsh", 100, src="Internet", ports="22"), sr("DenyInternet", 200, "Deny", src="Internet"))
    assert res.ports_open() == {"Tcp": "22"}


def test_rules_are_ordered_by_priority_not_by_payload_order():
    res = inbound(sr("AllowSsh", 300, src="Internet", ports="22"), sr("DenyInternet", 150, "Deny", src="*"))
    assert not res.open


def test_partial_deny_leaves_the_rest_of_the_port_range_allowed():
    res = inbound(sr("DenySome", 100, "Deny", src="*", ports="100-200"), sr("AllowWeb", 200, src="*", ports="80-443"))
    assert res.ports_open() == {"Tcp": "80-99,201-443"}


def test_deny_of_part_of_the_internet_does_not_shadow_an_allow_from_everywhere():
    res = inbound(sr("DenyOneBlock", 100, "Deny", src="8.0.0.0/7"), sr("AllowSsh", 200, src="*", ports="22"))
    assert res.ports_open() == {"Tcp": "22"}


def test_deny_by_prefixes_that_together_cover_the_internet_shadows():
    res = inbound(sr("DenyHalves", 100, "Deny", src=["0.0.0.0/1", "128.0.0.0/1"]),
                  sr("AllowSsh", 200, src="Internet", ports="22"))
    assert not res.open


def test_deny_limited_to_some_source_ports_does_not_shadow():
    res = inbound(sr("DenyFrom80", 100, "Deny", src="*", sports="80"), sr("AllowSsh", 200, src="*", ports="22"))
    assert res.ports_open() == {"Tcp": "22"}


def test_tcp_deny_does_not_shadow_udp():
    res = inbound(sr("DenyTcp", 100, "Deny", src="*", protocol="Tcp"), sr("AllowAll", 200, src="*", protocol="*"))
    assert res.ports_open() == {"Udp": "*", "Icmp": "*"}


# -- application security groups and destinations ------------------------------------------------------------
def test_asg_source_is_not_internet():
    asg = f"{RG}/providers/Microsoft.Network/applicationSecurityGroups/asg-jump"
    assert not inbound(sr("FromAsg", 200, src=None, src_asgs=[asg], ports="22")).open


def test_internet_to_an_asg_destination_counts_as_exposure_but_a_deny_to_an_asg_does_not_shadow():
    asg = f"{RG}/providers/Microsoft.Network/applicationSecurityGroups/asg-nodes"
    assert inbound(sr("ToAsg", 200, src="*", dst=None, dst_asgs=[asg], ports="22")).ports_open() == {"Tcp": "22"}
    res = inbound(sr("DenyToAsg", 100, "Deny", src="*", dst=None, dst_asgs=[asg]), sr("Allow", 200, src="*", ports="22"))
    assert res.ports_open() == {"Tcp": "22"}


def test_allow_to_a_destination_outside_the_subnet_does_not_expose_it():
    assert not inbound(sr("OtherSubnet", 200, src="*", dst="10.200.0.0/24", ports="22")).open
    assert inbound(sr("ThisSubnet", 200, src="*", dst="10.100.1.0/24", ports="22")).ports_open() == {"Tcp": "22"}


def test_deny_to_a_prefix_covering_the_subnet_shadows_but_one_covering_half_does_not():
    covering = inbound(sr("DenyVnet", 100, "Deny", src="*", dst="10.100.0.0/16"), sr("Allow", 200, src="*", ports="22"))
    assert not covering.open
    half = inbound(sr("DenyHalf", 100, "Deny", src="*", dst="10.100.1.0/26"), sr("Allow", 200, src="*", ports="22"))
    assert half.ports_open() == {"Tcp": "22"}


# -- outbound --------------------------------------------------------------------------------------------------
def test_outbound_deny_internet_above_the_default_blocks_egress():
    res = outbound(sr("DenyInternetOutbound", 4000, "Deny", "Outbound", dst="Internet", protocol="*"))
    assert not res.open
    assert res.deciding_denies[0].name == "DenyInternetOutbound"


@pytest.mark.parametrize("dest", ["0.0.0.0/0", "*", "internet"])
def test_outbound_deny_to_everything_blocks_egress(dest):
    assert not outbound(sr("DenyOut", 4000, "Deny", "Outbound", dst=dest, protocol="*")).open


def test_tcp_only_outbound_deny_leaves_udp_and_icmp_egress_open():
    res = outbound(sr("DenyTcpOut", 4000, "Deny", "Outbound", dst="Internet", protocol="Tcp"))
    assert res.ports_open() == {"Udp": "*", "Icmp": "*"}


def test_outbound_deny_of_part_of_the_internet_leaves_egress_open():
    res = outbound(sr("DenySome", 4000, "Deny", "Outbound", dst="8.0.0.0/7", protocol="*"))
    assert res.ports_open() == {"Tcp": "*", "Udp": "*", "Icmp": "*"}


def test_outbound_allows_to_service_tags_are_not_internet_egress():
    res = outbound(sr("AllowAml", 100, "Allow", "Outbound", dst="AzureMachineLearning", ports="443"),
                   sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*"))
    assert not res.open


def test_outbound_allow_to_a_public_prefix_above_the_deny_is_egress():
    res = outbound(sr("AllowPypi", 100, "Allow", "Outbound", dst="151.101.0.0/16", ports="443"),
                   sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*"))
    assert res.ports_open() == {"Tcp": "443"}


# -- layering, missing data and parsing -------------------------------------------------------------------
def _nic(nsg_id: str | None) -> dict[str, Any]:
    props: dict[str, Any] = {"ipConfigurations": [{"name": "ipconfig1", "properties": {"subnet": {"id": SUBNET_ID}}}]}
    if nsg_id:
        props["networkSecurityGroup"] = {"id": nsg_id}
    return {"id": NIC_ID, "name": "nic-1", "type": "Microsoft.Network/networkInterfaces", "properties": props}


def test_nic_nsg_deny_blocks_what_the_subnet_nsg_allows():
    idx = index(vnet(), nsg([sr("AllowSsh", 100, src="*", ports="22")]),
                nsg([sr("DenyAll", 100, "Deny", src="*", nsg=NIC_NSG_ID)], NIC_NSG_ID), _nic(NIC_NSG_ID))
    assert not effective(idx, SUBNET_ID, NIC_ID).inbound.open
    assert effective(idx, SUBNET_ID).inbound.ports_open() == {"Tcp": "22"}


def test_both_layers_allowing_expose_with_both_rules_as_evidence():
    idx = index(vnet(), nsg([sr("AllowSsh", 100, src="*", ports="22")]),
                nsg([sr("NicSsh", 100, src="Internet", ports="20-25", nsg=NIC_NSG_ID)], NIC_NSG_ID), _nic(NIC_NSG_ID))
    res = effective(idx, SUBNET_ID, NIC_ID).inbound
    assert res.ports_open() == {"Tcp": "22"}
    assert [e["rule"] for e in res.evidence()] == ["AllowSsh", "NicSsh"]
    assert idx.nics_in_subnet(SUBNET_ID)[0]["name"] == "nic-1"


def test_nsg_referenced_but_missing_is_a_problem_not_a_pass():
    eff = effective(index(vnet()), SUBNET_ID)
    assert eff.missing == [NSG_ID]
    assert any("not in the input" in p for p in eff.problems)


def test_subnet_without_nsg_lets_everything_through():
    eff = effective(index(vnet(nsg_id=None)), SUBNET_ID)
    assert not eff.has_nsg
    assert eff.inbound.ports_open() == {"Tcp": "*", "Udp": "*", "Icmp": "*"}


def test_separate_security_rule_resources_are_merged_with_inline_rules():
    separate = sr("AllowRdp", 250, src="*", ports="3389")
    idx = index(vnet(), nsg([sr("AllowSsh", 200, src="*", ports="22")]), separate)
    assert effective(idx, SUBNET_ID).inbound.ports_open() == {"Tcp": "22,3389"}


def test_unparseable_rule_is_reported_as_a_problem():
    bad = sr("Broken", 100, src="*")
    bad["properties"]["priority"] = "high"
    res = effective(index(vnet(), nsg([bad])), SUBNET_ID).inbound
    assert any("priority" in p for p in res.problems)


def test_rule_without_source_or_destination_is_a_problem():
    _, problems = parse_rule({"name": "r", "properties": {"priority": 100, "direction": "Inbound",
                                                          "access": "Allow", "protocol": "*"}}, NSG_ID)
    assert len(problems) == 2


def test_parse_ports_rejects_garbage_and_out_of_range():
    assert parse_ports(["22", "80-90", "*"])[0] == [(0, 65535)]
    assert parse_ports(["x"])[1] and parse_ports(["70000"])[1]


def test_rule_fields_compare_case_insensitively():
    rule, problems = parse_rule({"name": "r", "properties": {"priority": 100, "direction": "inbound",
                                                             "access": "allow", "protocol": "tcp",
                                                             "sourceAddressPrefix": "INTERNET",
                                                             "destinationAddressPrefix": "any",
                                                             "destinationPortRange": "22"}}, NSG_ID)
    assert not problems and rule is not None
    defaults = [parse_rule(r, NSG_ID, default=True)[0] for r in azure_default_rules(NSG_ID)]
    assert evaluate([rule, *defaults], "Inbound").ports_open() == {"Tcp": "22"}


def test_traffic_no_rule_decides_is_treated_as_allowed_and_reported():
    rule, _ = parse_rule(sr("DenyTcp", 100, "Deny", src="*"), NSG_ID)
    res = evaluate([rule], "Inbound")
    assert res.ports_open() == {"Udp": "*", "Icmp": "*"}
    assert res.problems and "treated as allowed" in res.problems[0]


def test_classify_addresses_reports_full_and_partial_internet_coverage():
    assert classify_addresses(["0.0.0.0/0"], [], None).internet_all
    part = classify_addresses(["8.0.0.0/7"], [], None)
    assert part.internet_some and not part.internet_all
    assert not classify_addresses(["10.0.0.0/8"], [], None).internet_some


def test_outbound_allow_to_the_storage_tag_is_reported_as_data_service_egress():
    rules = [sr("AllowStorage", 120, "Allow", "Outbound", dst="Storage.WestEurope", ports="443"),
             sr("AllowAml", 100, "Allow", "Outbound", dst="AzureMachineLearning", ports="443"),
             sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*")]
    idx = index(vnet(), nsg(rules))
    assert not effective(idx, SUBNET_ID).outbound.open
    [egress] = service_tag_egress(idx, SUBNET_ID)
    assert (egress.tag, egress.base, egress.region, egress.confinable) == ("Storage.WestEurope", "storage",
                                                                           "westeurope", True)
    assert [r.name for r in egress.opening.rules] == ["AllowStorage"] and egress.opening.ports == [(443, 443)]


def test_first_party_front_door_is_a_microsoft_destination_outbound_but_public_as_a_source():
    out = [sr("AllowFD", 100, "Allow", "Outbound", dst="AzureFrontDoor.FirstParty", ports="443"),
           sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*")]
    assert not effective(index(vnet(), nsg(out)), SUBNET_ID).outbound.open
    frontend = [sr("AllowFD", 100, "Allow", "Outbound", dst="AzureFrontDoor.Frontend", ports="443"),
                sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*")]
    assert effective(index(vnet(), nsg(frontend)), SUBNET_ID).outbound.open
    inbound = [sr("AllowFD", 100, "Allow", src="AzureFrontDoor.FirstParty", ports="443")]
    assert effective(index(vnet(), nsg(inbound)), SUBNET_ID).inbound.open


@pytest.mark.parametrize("tag", ["Sql", "EventHub.WestEurope", "AzureKeyVault", "AzureMonitor", "AzureCosmosDB",
                                 "AzureContainerRegistry.WestEurope"])
def test_every_multi_tenant_data_service_tag_is_egress_and_none_is_confinable(tag):
    rules = [sr("AllowTag", 120, "Allow", "Outbound", dst=tag, ports="443"),
             sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*")]
    [egress] = service_tag_egress(index(vnet(), nsg(rules)), SUBNET_ID)
    assert egress.tag == tag and not egress.confinable


@pytest.mark.parametrize("tag", ["AzureMachineLearning", "BatchNodeManagement.WestEurope", "AzureActiveDirectory",
                                 "MicrosoftContainerRegistry.WestEurope", "AzureResourceManager"])
def test_microsoft_only_destinations_of_the_exfiltration_recipe_are_not_egress(tag):
    rules = [sr("AllowTag", 120, "Allow", "Outbound", dst=tag, ports="443"),
             sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*")]
    idx = index(vnet(), nsg(rules))
    assert service_tag_egress(idx, SUBNET_ID) == [] and not effective(idx, SUBNET_ID).outbound.open


def test_evidence_names_each_deciding_rule_once_across_protocols():
    res = outbound()
    [item] = res.evidence()
    assert (item["rule"], item["protocol"], item["ports"]) == ("AllowInternetOutBound", "Tcp,Udp,Icmp", "*")
    assert res.describe() == "Tcp,Udp,Icmp * via nsg-silo/AllowInternetOutBound (65001)"
    assert len(res.openings) == 3  # the per-protocol answer is kept


def test_a_deny_to_the_whole_service_tag_shadows_a_later_allow_to_it_but_a_regional_deny_does_not():
    whole = [sr("DenyStorage", 100, "Deny", "Outbound", dst="Storage", protocol="*"),
             sr("AllowStorageRegion", 200, "Allow", "Outbound", dst="Storage.WestEurope", ports="443"),
             sr("DenyInternet", 4000, "Deny", "Outbound", dst="Internet", protocol="*")]
    assert service_tag_egress(index(vnet(), nsg(whole)), SUBNET_ID) == []
    regional = [sr("DenyStorageUs", 100, "Deny", "Outbound", dst="Storage.EastUS", protocol="*")] + whole[1:]
    [egress] = service_tag_egress(index(vnet(), nsg(regional)), SUBNET_ID)
    assert egress.tag == "Storage.WestEurope"
