"""Azure Lighthouse resources for the tests, in the shapes of the azure-rest-api-specs examples (Microsoft.ManagedServices
2022-10-01: GetRegistrationAssignments.json with ``$expandRegistrationDefinition=true``, GetRegistrationDefinitions.json),
with flaudit's own values."""

from __future__ import annotations

import copy
from typing import Any

MANAGING_TENANT = "3c8e5f1a-9d2b-4a67-b0e4-6f1d8c3a2b95"
MANAGING_TENANT_NAME = "Fabrikam Managed Services"
CUSTOMER_TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OPERATOR = "4b2d9e6f-7a1c-4f30-8e5d-2c9b7a6f1e03"
ON_CALL = "9e3f1a7c-5b2d-4c84-a6e0-3d7f9b1c2e58"
DEFINITION = "5c1e7a3b-2d4f-4e86-9b0a-7f3c2e1d4a59"
ASSIGNMENT = "8d4a2f6e-1c3b-4e97-a5d0-9b7e2c1f3a64"

READER = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
CONTRIBUTOR = "b24988ac-6180-42a0-ab88-20f7382dd24c"
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
STORAGE_ACCOUNT_CONTRIBUTOR = "17d1049b-9a84-46fb-8f53-869881c3d3ab"
STORAGE_BLOB_DATA_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"


def authorization(role: str, principal: str = OPERATOR, name: str = "Fabrikam Tier 2",
                  delegated: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {"principalId": principal, "principalIdDisplayName": name, "roleDefinitionId": role}
    if delegated:
        out["delegatedRoleDefinitionIds"] = list(delegated)
    return out


def eligible(role: str, principal: str = ON_CALL) -> dict[str, Any]:
    return {"principalId": principal, "roleDefinitionId": role,
            "justInTimeAccessPolicy": {"multiFactorAuthProvider": "Azure", "maximumActivationDuration": "PT8H"}}


def definition_id(subscription: str, name: str = DEFINITION) -> str:
    return f"/subscriptions/{subscription}/providers/Microsoft.ManagedServices/registrationDefinitions/{name}"


def definition_properties(authorizations: list[dict[str, Any]], eligible_authorizations: list[dict[str, Any]] = (),
                          tenant: str = MANAGING_TENANT) -> dict[str, Any]:
    return {"description": "Managed operations for the FL deployment",
            "registrationDefinitionName": "Fabrikam FL operations",
            "authorizations": copy.deepcopy(list(authorizations)),
            "eligibleAuthorizations": copy.deepcopy(list(eligible_authorizations)),
            "provisioningState": "Succeeded", "manageeTenantId": CUSTOMER_TENANT, "manageeTenantName": "FL customer",
            "managedByTenantId": tenant, "managedByTenantName": MANAGING_TENANT_NAME}


def registration_definition(subscription: str, authorizations: list[dict[str, Any]],
                            eligible_authorizations: list[dict[str, Any]] = ()) -> dict[str, Any]:
    """A registration definition as GetRegistrationDefinitions.json lists it (always at subscription scope)."""
    return {"properties": definition_properties(authorizations, eligible_authorizations),
            "plan": {"name": "fl-ops", "product": "fl-operations", "publisher": "fabrikam", "version": "1.0.0"},
            "id": definition_id(subscription), "type": "Microsoft.ManagedServices/registrationDefinitions",
            "name": DEFINITION}


def registration_assignment(scope: str, authorizations: list[dict[str, Any]],
                            eligible_authorizations: list[dict[str, Any]] = (), *, expanded: bool = True,
                            name: str = ASSIGNMENT) -> dict[str, Any]:
    """A registration assignment at ``scope`` (a subscription or resource group id) as GetRegistrationAssignments.json
    lists it with ``$expandRegistrationDefinition=true`` (``expanded=False``: without the definition)."""
    sub = scope.split("/")[2]
    props: dict[str, Any] = {"registrationDefinitionId": definition_id(sub), "provisioningState": "Succeeded"}
    if expanded:
        props["registrationDefinition"] = {
            "properties": definition_properties(authorizations, eligible_authorizations),
            "plan": {"name": "fl-ops", "product": "fl-operations", "publisher": "fabrikam", "version": "1.0.0"},
            "id": definition_id(sub), "type": "Microsoft.ManagedServices/registrationDefinitions", "name": DEFINITION}
    return {"properties": props,
            "id": f"{scope}/providers/Microsoft.ManagedServices/registrationAssignments/{name}",
            "type": "Microsoft.ManagedServices/registrationAssignments", "name": name}
