"""Private endpoints (FL-PE-*): pass, fail and unknown for each rule on the bundled samples with one thing
changed, the issue's traps, and the samples' intended verdicts for this area."""

from __future__ import annotations

import copy
from typing import Any

import flaudit.rules.private_endpoints as pack
import pytest

from flaudit.inventory import Unreadable
from tests import support
from tests.support import by_name, by_type, storage

RULES = support.rules_of(pack)
PE = "Microsoft.Network/privateEndpoints"
VNET = "Microsoft.Network/virtualNetworks"
WS = "Microsoft.MachineLearningServices/workspaces"
ZONE = "Microsoft.Network/privateDnsZones"
LINK = "Microsoft.Network/privateDnsZones/virtualNetworkLinks"
A = "Microsoft.Network/privateDnsZones/A"


def run(resources: list[dict[str, Any]], *, collected: bool = True, unreadable: list[Unreadable] | None = None
        ) -> dict[str, Any]:
    return support.run_area(resources, RULES, unreadable=unreadable or (), collected=collected)


def one(result: dict[str, Any], rule_id: str, silo: str | None = "silo0", subject_has: str = "") -> dict[str, Any]:
    return support.single([f for f in support.findings(result, rule_id, silo=silo)
                           if subject_has in (f["subject"] or "")])


def silo_pe(res: list[dict[str, Any]], silo: str = "silo0") -> dict[str, Any]:
    name = storage(res, silo)["name"]
    return by_name(res, PE, f"pe-{name}-blob")


def pe_state(res: list[dict[str, Any]], status: str, silo: str = "silo0", *, side: str = "both") -> None:
    if side in ("both", "endpoint"):
        conn = silo_pe(res, silo)["properties"]["privateLinkServiceConnections"][0]
        conn["properties"]["privateLinkServiceConnectionState"]["status"] = status
    if side in ("both", "account"):
        conn = storage(res, silo)["properties"]["privateEndpointConnections"][0]
        conn["properties"]["privateLinkServiceConnectionState"]["status"] = status


def network_path_kinds(f: dict[str, Any]) -> set[str]:
    return {e["path_kind"] for e in f["evidence"] if e["kind"] == "network-path"}


# -- FL-PE-001 ------------------------------------------------------------------------------------------------
def test_pe001_private_storage_passes():
    assert support.statuses(run(support.sample_resources("hardened")), "FL-PE-001") == {"pass"}


def test_pe001_public_access_disabled_with_default_action_allow_passes():
    res = support.sample_resources("hardened")
    storage(res, "silo0")["properties"]["networkAcls"]["defaultAction"] = "Allow"
    f = one(run(res), "FL-PE-001")
    assert f["status"] == "pass"
    assert "public" in network_path_kinds(f)  # listed as blocked, for the reviewer
    assert any("blocked-by-public-access-disabled" in e.get("detail", "") for e in f["evidence"])


def test_pe001_ip_rule_on_an_enabled_account_fails_with_the_path():
    res = support.sample_resources("hardened")
    props = storage(res, "silo0")["properties"]
    props["publicNetworkAccess"] = "Enabled"
    props["networkAcls"]["ipRules"] = [{"value": "52.1.2.3", "action": "Allow"}]
    f = one(run(res), "FL-PE-001")
    assert f["status"] == "fail" and network_path_kinds(f) == {"ip-rule"}
    assert any(e.get("source") == "52.1.2.3" for e in f["evidence"])


def test_pe001_missing_public_network_access_and_default_action_fail_as_public():
    res = support.sample_resources("hardened")
    props = storage(res, "silo0")["properties"]
    props.pop("publicNetworkAccess")
    props["networkAcls"].pop("defaultAction")
    f = one(run(res), "FL-PE-001")
    assert f["status"] == "fail" and "public" in network_path_kinds(f)
    pna = next(e for e in f["evidence"] if e.get("path") == "properties.publicNetworkAccess")
    assert pna["value"] == "Enabled" and pna["default_assumed"]


def test_pe001_trusted_services_bypass_on_an_enabled_account_fails():
    res = support.sample_resources("hardened")
    props = storage(res, "silo0")["properties"]
    props["publicNetworkAccess"] = "Enabled"
    props["networkAcls"]["bypass"] = "AzureServices"
    assert network_path_kinds(one(run(res), "FL-PE-001")) == {"trusted-services"}


