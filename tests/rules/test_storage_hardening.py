"""Storage hardening (FL-STG-*): each setting's pass, fail and unknown, the Azure defaults assumed for missing
properties, the orchestrator's account, unresolved accounts, and the bundled samples' intended verdicts."""

from __future__ import annotations

from typing import Any

import flaudit.rules.storage_hardening as pack
import pytest

from flaudit.samples import generate
from tests import support

RULES = support.rules_of(pack)
SANDBOXES = ("open", "eyes-on", "eyes-off", "private")


def run(resources: list[dict[str, Any]], cfg: Any = "default") -> dict[str, Any]:
    return support.run_area(resources, RULES, cfg)


def props(resources: list[dict[str, Any]], who: str) -> dict[str, Any]:
    return support.storage(resources, who)["properties"]


def one(result: dict[str, Any], rule_id: str, silo: str | None) -> dict[str, Any]:
    return support.single(support.findings(result, rule_id, silo=silo))


_REMOVED = object()


def judged(rule_id: str, silo: str, setting: str, value: Any = _REMOVED) -> dict[str, Any]:
    """The rule's one finding on ``silo``'s account in the hardened sample with one property changed: set to
    ``value``, or removed when no value is given (to see the default the rule assumes)."""
    res = support.sample_resources("hardened")
    if value is _REMOVED:
        del props(res, silo)[setting]
    else:
        props(res, silo)[setting] = value
    return one(run(res), rule_id, silo)


# -- the hardened posture and the rule metadata ---------------------------------------------------------------
def test_hardened_silo_and_orchestrator_accounts_pass_every_storage_rule():
    result = run(support.sample_resources("hardened"))
    for r in RULES:
        found = support.findings(result, r.id)
        assert {f["status"] for f in found} == {"pass"}, (r.id, found)
        # three silos plus the orchestrator's account
        assert sorted(f["silo"] or "orchestrator" for f in found) == ["orchestrator", "silo0", "silo1", "silo2"]


def test_rules_carry_verified_policies_docs_and_the_defaults_they_assume():
    policies = {r.id: r.policy for r in RULES}
    assert policies == {
        "FL-STG-001": ("fe83a0eb-a853-422d-aac2-1bffd182c5d0",),
        "FL-STG-002": ("404c3081-a854-4457-ae30-26a93ef643f9",),
        "FL-STG-003": ("4fa4b6c0-31ca-4c0d-b10d-24b96f62a751",),
        "FL-STG-004": ("8c6a50c6-9ffd-4ae7-986f-5fa6111f9a54",),
        "FL-STG-005": ("92a89a79-6c52-4a7e-a03f-61306fc49312",),
        "FL-STG-006": ("4733ea7b-a883-42fe-8cac-97454c2a9e4a", "6fac406b-40ca-413b-bf8e-0bf964659c25"),
        "FL-STG-007": (),  # no built-in policy (Azure Landing Zones ship a custom one)
        "FL-STG-008": (),
    }
    for r in RULES:
        assert r.area == "storage-hardening"
        assert r.references[0].startswith("https://learn.microsoft.com/")
        assert r.remediation.cli.startswith("az ") and "Microsoft.Storage/storageAccounts@" in r.remediation.bicep
        assert "default" in r.rationale.lower()
        assert "prototype" not in r.blocks
    assert {r.id: r.blocks for r in RULES if r.severity == "info"} == {"FL-STG-006": ()}


# -- FL-STG-001 minimum TLS -----------------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [("TLS1_0", "fail"), ("TLS1_1", "fail"), ("TLS1_2", "pass"),
                                          ("TLS1_3", "pass"), ("tls1_2", "pass"), ("TLS9_9", "unknown")])
def test_minimum_tls_version_values(value, status):
    res = support.sample_resources("hardened")
    props(res, "silo1")["minimumTlsVersion"] = value
    result = run(res)
    assert one(result, "FL-STG-001", "silo1")["status"] == status
    assert support.statuses(result, "FL-STG-001", silo="silo0") == {"pass"}


def test_missing_minimum_tls_is_read_as_tls1_0_and_fails():
    f = judged("FL-STG-001", "silo2", "minimumTlsVersion")
    assert f["status"] == "fail"
    ev = support.property_evidence(f, "properties.minimumTlsVersion")
    assert ev["value"] == "TLS1_0" and ev["default_assumed"] is True and "TLS1_0" in ev["default_note"]


def test_orchestrator_account_is_checked_too():
    res = support.sample_resources("hardened")
    props(res, "orchestrator")["minimumTlsVersion"] = "TLS1_0"
    result = run(res)
    f = one(result, "FL-STG-001", None)
    assert f["status"] == "fail" and f["resource_id"] == support.storage(res, "orchestrator")["id"]
    assert f["message"].startswith("orchestrator:")
    assert f["blocks"] == ["production"]


