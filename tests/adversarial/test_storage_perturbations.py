"""Storage perturbations that must never pass: ``publicNetworkAccess`` in other casing, missing, null or with a
value Azure does not define; firewall rules that open public paths; booleans as strings; missing ``properties``;
private endpoint connection states that disagree, are missing or are not Approved; a DNS zone for another
cloud's suffix. Each starts from the hardened sample (which passes) and changes one thing on silo1's account."""

from __future__ import annotations

from typing import Any

import pytest

from tests.adversarial.common import not_passing, silo_pe
from tests.support import audit, by_type, findings, sample_resources, statuses, storage

MISSING = object()


def _silo1(change: dict[str, Any]) -> list[dict[str, Any]]:
    res = sample_resources()
    props = storage(res, "silo1")["properties"]
    for key, value in change.items():
        if value is MISSING:
            props.pop(key, None)
        else:
            props[key] = value
    return res


@pytest.mark.parametrize("value", ["enabled", "ENABLED", None, MISSING, False, "SecuredByPerimeter",
                                   "SomethingNew", "Disabled "])
def test_public_network_access_values_that_are_not_disabled(value):
    not_passing(audit(_silo1({"publicNetworkAccess": value})), "FL-PE-001", "silo1")


def test_public_network_access_value_azure_does_not_define_is_a_public_path():
    result = audit(_silo1({"publicNetworkAccess": "SomethingNew"}))
    assert not_passing(result, "FL-PE-001", "silo1") == {"fail"}
    paths = [p for p in result["network_paths"] if p["silo"] == "silo1" and p["path_kind"] == "public"]
    assert any("not understood" in p["detail"] and p["status"] == "open" for p in paths), paths


def test_public_network_access_property_name_in_other_casing():
    res = sample_resources()
    props = storage(res, "silo1")["properties"]
    del props["publicNetworkAccess"]
    props["PublicNetworkAccess"] = "Enabled"
    not_passing(audit(res), "FL-PE-001", "silo1")


def test_storage_account_without_properties():
    res = sample_resources()
    del storage(res, "silo1")["properties"]
    result = audit(res)
    # (FL-STG-002 passes here on its documented default, supportsHttpsTrafficOnly missing means true:
    # reported to the lead, since a resource without any properties is a truncated export)
    for rule in ("FL-PE-001", "FL-STG-003", "FL-STG-004", "FL-STG-005"):
        not_passing(result, rule, "silo1")


@pytest.mark.parametrize("acls", [
    {"ipRules": [{"value": "0.0.0.0/0", "action": "Allow"}]},
    {"ipRules": [{"value": "1.2.3.4/1", "action": "Allow"}]},
    {"ipRules": [{"iPAddressOrRange": "203.0.113.0/24"}]},
    {"defaultAction": "allow"},
    {"defaultAction": None},
    {"defaultAction": "Allowed"},
    {"bypass": "AzureServices, Logging"},
    {"bypass": "Logging,Metrics"},
    {"bypass": None},
    {"virtualNetworkRules": [{"id": "/subscriptions/x/resourceGroups/other/providers/Microsoft.Network/"
                                    "virtualNetworks/v/subnets/s", "action": "Allow"}]},
    {"resourceAccessRules": [{"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47",
                              "resourceId": "/subscriptions/x/resourceGroups/other/providers/"
                                            "Microsoft.MachineLearningServices/workspaces/*"}]},
])
def test_firewall_rules_with_public_network_access_enabled(acls):
    res = _silo1({"publicNetworkAccess": "Enabled"})
    storage(res, "silo1")["properties"]["networkAcls"].update(acls)
    not_passing(audit(res), "FL-PE-001", "silo1")


def test_open_ip_rule_is_reported_as_a_high_public_path():
    res = _silo1({"publicNetworkAccess": "Enabled"})
    storage(res, "silo1")["properties"]["networkAcls"]["ipRules"] = [{"value": "1.2.3.4/1", "action": "Allow"}]
    (finding,) = findings(audit(res), "FL-PE-001", silo="silo1")
    assert finding["status"] == "fail" and finding["severity"] == "high"