def test_pe001_secured_by_perimeter_is_unknown():
    res = support.sample_resources("hardened")
    storage(res, "silo0")["properties"]["publicNetworkAccess"] = "SecuredByPerimeter"
    assert one(run(res), "FL-PE-001")["status"] == "unknown"


def test_pe001_unresolved_storage_is_unknown():
    res = support.sample_resources("hardened")
    res.remove(storage(res, "silo0"))
    assert one(run(res), "FL-PE-001")["status"] == "unknown"


# -- FL-PE-002 ------------------------------------------------------------------------------------------------
def test_pe002_approved_blob_endpoint_passes():
    f = one(run(support.sample_resources("hardened")), "FL-PE-002", subject_has="blob")
    assert f["status"] == "pass" and "private-endpoint" in network_path_kinds(f)


def test_pe002_pending_endpoint_fails_with_its_state_in_evidence():
    res = support.sample_resources("hardened")
    pe_state(res, "Pending")
    f = one(run(res), "FL-PE-002")
    assert f["status"] == "fail" and "Pending" in f["message"]
    assert {e["value"] for e in f["evidence"] if e["kind"] == "property"} == {"Pending"}


def test_pe002_account_side_pending_wins_over_an_approved_endpoint_side():
    res = support.sample_resources("hardened")
    pe_state(res, "Pending", side="account")
    assert one(run(res), "FL-PE-002")["status"] == "fail"


@pytest.mark.parametrize("state", ["Rejected", "Disconnected"])
def test_pe002_rejected_or_disconnected_endpoint_fails(state):
    res = support.sample_resources("hardened")
    pe_state(res, state)
    assert state in one(run(res), "FL-PE-002")["message"]


def test_pe002_no_endpoint_fails():
    res = support.sample_resources("eyes-on")
    f = one(run(res), "FL-PE-002")
    assert f["status"] == "fail" and "no blob private endpoint" in f["message"]


def _datastore_of(res, silo):
    return support.by_name(res, "Microsoft.MachineLearningServices/workspaces/datastores", f"datastore_{silo}")


def test_pe002_hierarchical_namespace_with_a_blob_datastore_needs_only_the_blob_endpoint():
    # Azure ML reads an AzureBlob datastore over the blob endpoint whatever the account's namespace.
    res = support.sample_resources("hardened")
    storage(res, "silo0")["properties"]["isHnsEnabled"] = True
    result = run(res)
    found = [f for f in result["findings"] if f["rule_id"] == "FL-PE-002" and f["silo"] == "silo0"]
    assert [(f["subject"], f["status"]) for f in found] == [("blob", "pass")]


def test_pe002_data_lake_datastore_requires_a_dfs_endpoint_beside_blob():
    res = support.sample_resources("hardened")
    storage(res, "silo0")["properties"]["isHnsEnabled"] = True
    _datastore_of(res, "silo0")["properties"]["datastoreType"] = "AzureDataLakeGen2"
    result = run(res)
    assert one(result, "FL-PE-002", subject_has="blob")["status"] == "pass"
    dfs = one(result, "FL-PE-002", subject_has="dfs")
    assert dfs["status"] == "fail"
    assert [e["path"] for e in dfs["evidence"][:2]] == ["properties.isHnsEnabled", "properties.datastoreType"]


def test_pe002_hierarchical_namespace_without_a_datastore_on_the_account_requires_dfs_too():
    # Nothing says how the data is read: fail closed to both endpoints.
    res = support.sample_resources("hardened")
    storage(res, "silo0")["properties"]["isHnsEnabled"] = True
    _datastore_of(res, "silo0")["properties"]["datastoreType"] = "SomethingNew"
    assert one(run(res), "FL-PE-002", subject_has="dfs")["status"] == "fail"


def test_pe002_a_second_data_lake_datastore_on_the_same_account_adds_dfs():
    res = support.sample_resources("hardened")
    storage(res, "silo0")["properties"]["isHnsEnabled"] = True
    extra = copy.deepcopy(_datastore_of(res, "silo0"))
    extra["id"] += "_adls"
    extra["name"] += "_adls"
    extra["properties"]["datastoreType"] = "AzureDataLakeGen2"
    res.append(extra)
    assert one(run(res), "FL-PE-002", subject_has="dfs")["status"] == "fail"


def test_pe002_file_datastore_requires_a_file_endpoint():
    res = support.sample_resources("hardened")
    _datastore_of(res, "silo0")["properties"]["datastoreType"] = "AzureFile"
    found = [f for f in run(res)["findings"] if f["rule_id"] == "FL-PE-002" and f["silo"] == "silo0"]
    assert [(f["subject"], f["status"]) for f in found] == [("file", "fail")]


