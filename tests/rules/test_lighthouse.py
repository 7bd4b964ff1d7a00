"""Azure Lighthouse delegations are access into silo scopes: a managing tenant's principals hold roles on the
customer's subscription or resource group that no role assignment list shows. They go through the one RBAC
evaluator with the semantics Microsoft documents (DataActions never usable, User Access Administrator only to
assign delegatedRoleDefinitionIds to managed identities), are classified ``external``, and their findings name
the managing tenant, the registration assignment and the authorization property."""

from __future__ import annotations

from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests.lighthouse_fixtures import (
    CONTRIBUTOR,
    MANAGING_TENANT,
    MANAGING_TENANT_NAME,
    ON_CALL,
    OPERATOR,
    READER,
    STORAGE_ACCOUNT_CONTRIBUTOR,
    STORAGE_BLOB_DATA_READER,
    USER_ACCESS_ADMINISTRATOR,
    authorization,
    eligible,
    registration_assignment,
    registration_definition,
)
from tests.support import (
    audit,
    config,
    findings,
    inventory,
    role_assignment,
    sample_resources,
    statuses,
    storage,
)

RG = generate.rg_id()
SUB_SCOPE = f"/subscriptions/{generate.SUB}"
LIGHTHOUSE = "Microsoft.ManagedServices/registrationAssignments"


def _with(*extra: dict) -> list[dict]:
    return sample_resources() + list(extra)


def _lighthouse_evidence(finding: dict) -> list[dict]:
    return [e["lighthouse"] for e in finding["evidence"] if e.get("kind") == "access" and "lighthouse" in e]


def test_a_lighthouse_contributor_on_the_silo_resource_group_fails_silo_storage_access_naming_the_managing_tenant():
    result = audit(_with(registration_assignment(RG, [authorization(CONTRIBUTOR)])))
    for silo in ("silo0", "silo1", "silo2"):
        [f] = findings(result, "FL-WS-001", silo=silo, status="fail")
        assert MANAGING_TENANT in f["message"] and MANAGING_TENANT_NAME in f["message"]
        assert "Azure Lighthouse" in f["message"]
        [lh] = _lighthouse_evidence(f)[:1]
        assert lh["registration_assignment_id"].endswith("registrationAssignments/8d4a2f6e-1c3b-4e97-a5d0-9b7e2c1f3a64")
        assert lh["property"] == "properties.authorizations[0]"
        assert lh["managed_by_tenant_id"] == MANAGING_TENANT
    assert result["verdict"]["production"]["status"] == "not_ready"
    edges = [e for e in result["access"] if e["principal_id"] == OPERATOR]
    assert edges and {e["relation"] for e in edges} == {"external"}
    assert {e["principal_name"] for e in edges} == {"Fabrikam Tier 2"}


def test_a_lighthouse_contributor_gets_the_account_keys_where_shared_keys_are_allowed_as_a_role_assignment_would():
    """Contributor's listKeys is a control-plane action Lighthouse honours (Microsoft's own warning): a keys path,
    exactly the kinds the same role as an ordinary role assignment gives."""
    res = _with(registration_assignment(RG, [authorization(CONTRIBUTOR)]))
    storage(res, "silo0")["properties"]["allowSharedKeyAccess"] = True
    [f] = findings(audit(res), "FL-WS-001", silo="silo0", status="fail")
    plain = sample_resources()
    storage(plain, "silo0")["properties"]["allowSharedKeyAccess"] = True
    plain.append(role_assignment(RG, CONTRIBUTOR, OPERATOR, principal_type="User"))
    [g] = findings(audit(plain), "FL-WS-001", silo="silo0", status="fail")
    kinds = {e["access_kind"] for e in f["evidence"] if e.get("kind") == "access"}
    assert "keys" in kinds
    assert kinds == {e["access_kind"] for e in g["evidence"] if e.get("kind") == "access"}


