"""An AKS silo whose agent pools sit in several subnets: every pool's subnet is a place silo code and data can run
(the Azure ML extension schedules training pods on any pool; system pods run on the system pool), so each subnet is
judged by the same network rules and the results combine worst-case. Fixture shapes: tests/kubernetes_fixtures.py
(ManagedClustersGet.json / AgentPoolsGet.json of azure-rest-api-specs, the network GET examples)."""

from __future__ import annotations

import pytest

from tests.kubernetes_fixtures import (
    add_subnet,
    agent_pool_profile,
    agent_pool_resource,
    aks_silo,
    open_egress_nsg,
    peering,
    second_vnet,
    subnet_of,
    vnet_of_silo,
)
from tests.support import audit, findings, property_evidence, sample_resources, single, statuses

NETWORK_RULES = ("FL-NET-001", "FL-NET-002", "FL-NET-003", "FL-NET-004", "FL-NET-005", "FL-NET-006", "FL-NET-009",
                 "FL-PE-003", "FL-PE-004", "FL-PE-007")
GPU_PREFIX = "10.100.2.128/26"  # inside vnet-silo1's 10.100.2.0/24, beside snet-training (10.100.2.0/25)


def _gpu_pool(res, **subnet):
    """silo1 as an AKS silo with a second (user) pool ``gpupool`` in a new subnet ``snet-gpu`` of its VNet."""
    cl = aks_silo(res, "silo1", **subnet.pop("cluster", {}))
    gpu = add_subnet(vnet_of_silo(res, "silo1"), "snet-gpu", GPU_PREFIX, like=subnet_of(res, "silo1"), **subnet)
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", gpu["id"]))
    return cl, gpu


def _evidence_paths(f):
    return {(e.get("resource_id"), e.get("path")) for e in f["evidence"] if e.get("kind") == "property"}


def test_two_pools_in_two_hardened_subnets_pass_every_network_rule():
    res = sample_resources("hardened")
    cl, gpu = _gpu_pool(res)
    result = audit(res)
    for rid in NETWORK_RULES:
        assert statuses(result, rid, silo="silo1") == {"pass"}, (rid, findings(result, rid, silo="silo1"))
    assert result["verdict"]["production"]["status"] == "ready", result["verdict"]["production"]["blocking"]
    f = single(findings(result, "FL-NET-003", silo="silo1"))
    assert "2 subnets" in f["message"] and "snet-training" in f["message"] and "snet-gpu" in f["message"]
    paths = _evidence_paths(f)
    assert (cl["id"], "properties.agentPoolProfiles[nodepool1].vnetSubnetID") in paths
    assert (cl["id"], "properties.agentPoolProfiles[gpupool].vnetSubnetID") in paths
    assert property_evidence(f, "properties.agentPoolProfiles[gpupool].vnetSubnetID")["value"] == gpu["id"]


def test_a_pool_subnet_whose_nsg_allows_internet_egress_fails_naming_that_pool_and_subnet():
    res = sample_resources("hardened")
    nsg = open_egress_nsg(res, "silo1", "nsg-silo1-gpu")
    _gpu_pool(res, nsg_id=nsg["id"], cluster={"outbound": "loadBalancer", "route_to_firewall": False})
    result = audit(res)
    f = single(findings(result, "FL-NET-005", silo="silo1"))
    assert f["status"] == "fail", f
    assert "1 of them fail" in f["message"] and "agent pool gpupool in subnet snet-gpu" in f["message"], f["message"]
    assert "nodepool1" not in f["message"].split("fail:", 1)[1]  # the hardened pool is not blamed
    assert any(e.get("kind") == "nsg-rule" and "AllowInternetOutbound" in str(e) for e in f["evidence"])
    assert statuses(result, "FL-NET-004", silo="silo1") == {"pass"}  # inbound is still closed on both
    assert statuses(result, "FL-NET-003", silo="silo1") == {"pass"}
    [path] = [e for e in result["access"] if e.get("silo") == "silo1" and e.get("rule_id") == "FL-NET-005"]
    assert path["target_id"].endswith("/subnets/snet-gpu") and path["principal_id"] == "Internet"
    assert path["chain"][0]["text"] == "compute silo1-01 runs in subnet snet-gpu (agent pool gpupool)"


