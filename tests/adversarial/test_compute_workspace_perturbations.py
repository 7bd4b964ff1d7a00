"""Compute and workspace perturbations that must never pass: node public IPs as strings or missing, the SSH
port NotSpecified outside a VNet with an admin user, computes without an identity block or whose identity's
principal is unknown, computes without properties or of a type whose network Azure ML does not describe,
workspace public access in other casing or missing, workspace flags as strings, a Pending workspace private
endpoint, key vault and registry settings in other casing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adversarial.common import not_passing, workspace
from tests.support import audit, by_type, compute, identity, sample_resources, statuses

MISSING = object()


def _silo1_compute(**change: Any) -> list[dict[str, Any]]:
    res = sample_resources()
    inner = compute(res, "silo1-01")["properties"]["properties"]
    for key, value in change.items():
        if value is MISSING:
            inner.pop(key, None)
        else:
            inner[key] = value
    return res


@pytest.mark.parametrize("value", ["true", "True", True, None, MISSING])
def test_node_public_ip_not_stated_false(value):
    not_passing(audit(_silo1_compute(enableNodePublicIp=value)), "FL-NET-002", "silo1")


def test_node_public_ip_property_name_in_other_casing():
    res = _silo1_compute(enableNodePublicIp=MISSING, EnableNodePublicIp=True)
    not_passing(audit(res), "FL-NET-002", "silo1")


@pytest.mark.parametrize("state", ["NotSpecified", "notspecified", MISSING])
def test_ssh_not_specified_without_a_subnet_and_with_an_admin_user(state):
    res = _silo1_compute(remoteLoginPortPublicAccess=state, subnet=MISSING,
                         userAccountCredentials={"adminUserName": "azureuser", "adminUserPassword": None})
    not_passing(audit(res), "FL-WSH-005", "silo1")


@pytest.mark.parametrize("state", ["enabled", "Enabled", "Weird"])
def test_ssh_port_state_not_disabled(state):
    not_passing(audit(_silo1_compute(remoteLoginPortPublicAccess=state)), "FL-WSH-005", "silo1")


@pytest.mark.parametrize("ident", [MISSING, None, {"type": "SystemAssigned",
                                                   "principalId": "0b7e4c1d-0000-4000-8000-00000000c001"}])
def test_compute_without_its_own_user_assigned_identity(ident):
    res = sample_resources()
    c = compute(res, "silo1-01")
    if ident is MISSING:
        del c["identity"]
    else:
        c["identity"] = ident
    not_passing(audit(res), "FL-ID-001", "silo1")


def test_identity_principal_unknown_makes_its_access_unknown():
    """The compute names its identity without a principalId and the identity resource is not in the input."""
    res = sample_resources()
    c = compute(res, "silo1-01")
    (uid,) = c["identity"]["userAssignedIdentities"]
    c["identity"]["userAssignedIdentities"][uid] = {}
    res.remove(identity(res, "uai-silo1"))
    result = audit(res)
    for rule in ("FL-ID-003", "FL-ID-004", "FL-ID-007"):
        not_passing(result, rule, "silo1")


def test_compute_without_properties():
    res = sample_resources()
    del compute(res, "silo1-01")["properties"]
    result = audit(res)
    for rule in ("FL-NET-001", "FL-WSH-004", "FL-WSH-005"):
        not_passing(result, rule, "silo1")


def test_attached_kubernetes_compute_without_a_subnet():
    res = sample_resources()
    c = compute(res, "silo1-01")
    c["properties"]["computeType"] = "Kubernetes"
    del c["properties"]["properties"]["subnet"]
    result = audit(res)
    not_passing(result, "FL-NET-001", "silo1")
    not_passing(result, "FL-NET-005", "silo1")


@pytest.mark.parametrize("value", ["true", MISSING, None])
def test_compute_local_auth_not_stated_disabled(value):
    res = sample_resources()
    props = compute(res, "silo1-01")["properties"]
    if value is MISSING:
        del props["disableLocalAuth"]
    else:
        props["disableLocalAuth"] = value
    not_passing(audit(res), "FL-WSH-004", "silo1")


@pytest.mark.parametrize("value", ["enabled", "Enabled", None, MISSING, "Weird"])
def test_workspace_public_network_access_not_disabled(value):
    res = sample_resources()
    props = workspace(res)["properties"]
    if value is MISSING:
        del props["publicNetworkAccess"]
    else:
        props["publicNetworkAccess"] = value
    result = audit(res)
    not_passing(result, "FL-PE-006", None)
    not_passing(result, "FL-WSH-001", None)


def test_workspace_public_network_access_property_name_in_other_casing():
    res = sample_resources()
    props = workspace(res)["properties"]
    del props["publicNetworkAccess"]
    props["PublicNetworkAccess"] = "Enabled"
    not_passing(audit(res), "FL-PE-006", None)


@pytest.mark.parametrize("value", ["false", "true", MISSING])
def test_workspace_hbi_flag_not_stated_true(value):
    res = sample_resources()
    props = workspace(res)["properties"]
    if value is MISSING:
        del props["hbiWorkspace"]
    else:
        props["hbiWorkspace"] = value
    not_passing(audit(res), "FL-WSH-003", None)


def test_workspace_private_endpoint_pending():
    res = sample_resources()
    conn = workspace(res)["properties"]["privateEndpointConnections"][0]["properties"]
    conn["privateLinkServiceConnectionState"]["status"] = "Pending"
    not_passing(audit(res), "FL-PE-005", None)


@pytest.mark.parametrize("change", [
    {"publicNetworkAccess": "enabled", "networkAcls": {"defaultAction": "allow", "bypass": "AzureServices"}},
    {"publicNetworkAccess": MISSING, "networkAcls": MISSING},
    {"publicNetworkAccess": "Weird"},
])
def test_workspace_key_vault_not_private(change):
    res = sample_resources()
    props = by_type(res, "Microsoft.KeyVault/vaults")[0]["properties"]
    for key, value in change.items():
        if value is MISSING:
            props.pop(key, None)
        else:
            props[key] = value
    not_passing(audit(res), "FL-WSH-006", None)


@pytest.mark.parametrize(("change", "rule"), [
    ({"publicNetworkAccess": "Weird"}, "FL-WSH-007"),
    ({"publicNetworkAccess": "enabled", "networkRuleSet": {"defaultAction": "Allow", "ipRules": []}}, "FL-WSH-007"),
    ({"adminUserEnabled": "true"}, "FL-WSH-008"),
])
def test_workspace_registry_settings_not_understood_or_open(change, rule):
    res = sample_resources()
    props = by_type(res, "Microsoft.ContainerRegistry/registries")[0]["properties"]
    for key, value in change.items():
        if value is MISSING:
            props.pop(key, None)
        else:
            props[key] = value
    not_passing(audit(res), rule, None)


def test_workspace_default_storage_public_network_access_not_understood():
    res = sample_resources()
    sid = workspace(res)["properties"]["storageAccount"].lower()
    (st,) = [s for s in by_type(res, "Microsoft.Storage/storageAccounts") if s["id"].lower() == sid]
    st["properties"]["publicNetworkAccess"] = "Weird"
    not_passing(audit(res), "FL-WSH-009", None)


def test_identity_type_in_lower_case_still_passes():
    """Control: ARM enums compare case-insensitively, so only a real change of identity fails FL-ID-001."""
    res = sample_resources()
    compute(res, "silo1-01")["identity"]["type"] = "userassigned"
    assert statuses(audit(res), "FL-ID-001", silo="silo1") == {"pass"}