def test_a_data_role_delegated_through_lighthouse_grants_no_data_access_because_lighthouse_never_honours_data_actions():
    """Microsoft: roles with DataActions are not supported, and their data actions cannot be used. The same role as
    an ordinary role assignment is data access."""
    result = audit(_with(registration_assignment(RG, [authorization(STORAGE_BLOB_DATA_READER)])))
    assert statuses(result, "FL-WS-001", silo="silo0") == {"pass"}
    edge = next(e for e in result["access"] if e["principal_id"] == OPERATOR and e["silo"] == "silo0")
    assert "data" not in edge["kinds"] and edge["inert_kinds"] == ["delegation"]
    plain = audit(_with(role_assignment(RG, STORAGE_BLOB_DATA_READER, OPERATOR, principal_type="User")))
    assert statuses(plain, "FL-WS-001", silo="silo0") == {"fail"}


def test_lighthouse_user_access_administrator_is_role_admin_only_when_a_delegated_role_reaches_silo_storage():
    uaa_contributor = audit(_with(registration_assignment(
        RG, [authorization(USER_ACCESS_ADMINISTRATOR, delegated=(CONTRIBUTOR,))])))
    [f] = findings(uaa_contributor, "FL-WS-001", silo="silo0", status="fail")
    kinds = {e["access_kind"] for e in f["evidence"] if e.get("kind") == "access"}
    assert kinds == {"role-admin"}  # nothing else of User Access Administrator applies under Lighthouse
    assert _lighthouse_evidence(f)[0]["delegated_role_definition_ids"] == [CONTRIBUTOR]
    uaa_reader = audit(_with(registration_assignment(
        RG, [authorization(USER_ACCESS_ADMINISTRATOR, delegated=(READER,))])))
    assert statuses(uaa_reader, "FL-WS-001", silo="silo0") == {"pass"}
    beside = audit(_with(registration_assignment(RG, [  # another principal's Lighthouse Contributor changes nothing
        authorization(CONTRIBUTOR, principal=ON_CALL, name="Fabrikam Ops"),
        authorization(USER_ACCESS_ADMINISTRATOR, delegated=(READER,))])))
    assert not [f for f in findings(beside, "FL-WS-001", silo="silo0", status="fail") if OPERATOR in f["subject"]]


def test_an_eligible_lighthouse_authorization_is_an_eligible_path():
    result = audit(_with(registration_assignment(RG, [authorization(READER)],
                                                 [eligible(STORAGE_ACCOUNT_CONTRIBUTOR)])))
    [f] = [x for x in findings(result, "FL-WS-001", silo="silo0", status="fail") if ON_CALL in x["subject"]]
    assert "PIM-eligible" in f["message"]
    assert any(e.get("kind") == "note" and e["text"].startswith("eligible:") for e in f["evidence"])
    [lh] = _lighthouse_evidence(f)[:1]
    assert lh["property"] == "properties.eligibleAuthorizations[0]"
    edge = next(e for e in result["access"] if e["principal_id"] == ON_CALL and e["silo"] == "silo0")
    assert "eligible" in edge["kinds"] and edge["relation"] == "external"


def test_an_unreadable_registration_assignment_list_leaves_silo_storage_access_unknown_not_pass():
    res = sample_resources()
    inv = inventory(res)
    inv.unreadable.append(Unreadable(SUB_SCOPE, LIGHTHOUSE, 403, "AuthorizationFailed: no read on "
                                     "Microsoft.ManagedServices/registrationAssignments"))
    from flaudit.audit import run_audit

    result = run_audit(inv, config(), generated_at="2026-11-30T00:00:00+00:00")
    for silo in ("silo0", "silo1", "silo2"):
        assert statuses(result, "FL-WS-001", silo=silo) == {"unknown"}
        [f] = findings(result, "FL-WS-001", silo=silo)
        assert "Lighthouse" in f["message"] and "403" in f["message"]
    assert result["verdict"]["production"]["status"] == "unknown"


def test_a_registration_assignment_whose_definition_is_not_in_the_input_is_unknown():
    result = audit(_with(registration_assignment(RG, [], expanded=False)))
    assert statuses(result, "FL-WS-001", silo="silo0") == {"unknown"}
    with_definition = audit(_with(registration_assignment(RG, [], expanded=False),
                                  registration_definition(generate.SUB, [authorization(CONTRIBUTOR)])))
    assert statuses(with_definition, "FL-WS-001", silo="silo0") == {"fail"}