def test_a_pool_subnet_without_an_nsg_fails_fl_net_003_naming_the_pool():
    res = sample_resources("hardened")
    _gpu_pool(res, nsg_id="")
    f = single(findings(audit(res), "FL-NET-003", silo="silo1"))
    assert f["status"] == "fail" and "agent pool gpupool in subnet snet-gpu" in f["message"], f


def test_a_pool_subnet_whose_nsg_is_not_in_the_input_is_unknown_not_pass():
    res = sample_resources("hardened")
    missing = subnet_of(res, "silo1")["properties"]["networkSecurityGroup"]["id"] + "-gpu"
    _gpu_pool(res, nsg_id=missing, cluster={"outbound": "loadBalancer", "route_to_firewall": False})
    result = audit(res)
    for rid in ("FL-NET-004", "FL-NET-005"):
        f = single(findings(result, rid, silo="silo1"))
        assert f["status"] == "unknown" and "snet-gpu" in f["message"], (rid, f)
    assert result["verdict"]["production"]["status"] != "ready"


def _missing_vnet(res):
    return vnet_of_silo(res, "silo1")["id"] + "-gpu/subnets/snet-gpu"


@pytest.mark.parametrize("subnet_of, rule_ids", [
    # a pool in a VNet that is not in the input
    (_missing_vnet, ("FL-NET-003", "FL-NET-004", "FL-NET-005")),
    # a pool without vnetSubnetID beside one with it: AKS cannot be read from ARM for such a pool (its subnet
    # depends on how the cluster was created): fail closed
    (lambda res: None, ("FL-NET-001", "FL-NET-003", "FL-NET-005")),
], ids=["vnet-not-in-input", "no-vnet-subnet-id"])
def test_a_pool_whose_subnet_cannot_be_read_leaves_the_network_findings_unknown(subnet_of, rule_ids):
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", subnet_of(res)))
    result = audit(res)
    for rid in rule_ids:
        f = single(findings(result, rid, silo="silo1"))
        assert f["status"] == "unknown" and "gpupool" in f["message"], (rid, f)


def test_pools_in_two_peered_vnets_pass_and_both_vnets_count_as_the_silos():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    other = second_vnet(res, "silo1", "vnet-silo1-gpu", "10.110.1.0/24")
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", other["properties"]["subnets"][0]["id"]))
    result = audit(res)
    for rid in NETWORK_RULES:
        assert statuses(result, rid, silo="silo1") == {"pass"}, (rid, findings(result, rid, silo="silo1"))
    silo = next(s for s in result["topology"]["silos"] if s["name"] == "silo1")
    assert other["id"].lower() in silo["vnets"] and len(silo["vnets"]) == 2
    [c] = silo["computes"]
    assert c["subnet_id"] is None and len(c["subnet_ids"]) == 2 and len(c["vnet_ids"]) == 2


def test_a_pool_vnet_without_peering_to_the_storage_endpoint_fails_fl_pe_003_naming_the_pool():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    other = second_vnet(res, "silo1", "vnet-silo1-gpu", "10.110.1.0/24", peered=False)
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", other["properties"]["subnets"][0]["id"]))
    result = audit(res)
    pe = findings(result, "FL-PE-003", silo="silo1")
    assert pe and {f["status"] for f in pe} == {"fail"}, pe
    assert all("agent pool gpupool in subnet snet-vnet-silo1-gpu" in f["message"] for f in pe)


def test_a_pool_vnet_without_the_private_dns_link_fails_fl_pe_004():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    other = second_vnet(res, "silo1", "vnet-silo1-gpu", "10.110.1.0/24", dns=False)
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", other["properties"]["subnets"][0]["id"]))
    dns = findings(audit(res), "FL-PE-004", silo="silo1")
    assert dns and "fail" in {f["status"] for f in dns}, dns
    assert all("gpupool" in f["message"] for f in dns if f["status"] == "fail")


def test_a_pool_vnet_shared_with_another_silo_fails_fl_net_006_and_fl_pe_007():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", subnet_of(res, "silo2")["id"]))
    result = audit(res)
    assert statuses(result, "FL-NET-006", silo="silo1") == {"fail"}
    # silo1's gpupool sits beside silo2's storage endpoint: silo2's data is reachable from silo1's compute
    f = single(findings(result, "FL-PE-007", silo="silo2"))
    assert f["status"] == "fail" and "silo silo1 compute silo1-01" in f["message"], f


