"""FL-WSH-010 (workspace default storage shared key) and FL-WSH-011 (the deployment's key vaults).

Key vaults are in the shape of specification/keyvault/resource-manager/Microsoft.KeyVault/stable/2023-07-01/
examples/getVault.json (properties.accessPolicies[] {tenantId, objectId, permissions {keys, secrets,
certificates}}, enableRbacAuthorization, publicNetworkAccess, networkAcls); role definitions in the shape of
specification/authorization/.../stable/2022-04-01/examples/GetRoleDefinitionById.json (tests.adversarial.common).
"""

from __future__ import annotations

import pytest

from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests.adversarial.common import role_definition
from tests.support import audit, by_type, findings, inventory, principal, role_assignment, sample_resources, statuses
from tests.support import storage as storage_of

RG = f"/subscriptions/{generate.SUB}/resourceGroups/{generate.RG}"
SECRETS_USER = "0d5c2a4e-7b1f-4c3d-9e8a-6f5b4c3d2e1a"  # a custom role with the data actions of Key Vault Secrets User
CONTRIBUTOR = generate.ROLE["contributor"]


def _vault(name: str = "kv-partner", *, rbac: bool, public: bool = False, policies: list[dict] = ()) -> dict:
    return {"id": f"{RG}/providers/Microsoft.KeyVault/vaults/{name}", "name": name,
            "type": "Microsoft.KeyVault/vaults", "location": "westeurope", "tags": {},
            "properties": {"tenantId": generate.TENANT, "sku": {"family": "A", "name": "standard"},
                           "accessPolicies": list(policies), "enabledForDeployment": False,
                           "enableRbacAuthorization": rbac, "enableSoftDelete": True,
                           "vaultUri": f"https://{name}.vault.azure.net", "provisioningState": "Succeeded",
                           "publicNetworkAccess": "Enabled" if public else "Disabled",
                           "networkAcls": {"bypass": "AzureServices", "defaultAction": "Allow" if public else "Deny",
                                           "ipRules": [], "virtualNetworkRules": []}}}


def _policy(object_id: str, secrets: list[str] = ("get", "list"), keys: list[str] = ()) -> dict:
    return {"tenantId": generate.TENANT, "objectId": object_id,
            "permissions": {"keys": list(keys), "secrets": list(secrets), "certificates": []}}


def _secrets_user() -> dict:
    return role_definition(SECRETS_USER, name="FL secrets user",
                           data_actions=["Microsoft.KeyVault/vaults/secrets/getSecret/action",
                                         "Microsoft.KeyVault/vaults/secrets/readMetadata/action"])


def _shared(result: dict) -> dict:
    return next(f for f in findings(result, "FL-WSH-011") if f["subject"] == "shared"
                and "kv-partner" in f["resource_id"])


# -- FL-WSH-010 ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, status", [(False, "pass"), (True, "fail"), (None, "fail"), ("yes", "unknown")])
def test_workspace_default_storage_shared_key(value, status):
    res = sample_resources("hardened")
    ws_storage = storage_of(res, "workspace")
    if value is None:
        del ws_storage["properties"]["allowSharedKeyAccess"]
    else:
        ws_storage["properties"]["allowSharedKeyAccess"] = value
    result = audit(res)
    assert statuses(result, "FL-WSH-010") == {status}
    assert (result["verdict"]["production"]["status"] == "ready") == (status == "pass")


# -- FL-WSH-011 ---------------------------------------------------------------------------------------------
def test_hardened_sample_passes_fl_wsh_011():
    assert statuses(audit(sample_resources("hardened")), "FL-WSH-011") == {"pass"}


def test_an_access_policy_vault_every_silo_reads_is_a_shared_credential():
    res = sample_resources("hardened")
    res.append(_vault(rbac=False, policies=[_policy(principal(res, f"uai-silo{i}")) for i in range(3)]))
    result = audit(res)
    f = _shared(result)
    assert f["status"] == "fail" and "the whole vault is usable by 3 silos" in f["message"]
    assert result["verdict"]["production"]["status"] == "not_ready"