def test_pe002_connection_whose_endpoint_is_not_in_the_input_is_unknown():
    res = support.sample_resources("hardened")
    res.remove(silo_pe(res))
    assert one(run(res), "FL-PE-002")["status"] == "unknown"


def test_pe002_unreadable_private_endpoints_are_unknown_rather_than_absent():
    res = [r for r in support.sample_resources("hardened") if r["type"] != PE]
    storage(res, "silo0")["properties"]["privateEndpointConnections"] = []
    assert one(run(res), "FL-PE-002")["status"] == "fail"
    u = Unreadable(support.generate.rg_id(), "Microsoft.Network/privateEndpoints", 403, "AuthorizationFailed")
    assert one(run(res, unreadable=[u]), "FL-PE-002")["status"] == "unknown"


def test_pe002_nothing_known_about_endpoints_is_unknown():
    res = [r for r in support.sample_resources("hardened") if r["type"] != PE]
    for r in by_type(res, "Microsoft.Storage/storageAccounts"):
        r["properties"].pop("privateEndpointConnections")
    assert one(run(res, collected=False), "FL-PE-002")["status"] == "unknown"


# -- FL-PE-003 ------------------------------------------------------------------------------------------------
def _move_pe_to_new_vnet(res: list[dict[str, Any]]) -> None:
    rid = f"{support.generate.rg_id()}/providers/Microsoft.Network/virtualNetworks/vnet-shared-services"
    res.append({"id": rid, "name": "vnet-shared-services", "type": VNET, "location": "westeurope",
                "properties": {"addressSpace": {"addressPrefixes": ["10.250.0.0/24"]}, "virtualNetworkPeerings": [],
                               "subnets": [{"id": f"{rid}/subnets/pe", "name": "pe",
                                            "properties": {"addressPrefix": "10.250.0.0/24"}}]}})
    silo_pe(res)["properties"]["subnet"]["id"] = f"{rid}/subnets/pe"


def test_pe003_endpoint_in_the_compute_vnet_passes():
    f = one(run(support.sample_resources("hardened")), "FL-PE-003")
    assert f["status"] == "pass" and "same VNet" in f["message"]


def test_pe003_endpoint_in_another_vnet_without_peering_fails():
    res = support.sample_resources("hardened")
    _move_pe_to_new_vnet(res)
    f = one(run(res), "FL-PE-003")
    assert f["status"] == "fail" and "vnet-shared-services" in f["message"]


def test_pe003_endpoint_in_a_connected_peered_vnet_passes():
    res = support.sample_resources("hardened")
    orch = by_name(res, VNET, "vnet-orchestrator")
    silo_pe(res)["properties"]["subnet"]["id"] = orch["properties"]["subnets"][0]["id"]
    f = one(run(res), "FL-PE-003")
    assert f["status"] == "pass" and "peering" in f["message"]


def test_pe003_pending_endpoint_gives_the_compute_nothing_to_reach():
    res = support.sample_resources("hardened")
    pe_state(res, "Pending")
    assert one(run(res), "FL-PE-003")["status"] == "fail"


def test_pe003_unknown_when_the_endpoint_resource_is_missing():
    res = support.sample_resources("hardened")
    res.remove(silo_pe(res))
    assert one(run(res), "FL-PE-003")["status"] == "unknown"


def _managed(res: list[dict[str, Any]], rules: dict[str, Any]) -> None:
    for c in by_type(res, "Microsoft.MachineLearningServices/workspaces/computes"):
        c["properties"]["properties"].pop("subnet", None)
    by_type(res, WS)[0]["properties"]["managedNetwork"] = {"isolationMode": "AllowOnlyApprovedOutbound",
                                                           "outboundRules": rules}


def test_pe003_managed_network_compute_uses_private_endpoint_outbound_rules():
    res = support.sample_resources("hardened")
    st = storage(res, "silo0")
    _managed(res, {"silo0-blob": {"type": "PrivateEndpoint", "category": "UserDefined", "status": "Active",
                                  "destination": {"serviceResourceId": st["id"], "subresourceTarget": "blob",
                                                  "sparkEnabled": False}}})
    result = run(res)
    assert one(result, "FL-PE-003")["status"] == "pass"
    assert one(result, "FL-PE-003", "silo1")["status"] == "fail"
    assert one(result, "FL-PE-004")["status"] == "not_applicable"