# -- FL-STG-002 HTTPS only -------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [(True, "pass"), (False, "fail"), ("yes", "unknown")])
def test_secure_transfer_values(value, status):
    assert judged("FL-STG-002", "silo0", "supportsHttpsTrafficOnly", value)["status"] == status


def test_missing_secure_transfer_means_https_only_since_api_2019_04_01():
    f = judged("FL-STG-002", "silo0", "supportsHttpsTrafficOnly")
    assert f["status"] == "pass"
    ev = support.property_evidence(f, "properties.supportsHttpsTrafficOnly")
    assert ev["value"] is True and ev["default_assumed"] is True and "2019-04-01" in ev["default_note"]


def test_missing_secure_transfer_on_an_older_declared_api_version_means_http_allowed():
    res = support.sample_resources("hardened")
    account = support.storage(res, "silo0")
    del account["properties"]["supportsHttpsTrafficOnly"]
    account["apiVersion"] = "2018-11-01"
    f = one(run(res), "FL-STG-002", "silo0")
    assert f["status"] == "fail" and "2018-11-01" in f["message"]
    assert support.property_evidence(f, "properties.supportsHttpsTrafficOnly")["value"] is False


# -- FL-STG-003 anonymous blob access --------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [(False, "pass"), (True, "fail"), ("no", "unknown")])
def test_blob_public_access_values(value, status):
    assert judged("FL-STG-003", "silo1", "allowBlobPublicAccess", value)["status"] == status


def test_missing_blob_public_access_is_not_proof_of_false():
    f = judged("FL-STG-003", "silo1", "allowBlobPublicAccess")
    assert f["status"] == "fail"
    ev = support.property_evidence(f, "properties.allowBlobPublicAccess")
    assert ev["value"] is True and ev["default_assumed"] is True and "fail closed" in ev["default_note"]


# -- FL-STG-004 shared key --------------------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [(False, "pass"), (True, "fail"), ("off", "unknown")])
def test_shared_key_values(value, status):
    assert judged("FL-STG-004", "silo2", "allowSharedKeyAccess", value)["status"] == status


def test_missing_shared_key_setting_means_keys_work():
    f = judged("FL-STG-004", "silo2", "allowSharedKeyAccess")
    assert f["status"] == "fail"
    ev = support.property_evidence(f, "properties.allowSharedKeyAccess")
    assert ev["value"] is True and ev["default_assumed"] is True


def test_per_service_shared_key_override_is_unknown_not_pass():
    f = judged("FL-STG-004", "silo2", "allowSharedKeyAccessForServices",
               {"blob": {"enabled": True}, "file": {"enabled": False}})
    assert f["status"] == "unknown" and "blob" in f["message"] and "file" not in f["message"]


# -- FL-STG-005 cross-tenant replication ------------------------------------------------------------------------
@pytest.mark.parametrize("value,status", [(False, "pass"), (True, "fail"), (0, "unknown")])
def test_cross_tenant_replication_values(value, status):
    assert judged("FL-STG-005", "silo0", "allowCrossTenantReplication", value)["status"] == status


def test_missing_cross_tenant_replication_fails_closed():
    f = judged("FL-STG-005", "silo0", "allowCrossTenantReplication")
    assert f["status"] == "fail"
    ev = support.property_evidence(f, "properties.allowCrossTenantReplication")
    assert ev["default_assumed"] is True and "15 December 2023" in ev["default_note"]


# -- FL-STG-006 encryption (informational) ---------------------------------------------------------------------
def test_microsoft_managed_keys_only_is_an_informational_failure_that_blocks_nothing():
    res = support.sample_resources("hardened")
    enc = props(res, "silo1")["encryption"]
    enc["requireInfrastructureEncryption"] = False
    f = one(run(res), "FL-STG-006", "silo1")
    assert f["status"] == "fail" and f["severity"] == "info" and f["blocks"] == []


def test_customer_managed_key_alone_passes_encryption():
    res = support.sample_resources("hardened")
    enc = props(res, "silo1")["encryption"]
    del enc["requireInfrastructureEncryption"]
    enc["keySource"] = "Microsoft.Keyvault"
    enc["keyvaultproperties"] = {"keyname": "silo1-key", "keyvaulturi": "https://kv-silo1.vault.azure.net/"}
    f = one(run(res), "FL-STG-006", "silo1")
    assert f["status"] == "pass" and "customer-managed" in f["message"]
    infra = support.property_evidence(f, "properties.encryption.requireInfrastructureEncryption")
    assert infra["default_assumed"] is True