def test_access_policy_list_only_is_not_use():
    res = sample_resources("hardened")
    res.append(_vault(rbac=False, policies=[_policy(principal(res, f"uai-silo{i}"), secrets=["list"])
                                            for i in range(3)]))
    result = audit(res)
    assert not [f for f in findings(result, "FL-WSH-011") if "kv-partner" in f["resource_id"]]


def test_per_secret_rbac_assignments_keep_silos_apart_and_the_same_secret_does_not():
    res = sample_resources("hardened")
    vault = _vault(rbac=True)
    res += [vault, _secrets_user()]
    for i in range(2):
        res.append(role_assignment(f"{vault['id']}/secrets/silo{i}-token", SECRETS_USER, principal(res, f"uai-silo{i}")))
    assert _shared(audit(res))["status"] == "pass"
    res.append(role_assignment(f"{vault['id']}/secrets/silo0-token", SECRETS_USER, principal(res, "uai-silo2")))
    f = _shared(audit(res))
    assert f["status"] == "fail" and "secret silo0-token is usable by 2 silos (silo0, silo2)" in f["message"]


def test_a_whole_vault_grant_overlaps_every_secret_below_it():
    res = sample_resources("hardened")
    vault = _vault(rbac=True)
    res += [vault, _secrets_user(),
            role_assignment(f"{vault['id']}/secrets/silo0-token", SECRETS_USER, principal(res, "uai-silo0")),
            role_assignment(vault["id"], SECRETS_USER, principal(res, "uai-silo1"))]
    assert _shared(audit(res))["status"] == "fail"


def test_rbac_mode_vault_with_a_role_flaudit_cannot_read_is_unknown():
    res = sample_resources("hardened")
    vault = _vault(rbac=True)
    res += [vault, role_assignment(vault["id"], "4633458b-17de-408a-b874-0445c86b69e6", principal(res, "uai-silo0"))]
    assert _shared(audit(res))["status"] == "unknown"


def test_contributor_on_an_access_policy_vault_can_grant_itself_secrets():
    res = sample_resources("hardened")
    vault = _vault(rbac=False)
    res.append(vault)
    for i in range(2):
        res.append(role_assignment(vault["id"], CONTRIBUTOR, principal(res, f"uai-silo{i}")))
    f = _shared(audit(res))
    assert f["status"] == "fail" and any("access policies" in e.get("text", "") for e in f["evidence"])


def test_a_public_vault_a_silo_uses_fails_its_network_check():
    res = sample_resources("hardened")
    res.append(_vault(rbac=False, public=True, policies=[_policy(principal(res, "uai-silo0"))]))
    result = audit(res)
    public = next(f for f in findings(result, "FL-WSH-011") if f["subject"] == "public")
    assert public["status"] == "fail"
    assert _shared(result)["status"] == "pass"


def test_the_workspace_vault_network_is_left_to_fl_wsh_006():
    res = sample_resources("hardened")
    kv = by_type(res, "Microsoft.KeyVault/vaults")[0]
    kv["properties"]["publicNetworkAccess"] = "Enabled"
    kv["properties"]["networkAcls"]["defaultAction"] = "Allow"
    result = audit(res)
    assert statuses(result, "FL-WSH-006") == {"fail"}
    assert statuses(result, "FL-WSH-011") == {"pass"}


def test_unreadable_key_vaults_make_fl_wsh_011_unknown():
    inv = inventory(sample_resources("hardened"))
    inv.unreadable.append(Unreadable(RG, "Microsoft.KeyVault/vaults", 403, "AuthorizationFailed"))
    result = audit(inv)
    assert statuses(result, "FL-WSH-011") == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def test_redaction_keeps_access_policy_permission_names_and_still_redacts_secret_values():
    from flaudit.redact import REDACTED, redact

    vault = _vault(rbac=False, policies=[_policy("x", secrets=["get", "list"], keys=["unwrapKey"])])
    assert redact(vault) == vault
    odd = {"permissions": {"secrets": "AccountKey=abc;", "keys": ["k3y/with+secret=="]}, "secrets": ["get"]}
    assert redact(odd) == {"permissions": {"secrets": REDACTED, "keys": REDACTED}, "secrets": REDACTED}
