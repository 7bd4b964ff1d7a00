"""FL-ID-009 (rules/silo_identity.py) and its producer (flaudit/takeover.py): nobody outside the silo can act as
the silo's user-assigned identity, through RBAC on the identity (federated credential writes, assign/action,
write, role admin; PIM-eligible too) or a federated identity credential that already exists on it.

Fixtures: role assignments in the shape of RoleAssignments_ListForScope.json and deny assignments in the shape of
GetDenyAssignmentByScope.json (specification/authorization/resource-manager/Microsoft.Authorization/stable/
2022-04-01/examples/); eligibility instances in the shape of GetRoleEligibilityScheduleInstancesByScope.json and
eligibility requests in the shape of PutRoleEligibilityScheduleRequest.json (.../stable/2020-10-01/examples/);
federated identity credentials in the shape of FederatedIdentityCredentialList.json (specification/msi/
resource-manager/Microsoft.ManagedIdentity/stable/2023-01-31/examples/).
"""

from __future__ import annotations

from typing import Any

from flaudit.inventory import Unreadable
from flaudit.samples import generate
from flaudit.sources.template import expand_into
from tests.adversarial.common import deny_assignment, role_definition
from tests.support import (
    audit,
    findings,
    identity,
    inventory,
    principal,
    role_assignment,
    sample_resources,
    statuses,
)
from tests.template.helpers import write_json

MI_OPERATOR = "f1a07417-d97a-45cb-824c-7a7467783830"
MI_CONTRIBUTOR = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
RBAC_ADMIN = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
OUTSIDER = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CUSTOM = "c9000000-0000-0000-0000-000000000009"
UAI = "Microsoft.ManagedIdentity/userAssignedIdentities"


def _fails(result: dict, silo: str = "silo0") -> list[dict[str, Any]]:
    return findings(result, "FL-ID-009", silo=silo, status="fail")


def _path_evidence(f: dict) -> dict:
    return next(e for e in f["evidence"] if e["kind"] == "path")


def eligibility_instance(scope: str, role: str, pid: str) -> dict[str, Any]:
    name = "21e4b59a-0499-4fe0-a3c3-43a3055b7" + pid[-3:]
    return {"properties": {"scope": scope, "roleDefinitionId": f"/subscriptions/{generate.SUB}/providers/"
                           f"Microsoft.Authorization/roleDefinitions/{role}", "principalId": pid,
                           "principalType": "User", "status": "Provisioned",
                           "roleEligibilityScheduleId": f"{scope}/providers/Microsoft.Authorization/"
                           "RoleEligibilitySchedules/b1477448-2cc6-4ceb-93b4-54a202a89413",
                           "startDateTime": "2026-09-10T00:32:36.86Z", "endDateTime": "2027-09-10T00:31:41.477Z",
                           "memberType": "Direct", "createdOn": "2026-09-10T00:32:36.86Z"},
            "name": name, "id": f"{scope}/providers/Microsoft.Authorization/RoleEligibilityScheduleInstances/{name}",
            "type": "Microsoft.Authorization/RoleEligibilityScheduleInstances"}


def federated_credential(identity_id: str, name: str = "github-main") -> dict[str, Any]:
    return {"id": f"{identity_id}/federatedIdentityCredentials/{name}", "name": name,
            "properties": {"issuer": "https://token.actions.githubusercontent.com",
                           "subject": "repo:contoso/fl-silo0:ref:refs/heads/main",
                           "audiences": ["api://AzureADTokenExchange"]},
            "type": f"{UAI}/federatedIdentityCredentials"}


def test_the_hardened_sample_passes():
    result = audit(sample_resources())
    assert statuses(result, "FL-ID-009") == {"pass"}


def test_managed_identity_operator_on_the_identitys_resource_group_is_a_takeover_path_for_an_unlisted_principal():
    res = sample_resources()
    res.append(role_assignment(generate.rg_id(), MI_OPERATOR, OUTSIDER, principal_type="User"))
    result = audit(res)
    for silo in ("silo0", "silo1", "silo2"):
        f = _fails(result, silo)
        assert len(f) == 1 and f[0]["severity"] == "critical" and set(f[0]["blocks"]) == {"prototype", "production"}
        ev = _path_evidence(f[0])
        assert ev["path_kind"] == "identity-takeover" and ev["relation"] == "unlisted"
        assert "userAssignedIdentities/assign/action" in ev["chain"][0]["text"]
    assert result["verdict"]["prototype"]["status"] == "not_ready"
    edges = [e for e in result["access"] if e.get("path_kind") == "identity-takeover"]
    assert {e["silo"] for e in edges} == {"silo0", "silo1", "silo2"} and edges[0]["rule_id"] == "FL-ID-009"


