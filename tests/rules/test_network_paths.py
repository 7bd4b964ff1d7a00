"""Network paths out of and into a silo (issue #11 item 9): FL-NET-005 (multi-tenant service tag egress and
service endpoint policies), FL-NET-009 (outside networks reaching silo networks), FL-NET-010 (the orchestrator's
reach, info), and the ``network`` paths the producer puts in ``access[]``.

Fixtures follow the REST shapes of Azure/azure-rest-api-specs,
specification/network/resource-manager/Microsoft.Network/stable/2024-05-01/examples/: ServiceEndpointPolicyGet.json
(policy with inline definitions), the ServiceEndpointPolicyDefinitions Get response (separate definition; built
with ``type`` set), VirtualNetworkCreateServiceEndpointPolicy.json (subnet ``serviceEndpoints`` with
``locations`` and ``serviceEndpointPolicies``), VirtualNetworkPeeringGet.json (peering properties). The recipe
is Microsoft Learn's "Azure Machine Learning data exfiltration prevention" (how-to-prevent-data-loss-exfiltration).
"""

from __future__ import annotations

from typing import Any

import pytest

from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests import support
from tests.support import by_name

VNET = "Microsoft.Network/virtualNetworks"
NSG = "Microsoft.Network/networkSecurityGroups"
SEP_ID = f"{generate.rg_id()}/providers/Microsoft.Network/serviceEndpointPolicies/sep-aml"
OUTSIDE_VNET = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-hub/providers/" \
               "Microsoft.Network/virtualNetworks/vnet-corp-hub"


def subnet(res: list[dict[str, Any]], silo: str = "silo0") -> dict[str, Any]:
    return by_name(res, VNET, f"vnet-{silo}")["properties"]["subnets"][0]


def nsg_rule(name: str, priority: int, dst: str, ports: str = "443", protocol: str = "Tcp",
             access: str = "Allow") -> dict[str, Any]:
    return {"name": name, "properties": {"protocol": protocol, "sourcePortRange": "*", "destinationPortRange": ports,
                                         "sourceAddressPrefix": "VirtualNetwork", "destinationAddressPrefix": dst,
                                         "access": access, "priority": priority, "direction": "Outbound"}}


def recipe(res: list[dict[str, Any]], silo: str = "silo0", *, resources: list[str] | None = None,
           storage_tag: str = "Storage.westeurope", locations: list[str] | None = None,
           separate_definitions: bool = False) -> dict[str, Any]:
    """Microsoft's recipe on ``silo``'s subnet: outbound service tags, a Microsoft.Storage service endpoint and a
    service endpoint policy admitting the workspace's default storage (plus the silo's own) and the Azure ML
    alias. Returns the policy resource."""
    nsg = by_name(res, NSG, f"nsg-{silo}")["properties"]["securityRules"]
    nsg += [nsg_rule("AllowBatchNodeManagement", 120, "BatchNodeManagement.westeurope", protocol="*"),
            nsg_rule("AllowStorageRegion", 130, storage_tag),
            nsg_rule("AllowMcr", 140, "MicrosoftContainerRegistry.westeurope"),
            nsg_rule("AllowFrontDoorFirstParty", 150, "AzureFrontDoor.FirstParty")]
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    admitted = resources if resources is not None else [ws["properties"]["storageAccount"],
                                                         support.storage_id(res, silo)]
    props = subnet(res, silo)["properties"]
    props["serviceEndpoints"] = [{"provisioningState": "Succeeded", "service": "Microsoft.Storage",
                                  "locations": locations or ["westeurope", "northeurope"]}]
    props["serviceEndpointPolicies"] = [{"id": SEP_ID}]
    definitions = [
        {"id": f"{SEP_ID}/serviceEndpointPolicyDefinitions/storage", "name": "storage",
         "properties": {"description": "FL storage", "service": "Microsoft.Storage", "serviceResources": admitted}},
        {"id": f"{SEP_ID}/serviceEndpointPolicyDefinitions/aml-alias", "name": "aml-alias",
         "properties": {"description": "Azure ML", "service": "Global",
                        "serviceResources": ["/services/Azure/MachineLearning"]}},
    ]
    policy = {"name": "sep-aml", "id": SEP_ID, "type": "Microsoft.Network/serviceEndpointPolicies",
              "location": "westeurope",
              "properties": {"serviceEndpointPolicyDefinitions": [] if separate_definitions else definitions,
                             "subnets": [{"id": subnet(res, silo)["id"]}], "provisioningState": "Succeeded",
                             "resourceGuid": "6A7C139D-8B8D-499B-B7CB-4F3F02A8A44F"}}
    res.append(policy)
    if separate_definitions:
        for df in definitions:
            res.append({**df, "type": "Microsoft.Network/serviceEndpointPolicies/serviceEndpointPolicyDefinitions"})
    return policy


