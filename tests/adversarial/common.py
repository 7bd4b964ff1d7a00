"""Helpers for the adversarial tests: perturb a bundled sample the way a real export might look, audit it, and
check that the rule that should notice did not pass (fail closed) and the production verdict is not ready."""

from __future__ import annotations

import copy
from typing import Any

from flaudit.samples import generate
from tests.support import audit, by_name, by_type, statuses, storage

SUB = generate.SUB
ROLE = generate.ROLE
SA = "Microsoft.Storage/storageAccounts"
EVERYONE = "00000000-0000-0000-0000-000000000000"
CUSTOM = "1f1e5c6a-7d3b-4c7a-9a51-3c2f0e6b9d11"


def not_passing(result: dict[str, Any], rule_id: str, silo: str | None = "*", *, verdict: bool = True) -> set[str]:
    """Assert the rule reported something for ``silo`` and none of it is a pass; returns the statuses.

    With ``verdict`` the production verdict must not be ``ready`` either (a blocking rule did not pass).
    """
    found = statuses(result, rule_id, silo=silo)
    assert found, f"{rule_id} reported nothing for {silo}"
    assert "pass" not in found, f"FALSE PASS: {rule_id} for {silo} gave {sorted(found)}"
    if verdict:
        assert result["verdict"]["production"]["status"] != "ready"
    return found


def audit_clean(resources: list[dict[str, Any]], rule_id: str, silo: str | None = "*", **kw: Any) -> dict[str, Any]:
    """Audit a control case and assert the rule passes there, so a test's perturbation is what changes it."""
    result = audit(resources, **kw)
    assert statuses(result, rule_id, silo=silo) == {"pass"}, statuses(result, rule_id, silo=silo)
    return result


def role_definition(guid: str, *, actions: list[str] = (), not_actions: list[str] = (), data_actions: list[str] = (),
                    not_data_actions: list[str] = (), name: str = "FL custom role", flat: bool = False,
                    role_type: str = "CustomRole") -> dict[str, Any]:
    """A role definition as RoleDefinitions_Get returns it, or flattened as ``az role definition list`` prints it."""
    props = {"roleName": name, "type": role_type, "description": name,
             "assignableScopes": [f"/subscriptions/{SUB}"],
             "permissions": [{"actions": list(actions), "notActions": list(not_actions),
                              "dataActions": list(data_actions), "notDataActions": list(not_data_actions)}]}
    res = {"id": f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{guid}", "name": guid,
           "type": "Microsoft.Authorization/roleDefinitions"}
    if flat:
        props["roleType"] = props.pop("type")
        res.update(props)
    else:
        res["properties"] = props
    return res


def deny_assignment(scope: str, name: str, *, actions: list[str] = ("*",), data_actions: list[str] = ("*",),
                    principals: list[dict[str, str]] | None = None, exclude: list[dict[str, str]] = (),
                    **extra: Any) -> dict[str, Any]:
    """A deny assignment in the shape of DenyAssignments_Get (a system-protected deny for everyone by default)."""
    props = {"denyAssignmentName": name, "description": name,
             "permissions": [{"actions": list(actions), "notActions": [], "dataActions": list(data_actions),
                              "notDataActions": []}],
             "scope": scope, "doNotApplyToChildScopes": False,
             "principals": principals or [{"id": EVERYONE, "type": "SystemDefined"}],
             "excludePrincipals": list(exclude), "isSystemProtected": True}
    props.update(extra)
    return {"id": f"{scope}/providers/Microsoft.Authorization/denyAssignments/{name}", "name": name,
            "type": "Microsoft.Authorization/denyAssignments", "properties": props}


def flatten(resource: dict[str, Any]) -> dict[str, Any]:
    """The resource with its ``properties`` lifted to the top level (``az role assignment list`` style)."""
    out = copy.deepcopy(resource)
    out.update(out.pop("properties"))
    return out


def nsg(resources: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return by_name(resources, "Microsoft.Network/networkSecurityGroups", name)


def security_rule(name: str, priority: Any, direction: str, access: str, **props: Any) -> dict[str, Any]:
    """A security rule in the REST shape (singular fields ``*``, plural fields empty) with ``props`` applied."""
    p: dict[str, Any] = {"protocol": "*", "sourcePortRange": "*", "destinationPortRange": "*",
                         "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "access": access,
                         "priority": priority, "direction": direction, "sourcePortRanges": [],
                         "destinationPortRanges": [], "sourceAddressPrefixes": [], "destinationAddressPrefixes": []}
    p.update(props)
    return {"name": name, "type": "Microsoft.Network/networkSecurityGroups/securityRules", "properties": p}


def silo_pe(resources: list[dict[str, Any]], silo: str) -> dict[str, Any]:
    """The blob private endpoint of ``silo``'s storage account."""
    sid = storage(resources, silo)["id"].lower()
    for pe in by_type(resources, "Microsoft.Network/privateEndpoints"):
        conns = pe["properties"]["privateLinkServiceConnections"]
        if conns and conns[0]["properties"]["privateLinkServiceId"].lower() == sid:
            return pe
    raise KeyError(silo)


def workspace(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return by_type(resources, "Microsoft.MachineLearningServices/workspaces")[0]
