"""Cross-silo perturbations that must never pass: a private endpoint to one silo's storage placed in another
silo's VNet (seen from either side), a workspace managed network private endpoint rule to a silo's storage, a
stale private DNS record, two silos sharing a storage account or an identity named in other casing, and a
second silo compute with a public IP."""

from __future__ import annotations

import copy

import pytest

from flaudit.config import parse_config
from flaudit.samples import generate
from tests.adversarial.common import not_passing, silo_pe, workspace
from tests.support import audit, by_name, by_type, compute, findings, sample_resources, storage

DATASTORE = "Microsoft.MachineLearningServices/workspaces/datastores"


@pytest.mark.parametrize("sides", ["both", "endpoint", "account"])
def test_private_endpoint_to_silo1_storage_in_silo0_vnet(sides):
    res = sample_resources()
    pe = copy.deepcopy(silo_pe(res, "silo1"))
    pe["id"] += "-from-silo0"
    pe["name"] += "-from-silo0"
    pe["properties"]["subnet"] = copy.deepcopy(silo_pe(res, "silo0")["properties"]["subnet"])
    if sides in ("both", "endpoint"):
        res.append(pe)
    if sides in ("both", "account"):
        conns = storage(res, "silo1")["properties"]["privateEndpointConnections"]
        conn = copy.deepcopy(conns[0])
        conn["id"] += "-from-silo0"
        conn["properties"]["privateEndpoint"]["id"] = pe["id"]
        conns.append(conn)
    found = not_passing(audit(res), "FL-PE-007", "silo1")
    if sides == "account":  # the endpoint's subnet is not in the input: where it sits is unknown
        assert found == {"unknown"}


def test_managed_network_private_endpoint_rule_to_a_silos_storage():
    """Every compute in the workspace managed network (every silo's) reaches an account it has a rule for."""
    res = sample_resources()
    for name in ("silo0-01", "silo1-01", "silo2-01", "orchestrator-01"):
        compute(res, name)["properties"]["properties"].pop("subnet", None)
    workspace(res)["properties"]["managedNetwork"] = {
        "isolationMode": "AllowOnlyApprovedOutbound", "status": {"status": "Active"},
        "outboundRules": {"silo1-blob": {"type": "privateendpoint", "category": "UserDefined", "status": "Active",
                                         "destination": {"serviceResourceId": storage(res, "silo1")["id"].upper(),
                                                         "subresourceTarget": "Blob"}}}}
    not_passing(audit(res), "FL-PE-007", "silo1")


def test_private_dns_record_not_pointing_at_the_private_endpoint():
    res = sample_resources()
    name = storage(res, "silo1")["name"]
    silo_pe(res, "silo1")["properties"]["customDnsConfigs"] = [
        {"fqdn": f"{name}.blob.core.windows.net", "ipAddresses": ["10.100.2.10"]}]
    for rec in by_type(res, "Microsoft.Network/privateDnsZones/A"):
        if rec["name"].lower() == name:
            rec["properties"]["aRecords"] = [{"ipv4Address": "10.200.0.4"}]
    not_passing(audit(res), "FL-PE-004", "silo1")


def test_two_silos_share_a_storage_account_named_in_other_casing():
    res = sample_resources()
    by_name(res, DATASTORE, "datastore_silo2")["properties"]["accountName"] = storage(res, "silo1")["name"].upper()
    not_passing(audit(res), "FL-TOP-003", "silo2")


@pytest.mark.parametrize("with_principal", [True, False])
def test_two_silos_share_an_identity_named_in_other_casing(with_principal):
    res = sample_resources()
    ((uid, value),) = compute(res, "silo1-01")["identity"]["userAssignedIdentities"].items()
    compute(res, "silo2-01")["identity"]["userAssignedIdentities"] = {
        uid.upper(): copy.deepcopy(value) if with_principal else {}}
    not_passing(audit(res), "FL-ID-002", "silo2")


def test_second_silo_compute_with_a_public_ip():
    res = sample_resources()
    second = copy.deepcopy(compute(res, "silo1-01"))
    second["id"] = second["id"].replace("silo1-01", "silo1-02")
    second["name"] = "silo1-02"
    second["properties"]["properties"]["enableNodePublicIp"] = True
    res.append(second)
    doc = generate.fl_config(3)
    doc["federated_learning"]["silos"][1]["computes"] = ["silo1-01", "silo1-02"]
    result = audit(res, parse_config(doc, "two-computes.yaml"))
    assert "fail" in {f["status"] for f in findings(result, "FL-NET-002", silo="silo1")}
    assert result["verdict"]["production"]["status"] != "ready"
