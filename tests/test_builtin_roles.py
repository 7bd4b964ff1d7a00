"""The bundled Azure built-in role definitions (flaudit/data/builtin_roles.json).

flaudit decides who can reach a silo's data from these definitions, so a transcription slip (a dropped
notAction, a miscased action, a wrong GUID) silently changes a verdict. The pinned roles below are copied
literally from Microsoft's published JSON ("Azure built-in roles for Storage / Privileged / General /
Identity / AI + machine learning", ms.date 07/01/2026); the remaining checks keep the whole file well formed.
"""

from __future__ import annotations

import json
import re
from datetime import date
from importlib import resources
from typing import Any

import pytest

from flaudit.rbac import builtin_roles

LISTS = ("actions", "notActions", "dataActions", "notDataActions")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# An operation string: "*", "*/read", or "Provider.Namespace/segments..." with no spaces or markdown left over.
OPERATION = re.compile(r"^(\*|\*/[A-Za-z]+|Microsoft\.[A-Za-z]+(/[A-Za-z0-9.*{}_-]+)*)$")

#: Roles the effective-permission evaluation needs (issue 2, "Built-in role definitions"), by published name.
REQUIRED_ROLES = {
    "Owner", "Contributor", "Reader", "User Access Administrator", "Role Based Access Control Administrator",
    "Storage Account Contributor", "Storage Account Key Operator Service Role",
    "Classic Storage Account Contributor", "Classic Storage Account Key Operator Service Role",
    "Storage Account Backup Contributor", "Reader and Data Access",
    "Storage Blob Data Owner", "Storage Blob Data Contributor", "Storage Blob Data Reader", "Storage Blob Delegator",
    "Storage Queue Data Contributor", "Storage Queue Data Reader", "Storage Queue Data Message Processor",
    "Storage Queue Data Message Sender",
    "Storage File Data SMB Share Contributor", "Storage File Data SMB Share Reader",
    "Storage File Data SMB Share Elevated Contributor", "Storage File Data Privileged Contributor",
    "Storage File Data Privileged Reader", "Storage File Data SMB MI Admin",
    "Storage Table Data Contributor", "Storage Table Data Reader",
    "AzureML Data Scientist", "AzureML Compute Operator", "AzureML Registry User",
    "AzureML Metrics Writer (preview)", "Azure AI Developer", "Azure AI Administrator",
    "Azure AI Enterprise Network Connection Approver",
    "Managed Identity Operator", "Managed Identity Contributor", "Backup Contributor", "Data Box Contributor",
}


def _block(actions: list[str] | None = None, not_actions: list[str] | None = None,
           data_actions: list[str] | None = None, not_data_actions: list[str] | None = None) -> dict[str, Any]:
    return {"actions": actions or [], "notActions": not_actions or [],
            "dataActions": data_actions or [], "notDataActions": not_data_actions or []}