def test_the_agent_pool_resource_overrides_the_inline_profile_of_the_same_name():
    res = sample_resources("hardened")
    nsg = open_egress_nsg(res, "silo1", "nsg-silo1-gpu")
    cl, hardened = _gpu_pool(res, cluster={"outbound": "loadBalancer", "route_to_firewall": False})
    opened = add_subnet(vnet_of_silo(res, "silo1"), "snet-gpu-open", "10.100.2.192/26", nsg_id=nsg["id"])
    pool = agent_pool_resource(cl, "gpupool", opened["id"])
    res.append(pool)
    f = single(findings(audit(res), "FL-NET-005", silo="silo1"))
    assert f["status"] == "fail" and "agent pool gpupool in subnet snet-gpu-open" in f["message"], f
    assert (pool["id"], "properties.vnetSubnetID") in _evidence_paths(f)
    assert (cl["id"], "properties.agentPoolProfiles[gpupool].vnetSubnetID") not in _evidence_paths(f)
    assert hardened["id"] not in str(f["message"])


def test_node_public_ip_on_the_second_pool_fails_fl_net_002_naming_it():
    res = sample_resources("hardened")
    cl, _ = _gpu_pool(res)
    cl["properties"]["agentPoolProfiles"][-1]["enableNodePublicIP"] = True
    f = single(findings(audit(res), "FL-NET-002", silo="silo1"))
    assert f["status"] == "fail" and "gpupool" in f["message"] and "nodepool1" not in f["message"], f


def test_single_pool_findings_keep_their_one_subnet_wording():
    res = sample_resources("hardened")
    aks_silo(res, "silo1")
    f = single(findings(audit(res), "FL-NET-003", silo="silo1"))
    assert f["message"] == "Subnet snet-training of compute silo1-01 has NSG nsg-silo1."


def test_two_pools_in_one_subnet_are_one_placement_whatever_the_id_casing():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    same = subnet_of(res, "silo1")["id"].upper()
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", same))
    result = audit(res)
    f = single(findings(result, "FL-NET-003", silo="silo1"))
    assert f["message"].lower() == "subnet snet-training of compute silo1-01 has nsg nsg-silo1."
    paths = _evidence_paths(findings(result, "FL-NET-001", silo="silo1")[0])
    assert (cl["id"], "properties.agentPoolProfiles[gpupool].vnetSubnetID") in paths
    assert (cl["id"], "properties.agentPoolProfiles[nodepool1].vnetSubnetID") in paths
    [c] = next(s for s in result["topology"]["silos"] if s["name"] == "silo1")["computes"]
    assert len(c["subnet_ids"]) == 1 and c["subnet_id"] is not None


def test_an_unknown_pool_does_not_hide_a_failing_one():
    # worst case: fail beats unknown, and the message names only the failing pool
    res = sample_resources("hardened")
    nsg = open_egress_nsg(res, "silo1", "nsg-silo1-gpu")
    cl, _ = _gpu_pool(res, nsg_id=nsg["id"], cluster={"outbound": "loadBalancer", "route_to_firewall": False})
    unread = vnet_of_silo(res, "silo1")["id"] + "-gone/subnets/snet-x"
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("cpupool", unread))
    f = single(findings(audit(res), "FL-NET-005", silo="silo1"))
    assert f["status"] == "fail" and "gpupool" in f["message"] and "cpupool" not in f["message"], f
    notes = [e["text"] for e in f["evidence"] if e.get("kind") == "note"]
    assert "agent pool cpupool in subnet snet-x: unknown" in notes and "agent pool gpupool in subnet snet-gpu: fail" in notes


def test_a_pool_vnet_peered_outside_the_deployment_fails_fl_net_009():
    res = sample_resources("hardened")
    cl = aks_silo(res, "silo1")
    other = second_vnet(res, "silo1", "vnet-silo1-gpu", "10.110.1.0/24")
    cl["properties"]["agentPoolProfiles"].append(agent_pool_profile("gpupool", other["properties"]["subnets"][0]["id"]))
    outside = {"id": other["id"].replace("rg-fl-sample", "rg-partner").rsplit("/", 1)[0] + "/vnet-partner",
               "name": "vnet-partner", "properties": {"addressSpace": {"addressPrefixes": ["10.200.0.0/24"]}}}
    other["properties"]["virtualNetworkPeerings"].append(peering(other, outside))
    f = single(findings(audit(res), "FL-NET-009", silo="silo1"))
    assert f["status"] == "fail" and "vnet-partner" in f["message"], f