def test_another_silos_identity_with_contributor_on_the_identity_is_a_takeover_path():
    res = sample_resources()
    uai0 = identity(res, "uai-silo0")["id"]
    res.append(role_assignment(uai0, CONTRIBUTOR, principal(res, "uai-silo1")))
    f = _fails(audit(res))
    assert len(f) == 1 and _path_evidence(f[0])["relation"] == "other-silo"


def test_the_silos_own_identity_holding_rights_on_itself_is_not_an_outsider():
    res = sample_resources()
    uai0 = identity(res, "uai-silo0")["id"]
    res.append(role_assignment(uai0, MI_OPERATOR, principal(res, "uai-silo0")))
    assert statuses(audit(res), "FL-ID-009", silo="silo0") == {"pass"}


def test_owner_at_the_subscription_and_a_custom_federated_credential_writer_are_takeover_paths():
    res = sample_resources()
    res.append(role_assignment(f"/subscriptions/{generate.SUB}", OWNER, OUTSIDER, principal_type="User"))
    res += [role_definition(CUSTOM, actions=[f"{UAI}/federatedIdentityCredentials/write"]),
            role_assignment(identity(res, "uai-silo1")["id"], CUSTOM, principal(res, "uai-orchestrator"))]
    result = audit(res)
    assert len(_fails(result, "silo0")) == 1
    rel = {_path_evidence(f)["relation"] for f in _fails(result, "silo1")}
    assert rel == {"unlisted", "orchestrator"}


def test_a_wildcard_custom_role_is_judged_through_the_catalogue():
    res = sample_resources()
    res += [role_definition(CUSTOM, actions=["Microsoft.ManagedIdentity/*/assign/action"]),
            role_assignment(generate.rg_id(), CUSTOM, OUTSIDER)]
    assert _fails(audit(res))


def test_reader_and_read_only_wildcards_are_not_takeover():
    res = sample_resources()
    res += [role_definition(CUSTOM, actions=[f"{UAI}/*/read", "*/read"]),
            role_assignment(generate.rg_id(), CUSTOM, OUTSIDER), role_assignment(generate.rg_id(), READER, OUTSIDER)]
    assert statuses(audit(res), "FL-ID-009") == {"pass"}


def test_a_deny_assignment_on_the_takeover_operations_removes_the_path_unless_the_principal_is_excluded():
    res = sample_resources()
    res.append(role_assignment(generate.rg_id(), MI_OPERATOR, OUTSIDER))
    res.append(deny_assignment(generate.rg_id(), "protect identities", actions=[f"{UAI}/*"], data_actions=[]))
    assert statuses(audit(res), "FL-ID-009") == {"pass"}
    res[-1]["properties"]["excludePrincipals"] = [{"id": OUTSIDER, "type": "User"}]
    assert _fails(audit(res))


def test_role_admin_over_the_identity_is_a_path_unless_its_delegation_condition_allows_only_harmless_roles():
    res = sample_resources()
    ra = role_assignment(generate.rg_id(), RBAC_ADMIN, OUTSIDER)
    res.append(ra)
    assert _path_evidence(_fails(audit(res))[0])["path_kind"] == "identity-takeover"
    ra["properties"]["condition"] = (
        "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/"
        f"roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{READER}}}))")
    ra["properties"]["conditionVersion"] = "2.0"
    assert statuses(audit(res), "FL-ID-009") == {"pass"}
    ra["properties"]["condition"] = ra["properties"]["condition"].replace(READER, MI_OPERATOR)
    assert _fails(audit(res))


def test_a_pim_eligible_operator_is_an_eligible_path():
    res = sample_resources()
    res.append(eligibility_instance(generate.rg_id(), MI_OPERATOR, OUTSIDER))
    f = _fails(audit(res))
    assert len(f) == 1 and _path_evidence(f[0])["path_kind"] == "eligible"
    assert "PIM-eligible" in _path_evidence(f[0])["chain"][0]["text"]


def test_an_existing_federated_identity_credential_is_a_takeover_by_the_external_subject():
    res = sample_resources()
    res.append(federated_credential(identity(res, "uai-silo0")["id"]))
    f = _fails(audit(res))
    assert len(f) == 1
    ev = _path_evidence(f[0])
    assert ev["relation"] == "external" and ev["outsider_name"] == "repo:contoso/fl-silo0:ref:refs/heads/main"
    assert statuses(audit(res), "FL-ID-009", silo="silo1") == {"pass"}


