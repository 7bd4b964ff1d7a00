"""Azure Lighthouse onboarding is done with templates (a subscription deployment: the registration definition at
the subscription, the registration assignment in a nested deployment to the delegated resource group, in the
shape of Microsoft's Azure-Lighthouse-samples rg.json). Evaluated into resources, it gives the same findings as
the deployed delegation read from ARM."""

from __future__ import annotations

from flaudit.audit import run_audit
from flaudit.lighthouse import RASG, RDEF
from flaudit.samples import generate
from tests.lighthouse_fixtures import CONTRIBUTOR, MANAGING_TENANT, STORAGE_ACCOUNT_CONTRIBUTOR, authorization, eligible
from tests.support import config, inventory, sample_resources
from tests.template.helpers import FIXTURES

PARAMS = {"mspOfferName": "Fabrikam FL operations", "mspOfferDescription": "Managed operations for the FL deployment",
          "managedByTenantId": MANAGING_TENANT, "rgName": generate.RG,
          "authorizations": [authorization(CONTRIBUTOR)]}


def _template_inventory(params: dict) -> object:
    from flaudit.sources.template import expand_into

    inv = inventory(sample_resources())
    expand_into(inv, FIXTURES / "lighthouse_rg.json", params=params, subscription_id=generate.SUB)
    return inv


def _rest_resources(template_inv, params: dict) -> list[dict]:
    """The delegation the template creates, as ARM lists it (GetRegistrationAssignments.json shape, definition
    expanded), with the names the template gives."""
    from tests.lighthouse_fixtures import registration_assignment

    [ra] = template_inv.of_type(RASG)
    [rd] = template_inv.of_type(RDEF)
    rest = registration_assignment(generate.rg_id(), params["authorizations"],
                                   params.get("eligibleAuthorizations", []), name=ra["name"])
    rest["properties"]["registrationDefinitionId"] = rd["id"]
    rest["properties"]["registrationDefinition"].update(id=rd["id"], name=rd["name"])
    return [rest]


def _outcomes(result: dict) -> set[tuple[str, str, str, str]]:
    return {(f["rule_id"], f["silo"] or "", f["subject"], f["status"]) for f in result["findings"]}


def test_template_onboarding_a_silo_resource_group_gives_the_findings_of_the_deployed_delegation():
    inv = _template_inventory(PARAMS)
    assert inv.unsupported == []
    [ra] = inv.of_type(RASG)
    [rd] = inv.of_type(RDEF)
    assert ra["id"].lower().startswith(generate.rg_id().lower() + "/providers/")
    # the nested deployment's resourceId() resolves in the parent (subscription) scope: the definition it names
    assert ra["properties"]["registrationDefinitionId"] == rd["id"]
    from_template = run_audit(inv, config(), generated_at="2026-11-30T00:00:00+00:00")
    from_arm = run_audit(inventory(sample_resources() + _rest_resources(inv, PARAMS)), config(),
                         generated_at="2026-11-30T00:00:00+00:00")
    assert _outcomes(from_template) == _outcomes(from_arm)
    fails = [f for f in from_template["findings"] if f["rule_id"] == "FL-WS-001" and f["status"] == "fail"]
    assert {f["silo"] for f in fails} == {"silo0", "silo1", "silo2"}
    assert all(MANAGING_TENANT in f["message"] for f in fails)


def test_template_delegating_another_resource_group_reaches_no_silo_storage():
    params = dict(PARAMS, rgName="rg-unrelated")
    result = run_audit(_template_inventory(params), config(), generated_at="2026-11-30T00:00:00+00:00")
    assert {f["status"] for f in result["findings"] if f["rule_id"] == "FL-WS-001"} == {"pass"}


def test_eligible_authorizations_in_a_template_are_eligible_paths(tmp_path):
    import json

    from flaudit.sources.template import expand_into

    template = json.loads((FIXTURES / "lighthouse_rg.json").read_text())
    template["parameters"]["eligibleAuthorizations"] = {"type": "array"}
    template["resources"][0]["properties"]["eligibleAuthorizations"] = "[parameters('eligibleAuthorizations')]"
    path = tmp_path / "eligible.json"
    path.write_text(json.dumps(template))
    inv = inventory(sample_resources())
    expand_into(inv, path, params=dict(PARAMS, authorizations=[],
                                       eligibleAuthorizations=[eligible(STORAGE_ACCOUNT_CONTRIBUTOR)]),
                subscription_id=generate.SUB)
    result = run_audit(inv, config(), generated_at="2026-11-30T00:00:00+00:00")
    edges = [e for e in result["access"] if e["relation"] == "external" and e["silo"] == "silo0"]
    assert edges and all("eligible" in e["kinds"] for e in edges)


def test_template_onboarding_the_whole_subscription_reaches_every_silo(tmp_path):
    """The subscription.json shape: definition and assignment both at the subscription deployment's scope."""
    import json

    from flaudit.sources.template import expand_into

    template = json.loads((FIXTURES / "lighthouse_rg.json").read_text())
    assignment = template["resources"][1]["properties"]["template"]["resources"][0]
    template["parameters"].pop("rgName")
    template["resources"] = [template["resources"][0], dict(assignment, dependsOn=[
        "[resourceId('Microsoft.ManagedServices/registrationDefinitions/', variables('mspRegistrationName'))]"])]
    path = tmp_path / "subscription.json"
    path.write_text(json.dumps(template))
    inv = inventory(sample_resources())
    expand_into(inv, path, params={k: v for k, v in PARAMS.items() if k != "rgName"}, subscription_id=generate.SUB)
    assert inv.unsupported == []
    [ra] = inv.of_type(RASG)
    assert ra["id"].lower().startswith(f"/subscriptions/{generate.SUB}/providers/")
    result = run_audit(inv, config(), generated_at="2026-11-30T00:00:00+00:00")
    assert {f["silo"] for f in result["findings"] if f["rule_id"] == "FL-WS-001" and f["status"] == "fail"} == {
        "silo0", "silo1", "silo2"}
