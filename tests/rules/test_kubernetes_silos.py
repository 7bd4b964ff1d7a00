"""AKS and Arc-connected silos: the cluster places the compute, the existing network rules answer for it, and the
Kubernetes rules judge what only a cluster has. Fixture shapes: tests/kubernetes_fixtures.py (REST spec examples)."""

from __future__ import annotations

from tests.kubernetes_fixtures import (
    SAMPLE_EXTENSION,
    aks_silo,
    azureml_extension,
    connected_cluster,
    firewall_route_table,
    kubernetes_compute,
    managed_cluster,
    subnet_of,
)
from tests.support import audit, by_name, compute, findings, property_evidence, sample_resources, single, statuses

NETWORK_RULES = ("FL-NET-001", "FL-NET-002", "FL-NET-003", "FL-NET-004", "FL-NET-005", "FL-NET-006",
                 "FL-PE-003", "FL-PE-004", "FL-PE-007")


def test_private_aks_silo_with_firewall_route_and_internal_router_is_ready_on_network():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", extension={**SAMPLE_EXTENSION, "allowInsecureConnections": "false",
                                      "enableInference": "true"})
    # inference on a training silo is FL-K8S-005's business; the router itself is internal
    result = audit(res)
    for rid in NETWORK_RULES:
        assert statuses(result, rid, silo="silo1") == {"pass"}, (rid, findings(result, rid, silo="silo1"))
    assert statuses(result, "FL-K8S-001", silo="silo1") == {"pass"}
    assert statuses(result, "FL-K8S-004", silo="silo1") == {"pass"}
    assert statuses(result, "FL-K8S-005", silo="silo1") == {"fail"}


def test_aks_silo_without_inference_keeps_the_hardened_sample_ready():
    res = sample_resources("hardened")
    aks_silo(res, "silo1")
    result = audit(res)
    assert result["verdict"]["production"]["status"] == "ready", result["verdict"]["production"]["blocking"]


def test_network_evidence_names_the_cluster_property_that_placed_the_compute():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    f = single(findings(audit(res), "FL-NET-001", silo="silo1"))
    ev = property_evidence(f, "properties.agentPoolProfiles[nodepool1].vnetSubnetID")
    assert ev["resource_id"] == cl["id"]
    assert property_evidence(f, "properties.resourceId")["value"] == cl["id"]
    assert property_evidence(f, "properties.networkProfile.outboundType")["value"] == "userDefinedRouting"


def test_public_api_server_without_authorized_ranges_fails():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", private=False)
    f = single(findings(audit(res), "FL-K8S-001", silo="silo1"))
    assert f["status"] == "fail"
    assert property_evidence(f, "properties.apiServerAccessProfile.authorizedIPRanges")["value"] == []


def test_public_api_server_open_to_the_whole_internet_through_its_ranges_fails():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", private=False, authorized=["203.0.113.0/28", "0.0.0.0/0"])
    assert statuses(audit(res), "FL-K8S-001", silo="silo1") == {"fail"}


def test_public_api_server_limited_to_authorized_ranges_passes():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", private=False, authorized=["203.0.113.0/28"])
    assert statuses(audit(res), "FL-K8S-001", silo="silo1") == {"pass"}


def test_node_public_ips_fail_fl_net_002_naming_the_agent_pool():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", node_public_ip=True)
    f = single(findings(audit(res), "FL-NET-002", silo="silo1"))
    assert f["status"] == "fail"
    assert property_evidence(f, "properties.agentPoolProfiles[nodepool1].enableNodePublicIP")["value"] is True


def test_separate_agent_pool_resource_wins_over_the_inline_profile():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    pool = {"id": cl["id"] + "/agentPools/nodepool1", "name": "nodepool1",
            "type": "Microsoft.ContainerService/managedClusters/agentPools",
            "properties": {"count": 3, "vmSize": "Standard_DS1_v2", "osType": "Linux", "mode": "System",
                           "vnetSubnetID": cl["properties"]["agentPoolProfiles"][0]["vnetSubnetID"],
                           "enableNodePublicIP": True, "provisioningState": "Succeeded"}}
    res.append(pool)
    f = single(findings(audit(res), "FL-NET-002", silo="silo1"))
    assert f["status"] == "fail"
    assert property_evidence(f, "properties.enableNodePublicIP")["resource_id"] == pool["id"]


def test_load_balancer_egress_is_open_when_the_subnet_nsg_allows_the_internet():
    res = sample_resources("private")
    aks_silo(res, "silo1", outbound="loadBalancer", route_to_firewall=False)
    f = single(findings(audit(res), "FL-NET-005", silo="silo1"))
    assert f["status"] == "fail", f