def one(result: dict[str, Any], rule_id: str, silo: str = "silo0") -> dict[str, Any]:
    return support.single(support.findings(result, rule_id, silo=silo))


def paths(result: dict[str, Any], rule_id: str, silo: str = "silo0") -> list[dict[str, Any]]:
    return [e for e in result["access"] if e.get("path_kind") == "network" and e["rule_id"] == rule_id
            and e["silo"] == silo]


# -- the recipe and the hardened sample ----------------------------------------------------------------------
@pytest.mark.parametrize("separate", [False, True])
def test_microsofts_exfiltration_prevention_recipe_is_ready(separate):
    res = support.sample_resources("hardened")
    recipe(res, separate_definitions=separate)
    result = support.audit(res)
    f = one(result, "FL-NET-005")
    assert f["status"] == "pass", f["message"]
    assert any("confines Storage.westeurope" in e.get("text", "") for e in f["evidence"])
    assert any(e.get("path") == "properties.serviceResources" and e["value"] == ["/services/Azure/MachineLearning"]
               for e in f["evidence"])
    assert result["verdict"]["production"]["status"] == "ready"
    assert paths(result, "FL-NET-005") == []


def test_hardened_sample_opens_no_network_path_out_and_only_reports_the_orchestrator():
    result = support.audit(support.sample_resources("hardened"))
    assert result["verdict"]["production"]["status"] == "ready"
    net = [e for e in result["access"] if e.get("path_kind") == "network"]
    assert {(e["rule_id"], e["relation"]) for e in net} == {("FL-NET-010", "orchestrator")}
    assert support.statuses(result, "FL-NET-009") == {"pass"}
    f = one(result, "FL-NET-010")
    assert f["status"] == "pass" and f["severity"] == "info" and not f["blocks"]
    assert f["message"].startswith("Reported: the orchestrator network reaches") and "DNS resolves" in f["message"]
    assert [e["relation"] for e in f["evidence"] if e["kind"] == "path"] == ["orchestrator"]


# -- egress: service endpoint policies -----------------------------------------------------------------------
def test_policy_admitting_an_account_outside_the_deployment_is_an_exfiltration_path():
    res = support.sample_resources("hardened")
    stranger = "/subscriptions/99999999-0000-0000-0000-000000000000/resourceGroups/x/providers/" \
               "Microsoft.Storage/storageAccounts/stattacker"
    recipe(res, resources=[support.storage_id(res, "silo0"), stranger])
    result = support.audit(res)
    f = one(result, "FL-NET-005")
    assert f["status"] == "fail" and "stattacker" in f["message"]
    [p] = paths(result, "FL-NET-005")
    assert (p["principal_id"], p["relation"]) == (stranger, "external")
    assert result["verdict"]["production"]["status"] == "not_ready"


@pytest.mark.parametrize("entry", ["/subscriptions/6b6f2d51-8c3e-4f1a-9d7b-2f4e5a6c7d80",
                                   "/subscriptions/6b6f2d51-8c3e-4f1a-9d7b-2f4e5a6c7d80/resourceGroups/rg-fl-sample"])
def test_policy_admitting_a_whole_scope_admits_accounts_anyone_there_can_create(entry):
    res = support.sample_resources("hardened")
    recipe(res, resources=[entry])
    f = one(support.audit(res), "FL-NET-005")
    assert f["status"] == "fail" and f"every storage account in {entry}" in f["message"]