@pytest.mark.parametrize(("key", "value", "rule"), [
    ("supportsHttpsTrafficOnly", "false", "FL-STG-002"),
    ("supportsHttpsTrafficOnly", "true", "FL-STG-002"),
    ("supportsHttpsTrafficOnly", 0, "FL-STG-002"),
    ("allowBlobPublicAccess", "true", "FL-STG-003"),
    ("allowBlobPublicAccess", "false", "FL-STG-003"),
    ("allowBlobPublicAccess", 1, "FL-STG-003"),
    ("allowBlobPublicAccess", MISSING, "FL-STG-003"),
    ("allowSharedKeyAccess", "false", "FL-STG-004"),
    ("allowSharedKeyAccess", None, "FL-STG-004"),
    ("allowSharedKeyAccess", MISSING, "FL-STG-004"),
    ("allowCrossTenantReplication", "false", "FL-STG-005"),
    ("allowCrossTenantReplication", MISSING, "FL-STG-005"),
    ("minimumTlsVersion", "tls1_0", "FL-STG-001"),
    ("minimumTlsVersion", "TLS1_1", "FL-STG-001"),
    ("minimumTlsVersion", "TLS1.2", "FL-STG-001"),
    ("minimumTlsVersion", None, "FL-STG-001"),
])
def test_hardening_values_as_strings_numbers_or_missing(key, value, rule):
    not_passing(audit(_silo1({key: value})), rule, "silo1")


@pytest.mark.parametrize(("key", "value", "rule"), [
    ("allowSharedKeyAccess", True, "FL-STG-004"),
    ("allowBlobPublicAccess", True, "FL-STG-003"),
    ("supportsHttpsTrafficOnly", False, "FL-STG-002"),
])
def test_hardening_property_names_in_other_casing(key, value, rule):
    res = sample_resources()
    props = storage(res, "silo1")["properties"]
    del props[key]
    props[key[0].upper() + key[1:]] = value
    not_passing(audit(res), rule, "silo1")


def _account_side(res: list[dict[str, Any]]) -> dict[str, Any]:
    return storage(res, "silo1")["properties"]["privateEndpointConnections"][0]["properties"]


def _endpoint_side(res: list[dict[str, Any]]) -> dict[str, Any]:
    return silo_pe(res, "silo1")["properties"]["privateLinkServiceConnections"][0]["properties"]


@pytest.mark.parametrize("side", ["account", "endpoint"])
@pytest.mark.parametrize("state", ["Pending", "Rejected", "Disconnected", "Approving"])
def test_private_endpoint_not_approved_on_one_side(side, state):
    res = sample_resources()
    (_account_side if side == "account" else _endpoint_side)(res)["privateLinkServiceConnectionState"]["status"] = state
    result = audit(res)
    not_passing(result, "FL-PE-002", "silo1")
    not_passing(result, "FL-PE-003", "silo1")


def test_connection_state_missing_on_both_sides():
    res = sample_resources()
    del _account_side(res)["privateLinkServiceConnectionState"]
    del _endpoint_side(res)["privateLinkServiceConnectionState"]
    not_passing(audit(res), "FL-PE-002", "silo1")


def test_pending_manual_connection():
    res = sample_resources()
    pe = silo_pe(res, "silo1")["properties"]
    pe["manualPrivateLinkServiceConnections"] = pe.pop("privateLinkServiceConnections")
    pe["manualPrivateLinkServiceConnections"][0]["properties"]["privateLinkServiceConnectionState"]["status"] = \
        "Pending"
    _account_side(res)["privateLinkServiceConnectionState"]["status"] = "Pending"
    not_passing(audit(res), "FL-PE-002", "silo1")


def test_private_dns_zone_for_another_clouds_suffix():
    res = sample_resources()
    for z in (by_type(res, "Microsoft.Network/privateDnsZones")
              + by_type(res, "Microsoft.Network/privateDnsZones/virtualNetworkLinks")
              + by_type(res, "Microsoft.Network/privateDnsZones/A")):
        for key in ("id", "name"):
            z[key] = z[key].replace("privatelink.blob.core.windows.net", "privatelink.blob.core.chinacloudapi.cn")
    not_passing(audit(res), "FL-PE-004", "silo1")


def test_private_dns_zone_name_in_upper_case_still_passes():
    """Control for the test above: DNS names compare case-insensitively, so only the suffix change matters."""
    res = sample_resources()
    for z in by_type(res, "Microsoft.Network/privateDnsZones"):
        z["name"] = z["name"].upper()
    assert statuses(audit(res), "FL-PE-004", silo="silo1") == {"pass"}