def test_load_balancer_egress_is_blocked_by_the_subnet_nsg_deny():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", outbound="loadBalancer", route_to_firewall=False)
    assert statuses(audit(res), "FL-NET-005", silo="silo1") == {"pass"}


def test_user_defined_routing_with_an_unread_route_table_is_unknown_not_pass():
    res = sample_resources("private")
    aks_silo(res, "silo1", outbound="userDefinedRouting", route_to_firewall=False)
    subnet_of(res, "silo1")["properties"]["routeTable"] = {"id": firewall_route_table("rt-missing")["id"]}
    assert statuses(audit(res), "FL-NET-005", silo="silo1") == {"unknown"}


def test_a_second_pool_in_another_silos_subnet_connects_the_silos_fl_net_006():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    second = dict(cl["properties"]["agentPoolProfiles"][0], name="userpool",
                  vnetSubnetID=subnet_of(res, "silo2")["id"])
    cl["properties"]["agentPoolProfiles"].append(second)
    result = audit(res)
    f = single(findings(result, "FL-NET-006", silo="silo1"))
    assert f["status"] == "fail" and "silo2 (same VNet)" in f["message"], f
    assert statuses(result, "FL-NET-001", silo="silo1") == {"pass"}  # both pools are in customer subnets


def test_aks_silo_sharing_another_silos_vnet_fails_fl_net_006():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    cl["properties"]["agentPoolProfiles"][0]["vnetSubnetID"] = subnet_of(res, "silo2")["id"]
    assert statuses(audit(res), "FL-NET-006", silo="silo1") == {"fail"}


def test_cluster_missing_from_the_input_is_unknown_everywhere():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    res.remove(cl)
    result = audit(res)
    for rid in ("FL-NET-001", "FL-NET-002", "FL-NET-005", "FL-K8S-001", "FL-K8S-002"):
        assert statuses(result, rid, silo="silo1") == {"unknown"}, rid