#: GUID -> (roleName, permissions) exactly as Microsoft publishes them.
PINNED: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": ("Owner", [_block(["*"])]),
    "b24988ac-6180-42a0-ab88-20f7382dd24c": ("Contributor", [_block(["*"], [
        "Microsoft.Authorization/*/Delete",
        "Microsoft.Authorization/*/Write",
        "Microsoft.Authorization/elevateAccess/Action",
        "Microsoft.Blueprint/blueprintAssignments/write",
        "Microsoft.Blueprint/blueprintAssignments/delete",
        "Microsoft.Compute/galleries/share/action",
        "Microsoft.Purview/consents/write",
        "Microsoft.Purview/consents/delete",
        "Microsoft.Resources/deploymentStacks/manageDenySetting/action",
        "Microsoft.Subscription/cancel/action",
        "Microsoft.Subscription/enable/action",
    ])]),
    "acdd72a7-3385-48ef-bd42-f606fba81ae7": ("Reader", [_block(["*/read"])]),
    "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9": ("User Access Administrator", [_block([
        "*/read", "Microsoft.Authorization/*", "Microsoft.Support/*",
    ])]),
    "f58310d9-a9f6-439a-9e8d-f62e7b41a168": ("Role Based Access Control Administrator", [_block([
        "Microsoft.Authorization/roleAssignments/write",
        "Microsoft.Authorization/roleAssignments/delete",
        "*/read",
        "Microsoft.Support/*",
    ])]),
    "17d1049b-9a84-46fb-8f53-869881c3d3ab": ("Storage Account Contributor", [_block([
        "Microsoft.Authorization/*/read",
        "Microsoft.Insights/alertRules/*",
        "Microsoft.Insights/diagnosticSettings/*",
        "Microsoft.Network/virtualNetworks/subnets/joinViaServiceEndpoint/action",
        "Microsoft.ResourceHealth/availabilityStatuses/read",
        "Microsoft.Resources/deployments/*",
        "Microsoft.Resources/subscriptions/resourceGroups/read",
        "Microsoft.Storage/storageAccounts/*",
        "Microsoft.Support/*",
    ])]),
    "81a9662b-bebf-436f-a333-f67b29880f12": ("Storage Account Key Operator Service Role", [_block([
        "Microsoft.Storage/storageAccounts/listkeys/action",
        "Microsoft.Storage/storageAccounts/regeneratekey/action",
    ])]),
    "c12c1c16-33a1-487b-954d-41c89c60f349": ("Reader and Data Access", [_block([
        "Microsoft.Storage/storageAccounts/listKeys/action",
        "Microsoft.Storage/storageAccounts/ListAccountSas/action",
        "Microsoft.Storage/storageAccounts/read",
    ])]),
    "ba92f5b4-2d11-453d-a403-e96b0029c9fe": ("Storage Blob Data Contributor", [_block([
        "Microsoft.Storage/storageAccounts/blobServices/containers/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/write",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ], data_actions=[
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action",
        "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action",
    ])]),
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": ("Storage Blob Data Owner", [_block([
        "Microsoft.Storage/storageAccounts/blobServices/containers/*",
        "Microsoft.Storage/storageAccounts/blobServices/generateUserDelegationKey/action",
    ], data_actions=["Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*"])]),
    "a235d3ee-5935-4cfb-8cc5-a3303ad5995e": ("Storage File Data SMB MI Admin", [_block(data_actions=[
        "Microsoft.Storage/storageAccounts/fileServices/readFileBackupSemantics/action",
        "Microsoft.Storage/storageAccounts/fileServices/writeFileBackupSemantics/action",
        "Microsoft.Storage/storageAccounts/fileServices/takeOwnership/action",
        "Microsoft.Storage/storageAccounts/fileServices/runAsBuiltInFileAdministrator/action",
        "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/read",
        "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/write",
        "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/delete",
        "Microsoft.Storage/storageAccounts/fileServices/fileshares/files/modifypermissions/action",
    ])]),
    "f6c7c914-8db3-469d-8ca1-694a8f32e121": ("AzureML Data Scientist", [_block([
        "Microsoft.MachineLearningServices/workspaces/*/read",
        "Microsoft.MachineLearningServices/workspaces/*/action",
        "Microsoft.MachineLearningServices/workspaces/*/delete",
        "Microsoft.MachineLearningServices/workspaces/*/write",
    ], [
        "Microsoft.MachineLearningServices/workspaces/delete",
        "Microsoft.MachineLearningServices/workspaces/write",
        "Microsoft.MachineLearningServices/workspaces/computes/*/write",
        "Microsoft.MachineLearningServices/workspaces/computes/*/delete",
        "Microsoft.MachineLearningServices/workspaces/computes/listKeys/action",
        "Microsoft.MachineLearningServices/workspaces/listKeys/action",
        "Microsoft.MachineLearningServices/workspaces/hubs/write",
        "Microsoft.MachineLearningServices/workspaces/hubs/delete",
        "Microsoft.MachineLearningServices/workspaces/featurestores/write",
        "Microsoft.MachineLearningServices/workspaces/featurestores/delete",
    ])]),
    # A conditional (ABAC) block: the condition is part of the published definition and is kept verbatim.
    "77789c21-1643-48a2-8f27-47f858540b51": ("Storage Actions Task Assignment Contributor", [
        _block([
            "Microsoft.Authorization/*/read",
            "Microsoft.Insights/alertRules/*",
            "Microsoft.Resources/deployments/*",
            "Microsoft.Resources/subscriptions/resourceGroups/read",
            "Microsoft.Storage/storageAccounts/reports/read",
            "Microsoft.Storage/storageAccounts/read",
            "Microsoft.Storage/storageAccounts/blobServices/read",
            "Microsoft.Storage/storageAccounts/storageTaskAssignments/read",
            "Microsoft.Storage/storageAccounts/storageTaskAssignments/write",
            "Microsoft.Storage/storageAccounts/storageTaskAssignments/delete",
            "Microsoft.Storage/storageAccounts/storageTaskAssignments/reports/read",
        ]),
        {**_block(["Microsoft.Authorization/roleAssignments/write",
                   "Microsoft.Authorization/roleAssignments/delete"]),
         "conditionVersion": "2.0",
         "condition": "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR "
                      "(@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
                      "ForAnyOfAnyValues:GuidEquals{4bad4d9e2a13488894bbc8432f6f3040})) AND "
                      "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
                      "(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] "
                      "ForAnyOfAnyValues:GuidEquals{4bad4d9e2a13488894bbc8432f6f3040}))"},
    ]),
}


