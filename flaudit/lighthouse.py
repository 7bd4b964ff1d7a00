"""Azure Lighthouse delegations read as the role assignments they amount to.

With Azure Lighthouse a customer delegates a subscription, or resource groups in it, to a *managing* tenant: a
``Microsoft.ManagedServices/registrationDefinitions`` resource (always at subscription scope) names the
managing tenant (``properties.managedByTenantId``) and its ``authorizations[]`` (``principalId``,
``principalIdDisplayName``, ``roleDefinitionId`` of a built-in role, ``delegatedRoleDefinitionIds``) and
``eligibleAuthorizations[]`` (just-in-time, PIM); a ``Microsoft.ManagedServices/registrationAssignments``
resource at the subscription or a resource group puts that definition into effect there
(``properties.registrationDefinitionId``; listed with ``$expandRegistrationDefinition=true`` it carries the
definition's properties under ``properties.registrationDefinition``). Those roles are held by principals of the
managing tenant on the assignment's scope and below, and they are *not* in the customer's role assignment list
(https://learn.microsoft.com/azure/role-based-access-control/role-assignments-list-cli), so an evaluator that
reads only role assignments never sees them.

This module turns every authorization into a :class:`Delegation`; the one RBAC evaluator (flaudit/rbac.py) turns
each into an assignment-like record and evaluates it like any other. Microsoft documents what a Lighthouse role
can do (https://learn.microsoft.com/azure/lighthouse/concepts/tenants-users-roles#role-support-for-azure-lighthouse),
and flaudit applies exactly that:

- roles with ``DataActions`` are not supported, and a user already assigned a role that later gained them
  "can't perform any tasks that use the DataActions permission": a delegated role's data actions are never
  counted (its control-plane actions are: Contributor's ``listKeys`` gives the account keys, as Microsoft warns);
- User Access Administrator applies "only for the limited purpose of assigning roles to a managed identity in the
  customer tenant", and only the roles in ``delegatedRoleDefinitionIds``: it is read as role-admin confined to
  those roles (a role-admin path when one of them reaches the target), nothing else of that role;
- Owner, custom roles and roles with ``Microsoft.Authorization/*`` writes are rejected at onboarding; should one
  be in the input anyway it is evaluated as its definition says (fail closed), and a role id that is neither
  bundled nor in the input is ``unknown``.

Fail closed: a registration assignment whose definition is neither expanded in it nor in the input leaves every
answer within its scope ``unknown`` (:attr:`Delegations.problems`). Provisioning states are not read: an assignment
in the input counts. What stays out: the membership of a managing tenant's group (Microsoft Graph in that tenant)
and the managing tenant's own conditional-access or PIM approval settings beyond ``justInTimeAccessPolicy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flaudit.arm import get_path, name_of, norm

RASG = "microsoft.managedservices/registrationassignments"
RDEF = "microsoft.managedservices/registrationdefinitions"
#: User Access Administrator: under Lighthouse it only assigns ``delegatedRoleDefinitionIds`` to managed identities.
USER_ACCESS_ADMINISTRATOR = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
ROLE_ASSIGNMENT_WRITE = "Microsoft.Authorization/roleAssignments/write"
DOCS = "https://learn.microsoft.com/azure/lighthouse/concepts/tenants-users-roles#role-support-for-azure-lighthouse"
_MARKER = "/providers/microsoft.managedservices/registrationassignments/"


@dataclass(frozen=True, slots=True)
class Delegation:
    """One authorization of a registration definition, in effect at one registration assignment's scope."""

    assignment_id: str  # the registration assignment
    definition_id: str  # the registration definition it puts into effect
    scope: str  # normalised: the subscription or resource group the assignment sits at
    tenant: str | None  # managedByTenantId (lower case)
    tenant_name: str | None  # managedByTenantName, when the input has it
    offer: str | None  # registrationDefinitionName
    principal_id: str  # normalised object id in the managing tenant
    principal_name: str | None  # principalIdDisplayName
    role_definition_id: str  # as written (a built-in role's GUID)
    delegated_roles: tuple[str, ...]  # delegatedRoleDefinitionIds (lower-case GUIDs)
    eligible: bool  # from eligibleAuthorizations[] (just-in-time)
    property: str  # where in the definition: "authorizations[1]", "eligibleAuthorizations[0]"

    @property
    def role_guid(self) -> str:
        return name_of(self.role_definition_id.strip().rstrip("/")).lower()

    @property
    def ref(self) -> str:
        """The assignment-like record's id: the registration assignment and the authorization it carries."""
        return f"{self.assignment_id}#{self.property}"

    @property
    def tenant_label(self) -> str:
        t = self.tenant or "(managedByTenantId not in the input)"
        return f"{self.tenant_name} ({t})" if self.tenant_name else t

    def delegation_condition(self) -> str | None:
        """For a User Access Administrator authorization: the roles it may assign, spelt as the ABAC delegation
        condition the RBAC evaluator already decides (``None`` for any other role, and for one without
        ``delegatedRoleDefinitionIds``, which Azure requires: then it is read as unconfined role admin)."""
        if self.role_guid != USER_ACCESS_ADMINISTRATOR or not self.delegated_roles:
            return None  # without the list Azure requires, what it may assign is not known: unconfined (fail closed)
        ids = ", ".join(self.delegated_roles)
        return (f"((!(ActionMatches{{'{ROLE_ASSIGNMENT_WRITE}'}})) OR (@Request[Microsoft.Authorization/"
                f"roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ids}}}))")

    def evidence(self) -> dict[str, Any]:
        """What the access evidence says about the delegation (``lighthouse`` in an access item)."""
        out: dict[str, Any] = {
            "registration_assignment_id": self.assignment_id, "registration_definition_id": self.definition_id,
            "managed_by_tenant_id": self.tenant, "managed_by_tenant_name": self.tenant_name,
            "offer": self.offer, "property": f"properties.{self.property}",
            "principal_display_name": self.principal_name}
        if self.delegated_roles:
            out["delegated_role_definition_ids"] = list(self.delegated_roles)
        return out


