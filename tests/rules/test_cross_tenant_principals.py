"""FL-XT-002: a principal holding a role on silo storage is placed in a tenant only when ARM data proves where it is.

A managed identity in the storage account's subscription is in its tenant (a subscription has one tenant), with
or without tenant ids in the input; a managed identity elsewhere is placed only by stated tenants; users, groups
and other service principals cannot be placed without Microsoft Graph and keep the answer unknown.
"""

from __future__ import annotations

import json

from flaudit.samples import generate
from tests.support import audit, findings, identity, principal, role_assignment, sample_resources, statuses, storage

SUB2 = "9d4c1e2f-7a6b-4c3d-8e9f-0a1b2c3d4e5f"
TENANT_A = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TENANT_B = "3c2b1a09-8f7e-4d6c-9b5a-1e2f3a4b5c6d"
READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader
USER = "5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b"


def _subscription(sub: str, tenant: str) -> dict:
    """A subscription in the shape of Subscriptions_Get.json."""
    return {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "displayName": f"FL {sub[:8]}",
            "state": "Enabled", "tenantId": tenant, "authorizationSource": "RoleBased",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Internal_2014-09-01",
                                     "spendingLimit": "Off"}}


def _with_silo2_identity_in(sub: str) -> list[dict]:
    """The hardened sample with silo2's user-assigned identity moved to subscription ``sub``."""
    res = sample_resources("hardened")
    old = identity(res, "uai-silo2")["id"]
    return json.loads(json.dumps(res).replace(old, old.replace(f"/subscriptions/{generate.SUB}/",
                                                               f"/subscriptions/{sub}/")))


def test_samples_without_tenant_ids_pass_when_every_holder_is_a_managed_identity_of_the_subscription():
    for posture in ("open", "hardened"):
        result = audit(sample_resources(posture))
        found = findings(result, "FL-XT-002")
        assert found and {f["status"] for f in found} == {"pass"}, posture
        assert all("of its tenant (in the same subscription" in f["message"] for f in found)


def test_no_role_holder_at_all_passes():
    res = [r for r in sample_resources("hardened") if r.get("type") != "Microsoft.Authorization/roleAssignments"]
    found = findings(audit(res), "FL-XT-002")
    assert {f["status"] for f in found} == {"pass"}
    assert all("no principal holds a role" in f["message"] for f in found)


def test_a_user_on_silo_storage_stays_unknown_even_when_every_tenant_is_known():
    res = sample_resources("hardened")
    res.append(role_assignment(storage(res, "silo1")["id"], READER, USER, principal_type="User"))
    assert statuses(audit(res), "FL-XT-002", silo="silo1") == {"unknown"}
    res.append(_subscription(generate.SUB, TENANT_A))
    result = audit(res)
    [f] = findings(result, "FL-XT-002", silo="silo1")
    assert f["status"] == "unknown" and USER in f["message"] and "User" in f["message"]
    assert any("Microsoft Graph" in json.dumps(e) for e in f["evidence"])
    assert statuses(result, "FL-XT-002", silo="silo0") == {"pass"}


def test_managed_identity_of_another_subscription_is_placed_only_by_stated_tenants():
    res = _with_silo2_identity_in(SUB2)
    assert statuses(audit(res), "FL-XT-002", silo="silo2") == {"unknown"}  # SUB2's tenant is not in the input
    same = audit(res + [_subscription(generate.SUB, TENANT_A), _subscription(SUB2, TENANT_A)])
    assert statuses(same, "FL-XT-002", silo="silo2") == {"pass"}
    other = audit(res + [_subscription(generate.SUB, TENANT_A), _subscription(SUB2, TENANT_B)])
    [f] = findings(other, "FL-XT-002", silo="silo2")
    assert f["status"] == "fail" and "uai-silo2" in f["message"] and TENANT_B in f["message"]


def test_identity_tenant_stated_on_the_identity_resource_decides_against_the_storage_tenant():
    res = sample_resources("hardened")
    identity(res, "uai-silo1")["properties"]["tenantId"] = TENANT_B
    res.append(_subscription(generate.SUB, TENANT_A))
    assert statuses(audit(res), "FL-XT-002", silo="silo1") == {"fail"}


def test_foreign_group_fails_even_without_any_tenant_in_the_input():
    res = sample_resources("hardened")
    res.append(role_assignment(storage(res, "silo0")["id"], READER, "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                               principal_type="ForeignGroup"))
    [f] = findings(audit(res), "FL-XT-002", silo="silo0")
    assert f["status"] == "fail" and "ForeignGroup" in f["message"]


def test_orchestrator_identity_in_the_silo_subscription_is_not_reported_as_crossing():
    res = sample_resources("hardened")
    res.append(role_assignment(storage(res, "silo1")["id"], READER, principal(res, "uai-orchestrator")))
    assert statuses(audit(res), "FL-XT-002", silo="silo1") == {"pass"}