def test_unreadable_federated_credentials_or_eligibility_make_the_answer_unknown():
    inv = inventory(sample_resources())
    inv.unreadable.append(Unreadable(generate.rg_id(), f"{UAI}/federatedIdentityCredentials", 403, "Forbidden"))
    assert statuses(audit(inv), "FL-ID-009") == {"unknown"}
    inv = inventory(sample_resources())
    inv.unreadable.append(Unreadable(generate.rg_id(), "Microsoft.Authorization/roleEligibilityScheduleInstances",
                                     403, "Forbidden"))
    result = audit(inv)
    assert statuses(result, "FL-ID-009") == {"unknown"} and "unknown" in statuses(result, "FL-WS-001")


def test_a_template_declaring_a_federated_credential_and_an_eligibility_request_gives_the_same_findings(tmp_path):
    """The template source understands both types: an FIC child resource and a PIM eligibility request
    (requestType AdminAssign) declared in an ARM template become the same paths as their deployed forms."""
    template = {
        "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
        "contentVersion": "1.0.0.0",
        "resources": [
            {"type": f"{UAI}/federatedIdentityCredentials", "apiVersion": "2023-01-31",
             "name": "uai-silo0/github-main",
             "properties": {"issuer": "https://token.actions.githubusercontent.com",
                            "subject": "repo:contoso/fl-silo0:ref:refs/heads/main",
                            "audiences": ["api://AzureADTokenExchange"]}},
            {"type": "Microsoft.Authorization/roleEligibilityScheduleRequests", "apiVersion": "2020-10-01",
             "name": "64caffb6-55c0-4deb-a585-68e948ea1ad6",
             "properties": {"principalId": OUTSIDER, "requestType": "AdminAssign",
                            "roleDefinitionId": f"[subscriptionResourceId('Microsoft.Authorization/"
                                                f"roleDefinitions', '{MI_OPERATOR}')]",
                            "scheduleInfo": {"startDateTime": "2026-12-01T00:00:00Z",
                                             "expiration": {"type": "AfterDuration", "duration": "P365D"}}}},
        ],
    }
    inv = inventory(sample_resources())
    expand_into(inv, write_json(tmp_path / "extra.json", template), subscription_id=generate.SUB,
                resource_group=generate.RG, location="westeurope")
    result = audit(inv)
    kinds = {(_path_evidence(f)["path_kind"], _path_evidence(f)["relation"]) for f in _fails(result)}
    assert kinds == {("identity-takeover", "external"), ("eligible", "unlisted")}


def test_an_identity_operation_the_catalogue_does_not_list_fails_closed_even_when_every_known_one_is_denied():
    res = sample_resources()
    res += [role_definition(CUSTOM, actions=["Microsoft.ManagedIdentity/*"]),
            role_assignment(generate.rg_id(), CUSTOM, OUTSIDER),
            deny_assignment(generate.rg_id(), "known takeover operations", data_actions=[], actions=[
                f"{UAI}/write", f"{UAI}/assign/action", f"{UAI}/federatedIdentityCredentials/write"])]
    f = _fails(audit(res))
    assert len(f) == 1 and "<uncatalogued>" in _path_evidence(f[0])["chain"][0]["text"]


def test_reports_render_path_evidence_in_text_and_html():
    from reports import _common, html

    res = sample_resources()
    res.append(role_assignment(generate.rg_id(), MI_OPERATOR, OUTSIDER))
    result = audit(res)
    f = _fails(result)[0]
    text = _common.evidence_text(next(e for e in f["evidence"] if e["kind"] == "path"))
    assert text.startswith("path identity-takeover (unlisted)") and "assign/action" in text
    page = html.render(result)
    assert "path <strong>identity-takeover</strong>" in page and "Managed Identity Operator at" in page


def test_a_snapshot_that_listed_identities_but_not_their_federated_credentials_is_unknown():
    inv = inventory(sample_resources())
    inv.collected = {(s, t) for s, t in inv.collected if not t.endswith("/federatedidentitycredentials")}
    result = audit(inv)
    assert statuses(result, "FL-ID-009") == {"unknown"}
    assert "does not list the identities' federated identity credentials" in \
        findings(result, "FL-ID-009", silo="silo0")[0]["message"]


def test_a_plain_export_without_federated_credentials_is_unknown_not_none():
    """A plain file cannot say that no federated credential trusts an external identity provider (fail closed)."""
    inv = inventory(sample_resources(), collected=False)
    assert statuses(audit(inv), "FL-ID-009") == {"unknown"}
