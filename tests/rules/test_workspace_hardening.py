"""Workspace hardening (FL-WSH-*): workspace settings, compute local auth and SSH, and the exposure of the
workspace's key vault, container registry and default storage; pass, fail and unknown for each, the Azure
defaults assumed for missing properties, referenced resources missing from the input, and the samples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flaudit.rules.workspace_hardening as pack
import pytest

from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests import support

RULES = support.rules_of(pack)
SANDBOXES = ("open", "eyes-on", "eyes-off", "private")
WS = "Microsoft.MachineLearningServices/workspaces"


def run(resources: list[dict[str, Any]], cfg: Any = "default", unreadable: list[Unreadable] = ()) -> dict[str, Any]:
    return support.run_area(resources, RULES, cfg, unreadable=unreadable)


def workspace(res: list[dict[str, Any]]) -> dict[str, Any]:
    return support.by_type(res, WS)[0]


def key_vault(res: list[dict[str, Any]]) -> dict[str, Any]:
    return support.by_type(res, "Microsoft.KeyVault/vaults")[0]


def registry(res: list[dict[str, Any]]) -> dict[str, Any]:
    return support.by_type(res, "Microsoft.ContainerRegistry/registries")[0]


def inner(res: list[dict[str, Any]], compute_name: str) -> dict[str, Any]:
    return support.compute(res, compute_name)["properties"]["properties"]


def one(result: dict[str, Any], rule_id: str, silo: str | None = None, resource_suffix: str = "") -> dict[str, Any]:
    return support.single([f for f in support.findings(result, rule_id, silo=silo)
                           if f["resource_id"].endswith(resource_suffix)])


_REMOVED = object()


def judged(rule_id: str, resource: Callable[[list[dict[str, Any]]], dict[str, Any]], setting: str,
           value: Any = _REMOVED) -> dict[str, Any]:
    """The rule's one finding in the hardened sample with one property of ``resource`` (workspace, registry)
    changed: set to ``value``, or removed when no value is given (to see the default the rule assumes)."""
    res = support.sample_resources("hardened")
    if value is _REMOVED:
        del resource(res)["properties"][setting]
    else:
        resource(res)["properties"][setting] = value
    return one(run(res), rule_id)


# -- hardened posture and metadata --------------------------------------------------------------------------------
def test_hardened_passes_every_workspace_hardening_rule():
    result = run(support.sample_resources("hardened"))
    for r in RULES:
        statuses = support.statuses(result, r.id)
        assert statuses and statuses <= {"pass", "not_applicable"}, (r.id, support.findings(result, r.id))
    # the managed network is disabled there because every silo compute sits in a customer VNet
    assert support.statuses(result, "FL-WSH-002") == {"not_applicable"}


def test_rules_carry_verified_policies_and_documented_defaults():
    policies = {r.id: r.policy for r in RULES}
    assert policies == {
        "FL-WSH-001": ("438c38d2-3772-465a-a9cc-7a6666a275ce",),
        "FL-WSH-002": ("6ddb1705-c8cf-450e-aa4b-19ad6703c440",),
        "FL-WSH-003": (),
        "FL-WSH-004": ("e96a9a5f-07ca-471b-9bc5-6a0f33cbd68f",),
        "FL-WSH-005": (),
        "FL-WSH-006": ("405c5871-3e91-4644-8a63-58e19d68ff5b", "55615ac9-af46-4a59-874e-391cc3dfb490"),
        "FL-WSH-007": ("0fdf0491-d080-4575-b627-ad0e843cba0f", "d0793b48-0edc-4296-a390-4c75d1bdfd71",
                       "9f2dea28-e834-476c-99c5-3507b4728395"),
        "FL-WSH-008": ("dc921057-6b28-4fbe-9b83-f7bec05db6c2",),
        "FL-WSH-009": ("b2982f36-99f2-4db5-8eff-283140c09693", "34c877ad-507e-4c82-993e-3452a6e0ad3c"),
        "FL-WSH-010": ("8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",),  # Storage accounts should prevent shared key access
        "FL-WSH-011": (),
    }
    for r in RULES:
        assert r.area == "workspace-hardening" and r.blocks == ("production",)
        assert r.references[0].startswith("https://learn.microsoft.com/")
        assert r.remediation.cli.startswith("az ") and "resource " in r.remediation.bicep
        assert "default" in r.rationale.lower()


# -- FL-WSH-001 workspace public network access -------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [("Disabled", "pass"), ("Enabled", "fail"), ("Sometimes", "unknown")])
def test_workspace_public_network_access_values(value, status):
    assert judged("FL-WSH-001", workspace, "publicNetworkAccess", value)["status"] == status


def test_missing_workspace_public_network_access_means_enabled_and_missing_firewall_means_allow():
    f = judged("FL-WSH-001", workspace, "publicNetworkAccess")
    assert f["status"] == "fail"
    ev = support.property_evidence(f, "properties.publicNetworkAccess")
    assert ev["value"] == "Enabled" and ev["default_assumed"] is True
    ev = support.property_evidence(f, "properties.networkAcls.defaultAction")
    assert ev["value"] == "Allow" and ev["default_assumed"] is True


@pytest.mark.parametrize("ips,status", [(["203.0.113.7/32"], "pass"), (["0.0.0.0/0"], "fail"), ([], "pass")])
def test_workspace_enabled_from_selected_ip_addresses(ips, status):
    res = support.sample_resources("hardened")
    props = workspace(res)["properties"]
    props["publicNetworkAccess"] = "Enabled"
    props["networkAcls"] = {"defaultAction": "Deny", "ipRules": [{"value": ip} for ip in ips]}
    f = one(run(res), "FL-WSH-001")
    assert f["status"] == status
    assert support.property_evidence(f, "properties.networkAcls.defaultAction")["value"] == "Deny"


def test_workspace_missing_from_the_inventory_is_unknown_for_every_workspace_level_rule():
    res = [r for r in support.sample_resources("hardened") if r["type"] != WS]
    result = run(res)
    for rid in ("FL-WSH-001", "FL-WSH-002", "FL-WSH-003", "FL-WSH-006", "FL-WSH-007", "FL-WSH-008", "FL-WSH-009"):
        f = one(result, rid)
        assert f["status"] == "unknown" and generate.WS_NAME in f["message"], (rid, f)


# -- FL-WSH-002 managed network --------------------------------------------------------------------------------
def test_allow_only_approved_outbound_passes_and_lists_fqdn_rules():
    res = support.sample_resources("hardened")
    workspace(res)["properties"]["managedNetwork"] = {
        "isolationMode": "AllowOnlyApprovedOutbound",
        "outboundRules": {"pypi": {"type": "FQDN", "category": "UserDefined", "destination": "pypi.org"},
                          "storage": {"type": "PrivateEndpoint", "category": "Required",
                                      "destination": {"serviceResourceId": "x", "subresourceTarget": "blob"}}},
        "status": {"status": "Active"}}
    f = one(run(res), "FL-WSH-002")
    assert f["status"] == "pass"
    assert any("pypi.org" in e.get("text", "") for e in f["evidence"])


def test_outbound_rules_exported_as_a_list_are_read_too():
    res = support.sample_resources("hardened")
    workspace(res)["properties"]["managedNetwork"] = {
        "isolationMode": "AllowOnlyApprovedOutbound",
        "outboundRules": [{"name": "pypi", "type": "FQDN", "destination": "pypi.org"}]}
    f = one(run(res), "FL-WSH-002")
    assert f["status"] == "pass" and any("pypi.org" in e.get("text", "") for e in f["evidence"])


def test_allow_internet_outbound_fails():
    res = support.sample_resources("hardened")
    workspace(res)["properties"]["managedNetwork"]["isolationMode"] = "AllowInternetOutbound"
    f = one(run(res), "FL-WSH-002")
    assert f["status"] == "fail" and "anywhere" in f["message"]


def test_managed_network_disabled_with_a_silo_compute_outside_any_vnet_fails_naming_it():
    res = support.sample_resources("hardened")
    del inner(res, "silo1-01")["subnet"]
    f = one(run(res), "FL-WSH-002")
    assert f["status"] == "fail" and "silo1-01" in f["message"] and "silo0-01" not in f["message"]


def test_missing_managed_network_means_disabled():
    res = support.sample_resources("open")
    del workspace(res)["properties"]["managedNetwork"]
    f = one(run(res), "FL-WSH-002")
    assert f["status"] == "fail"  # no VNets in the open posture
    ev = support.property_evidence(f, "properties.managedNetwork.isolationMode")
    assert ev["value"] == "Disabled" and ev["default_assumed"] is True


def test_managed_network_disabled_with_an_unresolved_silo_compute_is_unknown():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][2]["computes"] = ["silo2-99"]
    cfg = support.config(federated_learning=doc["federated_learning"])
    f = one(run(support.sample_resources("hardened"), cfg), "FL-WSH-002")
    assert f["status"] == "unknown" and "silo2" in f["message"]


def test_unknown_isolation_mode_is_unknown():
    res = support.sample_resources("hardened")
    workspace(res)["properties"]["managedNetwork"]["isolationMode"] = "Quarantine"
    assert one(run(res), "FL-WSH-002")["status"] == "unknown"


# -- FL-WSH-003 HBI ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [(True, "pass"), (False, "fail"), ("true", "unknown")])
def test_hbi_values(value, status):
    assert judged("FL-WSH-003", workspace, "hbiWorkspace", value)["status"] == status


def test_missing_hbi_flag_means_false():
    f = judged("FL-WSH-003", workspace, "hbiWorkspace")
    assert f["status"] == "fail" and support.property_evidence(f, "properties.hbiWorkspace")["default_assumed"] is True


# -- FL-WSH-004 compute local auth --------------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [(True, "pass"), (False, "fail"), ("yes", "unknown")])
def test_compute_disable_local_auth_values(value, status):
    res = support.sample_resources("hardened")
    support.compute(res, "silo0-01")["properties"]["disableLocalAuth"] = value
    result = run(res)
    assert one(result, "FL-WSH-004", "silo0")["status"] == status
    assert one(result, "FL-WSH-004", "silo1")["status"] == "pass"


def test_missing_disable_local_auth_means_local_auth_enabled():
    res = support.sample_resources("hardened")
    del support.compute(res, "orchestrator-01")["properties"]["disableLocalAuth"]
    f = one(run(res), "FL-WSH-004", None)
    assert f["status"] == "fail" and "orchestrator-01" in f["message"]
    ev = support.property_evidence(f, "properties.disableLocalAuth")
    assert ev["value"] is False and ev["default_assumed"] is True


def test_silo_without_a_resolved_compute_is_unknown_for_compute_rules():
    doc = generate.fl_config()
    doc["federated_learning"]["silos"][1]["computes"] = ["silo1-99"]
    cfg = support.config(federated_learning=doc["federated_learning"])
    result = run(support.sample_resources("hardened"), cfg)
    for rid in ("FL-WSH-004", "FL-WSH-005"):
        f = one(result, rid, "silo1")
        assert f["status"] == "unknown" and "silo1-99" in f["message"]


# -- FL-WSH-005 SSH ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [("Disabled", "pass"), ("Enabled", "fail"), ("Open", "unknown")])
def test_cluster_ssh_port_states(value, status):
    res = support.sample_resources("hardened")
    inner(res, "silo2-01")["remoteLoginPortPublicAccess"] = value
    assert one(run(res), "FL-WSH-005", "silo2")["status"] == status


def test_ssh_not_specified_in_a_vnet_is_closed():
    res = support.sample_resources("hardened")
    inner(res, "silo2-01")["remoteLoginPortPublicAccess"] = "NotSpecified"
    inner(res, "silo2-01")["userAccountCredentials"] = {"adminUserName": "azureuser"}
    f = one(run(res), "FL-WSH-005", "silo2")
    assert f["status"] == "pass" and "subnet" in f["message"]


def test_missing_ssh_state_is_not_specified_and_opens_ssh_without_a_vnet_when_an_admin_user_exists():
    res = support.sample_resources("open")
    props = inner(res, "silo0-01")
    del props["remoteLoginPortPublicAccess"]
    props["userAccountCredentials"] = {"adminUserName": "azureuser"}
    f = one(run(res), "FL-WSH-005", "silo0")
    assert f["status"] == "fail" and "azureuser" in f["message"]
    ev = support.property_evidence(f, "properties.properties.remoteLoginPortPublicAccess")
    assert ev["value"] == "NotSpecified" and ev["default_assumed"] is True


def test_ssh_not_specified_without_vnet_or_admin_user_has_no_login():
    res = support.sample_resources("open")
    inner(res, "silo0-01")["remoteLoginPortPublicAccess"] = "NotSpecified"
    f = one(run(res), "FL-WSH-005", "silo0")
    assert f["status"] == "pass" and "no admin user" in f["message"]


def test_compute_without_its_inner_properties_is_unknown_for_ssh():
    res = support.sample_resources("hardened")
    del support.compute(res, "silo1-01")["properties"]["properties"]
    assert one(run(res), "FL-WSH-005", "silo1")["status"] == "unknown"


def test_compute_instance_ssh_uses_ssh_settings_with_default_disabled():
    res = support.sample_resources("hardened")
    c = support.compute(res, "silo1-01")
    c["properties"]["computeType"] = "ComputeInstance"
    c["properties"]["properties"] = {"vmSize": "STANDARD_DS3_V2", "subnet": {"id": inner(res, "silo0-01")["subnet"]["id"]}}
    f = one(run(res), "FL-WSH-005", "silo1")
    assert f["status"] == "pass"
    assert support.property_evidence(f, "properties.properties.sshSettings.sshPublicAccess")["default_assumed"] is True
    c["properties"]["properties"]["sshSettings"] = {"sshPublicAccess": "Enabled", "adminUserName": "azureuser"}
    assert one(run(res), "FL-WSH-005", "silo1")["status"] == "fail"


def test_kubernetes_compute_has_no_ssh_setting_and_other_types_are_unknown():
    res = support.sample_resources("hardened")
    support.compute(res, "silo1-01")["properties"]["computeType"] = "Kubernetes"
    support.compute(res, "silo2-01")["properties"]["computeType"] = "VirtualMachine"
    result = run(res)
    assert one(result, "FL-WSH-005", "silo1")["status"] == "not_applicable"
    assert one(result, "FL-WSH-005", "silo2")["status"] == "unknown"


# -- FL-WSH-006 key vault -------------------------------------------------------------------------------------------
def test_key_vault_public_with_allow_fails():
    res = support.sample_resources("hardened")
    kv = key_vault(res)["properties"]
    kv["publicNetworkAccess"] = "Enabled"
    kv["networkAcls"]["defaultAction"] = "Allow"
    f = one(run(res), "FL-WSH-006")
    assert f["status"] == "fail" and f["resource_id"] == key_vault(res)["id"]


def test_key_vault_with_public_access_disabled_passes_whatever_the_firewall_says():
    res = support.sample_resources("hardened")
    key_vault(res)["properties"]["networkAcls"]["defaultAction"] = "Allow"
    assert one(run(res), "FL-WSH-006")["status"] == "pass"


@pytest.mark.parametrize("ip,status", [("203.0.113.7", "pass"), ("198.51.100.0/24", "pass"),
                                        ("0.0.0.0/0", "fail"), ("20.0.0.0/8", "fail"), ("not-an-ip", "unknown")])
def test_key_vault_firewall_deny_with_ip_rules(ip, status):
    res = support.sample_resources("hardened")
    kv = key_vault(res)["properties"]
    kv["publicNetworkAccess"] = "Enabled"
    kv["networkAcls"]["ipRules"] = [{"value": ip}]
    f = one(run(res), "FL-WSH-006")
    assert f["status"] == status
    assert support.property_evidence(f, "properties.networkAcls.ipRules")["value"] == [ip]


def test_key_vault_without_network_settings_is_public_by_default():
    res = support.sample_resources("hardened")
    kv = key_vault(res)["properties"]
    del kv["publicNetworkAccess"], kv["networkAcls"]
    f = one(run(res), "FL-WSH-006")
    assert f["status"] == "fail"
    assert support.property_evidence(f, "properties.publicNetworkAccess")["default_assumed"] is True
    assert support.property_evidence(f, "properties.networkAcls.defaultAction")["value"] == "Allow"


def test_key_vault_referenced_but_absent_is_unknown_naming_its_id():
    res = support.sample_resources("hardened")
    kv_id = key_vault(res)["id"]
    res = [r for r in res if r["id"] != kv_id]
    f = one(run(res), "FL-WSH-006")
    assert f["status"] == "unknown" and f["resource_id"] == kv_id
    assert "not in the inventory" in f["message"]
    assert any(kv_id in e.get("text", "") for e in f["evidence"])


def test_key_vault_reference_that_is_not_an_id_is_unknown():
    res = support.sample_resources("hardened")
    workspace(res)["properties"]["keyVault"] = {"id": key_vault(res)["id"]}
    f = one(run(res), "FL-WSH-006")
    assert f["status"] == "unknown" and "not a resource id" in f["message"]


def test_key_vault_that_could_not_be_read_is_unknown_with_the_read_error():
    res = support.sample_resources("hardened")
    kv_id = key_vault(res)["id"]
    res = [r for r in res if r["id"] != kv_id]
    denied = Unreadable(generate.rg_id(), "Microsoft.KeyVault/vaults", 403, "AuthorizationFailed")
    f = one(run(res, unreadable=[denied]), "FL-WSH-006")
    assert f["status"] == "unknown" and "HTTP 403" in f["message"]


# -- FL-WSH-007 / 008 container registry -----------------------------------------------------------------------------
def test_registry_public_with_allow_fails():
    res = support.sample_resources("hardened")
    acr = registry(res)["properties"]
    acr["publicNetworkAccess"] = "Enabled"
    acr["networkRuleSet"]["defaultAction"] = "Allow"
    assert one(run(res), "FL-WSH-007")["status"] == "fail"


def test_registry_anonymous_pull_fails_even_when_private():
    res = support.sample_resources("hardened")
    registry(res)["properties"]["anonymousPullEnabled"] = True
    f = one(run(res), "FL-WSH-007")
    assert f["status"] == "fail" and "anonymous pull" in f["message"]


def test_registry_firewall_on_a_non_premium_sku_is_not_enforced():
    res = support.sample_resources("hardened")
    acr = registry(res)
    acr["sku"] = {"name": "Standard", "tier": "Standard"}
    acr["properties"]["publicNetworkAccess"] = "Enabled"
    acr["properties"]["networkRuleSet"] = {"defaultAction": "Deny", "ipRules": [{"action": "Allow",
                                                                                 "value": "203.0.113.7"}]}
    f = one(run(res), "FL-WSH-007")
    assert f["status"] == "fail" and "Premium" in f["message"]
    acr["sku"] = {"name": "Premium", "tier": "Premium"}
    assert one(run(res), "FL-WSH-007")["status"] == "pass"


def test_workspace_without_a_registry_yet_is_not_applicable_and_a_missing_one_is_unknown():
    res = support.sample_resources("hardened")
    acr_id = registry(res)["id"]
    del workspace(res)["properties"]["containerRegistry"]
    result = run(res)
    assert one(result, "FL-WSH-007")["status"] == "not_applicable"
    assert one(result, "FL-WSH-008")["status"] == "not_applicable"
    res = [r for r in support.sample_resources("hardened") if r["id"] != acr_id]
    result = run(res)
    for rid in ("FL-WSH-007", "FL-WSH-008"):
        f = one(result, rid)
        assert f["status"] == "unknown" and f["resource_id"] == acr_id


@pytest.mark.parametrize("value,status", [(False, "pass"), (True, "fail"), ("on", "unknown")])
def test_registry_admin_user_values(value, status):
    assert judged("FL-WSH-008", registry, "adminUserEnabled", value)["status"] == status


def test_missing_registry_admin_setting_means_disabled():
    f = judged("FL-WSH-008", registry, "adminUserEnabled")
    assert f["status"] == "pass"
    assert support.property_evidence(f, "properties.adminUserEnabled")["default_assumed"] is True


# -- FL-WSH-009 default storage ---------------------------------------------------------------------------------------
def test_default_storage_public_fails_and_private_passes():
    res = support.sample_resources("hardened")
    st = support.storage(res, "workspace")
    assert one(run(res), "FL-WSH-009")["status"] == "pass"
    st["properties"]["publicNetworkAccess"] = "Enabled"
    st["properties"]["networkAcls"]["defaultAction"] = "Allow"
    f = one(run(res), "FL-WSH-009")
    assert f["status"] == "fail" and f["resource_id"] == st["id"]


def test_default_storage_with_public_access_disabled_passes_despite_default_action_allow():
    res = support.sample_resources("hardened")
    support.storage(res, "workspace")["properties"]["networkAcls"]["defaultAction"] = "Allow"
    assert one(run(res), "FL-WSH-009")["status"] == "pass"


@pytest.mark.parametrize("ip,status", [("203.0.113.0/24", "pass"), ("0.0.0.0/0", "fail"), ("bogus", "unknown")])
def test_default_storage_firewall_ip_rules_and_vnet_rules(ip, status):
    res = support.sample_resources("hardened")
    st = support.storage(res, "workspace")
    acls = st["properties"]["networkAcls"]
    st["properties"]["publicNetworkAccess"] = "Enabled"
    acls["ipRules"] = [{"value": ip, "action": "Allow"}]
    acls["virtualNetworkRules"] = [{"id": inner(res, "orchestrator-01")["subnet"]["id"], "action": "Allow",
                                    "state": "Succeeded"}]
    f = one(run(res), "FL-WSH-009")
    assert f["status"] == status
    assert any(e["kind"] == "network-path" and e["source"] == ip for e in f["evidence"])


def test_default_storage_secured_by_perimeter_is_not_evaluated_so_unknown():
    res = support.sample_resources("hardened")
    support.storage(res, "workspace")["properties"]["publicNetworkAccess"] = "SecuredByPerimeter"
    assert one(run(res), "FL-WSH-009")["status"] == "unknown"


def test_default_storage_absent_or_not_named_is_unknown():
    res = support.sample_resources("hardened")
    st_id = support.storage(res, "workspace")["id"]
    f = one(run([r for r in res if r["id"] != st_id]), "FL-WSH-009")
    assert f["status"] == "unknown" and f["resource_id"] == st_id
    del workspace(res)["properties"]["storageAccount"]
    f = one(run(res), "FL-WSH-009")
    assert f["status"] == "unknown" and "names no default storage account" in f["message"]


# -- the bundled samples -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("posture", SANDBOXES)
def test_sandboxes_fail_production_on_workspace_hardening(posture):
    result = run(support.sample_resources(posture))
    failing = {f["rule_id"] for f in result["findings"] if "production" in f["blocks"] and f["status"] == "fail"}
    assert "FL-WSH-003" in failing  # no sandbox is flagged HBI
    if posture != "private":
        # workspace, key vault, registry and default storage are public until the private posture
        assert {"FL-WSH-001", "FL-WSH-006", "FL-WSH-007", "FL-WSH-009"} <= failing
    assert not [f for f in result["findings"] if f["status"] == "unknown"]


@pytest.mark.parametrize("posture", (*SANDBOXES, "hardened"))
def test_no_workspace_hardening_finding_blocks_prototype(posture):
    result = run(support.sample_resources(posture))
    assert result["findings"]
    assert not [f for f in result["findings"] if "prototype" in f["blocks"]]


@pytest.mark.parametrize("posture", (*SANDBOXES, "hardened"))
def test_with_the_whole_rule_pack_only_sandboxes_are_blocked_in_production_by_this_area(posture):
    blocking = support.area_blocking(posture, "workspace-hardening")
    assert blocking["findings"] and not blocking["prototype"]
    assert bool(blocking["production"]) == (posture != "hardened")