def test_a_delegation_of_another_resource_group_does_not_reach_silo_storage():
    other = f"/subscriptions/{generate.SUB}/resourceGroups/rg-unrelated"
    result = audit(_with(registration_assignment(other, [authorization(CONTRIBUTOR)])))
    assert statuses(result, "FL-WS-001", silo="silo0") == {"pass"}
    assert statuses(result, "FL-XT-002", silo="silo0") == {"pass"}


def test_a_subscription_delegation_reaches_every_silo_below_it():
    result = audit(_with(registration_assignment(SUB_SCOPE, [authorization(CONTRIBUTOR)])))
    assert all(statuses(result, "FL-WS-001", silo=s) == {"fail"} for s in ("silo0", "silo1", "silo2"))


def test_cross_tenant_rule_names_the_managing_tenant_as_crossing_the_boundary():
    result = audit(_with(registration_assignment(RG, [authorization(STORAGE_BLOB_DATA_READER)])))
    [f] = findings(result, "FL-XT-002", silo="silo0", status="fail")
    assert f"tenant {MANAGING_TENANT_NAME} ({MANAGING_TENANT})" in f["message"]
    assert "Fabrikam Tier 2 (external" in f["message"]
    [lh] = _lighthouse_evidence(f)  # the data role's grants are inert, yet the evidence names the delegation
    assert lh["property"] == "properties.authorizations[0]"


def test_a_lighthouse_contributor_can_take_over_the_silo_identity_and_the_path_cites_the_registration_assignment():
    result = audit(_with(registration_assignment(RG, [authorization(CONTRIBUTOR)])))
    [f] = [x for x in findings(result, "FL-ID-009", silo="silo0", status="fail") if OPERATOR in x["subject"]]
    [path] = [e for e in f["evidence"] if e.get("kind") == "path"]
    assert path["relation"] == "external"
    assert "registrationAssignments/8d4a2f6e" in path["chain"][0]["ref"]
    assert "managing tenant" in path["chain"][0]["text"] and "authorizations[0]" in path["chain"][0]["text"]
    assert "federated identity credential" not in f["message"]
    assert f"managing tenant {MANAGING_TENANT_NAME} ({MANAGING_TENANT}) through Azure Lighthouse" in f["message"]


def test_a_managing_tenant_principal_declared_administrator_is_administrative_not_blocking():
    doc = generate.fl_config(3)
    doc["federated_learning"]["administrators"] = [
        {"object_id": OPERATOR, "kind": "group", "reason": "managed service provider on call, reviewed quarterly"}]
    from flaudit.config import parse_config

    result = audit(_with(registration_assignment(RG, [authorization(STORAGE_ACCOUNT_CONTRIBUTOR)])),
                   parse_config(doc, "fl.yaml"))
    assert statuses(result, "FL-WS-001", silo="silo0") == {"pass"}
    edge = next(e for e in result["access"] if e["principal_id"] == OPERATOR and e["silo"] == "silo0")
    assert edge["path_kind"] == "administrative"


def test_a_delegation_that_grants_nothing_on_silo_storage_is_still_named_by_the_cross_tenant_rule():
    """A Reader delegation over the silo's resource group reads configuration, not data: no access path, but the
    managing tenant inside the silo's scope is said (FL-XT-002 passes and names it)."""
    result = audit(_with(registration_assignment(RG, [authorization(READER)])))
    assert statuses(result, "FL-WS-001", silo="silo0") == {"pass"}
    [f] = findings(result, "FL-XT-002", silo="silo0")
    assert f["status"] == "pass"
    assert f"managing tenant(s) {MANAGING_TENANT_NAME} ({MANAGING_TENANT})" in f["message"]
    assert any("Reader (acdd72a7" in e.get("text", "") and "authorizations[0]" in e.get("text", "")
               for e in f["evidence"])