@dataclass
class Delegations:
    """Every delegation in the input, and why some registration assignment could not be read."""

    items: list[Delegation] = field(default_factory=list)
    #: (scope, message): a registration assignment whose authorizations are unknown; answers within scope are unknown.
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: principal id -> (tenant, tenant label), for every principal a delegation names.
    principals: dict[str, tuple[str | None, str]] = field(default_factory=dict)

    def problem_for(self, target_id: str) -> str | None:
        t = norm(target_id)
        for scope, message in self.problems:
            if scope == "/" or t == scope or t.startswith(scope + "/"):
                return message
        return None


def _scope_of(assignment_id: str) -> str:
    low = norm(assignment_id)
    i = low.rfind(_MARKER)
    return low[:i] if i > 0 else ""


def read(inventory: Any) -> Delegations:
    """Every authorization of every registration assignment in ``inventory``, as :class:`Delegation` records."""
    out = Delegations()
    definitions = {norm(r.get("id")): r for r in inventory.of_type(RDEF)}
    for ra in inventory.of_type(RASG):
        rid = str(ra.get("id") or "")
        scope = _scope_of(rid)
        def_id = str(get_path(ra, "properties.registrationDefinitionId") or "")
        expanded = get_path(ra, "properties.registrationDefinition")
        body = expanded if isinstance(expanded, dict) and isinstance(get_path(expanded, "properties"), dict) \
            else definitions.get(norm(def_id))
        props = get_path(body, "properties") if isinstance(body, dict) else None
        if not scope:
            out.problems.append(("/", f"registration assignment {rid or '(no id)'} has no scope in its id"))
            continue
        if not isinstance(props, dict) or not isinstance(get_path(props, "authorizations"), list):
            out.problems.append((scope, f"registration assignment {name_of(rid)} at {scope} puts registration "
                                 f"definition {def_id or '(none named)'} into effect, which is neither expanded in "
                                 "it nor in the input: what it grants is unknown"))
            continue
        def_id = def_id or str((body or {}).get("id") or "")
        tenant = str(get_path(props, "managedByTenantId") or "").lower() or None
        tenant_name = get_path(props, "managedByTenantName") or None
        offer = get_path(props, "registrationDefinitionName") or None
        for key, eligible in (("authorizations", False), ("eligibleAuthorizations", True)):
            for i, auth in enumerate(get_path(props, key) or []):
                if not isinstance(auth, dict):
                    continue
                pid = norm(get_path(auth, "principalId"))
                role = str(get_path(auth, "roleDefinitionId") or "")
                if not pid or not role:
                    out.problems.append((scope, f"registration definition {def_id} {key}[{i}] names no principalId "
                                         "or roleDefinitionId"))
                    continue
                delegated = tuple(name_of(str(g)).lower() for g in get_path(auth, "delegatedRoleDefinitionIds") or []
                                  if isinstance(g, str))
                dl = Delegation(rid, def_id, scope, tenant, str(tenant_name) if tenant_name else None,
                                str(offer) if offer else None, pid,
                                str(get_path(auth, "principalIdDisplayName") or "") or None, role, delegated,
                                eligible, f"{key}[{i}]")
                out.items.append(dl)
                out.principals.setdefault(pid, (tenant, dl.tenant_label))
    return out
