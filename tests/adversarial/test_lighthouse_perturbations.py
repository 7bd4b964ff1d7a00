"""Perturbed Azure Lighthouse delegations never pass what they could grant: spellings ARM and tools vary are read
the same, and anything not understood (an unknown role, an authorization without a principal, an assignment
without a definition or scope) leaves silo access unknown."""

from __future__ import annotations

import pytest

from flaudit.samples import generate
from tests.lighthouse_fixtures import (
    CONTRIBUTOR,
    OPERATOR,
    READER,
    authorization,
    eligible,
    registration_assignment,
)
from tests.support import audit, sample_resources, statuses

RG = generate.rg_id()
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def _ws001(*extra: dict) -> set[str]:
    return statuses(audit(sample_resources() + list(extra)), "FL-WS-001", silo="silo0")


def _upper_and_full_ids() -> dict:
    return registration_assignment(RG, [authorization(
        f"/providers/Microsoft.Authorization/roleDefinitions/{CONTRIBUTOR.upper()}", principal=OPERATOR.upper())])


def _lower_case_type() -> dict:
    ra = registration_assignment(RG, [authorization(CONTRIBUTOR)])
    ra["type"] = ra["type"].lower()  # as Resource Graph prints types
    return ra


@pytest.mark.parametrize("make", [_upper_and_full_ids, _lower_case_type], ids=["upper-full-ids", "lower-type"])
def test_spellings_tools_vary_are_read_as_the_same_delegation(make):
    assert _ws001(make()) == {"fail"}


def _unknown_role() -> dict:
    return registration_assignment(RG, [authorization("11111111-2222-4333-8444-555555555555")])


def _no_principal() -> dict:
    return registration_assignment(RG, [{"roleDefinitionId": CONTRIBUTOR}])


def _no_definition_at_all() -> dict:
    ra = registration_assignment(RG, [], expanded=False)
    ra["properties"].pop("registrationDefinitionId")
    return ra


def _tenant_root_id() -> dict:
    ra = registration_assignment(RG, [authorization(READER)])
    ra["id"] = "/providers/Microsoft.ManagedServices/registrationAssignments/8d4a2f6e-1c3b-4e97-a5d0-9b7e2c1f3a64"
    return ra


def test_user_access_administrator_without_its_required_delegated_roles_is_unconfined_role_admin():
    uaa = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
    assert _ws001(registration_assignment(RG, [authorization(uaa)])) == {"fail"}


@pytest.mark.parametrize("make", [_unknown_role, _no_principal, _no_definition_at_all, _tenant_root_id],
                         ids=["unknown-role", "no-principal", "no-definition", "no-scope"])
def test_what_is_not_understood_is_unknown_never_pass(make):
    assert _ws001(make()) == {"unknown"}


def test_a_role_lighthouse_rejects_at_onboarding_is_still_evaluated_as_its_definition_says():
    """Owner is not supported by Lighthouse (Microsoft's own example lists it as eligible all the same): if one is
    in the input it is evaluated, fail closed, not dropped."""
    assert _ws001(registration_assignment(RG, [authorization(READER)], [eligible(OWNER)])) == {"fail"}