# -- FL-PE-004 ------------------------------------------------------------------------------------------------
def test_pe004_linked_zone_with_a_record_passes():
    f = one(run(support.sample_resources("hardened")), "FL-PE-004")
    assert f["status"] == "pass" and "10.100.1.10" in f["message"]


def test_pe004_zone_not_linked_to_the_compute_vnet_fails():
    res = [r for r in support.sample_resources("hardened")
           if not (r["type"] == LINK and r["name"] == "link-vnet-silo0")]
    assert one(run(res), "FL-PE-004")["status"] == "fail"


def test_pe004_missing_a_record_fails():
    res = support.sample_resources("hardened")
    name = storage(res, "silo0")["name"]
    res = [r for r in res if not (r["type"] == A and r["name"] == name)]
    f = one(run(res), "FL-PE-004")
    assert f["status"] == "fail" and "no A record" in f["message"]


def test_pe004_no_zone_when_zones_were_collected_fails():
    res = [r for r in support.sample_resources("hardened") if r["type"] not in (ZONE, LINK, A)]
    assert one(run(res), "FL-PE-004")["status"] == "fail"


def test_pe004_zones_not_collected_at_all_is_unknown():
    res = [r for r in support.sample_resources("hardened") if r["type"] not in (ZONE, LINK, A)]
    assert one(run(res, collected=False), "FL-PE-004")["status"] == "unknown"


def test_pe004_a_records_not_in_the_input_pass_on_the_link_with_a_note():
    res = [r for r in support.sample_resources("hardened") if r["type"] != A]
    f = one(run(res, collected=False), "FL-PE-004")
    assert f["status"] == "pass" and any("not checked" in e.get("text", "") for e in f["evidence"])


def test_pe004_suffix_comes_from_the_storage_endpoint():
    res = support.sample_resources("hardened")
    st = storage(res, "silo0")
    st["properties"]["primaryEndpoints"]["blob"] = f"https://{st['name']}.blob.core.chinacloudapi.cn/"
    f = one(run(res), "FL-PE-004")
    assert f["status"] == "fail" and "privatelink.blob.core.chinacloudapi.cn" in f["message"]


def test_pe004_custom_dns_servers_are_noted():
    res = support.sample_resources("hardened")
    by_name(res, VNET, "vnet-silo0")["properties"]["dhcpOptions"] = {"dnsServers": ["10.0.0.53"]}
    f = one(run(res), "FL-PE-004")
    assert any("custom DNS" in e.get("text", "") for e in f["evidence"])


# -- FL-PE-005 / FL-PE-006 ---------------------------------------------------------------------------------------
def test_pe005_workspace_private_endpoint_pass_fail_pending_unknown():
    assert one(run(support.sample_resources("private")), "FL-PE-005", None)["status"] == "pass"
    assert one(run(support.sample_resources("eyes-off")), "FL-PE-005", None)["status"] == "fail"
    res = support.sample_resources("private")
    ws = by_type(res, WS)[0]
    ws["properties"]["privateEndpointConnections"][0]["properties"]["privateLinkServiceConnectionState"]["status"] = \
        "Pending"
    f = one(run(res), "FL-PE-005", None)
    assert f["status"] == "fail" and "Pending" in f["message"]
    res = support.sample_resources("private")
    res.remove(by_type(res, WS)[0])
    assert one(run(res), "FL-PE-005", None)["status"] == "unknown"


def test_pe006_workspace_public_network_access():
    assert one(run(support.sample_resources("private")), "FL-PE-006", None)["status"] == "pass"
    assert one(run(support.sample_resources("eyes-off")), "FL-PE-006", None)["status"] == "fail"
    res = support.sample_resources("private")
    by_type(res, WS)[0]["properties"].pop("publicNetworkAccess")
    f = one(run(res), "FL-PE-006", None)
    assert f["status"] == "fail" and f["evidence"][0]["default_assumed"]
    res = support.sample_resources("private")
    res.remove(by_type(res, WS)[0])
    assert one(run(res), "FL-PE-006", None)["status"] == "unknown"