def test_policy_admitting_another_silos_account_is_a_cross_silo_path():
    res = support.sample_resources("hardened")
    recipe(res, resources=[support.storage_id(res, "silo0"), support.storage_id(res, "silo1")])
    result = support.audit(res)
    assert one(result, "FL-NET-005")["status"] == "fail"
    assert [p["relation"] for p in paths(result, "FL-NET-005")] == ["other-silo"]


def test_orchestrator_and_workspace_storage_in_the_policy_stay_inside_the_deployment():
    res = support.sample_resources("hardened")
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    recipe(res, resources=[ws["properties"]["storageAccount"], support.storage_id(res, "orchestrator")])
    assert one(support.audit(res), "FL-NET-005")["status"] == "pass"


@pytest.mark.parametrize("tag,why", [("Storage", "covers every region"),
                                     ("Storage.eastus", "covers eastus")])
def test_storage_tag_beyond_the_service_endpoints_regions_is_not_confined(tag, why):
    res = support.sample_resources("hardened")
    recipe(res, storage_tag=tag)
    f = one(support.audit(res), "FL-NET-005")
    assert f["status"] == "fail" and why in f["message"]


def test_policy_without_a_storage_service_endpoint_filters_nothing():
    res = support.sample_resources("hardened")
    recipe(res)
    subnet(res)["properties"]["serviceEndpoints"] = []
    f = one(support.audit(res), "FL-NET-005")
    assert f["status"] == "fail" and "no Microsoft.Storage service endpoint" in f["message"]


def test_service_endpoint_without_locations_covers_the_vnet_region_only():
    res = support.sample_resources("hardened")
    recipe(res)
    subnet(res)["properties"]["serviceEndpoints"] = [{"service": "Microsoft.Storage"}]  # a template's shape
    assert one(support.audit(res), "FL-NET-005")["status"] == "pass"
    res2 = support.sample_resources("hardened")
    recipe(res2, storage_tag="Storage.northeurope")
    subnet(res2)["properties"]["serviceEndpoints"] = [{"service": "Microsoft.Storage"}]
    assert one(support.audit(res2), "FL-NET-005")["status"] == "fail"


def test_unreadable_or_missing_policies_make_egress_unknown():
    res = support.sample_resources("hardened")
    policy = recipe(res)
    res.remove(policy)
    inv = support.inventory(res)
    inv.unreadable.append(Unreadable(generate.rg_id(), "Microsoft.Network/serviceEndpointPolicies", 403, "denied"))
    result = support.audit(inv)
    f = one(result, "FL-NET-005")
    assert f["status"] == "unknown" and "unreadable" in f["message"]
    assert result["verdict"]["production"]["status"] == "unknown"


def test_a_failed_policy_confines_nothing_and_an_unknown_entry_is_unknown():
    res = support.sample_resources("hardened")
    policy = recipe(res)
    policy["properties"]["provisioningState"] = "Failed"
    assert one(support.audit(res), "FL-NET-005")["status"] == "fail"
    res2 = support.sample_resources("hardened")
    recipe(res2, resources=["storageRg-typo"])
    assert one(support.audit(res2), "FL-NET-005")["status"] == "unknown"


@pytest.mark.parametrize("tag", ["Sql.westeurope", "EventHub", "AzureKeyVault", "AzureMonitor"])
def test_other_multi_tenant_service_tags_are_exfiltration_even_with_a_storage_policy(tag):
    res = support.sample_resources("hardened")
    recipe(res)
    by_name(res, NSG, "nsg-silo0")["properties"]["securityRules"].append(nsg_rule("AllowData", 160, tag))
    result = support.audit(res)
    f = one(result, "FL-NET-005")
    assert f["status"] == "fail" and tag in f["message"]
    assert [p["principal_id"] for p in paths(result, "FL-NET-005")] == [tag]


