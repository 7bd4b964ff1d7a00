"""ABAC conditions on the silos' data roles in the orchestrator's storage, rewritten as an attacker (or a careless
operator) would: FL-ID-008 must judge what the condition allows, not what it looks like.

The hardened sample gives each silo Storage Blob Data Contributor on the orchestrator's account with Microsoft's
documented path condition (``@Resource[...blobs:path] StringStartsWith '<silo>/'``); assignments are in the shape
of RoleAssignments_ListForScope.json (specification/authorization/resource-manager/Microsoft.Authorization/stable/
2022-04-01/examples/).
"""

from __future__ import annotations

from tests.adversarial.common import not_passing
from tests.support import audit, config, findings, sample_resources, statuses

BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
RA = "Microsoft.Authorization/roleAssignments"


def _conditions(res: list) -> dict[str, dict]:
    """Silo name -> the properties of its conditional assignment on the orchestrator's storage."""
    out = {}
    for r in res:
        cond = r["type"] == RA and r["properties"].get("condition")
        if cond:
            silo = cond.rsplit("StringStartsWith '", 1)[1].split("/", 1)[0]
            out[silo] = r["properties"]
    return out


def _message(result: dict, silo: str) -> str:
    return " ".join(f["message"] for f in findings(result, "FL-ID-008", silo=silo) if f["status"] == "fail")


def test_a_prefix_without_a_trailing_slash_reaches_the_silo_whose_name_extends_it():
    res = sample_resources(n_silos=11)
    p = _conditions(res)["silo1"]
    p["condition"] = p["condition"].replace("'silo1/'", "'silo1'")
    result = audit(res, config(11))
    not_passing(result, "FL-ID-008", "silo1")
    assert "silo10" in _message(result, "silo1")
    assert statuses(result, "FL-ID-008", silo="silo2") == {"pass"}


def test_stringlike_star_confines_nothing():
    res = sample_resources()
    p = _conditions(res)["silo0"]
    p["condition"] = p["condition"].replace("StringStartsWith 'silo0/'", "StringLike '*'")
    not_passing(audit(res), "FL-ID-008", "silo0")


def test_an_always_true_disjunct_undoes_the_path_clause():
    res = sample_resources()
    p = _conditions(res)["silo0"]
    p["condition"] = f"({p['condition']}) OR (ActionMatches{{'{BLOB}/read'}})"
    not_passing(audit(res), "FL-ID-008", "silo0")


def test_a_negated_path_clause_reaches_every_other_silo():
    res = sample_resources()
    p = _conditions(res)["silo0"]
    p["condition"] = p["condition"].replace("StringStartsWith 'silo0/'", "StringNotStartsWith 'silo0/'")
    not_passing(audit(res), "FL-ID-008", "silo0")


def test_an_unparseable_condition_confines_nothing_and_says_why():
    res = sample_resources()
    p = _conditions(res)["silo0"]
    p["condition"] = p["condition"][:-3]  # unbalanced parentheses
    result = audit(res)
    not_passing(result, "FL-ID-008", "silo0")
    assert "not understood" in _message(result, "silo0")


def test_an_equivalent_condition_in_another_spelling_still_confines():
    """Shape matching rejected conditions Microsoft's grammar accepts: && / || / NOT, other whitespace and
    operand order are the same condition, and the sample stays ready."""
    res = sample_resources()
    for silo, p in _conditions(res).items():
        p["condition"] = (f"@Resource[{BLOB}:path] StringStartsWith '{silo}/' || NOT ( ActionMatches{{'{BLOB}/read'}}"
                          f" || ActionMatches{{'{BLOB}/write'}}||ActionMatches{{'{BLOB}/add/action'}} || "
                          f"ActionMatches{{'{BLOB}/delete'}} )")
    result = audit(res)
    assert statuses(result, "FL-ID-008") == {"pass"}
    assert result["verdict"]["production"]["status"] == "ready"


def test_a_condition_on_tags_alone_cannot_be_decided_so_it_does_not_confine():
    res = sample_resources()
    p = _conditions(res)["silo2"]
    p["condition"] = p["condition"].replace(f"@Resource[{BLOB}:path] StringStartsWith 'silo2/'",
                                            f"@Resource[{BLOB}/tags:silo<$key_case_sensitive$>] StringEquals 'silo2'")
    result = audit(res)
    not_passing(result, "FL-ID-008", "silo2")
    assert "cannot be decided" in _message(result, "silo2")


def test_a_silo_identity_with_delegated_role_admin_confined_to_harmless_roles_is_not_a_role_admin_path():
    """Role Based Access Control Administrator on the resource group with Microsoft's delegation condition: only
    roles that grant nothing on storage (Reader) -> FL-ID-007 passes; a data role in the list -> it fails."""
    from flaudit.samples import generate
    from tests.support import principal, role_assignment

    reader, blob_reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7", "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
    cond = ("((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft."
            "Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {%s}))")
    for allowed, expected in ((reader, {"pass"}), (blob_reader, {"fail"})):
        res = sample_resources()
        res.append(role_assignment(generate.rg_id(), "f58310d9-a9f6-439a-9e8d-f62e7b41a168",
                                   principal(res, "uai-silo0"), condition=cond % allowed))
        result = audit(res)
        assert statuses(result, "FL-ID-007", silo="silo0") == expected, allowed