def _raw_text() -> str:
    return resources.files("flaudit").joinpath("data/builtin_roles.json").read_text("utf-8")


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    dupes = sorted({k for k in keys if keys.count(k) > 1})
    if dupes:
        raise ValueError(f"duplicate keys: {dupes}")
    return dict(pairs)


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return json.loads(_raw_text(), object_pairs_hook=_reject_duplicate_keys)


@pytest.fixture(scope="module")
def roles(bundle: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return bundle["roles"]


def test_bundle_names_its_source_and_retrieval_date(bundle: dict[str, Any]) -> None:
    assert "learn.microsoft.com/en-us/azure/role-based-access-control/built-in-roles/storage" in bundle["source"]
    assert date.fromisoformat(bundle["retrieved"]) == date(2026, 11, 30)


@pytest.mark.parametrize("guid", sorted(PINNED))
def test_pinned_role_matches_published_definition(roles: dict[str, dict[str, Any]], guid: str) -> None:
    name, permissions = PINNED[guid]
    assert roles[guid]["roleName"] == name
    assert roles[guid]["permissions"] == permissions


def test_key_operator_keeps_published_lowercase_listkeys(roles: dict[str, dict[str, Any]]) -> None:
    # Azure spells this one `listkeys` while Reader and Data Access spells `listKeys`: both must be kept as
    # published, and the evaluator must compare case-insensitively rather than rely on one spelling.
    key_operator = roles["81a9662b-bebf-436f-a333-f67b29880f12"]["permissions"][0]["actions"]
    reader_data = roles["c12c1c16-33a1-487b-954d-41c89c60f349"]["permissions"][0]["actions"]
    assert "Microsoft.Storage/storageAccounts/listkeys/action" in key_operator
    assert "Microsoft.Storage/storageAccounts/listKeys/action" in reader_data


def test_every_role_id_is_a_lowercase_uuid(roles: dict[str, dict[str, Any]]) -> None:
    bad = [g for g in roles if not UUID.match(g)]
    assert not bad, bad


def test_every_permission_block_has_the_four_lists_of_operation_strings(roles: dict[str, dict[str, Any]]) -> None:
    problems = []
    for guid, role in roles.items():
        assert role["permissions"], guid
        for block in role["permissions"]:
            extra = set(block) - set(LISTS) - {"condition", "conditionVersion"}
            if extra:
                problems.append((role["roleName"], "unexpected keys", sorted(extra)))
            for key in LISTS:
                value = block.get(key)
                if not isinstance(value, list):
                    problems.append((role["roleName"], key, "missing or not a list"))
                    continue
                problems += [(role["roleName"], key, op) for op in value
                             if not isinstance(op, str) or not OPERATION.match(op)]
            if ("condition" in block) != ("conditionVersion" in block) or block.get("conditionVersion", "2.0") != "2.0":
                problems.append((role["roleName"], "condition without conditionVersion 2.0"))
    assert not problems, problems


def test_every_role_has_a_name_and_description(roles: dict[str, dict[str, Any]]) -> None:
    missing = [g for g, r in roles.items()
               if not (isinstance(r.get("roleName"), str) and r["roleName"].strip()
                       and isinstance(r.get("description"), str) and r["description"].strip())]
    assert not missing, missing


def test_no_role_id_or_role_name_appears_twice(roles: dict[str, dict[str, Any]]) -> None:
    # Duplicate GUID keys are rejected while parsing (json would otherwise keep the last one silently).
    names = [r["roleName"] for r in roles.values()]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})


def test_duplicate_role_ids_in_the_file_are_detected() -> None:
    # The duplicate check above must be able to fail: a file repeating a GUID is refused, not merged.
    text = '{"roles": {"8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {}, "8e3af657-a8ff-443c-a75c-2fe8c4bcb635": {}}}'
    with pytest.raises(ValueError, match="duplicate keys"):
        json.loads(text, object_pairs_hook=_reject_duplicate_keys)


def test_bundle_covers_every_required_role(roles: dict[str, dict[str, Any]]) -> None:
    present = {r["roleName"] for r in roles.values()}
    assert not REQUIRED_ROLES - present, sorted(REQUIRED_ROLES - present)


def test_evaluator_loads_every_bundled_role(roles: dict[str, dict[str, Any]]) -> None:
    loaded = builtin_roles()
    assert set(loaded) == set(roles)
    assert {g: r.name for g, r in loaded.items()} == {g: r["roleName"] for g, r in roles.items()}
