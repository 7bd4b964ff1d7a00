"""Network isolation (FL-NET-*): pass, fail and unknown for each rule on the bundled samples with one thing
changed, the issue's traps, and the samples' intended verdicts for this area."""

from __future__ import annotations

from typing import Any

import flaudit.rules.network_isolation as pack
import pytest

from tests import support
from tests.support import by_name, compute

RULES = support.rules_of(pack)
VNET = "Microsoft.Network/virtualNetworks"
NSG = "Microsoft.Network/networkSecurityGroups"
WS = "Microsoft.MachineLearningServices/workspaces"


def run(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return support.run_area(resources, RULES)


def one(result: dict[str, Any], rule_id: str, silo: str | None = "silo0") -> dict[str, Any]:
    return support.single(support.findings(result, rule_id, silo=silo))


def vnet(res: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_name(res, VNET, name)


def subnet_props(res: list[dict[str, Any]], silo: str = "silo0") -> dict[str, Any]:
    return vnet(res, f"vnet-{silo}")["properties"]["subnets"][0]["properties"]


def nsg_rules(res: list[dict[str, Any]], silo: str = "silo0") -> list[dict[str, Any]]:
    return by_name(res, NSG, f"nsg-{silo}")["properties"]["securityRules"]


def inner(res: list[dict[str, Any]], name: str = "silo0-01") -> dict[str, Any]:
    return compute(res, name)["properties"]["properties"]


def workspace(res: list[dict[str, Any]]) -> dict[str, Any]:
    return support.by_type(res, WS)[0]


def to_managed_network(res: list[dict[str, Any]], mode: str = "AllowOnlyApprovedOutbound") -> None:
    """Silo computes lose their subnets; the workspace gets a managed network."""
    for r in support.by_type(res, "Microsoft.MachineLearningServices/workspaces/computes"):
        r["properties"]["properties"].pop("subnet", None)
    workspace(res)["properties"]["managedNetwork"] = {"isolationMode": mode, "status": {"status": "Active"}}


def nsg_rule(name: str, priority: int, access: str, direction: str, *, src: Any = "*", dst: Any = "*",
             ports: Any = "*", protocol: str = "Tcp") -> dict[str, Any]:
    props: dict[str, Any] = {"protocol": protocol, "sourcePortRange": "*", "access": access, "priority": priority,
                             "direction": direction, "sourceAddressPrefixes": [], "destinationAddressPrefixes": [],
                             "destinationPortRanges": []}
    props["sourceAddressPrefixes" if isinstance(src, list) else "sourceAddressPrefix"] = src
    props["destinationAddressPrefix"] = dst
    props["destinationPortRanges" if isinstance(ports, list) else "destinationPortRange"] = ports
    return {"name": name, "properties": props}


def rule_evidence(finding: dict[str, Any]) -> list[tuple[str, int, str]]:
    return [(e["rule"], e["priority"], e["ports"]) for e in finding["evidence"] if e["kind"] == "nsg-rule"]


# -- FL-NET-001 ------------------------------------------------------------------------------------------------
def test_net001_compute_in_a_subnet_passes():
    f = one(run(support.sample_resources("hardened")), "FL-NET-001")
    assert f["status"] == "pass" and f["evidence"][0]["path"] == "properties.properties.subnet.id"


def test_net001_compute_in_no_network_fails_with_the_missing_isolation_mode_default():
    res = support.sample_resources("open")
    workspace(res)["properties"].pop("managedNetwork")
    f = one(run(res), "FL-NET-001")
    assert f["status"] == "fail"
    mode = next(e for e in f["evidence"] if e["path"] == "properties.managedNetwork.isolationMode")
    assert mode["value"] == "Disabled" and mode["default_assumed"]


@pytest.mark.parametrize("mode", ["AllowOnlyApprovedOutbound", "AllowInternetOutbound"])
def test_net001_managed_network_compute_without_subnet_passes(mode):
    res = support.sample_resources("hardened")
    to_managed_network(res, mode)
    f = one(run(res), "FL-NET-001")
    assert f["status"] == "pass" and mode in f["message"]


def test_net001_unknown_when_the_workspace_is_not_in_the_input():
    res = support.sample_resources("open")
    res.remove(workspace(res))
    assert one(run(res), "FL-NET-001")["status"] == "unknown"


def test_net001_attached_compute_without_subnet_is_unknown():
    res = support.sample_resources("open")
    compute(res, "silo0-01")["properties"]["computeType"] = "Kubernetes"
    assert one(run(res), "FL-NET-001")["status"] == "unknown"


def test_net001_unresolved_compute_is_unknown():
    res = support.sample_resources("hardened")
    res.remove(compute(res, "silo0-01"))
    assert one(run(res), "FL-NET-001")["status"] == "unknown"


# -- FL-NET-002 ------------------------------------------------------------------------------------------------
def test_net002_public_ip_disabled_passes_and_enabled_fails():
    assert one(run(support.sample_resources("hardened")), "FL-NET-002")["status"] == "pass"
    f = one(run(support.sample_resources("eyes-off")), "FL-NET-002")
    assert f["status"] == "fail" and f["evidence"][0]["value"] is True


def test_net002_missing_enable_node_public_ip_means_true():
    res = support.sample_resources("hardened")
    inner(res).pop("enableNodePublicIp")
    f = one(run(res), "FL-NET-002")
    assert f["status"] == "fail"
    assert f["evidence"][0]["default_assumed"] and "default for AmlCompute" in f["evidence"][0]["default_note"]


def test_net002_unresolved_compute_is_unknown():
    res = support.sample_resources("hardened")
    res.remove(compute(res, "silo0-01"))
    assert one(run(res), "FL-NET-002")["status"] == "unknown"


# -- FL-NET-003 ------------------------------------------------------------------------------------------------
def test_net003_subnet_with_nsg_passes_and_without_fails():
    assert one(run(support.sample_resources("hardened")), "FL-NET-003")["status"] == "pass"
    res = support.sample_resources("hardened")
    subnet_props(res).pop("networkSecurityGroup")
    assert one(run(res), "FL-NET-003")["status"] == "fail"


def test_net003_subnet_not_in_the_input_is_unknown():
    res = support.sample_resources("hardened")
    inner(res)["subnet"]["id"] = inner(res)["subnet"]["id"].replace("vnet-silo0", "vnet-elsewhere")
    assert one(run(res), "FL-NET-003")["status"] == "unknown"


def test_net003_managed_network_compute_is_not_failed_for_having_no_subnet():
    res = support.sample_resources("hardened")
    to_managed_network(res)
    result = run(res)
    for rid in ("FL-NET-003", "FL-NET-004"):
        assert one(result, rid)["status"] == "not_applicable"


# -- FL-NET-004 ------------------------------------------------------------------------------------------------
def test_net004_no_internet_inbound_passes_with_the_deciding_deny_as_evidence():
    f = one(run(support.sample_resources("hardened")), "FL-NET-004")
    assert f["status"] == "pass"
    assert ("DenyAllInBound", 65500, "*") in rule_evidence(f)


@pytest.mark.parametrize("source", ["Internet", "internet", "0.0.0.0/0", ["10.0.0.0/8", "20.50.0.0/16"],
                                    "DataFactory", "AzureDevOps"])  # any tenant's pipelines and agents send from these
def test_net004_internet_allow_fails_with_rule_name_priority_and_ports(source):
    res = support.sample_resources("hardened")
    nsg_rules(res).append(nsg_rule("AllowSshRdp", 300, "Allow", "Inbound", src=source, ports=["22", "3389"]))
    f = one(run(res), "FL-NET-004")
    assert f["status"] == "fail"
    assert rule_evidence(f) == [("AllowSshRdp", 300, "22,3389")]


def test_net004_deny_with_lower_priority_number_shadows_the_allow():
    res = support.sample_resources("hardened")
    nsg_rules(res).extend([nsg_rule("DenyInternetIn", 200, "Deny", "Inbound", src="Internet"),
                           nsg_rule("AllowSsh", 300, "Allow", "Inbound", src="Internet", ports="22")])
    f = one(run(res), "FL-NET-004")
    assert f["status"] == "pass" and ("DenyInternetIn", 200, "*") in rule_evidence(f)


def test_net004_azure_ml_service_tag_inbound_is_not_exposure():
    res = support.sample_resources("hardened")
    assert {r["properties"]["sourceAddressPrefix"] for r in nsg_rules(res) if
            r["properties"]["direction"] == "Inbound"} == {"AzureMachineLearning", "BatchNodeManagement"}
    assert one(run(res), "FL-NET-004")["status"] == "pass"


def test_net004_nsg_referenced_but_missing_is_unknown_and_no_nsg_fails():
    res = support.sample_resources("hardened")
    res.remove(by_name(res, NSG, "nsg-silo0"))
    assert one(run(res), "FL-NET-004")["status"] == "unknown"
    res = support.sample_resources("hardened")
    subnet_props(res).pop("networkSecurityGroup")
    assert one(run(res), "FL-NET-004")["status"] == "fail"


# -- FL-NET-005 ------------------------------------------------------------------------------------------------
def test_net005_outbound_deny_passes_and_default_allow_fails_with_allowinternetoutbound():
    f = one(run(support.sample_resources("hardened")), "FL-NET-005")
    assert f["status"] == "pass" and rule_evidence(f)[0][:2] == ("DenyInternetOutbound", 4000)
    f = one(run(support.sample_resources("private")), "FL-NET-005")
    assert f["status"] == "fail" and ("AllowInternetOutBound", 65001, "*") in rule_evidence(f)


def test_net005_tcp_only_deny_still_fails_on_udp():
    res = support.sample_resources("hardened")
    next(r for r in nsg_rules(res) if r["name"] == "DenyInternetOutbound")["properties"]["protocol"] = "Tcp"
    f = one(run(res), "FL-NET-005")
    assert f["status"] == "fail" and "Udp" in f["message"]


def _route_table(res: list[dict[str, Any]], routes: list[dict[str, Any]], *, add: bool = True) -> None:
    rt_id = f"{support.generate.rg_id()}/providers/Microsoft.Network/routeTables/rt-silo0"
    subnet_props(res)["routeTable"] = {"id": rt_id}
    if add:
        res.append({"id": rt_id, "name": "rt-silo0", "type": "Microsoft.Network/routeTables", "location": "westeurope",
                    "properties": {"disableBgpRoutePropagation": True, "routes": [
                        {"id": f"{rt_id}/routes/{r['name']}", "name": r["name"], "properties": r["properties"]}
                        for r in routes]}})


@pytest.mark.parametrize("hop", ["VirtualAppliance", "None"])
def test_net005_default_route_to_an_appliance_or_none_passes(hop):
    res = support.sample_resources("private")
    _route_table(res, [{"name": "default", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": hop,
                                                          **({"nextHopIpAddress": "10.0.1.4"} if hop != "None" else {})}}])
    f = one(run(res), "FL-NET-005")
    assert f["status"] == "pass" and f["evidence"][0]["value"] == hop


def test_net005_more_specific_internet_route_bypassing_the_appliance_fails():
    res = support.sample_resources("private")
    _route_table(res, [{"name": "default", "properties": {"addressPrefix": "0.0.0.0/0",
                                                          "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}},
                       {"name": "direct", "properties": {"addressPrefix": "40.0.0.0/8", "nextHopType": "Internet"}}])
    assert one(run(res), "FL-NET-005")["status"] == "fail"


@pytest.mark.parametrize("prefix", ["AzureCloud", "AzureCloud.WestEurope", "SomeNewTag"])
def test_net005_service_tag_route_to_the_internet_bypassing_the_appliance_fails(prefix):
    res = support.sample_resources("private")
    _route_table(res, [{"name": "default", "properties": {"addressPrefix": "0.0.0.0/0",
                                                          "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}},
                       {"name": "tag", "properties": {"addressPrefix": prefix, "nextHopType": "Internet"}}])
    assert one(run(res), "FL-NET-005")["status"] == "fail"


def test_net005_storage_tag_route_around_the_appliance_fails_as_exfiltration():
    res = support.sample_resources("private")
    _route_table(res, [{"name": "default", "properties": {"addressPrefix": "0.0.0.0/0",
                                                          "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}},
                       {"name": "st", "properties": {"addressPrefix": "Storage", "nextHopType": "Internet"}}])
    f = one(run(res), "FL-NET-005")
    assert f["status"] == "fail"
    assert any("any customer's storage accounts" in e.get("text", "") for e in f["evidence"])


def test_net005_missing_route_table_makes_an_open_nsg_unknown():
    res = support.sample_resources("private")
    _route_table(res, [], add=False)
    assert one(run(res), "FL-NET-005")["status"] == "unknown"


@pytest.mark.parametrize(("mode", "status"), [("AllowOnlyApprovedOutbound", "pass"), ("AllowInternetOutbound", "fail")])
def test_net005_managed_network_modes(mode, status):
    res = support.sample_resources("private")
    to_managed_network(res, mode)
    assert one(run(res), "FL-NET-005")["status"] == status


def test_net005_missing_nsg_is_unknown():
    res = support.sample_resources("hardened")
    res.remove(by_name(res, NSG, "nsg-silo0"))
    assert one(run(res), "FL-NET-005")["status"] == "unknown"


# -- FL-NET-006 ------------------------------------------------------------------------------------------------
def _peer(res: list[dict[str, Any]], a: str, b: str, state: str = "Connected", **flags: Any) -> None:
    va, vb = vnet(res, a), vnet(res, b)
    va["properties"]["virtualNetworkPeerings"].append({
        "id": f"{va['id']}/virtualNetworkPeerings/{a}-to-{b}", "name": f"{a}-to-{b}",
        "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
        "properties": {"peeringState": state, "remoteVirtualNetwork": {"id": vb["id"]},
                       "remoteAddressSpace": vb["properties"]["addressSpace"], "allowVirtualNetworkAccess": True,
                       "allowForwardedTraffic": False, "allowGatewayTransit": False, **flags}})


def test_net006_silos_not_peered_pass():
    assert support.statuses(run(support.sample_resources("hardened")), "FL-NET-006") == {"pass"}


def test_net006_peered_silo_vnets_fail_critical():
    res = support.sample_resources("hardened")
    _peer(res, "vnet-silo0", "vnet-silo1")
    _peer(res, "vnet-silo1", "vnet-silo0")
    result = run(res)
    f = one(result, "FL-NET-006")
    assert f["status"] == "fail" and f["severity"] == "critical" and "silo1" in f["message"]
    assert any(e["kind"] == "network-path" and e["path_kind"] == "peering" for e in f["evidence"])
    assert one(result, "FL-NET-006", "silo2")["status"] == "pass"


def test_net006_one_sided_initiated_peering_does_not_connect_silos():
    res = support.sample_resources("hardened")
    _peer(res, "vnet-silo0", "vnet-silo1", "Initiated")
    assert one(run(res), "FL-NET-006")["status"] == "pass"


def test_net006_two_silos_in_one_vnet_fail():
    res = support.sample_resources("hardened")
    inner(res, "silo1-01")["subnet"] = dict(inner(res, "silo0-01")["subnet"])
    f = one(run(res), "FL-NET-006")
    assert f["status"] == "fail" and "same VNet" in f["message"]


def test_net006_unknown_when_the_silo_vnets_are_not_in_the_input():
    res = support.sample_resources("hardened")
    for s in ("silo0", "silo1", "silo2"):
        inner(res, f"{s}-01")["subnet"]["id"] = inner(res, f"{s}-01")["subnet"]["id"].replace("vnet-", "vnet-gone-")
    assert one(run(res), "FL-NET-006")["status"] == "unknown"


# -- FL-NET-007 ------------------------------------------------------------------------------------------------
def test_net007_orchestrator_peering_is_reported_as_info_blocking_nothing():
    f = one(run(support.sample_resources("hardened")), "FL-NET-007")
    assert f["status"] == "pass" and f["severity"] == "info" and f["blocks"] == []
    assert "orchestrator" in f["message"]


@pytest.mark.parametrize("flag", ["allowForwardedTraffic", "allowGatewayTransit"])
def test_net007_forwarded_traffic_or_gateway_transit_fails_medium_for_production(flag):
    res = support.sample_resources("hardened")
    peer = vnet(res, "vnet-orchestrator")["properties"]["virtualNetworkPeerings"][0]
    peer["properties"][flag] = True
    f = one(run(res), "FL-NET-007")
    assert f["status"] == "fail" and f["severity"] == "medium" and f["blocks"] == ["production"]
    assert flag in f["message"]


def test_net007_vnet_without_peerings_is_not_applicable():
    res = support.sample_resources("hardened")
    vnet(res, "vnet-silo0")["properties"]["virtualNetworkPeerings"] = []
    vnet(res, "vnet-orchestrator")["properties"]["virtualNetworkPeerings"] = [
        p for p in vnet(res, "vnet-orchestrator")["properties"]["virtualNetworkPeerings"]
        if not p["properties"]["remoteVirtualNetwork"]["id"].endswith("vnet-silo0")]
    assert one(run(res), "FL-NET-007")["status"] == "not_applicable"


# -- FL-NET-008 ------------------------------------------------------------------------------------------------
def test_net008_distinct_address_spaces_pass():
    assert support.statuses(run(support.sample_resources("hardened")), "FL-NET-008") == {"pass"}


def test_net008_overlapping_peered_address_spaces_fail():
    res = support.sample_resources("hardened")
    vnet(res, "vnet-silo0")["properties"]["addressSpace"]["addressPrefixes"] = ["10.0.128.0/24"]
    f = one(run(res), "FL-NET-008")
    assert f["status"] == "fail" and any("10.0.128.0/24 overlaps 10.0.0.0/16" in e.get("text", "")
                                         for e in f["evidence"])


def test_net008_unknown_when_the_peered_address_space_is_not_in_the_input():
    res = support.sample_resources("hardened")
    res.remove(vnet(res, "vnet-orchestrator"))
    for s in ("silo0", "silo1", "silo2"):  # no peering may tell the orchestrator's address space either
        for p in vnet(res, f"vnet-{s}")["properties"]["virtualNetworkPeerings"]:
            p["properties"].pop("remoteAddressSpace")
    assert one(run(res), "FL-NET-008")["status"] == "unknown"


# -- the bundled samples ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("posture", "failing"), [
    ("open", {"FL-NET-001", "FL-NET-002", "FL-NET-005"}),
    ("eyes-on", {"FL-NET-002", "FL-NET-005"}),
    ("eyes-off", {"FL-NET-002", "FL-NET-005"}),
    ("private", {"FL-NET-005"}),
    ("hardened", set()),
])
def test_samples_fail_exactly_their_intended_network_rules(posture, failing):
    result = run(support.sample_resources(posture))
    blocking = {f["rule_id"] for f in result["findings"]
                if f["status"] in ("fail", "unknown") and "production" in (f["blocks"] or
                                                                           next(r.blocks for r in RULES if r.id == f["rule_id"]))}
    assert blocking == failing


def test_net005_storage_tag_egress_without_a_service_endpoint_policy_fails_as_exfiltration():
    res = support.sample_resources("hardened")
    nsg_rules(res).append(nsg_rule("AllowStorageOutbound", 120, "Allow", "Outbound", src="VirtualNetwork",
                                   dst="Storage.WestEurope", ports="443"))
    f = one(run(res), "FL-NET-005")
    assert f["status"] == "fail" and "no Microsoft.Storage service endpoint" in f["message"]
    assert ("AllowStorageOutbound", 120, "443") in rule_evidence(f)
    [path] = [e for e in f["evidence"] if e["kind"] == "path"]
    assert (path["path_kind"], path["relation"], path["rule_id"] if "rule_id" in path else "FL-NET-005") == (
        "network", "external", "FL-NET-005")
    # a policy the input does not hold: what it admits is unknown, never a pass
    subnet_props(res)["serviceEndpoints"] = [{"service": "Microsoft.Storage", "locations": ["westeurope"]}]
    subnet_props(res)["serviceEndpointPolicies"] = [{"id": "/subscriptions/x/resourceGroups/y/providers/"
                                                           "Microsoft.Network/serviceEndpointPolicies/sep"}]
    f = one(run(res), "FL-NET-005")
    assert f["status"] == "unknown" and "not in the input" in f["message"]


def test_attached_compute_without_subnet_has_unknown_egress():
    res = support.sample_resources("open")
    compute(res, "silo0-01")["properties"]["computeType"] = "Kubernetes"
    result = run(res)
    assert one(result, "FL-NET-005")["status"] == "unknown"
    assert one(result, "FL-NET-002")["status"] == "not_applicable"
