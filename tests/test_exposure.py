"""The storage network exposure evaluator and the result's network_paths[]."""

from __future__ import annotations

from typing import Any

import pytest

from flaudit.exposure import BLOCKED, network_paths, storage_exposure
from flaudit.inventory import Inventory
from flaudit.network import NetworkIndex
from flaudit.topology import build_deployment
from tests.support import config, inventory, sample_resources, storage

RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-st"
ST = f"{RG}/providers/Microsoft.Storage/storageAccounts/stsilo0"
NET = f"{RG}/providers/Microsoft.Network"
SUBNET = f"{NET}/virtualNetworks/vnet-silo0/subnets/snet-training"


def account(pna: str | None = None, acls: dict[str, Any] | None = None) -> dict[str, Any]:
    """A storage account in the StorageAccountList.json shape; None leaves a property out."""
    props: dict[str, Any] = {"provisioningState": "Succeeded", "privateEndpointConnections": []}
    if pna is not None:
        props["publicNetworkAccess"] = pna
    if acls is not None:
        props["networkAcls"] = acls
    return {"id": ST, "name": "stsilo0", "type": "Microsoft.Storage/storageAccounts", "location": "westeurope",
            "kind": "StorageV2", "properties": props}


def kinds(exp, status: str | None = None) -> list[tuple[str, str]]:
    return [(p.path_kind, p.source) for p in exp.paths if status is None or p.status == status]


def test_public_access_disabled_with_default_action_allow_has_no_open_public_path():
    exp = storage_exposure(account("Disabled", {"defaultAction": "Allow", "bypass": "AzureServices",
                                                "ipRules": [{"value": "52.1.2.3", "action": "Allow"}]}))
    assert exp.open_public_paths == []
    assert {p.status for p in exp.paths} == {BLOCKED}
    assert ("public", "any address (Internet)") in kinds(exp, BLOCKED)


def test_missing_public_network_access_and_default_action_mean_enabled_and_allow():
    exp = storage_exposure(account())
    assert exp.public_network_access == "Enabled" and exp.pna_default_assumed
    assert exp.default_action == "Allow" and exp.default_action_assumed
    assert kinds(exp, "open") == [("public", "any address (Internet)"), ("trusted-services", "AzureServices")]
    ev = exp.setting_evidence()
    assert ev[0]["default_assumed"] and ev[1]["value"] == "Allow"


def test_firewall_rules_each_become_a_path_with_their_source():
    rai = f"{RG}/providers/Microsoft.MachineLearningServices/workspaces/ws"
    exp = storage_exposure(account("Enabled", {
        "defaultAction": "Deny", "bypass": "AzureServices, Logging, Metrics",
        "ipRules": [{"value": "20.30.40.0/24", "action": "Allow"}, {"value": "52.1.2.3"}],
        "virtualNetworkRules": [{"id": SUBNET, "action": "Allow", "state": "Succeeded"}],
        "resourceAccessRules": [{"tenantId": "t1", "resourceId": rai}]}))
    assert kinds(exp, "open") == [("ip-rule", "20.30.40.0/24"), ("ip-rule", "52.1.2.3"), ("vnet-rule", SUBNET),
                                  ("resource-instance", rai), ("trusted-services", "AzureServices"),
                                  ("trusted-services", "Logging"), ("trusted-services", "Metrics")]
    assert not any(p.path_kind == "public" for p in exp.paths)
    vrule = next(p for p in exp.paths if p.path_kind == "vnet-rule")
    assert "state Succeeded" in vrule.detail


def test_bypass_none_opens_no_trusted_services_path():
    exp = storage_exposure(account("Enabled", {"defaultAction": "Deny", "bypass": "None"}))
    assert exp.paths == ()


def test_secured_by_perimeter_reports_a_perimeter_path_and_blocks_the_firewall():
    exp = storage_exposure(account("SecuredByPerimeter", {"defaultAction": "Allow"}))
    assert exp.perimeter and exp.open_public_paths == []
    assert [(p.path_kind, p.status) for p in exp.paths][0] == ("public", "perimeter")


@pytest.mark.parametrize(("state", "status"), [("Approved", "open"), ("Pending", "pending"),
                                                ("Rejected", "rejected"), ("Disconnected", "disconnected")])
def test_private_endpoint_paths_carry_the_connection_state(state, status):
    st = account("Disabled", {"defaultAction": "Deny", "bypass": "None"})
    pe = {"id": f"{NET}/privateEndpoints/pe1", "name": "pe1", "type": "Microsoft.Network/privateEndpoints",
          "properties": {"subnet": {"id": SUBNET}, "privateLinkServiceConnections": [
              {"name": "c", "properties": {"privateLinkServiceId": ST, "groupIds": ["blob"],
                                           "privateLinkServiceConnectionState": {"status": state}}}]}}
    inv = Inventory()
    inv.extend([st, pe])
    exp = storage_exposure(st, NetworkIndex(inv))
    [path] = exp.paths
    assert (path.path_kind, path.source, path.status) == ("private-endpoint", SUBNET, status)
    assert f"connection state {state}" in path.detail


def test_approved_endpoint_in_a_peered_vnet_adds_a_peering_path():
    d = build_deployment(inventory(sample_resources("eyes-off")), config())
    silo0 = [p for p in network_paths(d) if p["silo"] == "silo0"]
    by_kind = {p["path_kind"]: p for p in silo0}
    assert by_kind["private-endpoint"]["status"] == "open"
    assert by_kind["peering"]["source"].endswith("vnet-orchestrator")
    assert by_kind["trusted-services"]["status"] == BLOCKED
    assert set(silo0[0]) == {"silo", "storage_id", "path_kind", "source", "detail", "status"}


def test_network_paths_cover_every_silo_storage_and_show_public_paths_of_open_samples():
    res = sample_resources("open")
    storage(res, "silo1")["properties"]["networkAcls"]["ipRules"] = [{"value": "203.0.113.9", "action": "Allow"}]
    paths = network_paths(build_deployment(inventory(res), config()))
    assert {p["silo"] for p in paths} == {"silo0", "silo1", "silo2"}
    assert {(p["path_kind"], p["status"]) for p in paths if p["silo"] == "silo1"} == \
        {("public", "open"), ("ip-rule", "open"), ("trusted-services", "open")}


def test_path_evidence_has_the_contract_shape():
    [path, _] = storage_exposure(account()).paths
    ev = path.evidence()
    assert ev["kind"] == "network-path" and set(ev) == {"kind", "path_kind", "source", "detail"}
    assert "status: open" in ev["detail"]


def test_managed_network_outbound_rules_are_private_endpoint_paths():
    res = sample_resources("hardened")
    st = storage(res, "silo0")
    ws = next(r for r in res if r["type"] == "Microsoft.MachineLearningServices/workspaces")
    ws["properties"]["managedNetwork"] = {"isolationMode": "AllowOnlyApprovedOutbound", "outboundRules": {
        "silo0-blob": {"type": "PrivateEndpoint", "status": "Inactive",
                       "destination": {"serviceResourceId": st["id"], "subresourceTarget": "blob"}}}}
    paths = [p for p in network_paths(build_deployment(inventory(res), config())) if p["silo"] == "silo0"
             and p["source"].endswith("managed network")]
    assert [(p["path_kind"], p["status"]) for p in paths] == [("private-endpoint", "pending")]