def test_service_endpoint_traffic_bypasses_an_appliance_route():
    res = support.sample_resources("hardened")
    rt_id = f"{generate.rg_id()}/providers/Microsoft.Network/routeTables/rt-silo0"
    res.append({"id": rt_id, "name": "rt-silo0", "type": "Microsoft.Network/routeTables", "location": "westeurope",
                "properties": {"routes": [{"name": "default", "properties": {
                    "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}}]}})
    # NSG opened to the Internet: the appliance is what filters
    nsg = by_name(res, NSG, "nsg-silo0")["properties"]["securityRules"]
    nsg[:] = [r for r in nsg if r["name"] != "DenyInternetOutbound"]
    props = subnet(res)["properties"]
    props["routeTable"] = {"id": rt_id}
    assert one(support.audit(res), "FL-NET-005")["status"] == "pass"
    props["serviceEndpoints"] = [{"service": "Microsoft.Storage", "locations": ["westeurope"]}]
    f = one(support.audit(res), "FL-NET-005")
    assert f["status"] == "fail" and "bypasses" in f["message"]


# -- ingress -------------------------------------------------------------------------------------------------
def peer_outside(res: list[dict[str, Any]], state: str = "Connected", **flags: Any) -> dict[str, Any]:
    vnet = by_name(res, VNET, "vnet-silo0")
    peering = {"id": f"{vnet['id']}/virtualNetworkPeerings/to-corp-hub", "name": "to-corp-hub",
               "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
               "properties": {"allowVirtualNetworkAccess": True, "allowForwardedTraffic": False,
                              "allowGatewayTransit": False, "useRemoteGateways": False,
                              "remoteVirtualNetwork": {"id": OUTSIDE_VNET},
                              "remoteAddressSpace": {"addressPrefixes": ["172.16.0.0/16"]},
                              "peeringState": state, "peeringSyncLevel": "FullyInSync",
                              "provisioningState": "Succeeded", **flags}}
    vnet["properties"]["virtualNetworkPeerings"].append(peering)
    return peering


def test_peering_with_a_network_outside_the_deployment_fails_and_is_a_path():
    res = support.sample_resources("hardened")
    peer_outside(res)
    result = support.audit(res)
    f = one(result, "FL-NET-009")
    assert f["status"] == "fail" and "outside the FL deployment" in f["message"]
    assert any(e.get("path") == "properties.peeringState" and e["value"] == "Connected" for e in f["evidence"])
    [p] = paths(result, "FL-NET-009")
    assert (p["principal_id"], p["relation"], p["conditional"]) == (OUTSIDE_VNET, "external", False)
    assert result["verdict"]["production"]["status"] == "not_ready"


def test_initiated_peering_is_a_latent_path_and_disconnected_is_none():
    res = support.sample_resources("hardened")
    peer_outside(res, "Initiated")
    result = support.audit(res)
    assert one(result, "FL-NET-009")["status"] == "fail"
    assert [p["conditional"] for p in paths(result, "FL-NET-009")] == [True]
    res = support.sample_resources("hardened")
    peer_outside(res, "Disconnected")
    assert one(support.audit(res), "FL-NET-009")["status"] == "pass"


def test_peering_without_a_state_is_unknown():
    res = support.sample_resources("hardened")
    peer_outside(res)["properties"].pop("peeringState")
    assert one(support.audit(res), "FL-NET-009")["status"] == "unknown"


def test_peering_seen_only_from_the_outside_vnet_still_counts():
    res = support.sample_resources("hardened")
    silo_vnet = by_name(res, VNET, "vnet-silo0")["id"]
    res.append({"id": f"{OUTSIDE_VNET}/virtualNetworkPeerings/to-silo0", "name": "to-silo0",
                "type": "Microsoft.Network/virtualNetworks/virtualNetworkPeerings",
                "properties": {"remoteVirtualNetwork": {"id": silo_vnet}, "peeringState": "Connected",
                               "allowVirtualNetworkAccess": True}})
    assert one(support.audit(res), "FL-NET-009")["status"] == "fail"


def test_using_the_orchestrators_remote_gateway_lets_on_premises_in():
    res = support.sample_resources("hardened")
    vnet = by_name(res, VNET, "vnet-silo0")
    vnet["properties"]["virtualNetworkPeerings"][0]["properties"]["useRemoteGateways"] = True
    f = one(support.audit(res), "FL-NET-009")
    assert f["status"] == "fail" and "uses remote gateways" in f["message"]


def test_gateway_in_the_silo_vnet_fails_and_an_unread_gateway_subnet_is_unknown():
    res = support.sample_resources("hardened")
    vnet = by_name(res, VNET, "vnet-silo0")
    gw = f"{generate.rg_id()}/providers/Microsoft.Network/virtualNetworkGateways/vpn-silo0"
    vnet["properties"]["subnets"].append({"id": f"{vnet['id']}/subnets/GatewaySubnet", "name": "GatewaySubnet",
                                          "properties": {"addressPrefix": "10.101.0.224/27"}})
    assert one(support.audit(res), "FL-NET-009")["status"] == "unknown"
    vnet["properties"]["subnets"][-1]["properties"]["ipConfigurations"] = [{"id": f"{gw}/ipConfigurations/default"}]
    f = one(support.audit(res), "FL-NET-009")
    assert f["status"] == "fail" and "vpn-silo0" in f["message"]


def test_gateway_resource_naming_the_silo_subnet_fails():
    res = support.sample_resources("hardened")
    vnet = by_name(res, VNET, "vnet-silo0")
    gw = f"{generate.rg_id()}/providers/Microsoft.Network/virtualNetworkGateways/er-silo0"
    res.append({"id": gw, "name": "er-silo0", "type": "Microsoft.Network/virtualNetworkGateways",
                "location": "westeurope", "properties": {"gatewayType": "ExpressRoute", "ipConfigurations": [
                    {"name": "default", "properties": {"subnet": {"id": f"{vnet['id']}/subnets/GatewaySubnet"}}}]}})
    assert one(support.audit(res), "FL-NET-009")["status"] == "fail"


def test_approved_private_endpoint_of_silo_storage_in_an_outside_vnet_fails():
    res = support.sample_resources("hardened")
    st = support.storage(res, "silo0")
    pe_id = f"{generate.rg_id()}/providers/Microsoft.Network/privateEndpoints/pe-foreign"
    res.append({"id": pe_id, "name": "pe-foreign", "type": "Microsoft.Network/privateEndpoints",
                "location": "westeurope",
                "properties": {"subnet": {"id": f"{OUTSIDE_VNET}/subnets/default"}, "privateLinkServiceConnections": [
                    {"name": "c", "properties": {"privateLinkServiceId": st["id"], "groupIds": ["blob"],
                                                 "privateLinkServiceConnectionState": {"status": "Approved"}}}]}})
    f = one(support.audit(res), "FL-NET-009")
    assert f["status"] == "fail" and "pe-foreign" in f["message"]


def test_silo_vnet_missing_from_the_input_is_unknown():
    res = support.sample_resources("hardened")
    res.remove(by_name(res, VNET, "vnet-silo0"))
    assert one(support.audit(res), "FL-NET-009")["status"] == "unknown"


# -- the orchestrator's reach --------------------------------------------------------------------------------
def test_orchestrator_reach_is_info_and_disappears_without_the_peering():
    res = support.sample_resources("hardened")
    for name in ("vnet-silo0", "vnet-orchestrator"):
        v = by_name(res, VNET, name)
        v["properties"]["virtualNetworkPeerings"] = [p for p in v["properties"]["virtualNetworkPeerings"]
                                                     if "silo0" not in p["name"]]
    result = support.audit(res)
    assert one(result, "FL-NET-010")["message"].startswith("No orchestrator or workspace network reaches")
    assert paths(result, "FL-NET-010") == []
    assert one(result, "FL-NET-010", "silo1")["message"].startswith("Reported:")
    assert [p["relation"] for p in paths(result, "FL-NET-010", "silo1")] == ["orchestrator"]


# -- managed networks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("rule,reopens", [
    ({"type": "ServiceTag", "category": "UserDefined", "status": "Active",
      "destination": {"serviceTag": "Storage", "protocol": "TCP", "portRanges": "443", "action": "Allow"}}, True),
    ({"type": "FQDN", "category": "UserDefined", "status": "Active", "destination": "*.blob.core.windows.net"}, True),
    ({"type": "FQDN", "category": "UserDefined", "status": "Active", "destination": "pypi.org"}, False),
    ({"type": "ServiceTag", "category": "Required", "status": "Active",
      "destination": {"serviceTag": "Storage.westeurope", "protocol": "TCP", "portRanges": "443"}}, False),
])
def test_managed_network_user_rules_to_multi_tenant_services_reopen_egress(rule, reopens):
    res = support.sample_resources("hardened")
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    for c in support.by_type(res, "Microsoft.MachineLearningServices/workspaces/computes"):
        c["properties"]["properties"].pop("subnet", None)
    ws["properties"]["managedNetwork"] = {"isolationMode": "AllowOnlyApprovedOutbound",
                                          "outboundRules": {"user-rule": rule}}
    f = one(support.audit(res), "FL-NET-005")
    assert f["status"] == ("fail" if reopens else "pass"), f["message"]


# -- templates -----------------------------------------------------------------------------------------------
def test_template_policies_reach_the_inventory_with_definition_ids():
    from tests.template.helpers import RG_ID, expander_for

    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "resources": [{
            "type": "Microsoft.Network/serviceEndpointPolicies", "apiVersion": "2024-05-01", "name": "sep-aml",
            "location": "[resourceGroup().location]",
            "properties": {"serviceEndpointPolicyDefinitions": [
                {"name": "storage", "properties": {"service": "Microsoft.Storage", "serviceResources": [
                    "[resourceId('Microsoft.Storage/storageAccounts', 'stsilo0')]"]}}]}}],
    }
    ex = expander_for(template)
    [policy] = [r for r in ex.resources if r["type"] == "Microsoft.Network/serviceEndpointPolicies"]
    [df] = policy["properties"]["serviceEndpointPolicyDefinitions"]
    assert df["id"] == f"{RG_ID}/providers/Microsoft.Network/serviceEndpointPolicies/sep-aml/" \
                       "serviceEndpointPolicyDefinitions/storage"
    assert df["properties"]["serviceResources"] == [f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/stsilo0"]


def test_outside_peering_is_unknown_while_an_fl_members_compute_is_unresolved():
    res = support.sample_resources("hardened")
    peer_outside(res)
    res.remove(support.compute(res, "orchestrator-01"))
    f = one(support.audit(res), "FL-NET-009")
    assert f["status"] == "unknown" and "could not be resolved" in f["message"]


def test_policy_entries_without_a_leading_slash_are_read_as_resource_ids():
    res = support.sample_resources("hardened")
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    recipe(res, resources=[ws["properties"]["storageAccount"].lstrip("/")])
    assert one(support.audit(res), "FL-NET-005")["status"] == "pass"


# -- the same answer from every input form -------------------------------------------------------------------
def test_resource_graph_rows_and_rest_arrays_give_the_same_network_paths(tmp_path):
    import json

    from flaudit.sources.files import read_file

    res = support.sample_resources("hardened")
    stranger = "/subscriptions/99999999-0000-0000-0000-000000000000/resourceGroups/x/providers/" \
               "Microsoft.Storage/storageAccounts/stattacker"
    recipe(res, resources=[stranger], separate_definitions=True)
    peer_outside(res)
    rows = [dict(r, type=r["type"].lower()) for r in res]
    (tmp_path / "rest.json").write_text(json.dumps({"value": res}))
    (tmp_path / "graph.json").write_text(json.dumps({"count": len(rows), "data": rows}))
    results = [support.audit(read_file(tmp_path / name)) for name in ("rest.json", "graph.json")]
    summary = [sorted((p["rule_id"], p["relation"], p["principal_id"].lower()) for p in r["access"]
                      if p.get("path_kind") == "network") for r in results]
    assert summary[0] == summary[1]
    assert ("FL-NET-005", "external", stranger.lower()) in summary[0]
    assert ("FL-NET-009", "external", OUTSIDE_VNET.lower()) in summary[0]


def test_virtual_wan_hub_connection_to_the_silo_vnet_fails():
    # properties as in the hubVirtualNetworkConnections REST shape (remoteVirtualNetwork, allowHubToRemoteVnetTransit,
    # allowRemoteVnetToUseHubVnetGateways, enableInternetSecurity, provisioningState)
    res = support.sample_resources("hardened")
    vnet = by_name(res, VNET, "vnet-silo0")
    hub = "/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-wan/providers/" \
          "Microsoft.Network/virtualHubs/hub-weu"
    res.append({"id": f"{hub}/hubVirtualNetworkConnections/silo0", "name": "silo0",
                "type": "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections",
                "properties": {"remoteVirtualNetwork": {"id": vnet["id"]}, "allowHubToRemoteVnetTransit": True,
                               "allowRemoteVnetToUseHubVnetGateways": True, "enableInternetSecurity": True,
                               "provisioningState": "Succeeded"}})
    result = support.audit(res)
    f = one(result, "FL-NET-009")
    assert f["status"] == "fail" and "hub-weu" in f["message"]
    assert [p["principal_id"] for p in paths(result, "FL-NET-009")] == [hub]


@pytest.mark.parametrize("posture", ["open", "eyes-off"])
def test_open_internet_egress_is_a_network_path_for_every_silo(posture):
    result = support.audit(support.sample_resources(posture))
    for silo in ("silo0", "silo1", "silo2"):
        [p] = [e for e in paths(result, "FL-NET-005", silo) if e["principal_id"] == "Internet"]
        assert p["relation"] == "external" and p["crosses_boundary"]


def test_reopened_managed_network_rule_is_a_path_naming_the_rule():
    res = support.sample_resources("hardened")
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    for c in support.by_type(res, "Microsoft.MachineLearningServices/workspaces/computes"):
        c["properties"]["properties"].pop("subnet", None)
    ws["properties"]["managedNetwork"] = {"isolationMode": "AllowOnlyApprovedOutbound", "outboundRules": {
        "sql-out": {"type": "ServiceTag", "category": "UserDefined",
                    "destination": {"serviceTag": "Sql", "protocol": "TCP", "portRanges": "1433"}}}}
    result = support.audit(res)
    [p] = paths(result, "FL-NET-005")
    assert p["principal_id"].endswith("/outboundRules/sql-out") and "Sql" in p["principal_name"]


def test_appliance_route_with_a_confining_policy_passes_and_without_it_fails():
    """The common hub pattern: 0.0.0.0/0 to a firewall, a Microsoft.Storage service endpoint and a policy. Only
    endpoint-region storage traffic bypasses the firewall, and the policy confines exactly that traffic."""
    res = support.sample_resources("hardened")
    recipe(res)
    nsg = by_name(res, NSG, "nsg-silo0")["properties"]["securityRules"]
    nsg[:] = [r for r in nsg if r["name"] != "DenyInternetOutbound"]
    rt_id = f"{generate.rg_id()}/providers/Microsoft.Network/routeTables/rt-silo0"
    res.append({"id": rt_id, "name": "rt-silo0", "type": "Microsoft.Network/routeTables", "location": "westeurope",
                "properties": {"routes": [{"name": "default", "properties": {
                    "addressPrefix": "0.0.0.0/0", "nextHopType": "VirtualAppliance", "nextHopIpAddress": "10.0.1.4"}}]}})
    subnet(res)["properties"]["routeTable"] = {"id": rt_id}
    f = one(support.audit(res), "FL-NET-005")
    assert f["status"] == "pass", f["message"]
    subnet(res)["properties"]["serviceEndpointPolicies"] = []
    f = one(support.audit(res), "FL-NET-005")
    assert f["status"] == "fail" and "service endpoint traffic" in f["message"]


def test_outside_peering_is_unknown_when_the_workspace_is_not_in_the_input():
    res = support.sample_resources("hardened")
    peer_outside(res)
    res.remove(support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0])
    f = one(support.audit(res), "FL-NET-009")
    assert f["status"] == "unknown" and "the workspace" in f["message"]