# -- the bundled samples ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("posture", "failing"), [
    ("open", {"FL-PE-001", "FL-PE-002", "FL-PE-003", "FL-PE-005", "FL-PE-006"}),  # FL-PE-007 passes: no endpoints
    ("eyes-on", {"FL-PE-001", "FL-PE-002", "FL-PE-003", "FL-PE-004", "FL-PE-005", "FL-PE-006"}),
    ("eyes-off", {"FL-PE-005", "FL-PE-006"}),
    ("private", set()),
    ("hardened", set()),
])
def test_samples_fail_exactly_their_intended_private_endpoint_rules(posture, failing):
    result = run(support.sample_resources(posture))
    assert {f["rule_id"] for f in result["findings"] if f["status"] in ("fail", "unknown")} == failing


def test_pe004_a_record_not_pointing_at_the_endpoint_address_fails():
    res = support.sample_resources("hardened")
    st = storage(res, "silo0")
    silo_pe(res)["properties"]["customDnsConfigs"] = [{"fqdn": f"{st['name']}.blob.core.windows.net",
                                                       "ipAddresses": ["10.100.1.10"]}]
    assert one(run(res), "FL-PE-004")["status"] == "pass"
    silo_pe(res)["properties"]["customDnsConfigs"][0]["ipAddresses"] = ["10.100.1.20"]
    f = one(run(res), "FL-PE-004")
    assert f["status"] == "fail" and "stale" in f["message"]


def test_pe004_static_ip_configuration_of_the_endpoint_is_compared_too():
    res = support.sample_resources("hardened")
    silo_pe(res)["properties"]["ipConfigurations"] = [
        {"name": "static", "properties": {"groupId": "blob", "memberName": "blob", "privateIPAddress": "10.100.1.99"}}]
    assert one(run(res), "FL-PE-004")["status"] == "fail"


# -- FL-PE-007 ------------------------------------------------------------------------------------------------
def test_pe007_endpoints_reachable_only_from_the_own_silo_pass():
    assert support.statuses(run(support.sample_resources("hardened")), "FL-PE-007") == {"pass"}


def test_pe007_endpoint_placed_in_another_silos_vnet_fails():
    res = support.sample_resources("hardened")
    silo_pe(res)["properties"]["subnet"]["id"] = by_name(res, VNET, "vnet-silo1")["properties"]["subnets"][0]["id"]
    f = one(run(res), "FL-PE-007")
    assert f["status"] == "fail" and "silo silo1 compute silo1-01" in f["message"]
    assert f["evidence"][0]["path_kind"] == "private-endpoint"


def test_pe007_peered_silo_vnets_reach_each_others_endpoints():
    res = support.sample_resources("hardened")
    for a, b in (("vnet-silo0", "vnet-silo1"), ("vnet-silo1", "vnet-silo0")):
        va, vb = by_name(res, VNET, a), by_name(res, VNET, b)
        va["properties"]["virtualNetworkPeerings"].append({
            "id": f"{va['id']}/virtualNetworkPeerings/{a}-{b}", "name": f"{a}-{b}",
            "properties": {"peeringState": "Connected", "remoteVirtualNetwork": {"id": vb["id"]}}})
    result = run(res)
    assert one(result, "FL-PE-007")["evidence"][0]["path_kind"] == "peering"
    assert one(result, "FL-PE-007", "silo1")["status"] == "fail"
    assert one(result, "FL-PE-007", "silo2")["status"] == "pass"


def test_pe007_managed_network_outbound_rule_is_shared_by_every_silo():
    res = support.sample_resources("hardened")
    st = storage(res, "silo0")
    _managed(res, {"silo0-blob": {"type": "PrivateEndpoint", "status": "Active",
                                  "destination": {"serviceResourceId": st["id"], "subresourceTarget": "blob"}}})
    f = one(run(res), "FL-PE-007")
    assert f["status"] == "fail" and "managed network" in f["message"]


def test_pe007_unknown_when_an_endpoint_subnet_is_not_known():
    res = support.sample_resources("hardened")
    res.remove(silo_pe(res))
    assert one(run(res), "FL-PE-007")["status"] == "unknown"


def test_pe003_compute_whose_workspace_is_missing_is_unknown():
    res = support.sample_resources("open")
    res.remove(by_type(res, WS)[0])
    assert one(run(res), "FL-PE-003")["status"] == "unknown"


def test_pe001_enabled_account_whose_firewall_admits_nothing_fails_medium():
    res = support.sample_resources("hardened")
    storage(res, "silo0")["properties"]["publicNetworkAccess"] = "Enabled"  # defaultAction Deny, bypass None
    f = one(run(res), "FL-PE-001")
    assert f["status"] == "fail" and f["severity"] == "medium" and "only control" in f["message"]
    assert network_path_kinds(f) == set()