def test_missing_encryption_block_assumes_microsoft_managed_keys_without_double_encryption():
    f = judged("FL-STG-006", "silo1", "encryption")
    assert f["status"] == "fail"
    assert support.property_evidence(f, "properties.encryption.keySource")["value"] == "Microsoft.Storage"
    assert support.property_evidence(f, "properties.encryption.requireInfrastructureEncryption")["value"] is False


# -- unresolved and shared accounts ----------------------------------------------------------------------------
def test_silo_whose_storage_account_is_not_in_the_inventory_is_unknown_for_every_rule():
    res = support.sample_resources("hardened")
    gone = support.storage(res, "silo1")
    res = [r for r in res if r is not gone]
    result = run(res)
    for r in RULES:
        f = one(result, r.id, "silo1")
        assert f["status"] == "unknown", (r.id, f)
        assert gone["name"] in f["message"] and "not found in the inventory" in f["message"]
        assert f["resource_id"].endswith("/datastores/datastore_silo1")
        assert support.statuses(result, r.id, silo="silo0") == {"pass"}


def test_orchestrator_without_a_datastore_is_unknown_not_skipped():
    doc = generate.fl_config()
    del doc["federated_learning"]["orchestrator"]["datastore"]
    cfg = support.config(federated_learning=doc["federated_learning"])
    result = run(support.sample_resources("hardened"), cfg)
    f = one(result, "FL-STG-004", None)
    assert f["status"] == "unknown" and f["subject"] == "orchestrator|storage"


def test_an_account_shared_by_a_silo_and_the_orchestrator_is_judged_once():
    res = support.sample_resources("hardened")
    silo0_account = support.storage(res, "silo0")["name"]
    support.by_name(res, "Microsoft.MachineLearningServices/workspaces/datastores",
                    "datastore_orchestrator")["properties"]["accountName"] = silo0_account
    result = run(res)
    for r in RULES:
        found = support.findings(result, r.id)
        ids = [f["id"] for f in found]
        assert len(ids) == len(set(ids)) == 3  # three silos; the orchestrator shares silo0's account


# -- the bundled samples -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("posture", SANDBOXES)
def test_sandboxes_fail_production_on_storage_hardening(posture):
    result = run(support.sample_resources(posture))
    blocking = [f for f in result["findings"] if "production" in f["blocks"] and f["status"] in ("fail", "unknown")]
    # like the FL sample, the sandboxes never set allowCrossTenantReplication
    assert {f["rule_id"] for f in blocking} == {"FL-STG-005"}
    assert len(blocking) == 4


@pytest.mark.parametrize("posture", (*SANDBOXES, "hardened"))
def test_no_storage_hardening_finding_blocks_prototype(posture):
    result = run(support.sample_resources(posture))
    assert result["findings"]
    assert not [f for f in result["findings"] if "prototype" in f["blocks"]]


@pytest.mark.parametrize("posture", (*SANDBOXES, "hardened"))
def test_with_the_whole_rule_pack_only_sandboxes_are_blocked_in_production_by_this_area(posture):
    blocking = support.area_blocking(posture, "storage-hardening")
    assert blocking["findings"] and not blocking["prototype"]
    assert bool(blocking["production"]) == (posture != "hardened")


# -- FL-STG-007 SFTP and local users, FL-STG-008 NFS 3.0 ---------------------------------------------------------
@pytest.mark.parametrize("sftp,local,status", [(None, None, "pass"), (False, True, "pass"), (True, False, "pass"),
                                               (True, True, "fail"), (True, None, "fail"), ("yes", None, "unknown")])
def test_sftp_with_local_users_is_access_outside_rbac(sftp, local, status):
    res = support.sample_resources("hardened")
    for key, value in (("isSftpEnabled", sftp), ("isLocalUserEnabled", local)):
        if value is not None:
            props(res, "silo1")[key] = value
    assert support.statuses(run(res), "FL-STG-007", silo="silo1") == {status}


@pytest.mark.parametrize("value,status", [(None, "pass"), (False, "pass"), (True, "fail"), ("on", "unknown")])
def test_nfs_v3_authorizes_by_network_only(value, status):
    res = support.sample_resources("hardened")
    if value is not None:
        props(res, "silo2")["isNfsV3Enabled"] = value
    assert support.statuses(run(res), "FL-STG-008", silo="silo2") == {status}
    if status == "fail":
        assert support.audit(res)["verdict"]["production"]["status"] == "not_ready"


def test_an_account_exported_without_properties_is_unknown_for_every_setting():
    res = support.sample_resources("hardened")
    support.storage(res, "silo0").pop("properties")
    result = run(res)
    for rule_id in ("FL-STG-001", "FL-STG-002", "FL-STG-004", "FL-STG-007"):
        assert support.statuses(result, rule_id, silo="silo0") == {"unknown"}, rule_id