def test_managed_vnet_in_the_node_resource_group_places_the_nodes():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1", route_to_firewall=False, outbound="loadBalancer")
    del cl["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    result = audit(res)
    assert statuses(result, "FL-NET-001", silo="silo1") == {"unknown"}  # the MC_ VNet is not in the input
    node_rg = cl["properties"]["nodeResourceGroup"]
    vnet = dict(by_name(res, "Microsoft.Network/virtualNetworks", "vnet-silo1"))
    rid = vnet["id"].replace("/resourceGroups/rg-fl-sample/", f"/resourceGroups/{node_rg}/")
    vnet = {**vnet, "id": rid, "name": "aks-vnet-123",
            "properties": {**vnet["properties"], "subnets": [{"id": rid + "/subnets/aks-subnet", "name": "aks-subnet",
                                                              "properties": {"addressPrefix": "10.224.0.0/16"}}]}}
    res.append(vnet)
    f = single(findings(audit(res), "FL-NET-001", silo="silo1"))
    assert f["status"] == "pass"
    assert property_evidence(f, "properties.nodeResourceGroup")["value"] == node_rg
    assert statuses(audit(res), "FL-NET-003", silo="silo1") == {"fail"}  # that subnet has no NSG


def test_sample_extension_defaults_report_insecure_connections_without_blocking_while_inference_is_off():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", extension=SAMPLE_EXTENSION)
    result = audit(res)
    f = single(findings(result, "FL-K8S-008", silo="silo1"))
    assert (f["status"], f["severity"], f["blocks"]) == ("fail", "low", [])
    assert "inference is off" in f["message"]
    assert property_evidence(f, "properties.configurationSettings.allowInsecureConnections")["value"] == "true"
    assert statuses(result, "FL-K8S-003", silo="silo1") == {"not_applicable"}
    assert result["verdict"]["production"]["status"] == "ready"


def test_insecure_connections_with_inference_on_block_production():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", extension={**SAMPLE_EXTENSION, "enableInference": "true"})
    f = single(findings(audit(res), "FL-K8S-003", silo="silo1"))
    assert (f["status"], f["severity"], f["blocks"]) == ("fail", "high", ["production"])


def test_inference_router_on_a_public_load_balancer_fails():
    res = sample_resources("hardened")
    ext = {**SAMPLE_EXTENSION, "enableInference": "true", "allowInsecureConnections": "false"}
    del ext["internalLoadBalancerProvider"]
    aks_silo(res, "silo1", extension=ext)
    assert statuses(audit(res), "FL-K8S-004", silo="silo1") == {"fail"}


def test_inference_router_on_node_ports_follows_the_nodes_public_ips():
    ext = {"enableTraining": "True", "enableInference": "True", "inferenceRouterServiceType": "nodePort"}
    for public, expected in ((True, "fail"), (False, "pass")):
        res = sample_resources("hardened")
        aks_silo(res, "silo1", extension=ext, node_public_ip=public)
        assert statuses(audit(res), "FL-K8S-004", silo="silo1") == {expected}


def test_missing_extension_is_unknown_not_pass():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    res[:] = [r for r in res if not r["id"].startswith(cl["id"] + "/providers/")]
    result = audit(res)
    for rid in ("FL-K8S-003", "FL-K8S-004", "FL-K8S-005"):
        assert statuses(result, rid, silo="silo1") == {"unknown"}, rid


def test_extension_of_another_type_is_not_the_azureml_extension():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    res[:] = [r for r in res if not r["id"].startswith(cl["id"] + "/providers/")]
    other = azureml_extension(cl["id"], {"allowInsecureConnections": "false"}, name="monitor")
    other["properties"]["extensionType"] = "azuremonitor-containers"
    res.append(other)
    assert statuses(audit(res), "FL-K8S-003", silo="silo1") == {"unknown"}


def test_local_accounts_left_enabled_fail():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    del cl["properties"]["disableLocalAccounts"]
    f = single(findings(audit(res), "FL-K8S-002", silo="silo1"))
    assert f["status"] == "fail"
    assert property_evidence(f, "properties.disableLocalAccounts")["default_assumed"] is True


def _arc_silo(res, status):
    old = compute(res, "silo1-01")
    uai_id = next(iter(old["identity"]["userAssignedIdentities"]))
    uai = next(r for r in res if r["id"] == uai_id)
    arc = connected_cluster("partner-k8s", status=status)
    res.remove(old)
    res += [arc, kubernetes_compute(old["id"].rsplit("/computes/", 1)[0], "silo1-01", arc["id"], uai),
            azureml_extension(arc["id"], {"enableTraining": "True", "enableInference": "False"})]
    return arc


def test_arc_silo_connectivity_is_judged_and_its_network_stays_unknown():
    for status, expected in (("Connected", "pass"), ("Offline", "fail"), (None, "unknown")):
        res = sample_resources("hardened")
        _arc_silo(res, status)
        result = audit(res)
        assert statuses(result, "FL-K8S-006", silo="silo1") == {expected}, status
        assert statuses(result, "FL-NET-001", silo="silo1") == {"unknown"}
        assert statuses(result, "FL-NET-002", silo="silo1") == {"unknown"}  # the partner's nodes: not in Azure
        assert statuses(result, "FL-K8S-001", silo="silo1") == set()  # not an AKS cluster: no API server finding


def test_aks_cluster_built_from_the_spec_example_without_subnet_is_not_placed_by_string():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    cl["properties"]["agentPoolProfiles"][0]["vnetSubnetID"] = "test-subnet-resource-id"
    result = audit(res)
    assert statuses(result, "FL-NET-001", silo="silo1") == {"unknown"}
    assert managed_cluster("x", None)["properties"]["agentPoolProfiles"][0].get("vnetSubnetID") is None


def test_two_silos_attached_to_one_aks_cluster_share_a_network_and_fail_fl_net_006():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    old = compute(res, "silo2-01")
    uai_id = next(iter(old["identity"]["userAssignedIdentities"]))
    uai = next(r for r in res if r["id"] == uai_id)
    res.remove(old)
    res.append(kubernetes_compute(old["id"].rsplit("/computes/", 1)[0], "silo2-01", cl["id"], uai))
    result = audit(res)
    assert statuses(result, "FL-NET-006", silo="silo1") == {"fail"}
    assert statuses(result, "FL-NET-006", silo="silo2") == {"fail"}


def test_missing_node_resource_group_takes_the_aks_default_name_marked_as_assumed():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1", route_to_firewall=False, outbound="loadBalancer")
    del cl["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    node_rg = cl["properties"].pop("nodeResourceGroup")
    assert node_rg == f"MC_rg-fl-sample_{cl['name']}_{cl['location']}"
    vnet = dict(by_name(res, "Microsoft.Network/virtualNetworks", "vnet-silo1"))
    rid = vnet["id"].replace("/resourceGroups/rg-fl-sample/", f"/resourceGroups/{node_rg}/")
    res.append({**vnet, "id": rid, "name": "aks-vnet-1",
                "properties": {**vnet["properties"], "subnets": [{"id": rid + "/subnets/aks-subnet",
                                                                  "name": "aks-subnet",
                                                                  "properties": {"addressPrefix": "10.224.0.0/16"}}]}})
    f = single(findings(audit(res), "FL-NET-001", silo="silo1"))
    assert f["status"] == "pass"
    assert property_evidence(f, "properties.nodeResourceGroup")["default_assumed"] is True


def test_extension_identity_with_a_role_on_silo_storage_fails():
    from tests.support import role_assignment, storage

    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    ext = next(r for r in res if r["id"].startswith(cl["id"] + "/providers/"))
    ext["identity"] = {"type": "SystemAssigned", "principalId": "5f0a7d2e-1b3c-4d5e-8f90-a1b2c3d4e5f6",
                       "tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47"}
    assert statuses(audit(res), "FL-K8S-007", silo="silo1") == {"pass"}
    res.append(role_assignment(storage(res, "silo2")["id"], "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1",
                               ext["identity"]["principalId"]))
    f = single(findings(audit(res), "FL-K8S-007", silo="silo1"))
    assert f["status"] == "fail" and "silo2" in f["message"]


def test_extension_identity_without_its_principal_id_is_unknown():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    ext = next(r for r in res if r["id"].startswith(cl["id"] + "/providers/"))
    ext["identity"] = {"type": "SystemAssigned"}
    assert statuses(audit(res), "FL-K8S-007", silo="silo1") == {"unknown"}


def test_an_extension_on_a_cluster_whose_name_extends_the_silos_does_not_count():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    res[:] = [r for r in res if not r["id"].startswith(cl["id"] + "/providers/")]
    res.append(azureml_extension(cl["id"] + "0", {"allowInsecureConnections": "false"}))  # aks-silo10
    assert statuses(audit(res), "FL-K8S-003", silo="silo1") == {"unknown"}


def test_authorized_range_that_is_not_a_cidr_is_no_restriction():
    res = sample_resources("hardened")
    aks_silo(res, "silo1", private=False, authorized=["AzureCloud"])
    assert statuses(audit(res), "FL-K8S-001", silo="silo1") == {"fail"}


def test_kubelet_identity_with_a_role_on_another_silos_storage_fails():
    from tests.support import role_assignment, storage

    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    assert statuses(audit(res), "FL-K8S-009", silo="silo1") == {"pass"}
    kubelet = cl["properties"]["identityProfile"]["kubeletidentity"]["objectId"]
    res.append(role_assignment(storage(res, "silo2")["id"], "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", kubelet))
    f = single(findings(audit(res), "FL-K8S-009", silo="silo1"))
    assert f["status"] == "fail" and "silo2" in f["message"]
    cl["properties"]["agentPoolProfiles"][0]["podLinkLocalAccess"] = "None"  # pods cannot reach IMDS
    assert statuses(audit(res), "FL-K8S-009", silo="silo1") == {"pass"}


def test_kubelet_identity_missing_from_the_input_is_unknown():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    del cl["properties"]["identityProfile"]
    assert statuses(audit(res), "FL-K8S-009", silo="silo1") == {"unknown"}


def test_topology_names_the_cluster_and_its_subnet():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    silo = next(s for s in audit(res)["topology"]["silos"] if s["name"] == "silo1")
    [c] = silo["computes"]
    assert c["cluster"] == {"id": cl["id"], "kind": "aks"}
    assert c["subnet_id"] == cl["properties"]["agentPoolProfiles"][0]["vnetSubnetID"]
    assert c["subnet_ids"] == [c["subnet_id"]] and c["vnet_ids"] == [c["vnet_id"]]


def test_the_silos_own_cluster_running_as_its_identity_is_no_takeover_but_another_silos_cluster_is():
    """The FL sample's AKS silos give the cluster the silo's user-assigned identity (identity block): that cluster
    is the silo's own compute. The same identity on a cluster another silo attaches is a takeover path (FL-ID-010)."""
    from tests.support import identity

    res = sample_resources("hardened")
    own = aks_silo(res, "silo1")
    uai = identity(res, "uai-silo1")
    own["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {uai["id"]: {}}}
    assert statuses(audit(res), "FL-ID-010", silo="silo1") == {"pass"}
    other = aks_silo(res, "silo2")
    other["identity"] = {"type": "UserAssigned", "userAssignedIdentities": {uai["id"]: {}}}
    result = audit(res)
    assert statuses(result, "FL-ID-010", silo="silo1") == {"fail"}
    assert "aks-silo2" in single(findings(result, "FL-ID-010", silo="silo1", status="fail"))["message"]
