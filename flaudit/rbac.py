"""The one effective-permission evaluator: who can do what to a storage account, the way Azure decides it.

Semantics (https://learn.microsoft.com/azure/role-based-access-control/overview):
- an assignment applies at its scope and every scope below it (``/`` > management group > subscription >
  resource group > resource > child); for the *data* in a storage account, an assignment on one of its
  containers or queues is access to that account's data too, so scopes below the account count for data;
- a role grants ``actions - notActions`` on the control plane and ``dataActions - notDataActions`` on the data
  plane; ``*`` in ``actions`` never grants a data action; wildcards and action names compare
  case-insensitively; ``notActions`` is a subtraction, not a deny (another role can grant the action back);
- deny assignments win over any grant, except for principals listed in ``excludePrincipals``; a deny whose
  principal is ``00000000-0000-0000-0000-000000000000`` (SystemDefined) applies to everyone; a deny with a
  ``condition``, or one excluding a group (membership needs Microsoft Graph), removes nothing (fail closed);
- assignments and role definitions are read with ``properties`` or flattened (as ``az role assignment list``
  and ``az role definition list`` print them), property names case-insensitively;
- an assignment with an ABAC ``condition`` grants conditionally: reported as such, never silently dropped.

What a principal gets on a storage account is classified through the operation catalogue
(flaudit/operations.py, flaudit/data/operations.json) into path kinds: ``data`` (blob/file/queue/table data
actions), ``keys`` (account keys or SAS), ``delegation`` (user delegation key; counted only beside data access,
since a user-delegation SAS grants no more than the holder's data permissions), ``role-admin`` (it can assign
itself any role; a delegation condition that confines it to roles granting nothing here makes it idle),
``mgmt-write`` (any other storage write not documented inert: exposure, local users, configuration) and ``copy``
(management-plane data movement), plus ``unknown`` when a role definition is neither in the input nor bundled.
On a user-assigned identity the kinds are ``identity-takeover`` and ``role-admin``. PIM-eligible assignments
(roleEligibilityScheduleInstances) are evaluated like active ones and flagged, so ``Access.kinds`` adds
``eligible``. Each role is classified once per index; a kind's grants carry a few representative operations
(ungated first), and a deny assignment that removes all of them is checked against the role's full list.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib import resources
from typing import Any, NamedTuple

from flaudit import conditions, lighthouse, operations
from flaudit.arm import MISSING, ancestor_scopes, get_path, is_within, name_of, norm, subscription_of
from flaudit.inventory import Inventory
from flaudit.operations import action_matches, catalogue

EVERYONE = "00000000-0000-0000-0000-000000000000"
#: A role definition id no role has: a delegation condition that allows it allows roles flaudit cannot see.
_UNKNOWN_ROLE = "ffffffff-ffff-4fff-bfff-ffffffffffff"
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
SA = "Microsoft.Storage/storageAccounts"
RA = "microsoft.authorization/roleassignments"
RD = "microsoft.authorization/roledefinitions"
DA = "microsoft.authorization/denyassignments"
SUBS = "microsoft.resources/subscriptions"

RESI = "microsoft.authorization/roleeligibilityscheduleinstances"
#: Eligibility requests, as a template declares them (PutRoleEligibilityScheduleRequest.json); only requests
#: that make a principal eligible count (AdminRemove / SelfDeactivate take eligibility away).
RESR = "microsoft.authorization/roleeligibilityschedulerequests"
_GRANTING_REQUESTS = frozenset({"adminassign", "adminupdate", "adminextend", "adminrenew", "selfextend",
                                "selfrenew"})
#: Data actions that read or write the data itself (what training needs), from the operation catalogue.
READ_DATA_ACTIONS = frozenset(o.name for o in catalogue().values() if o.cls == "data-read")
WRITE_DATA_ACTIONS = frozenset(o.name for o in catalogue().values() if o.cls == "data-write")
KINDS = ("data", "keys", "delegation", "role-admin", "mgmt-write", "copy", "eligible", "unknown")
#: Kinds a principal can hold on a user-assigned identity.
IDENTITY_KINDS = ("identity-takeover", "role-admin", "eligible", "unknown")
_KIND_ORDER = ("data", "keys", "delegation", "role-admin", "mgmt-write", "copy", "identity-takeover", "eligible",
               "unknown")


@dataclass(frozen=True)
class RoleDef:
    id: str  # GUID, lower case
    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]
    builtin: bool

    def allows(self, action: str, *, data: bool) -> str | None:
        """The pattern that grants ``action`` (None when the role does not grant it)."""
        allow, deny = (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        if any(action_matches(n, action) for n in deny):
            return None
        for a in allow:
            if action_matches(a, action):
                return a
        return None

    @property
    def grants(self) -> RoleGrants:
        """What the role grants on a storage account and on a user-assigned identity, computed once per role."""
        return _classify(self)


class RoleGrants(NamedTuple):
    """A role's classification (see flaudit/operations.py): kind -> [(operation, granting pattern)]."""

    storage: dict[str, list[tuple[str, str]]]  # at or above an account (evidence-trimmed)
    below: dict[str, dict[str, list[tuple[str, str]]]]  # service -> kinds, from a scope below the account
    identity: dict[str, list[tuple[str, str]]]  # at or above a user-assigned identity
    full: dict[str, list[tuple[str, str]]]  # storage kinds, untrimmed (to re-check after deny assignments)


#: The service segment of a scope below a storage account, and the operations an assignment there can use:
#: data actions (any: a container-scope data role reaches that container's data) and control operations of
#: the same child type (a blob container's scope cannot restore a file share).
_SERVICES = ("blobservices", "fileservices", "queueservices", "tableservices")


@cache
def _classify(role: RoleDef) -> RoleGrants:
    storage, identity, full = operations.classify(role.allows, role.actions, role.data_actions)
    below: dict[str, dict[str, list[tuple[str, str]]]] = {}
    for service in (*_SERVICES, ""):
        table: dict[str, list[tuple[str, str]]] = {}
        for kind, hits in full.items():
            kept = [(a, p) for a, p in hits if _usable_below(a, kind, service)]
            if kept:
                table[kind] = kept if kind == "data" else kept[:operations.EVIDENCE_PER_KIND]
        below[service] = table
    return RoleGrants(storage, below, identity, full)


def _usable_below(action: str, kind: str, service: str) -> bool:
    if kind in ("data", "role-admin"):
        return True
    op = operations.operation(action)
    return op is not None and op.below_account and bool(service) and f"/{service}/" in op.name.lower()


def _service_of(scope: str) -> str:
    """``blobservices`` ... for a scope below a storage account ("" when not recognised)."""
    marker = "/providers/microsoft.storage/storageaccounts/"
    rest = scope[scope.find(marker) + len(marker):].split("/")
    return rest[1] if len(rest) > 1 and rest[1] in _SERVICES else ""


def _role_from_properties(guid: str, props: dict[str, Any], builtin: bool) -> RoleDef:
    perms = get_path(props, "permissions") or [{}]
    def collect(key: str) -> tuple[str, ...]:
        return tuple(str(a) for p in perms if isinstance(p, dict) for a in (get_path(p, key) or []))
    return RoleDef(guid.lower(), str(get_path(props, "roleName") or guid), collect("actions"), collect("notActions"),
                   collect("dataActions"), collect("notDataActions"), builtin)


def _properties(res: dict[str, Any]) -> dict[str, Any]:
    """A resource's ``properties``, or the resource itself when a tool printed it flattened.

    ``az role assignment list`` and ``az role definition list`` print ``principalId``, ``roleDefinitionId``,
    ``scope``, ``permissions`` ... at the top level, without a ``properties`` block; reading only
    ``properties`` would turn such an assignment into one for nobody and such a role into one granting
    nothing (a silent pass).
    """
    props = get_path(res, "properties")
    return props if isinstance(props, dict) else res


@lru_cache(maxsize=1)
def builtin_roles() -> dict[str, RoleDef]:
    data = json.loads(resources.files("flaudit").joinpath("data/builtin_roles.json").read_text("utf-8"))
    return {g.lower(): _role_from_properties(g, p, True) for g, p in data["roles"].items()}


def role_guid(role_definition_id: str) -> str:
    return name_of(role_definition_id).lower()


class Assignment(NamedTuple):
    """A role assignment (a tuple: 100,000 of them are built per large audit)."""

    id: str
    scope: str  # normalised
    role_guid: str
    role_definition_id: str
    principal_id: str  # normalised
    principal_type: str
    condition: str | None
    #: A PIM-eligible assignment (roleEligibilityScheduleInstances): not active, but the principal can
    #: activate it at any time, so it is evaluated like an active one and reported as kind ``eligible``.
    eligible: bool = False
    #: The Azure Lighthouse authorization this record stands for (flaudit/lighthouse.py), None for a role
    #: assignment: a managing tenant's principal holds the role without any customer role assignment.
    delegation: Any = None

    @classmethod
    def from_arm(cls, res: dict[str, Any], eligible: bool = False) -> Assignment:
        p = _properties(res)
        rid = res.get("id", "")
        scope = _read(p, "scope")
        if not scope:  # derive from the id: <scope>/providers/Microsoft.Authorization/roleAssignments/<name>
            low = rid.lower()
            i = low.rfind("/providers/microsoft.authorization/")
            scope = rid[:i] if i > 0 else "/"
        role_id = str(_read(p, "roleDefinitionId") or "")
        return cls(rid, scope.strip().rstrip("/").lower() or "/", role_id.strip().rstrip("/").rsplit("/", 1)[-1].lower(),
                   role_id, str(_read(p, "principalId") or "").strip().lower(),
                   str(_read(p, "principalType") or "Unknown"), _read(p, "condition") or None, eligible)


def _read(p: Any, key: str) -> Any:
    """``get_path(p, key)`` for one plain key: the exact key in one lookup (every assignment of a large input is
    read this way), the case-insensitive search only when it is missing."""
    if isinstance(p, dict):
        value = p.get(key, MISSING)
        if value is not MISSING:
            return value
    return get_path(p, key)


@dataclass(frozen=True)
class Deny:
    id: str
    name: str
    scope: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    data_actions: tuple[str, ...]
    not_data_actions: tuple[str, ...]
    principals: frozenset[str]
    excluded: frozenset[str]
    child_scopes: bool
    #: ABAC condition of the deny: flaudit does not evaluate it, so such a deny removes nothing (fail closed).
    condition: str | None = None
    #: ``excludePrincipals`` entries that are groups (or of unstated type): any principal may be a member.
    excluded_groups: frozenset[str] = frozenset()

    @classmethod
    def from_arm(cls, res: dict[str, Any]) -> Deny:
        p = _properties(res)
        perms = get_path(p, "permissions") or [{}]
        def collect(key: str) -> tuple[str, ...]:
            return tuple(str(a) for x in perms if isinstance(x, dict) for a in (get_path(x, key) or []))
        scope = get_path(p, "scope") or res.get("id", "").lower().split("/providers/microsoft.authorization/")[0] or "/"
        excluded = [x for x in get_path(p, "excludePrincipals") or [] if isinstance(x, dict)]
        return cls(res.get("id", ""), str(get_path(p, "denyAssignmentName") or res.get("name") or ""),
                   norm(scope) or "/",
                   collect("actions"), collect("notActions"), collect("dataActions"), collect("notDataActions"),
                   frozenset(norm(get_path(x, "id")) for x in get_path(p, "principals") or [] if isinstance(x, dict)),
                   frozenset(norm(get_path(x, "id")) for x in excluded),
                   get_path(p, "doNotApplyToChildScopes") in (None, False),
                   str(get_path(p, "condition") or "").strip() or None,
                   frozenset(norm(get_path(x, "id")) for x in excluded
                             if str(get_path(x, "type") or "Group").lower() not in ("user", "serviceprincipal")))

    def applies_to(self, principal_id: str) -> bool:
        """Whether the deny certainly applies to the principal (fail closed: when unsure it does not, so the
        grant it would remove stays counted)."""
        if self.condition or principal_id in self.excluded or (self.excluded_groups - {principal_id}):
            return False
        return EVERYONE in self.principals or principal_id in self.principals

    def exemption(self, principal_id: str) -> str:
        """Why :meth:`applies_to` is False for a principal the deny names (for evidence)."""
        if principal_id in self.excluded:
            return "principal is in excludePrincipals"
        if self.condition:
            return "the deny assignment has a condition flaudit does not evaluate"
        return "excludePrincipals lists a group the principal may belong to"

    def denies(self, action: str, *, data: bool) -> bool:
        acts, nots = (self.data_actions, self.not_data_actions) if data else (self.actions, self.not_actions)
        return any(action_matches(a, action) for a in acts) and not any(action_matches(n, action) for n in nots)


@dataclass(slots=True)
class Grant:
    """One link of an access chain: assignment -> role -> scope -> matched action."""

    kind: str
    assignment: Assignment
    role: RoleDef | None
    action: str
    pattern: str
    #: Set on a user-delegation grant whose data grants all carry conditions: a user-delegation SAS grants no
    #: more than the holder's data permissions, so it is exactly as conditional as they are.
    capped_by_condition: bool = False

    @property
    def conditional(self) -> bool:
        return self.assignment.condition is not None or self.capped_by_condition

    @property
    def eligible(self) -> bool:
        return self.assignment.eligible

    def evidence(self, principal_name: str | None = None) -> dict[str, Any]:
        a = self.assignment
        out = {"kind": "access", "principal_id": a.principal_id, "principal_name": principal_name,
               "principal_type": a.principal_type, "assignment_id": a.id,
               "role_definition_id": a.role_definition_id,
               "role_name": self.role.name if self.role else f"unknown role {a.role_guid}",
               "scope": a.scope, "access_kind": self.kind, "matched_actions": [self.action],
               "granted_by": self.pattern, "condition": a.condition, "eligible": a.eligible}
        if a.delegation is not None:
            out["lighthouse"] = a.delegation.evidence()
        return out


@dataclass
class Access:
    principal_id: str
    principal_type: str
    target_id: str
    grants: list[Grant] = field(default_factory=list)
    denied: list[tuple[Grant, Deny]] = field(default_factory=list)
    #: Grants a deny assignment would have removed had it not listed the principal in ``excludePrincipals``.
    exempted: list[tuple[Grant, Deny]] = field(default_factory=list)
    #: User-delegation grants without any data grant beside them: a user-delegation SAS grants the intersection
    #: of the key holder's data permissions and the SAS's own, so with no data permission it grants nothing.
    idle: list[Grant] = field(default_factory=list)

    @property
    def kinds(self) -> list[str]:
        present = {g.kind for g in self.grants}
        if any(g.assignment.eligible for g in self.grants):
            present.add("eligible")
        return [k for k in _KIND_ORDER if k in present]

    def of(self, *kinds: str) -> list[Grant]:
        return [g for g in self.grants if g.kind in kinds]

    def has(self, *kinds: str) -> bool:
        return any(g.kind in kinds for g in self.grants)

    def conditional(self, *kinds: str) -> bool:
        """True when every grant of these kinds (all kinds when none given) carries an ABAC condition."""
        gs = self.of(*kinds) if kinds else self.grants
        return bool(gs) and all(g.conditional for g in gs)

    def writes_data(self) -> bool:
        return any(g.kind == "data" and g.action in WRITE_DATA_ACTIONS for g in self.grants)

    def chain(self) -> list[dict[str, Any]]:
        """One entry per assignment with the actions it lets through (for the result's access edges)."""
        by_assignment: dict[str, dict[str, Any]] = {}
        for g in self.grants:
            a = g.assignment
            entry = by_assignment.get(a.id)
            if entry is None:  # built once per assignment, not once per grant
                entry = by_assignment[a.id] = {
                    "assignment_id": a.id, "role_definition_id": a.role_definition_id,
                    "role_name": g.role.name if g.role else f"unknown role {a.role_guid}", "scope": a.scope,
                    "matched_actions": [], "kinds": [], "condition": a.condition, "eligible": a.eligible}
            if a.delegation is not None and "lighthouse" not in entry:
                entry["lighthouse"] = a.delegation.evidence()
            if g.action not in entry["matched_actions"]:
                entry["matched_actions"].append(g.action)
            if g.kind not in entry["kinds"]:
                entry["kinds"].append(g.kind)
        return list(by_assignment.values())


class RbacIndex:
    """Role assignments, definitions and deny assignments, indexed by principal and by scope."""

    def __init__(self, inventory: Inventory):
        self.inventory = inventory
        self.roles: dict[str, RoleDef] = dict(builtin_roles())
        for res in inventory.of_type(RD):
            props = _properties(res)
            if not isinstance(get_path(props, "permissions"), list):
                continue  # not understood: the bundled built-in (if any) stands, else the role stays unknown
            guid = str(res.get("name") or name_of(res.get("id", ""))).lower()
            kind = get_path(props, "roleType") or (get_path(props, "type") if props is not res else None)
            self.roles[guid] = _role_from_properties(guid, props, str(kind) == "BuiltInRole")
        raw_assignments = inventory.of_type(RA)
        raw_eligible = inventory.of_type(RESI) + [
            r for r in inventory.of_type(RESR)
            if str(get_path(_properties(r), "requestType") or "AdminAssign").lower() in _GRANTING_REQUESTS]
        self.assignment_count = len(raw_assignments)
        self.eligible_count = len(raw_eligible)
        # Only assignments whose scope can contain a storage account or a user-assigned identity, or lie inside
        # one, can grant anything flaudit evaluates; one on a web app or a VM never reaches either (scopes only
        # inherit downwards), so those are not indexed.
        self.assignments = [a for r in raw_assignments
                            if _may_reach_storage(_raw_scope(r)) and (a := Assignment.from_arm(r))]
        self.assignments += [a for r in raw_eligible
                             if _may_reach_storage(_raw_scope(r)) and (a := Assignment.from_arm(r, eligible=True))]
        # Azure Lighthouse: the managing tenant's roles, which no role assignment list shows (flaudit/lighthouse.py).
        self.delegations = lighthouse.read(inventory)
        self.assignments += [self._delegated(dl) for dl in self.delegations.items if _may_reach_storage(dl.scope)]
        self.by_principal: dict[str, list[Assignment]] = defaultdict(list)
        self.by_scope: dict[str, list[Assignment]] = defaultdict(list)
        self.below_account: dict[str, list[Assignment]] = defaultdict(list)  # account id -> assignments inside
        self.below_identity: dict[str, list[Assignment]] = defaultdict(list)  # identity id -> assignments inside
        self.mg_scopes: set[str] = set()
        for a in self.assignments:
            self.by_principal[a.principal_id].append(a)
            self.by_scope[a.scope].append(a)
            acct = _account_of(a.scope)
            if acct and acct != a.scope:
                self.below_account[acct].append(a)
            ident = _identity_of(a.scope)
            if ident and ident != a.scope:
                self.below_identity[ident].append(a)
            if a.scope.startswith("/providers/microsoft.management/managementgroups/"):
                self.mg_scopes.add(a.scope)
        self.denies = [Deny.from_arm(r) for r in inventory.of_type(DA)]
        self.denies_by_scope: dict[str, list[Deny]] = defaultdict(list)
        for d in self.denies:
            self.denies_by_scope[d.scope].append(d)
            if d.scope.startswith("/providers/microsoft.management/managementgroups/"):
                self.mg_scopes.add(d.scope)
        self._mg_chain = _management_group_chains(inventory)
        self._scopes_cache: dict[str, list[str]] = {}
        #: scopes_above as a set, for membership tests (one per target, not one per access() call).
        self._scope_sets: dict[str, frozenset[str]] = {}
        #: Per target: whether :meth:`_from_account_index` may read its per-account index (see there).
        self._index_usable: dict[str, bool] = {}
        self._access_memo: dict[tuple[str, str], Access] = {}
        self._coverage_memo: dict[tuple[str, int, int], str | None] = {}
        #: Each assignment's grants per (below, target), keyed by the assignment's id(): every assignment lives in
        #: ``self.assignments`` as long as the index does, so an id is never reused while its entry stands.
        self._grants_cache: dict[tuple[int, bool, str], list[Grant]] = {}
        self._granting_cache: dict[tuple[str, bool, str], list[tuple[Assignment, list[Grant]]]] = {}
        self._with_access_cache: dict[str, dict[str, Access]] = {}
        self._role_grants: dict[str, RoleGrants] = {}
        self._delegation_cache: dict[tuple[str, str, str], bool] = {}

    def _delegated(self, dl: lighthouse.Delegation) -> Assignment:
        """The assignment-like record of one Lighthouse authorization, with the role Lighthouse lets it use:
        data actions never (Microsoft: roles with DataActions are not supported and their data actions are not
        usable), and User Access Administrator only as role-admin confined to ``delegatedRoleDefinitionIds``
        (settled like an ABAC delegation condition). A role id flaudit does not know stays unknown."""
        guid = dl.role_guid
        base = self.roles.get(guid)
        key = guid
        if base is not None:  # named for every output: the role is held through Azure Lighthouse
            key = f"{guid}~lighthouse"
            if guid == lighthouse.USER_ACCESS_ADMINISTRATOR:
                role = RoleDef(key, f"{base.name} (Azure Lighthouse: assigns only delegatedRoleDefinitionIds to "
                               "managed identities)", (lighthouse.ROLE_ASSIGNMENT_WRITE,), (), (), (), True)
            elif base.data_actions or base.not_data_actions:
                role = RoleDef(key, f"{base.name} (Azure Lighthouse: its DataActions are not usable)", base.actions,
                               base.not_actions, (), (), base.builtin)
            else:
                role = RoleDef(key, f"{base.name} (Azure Lighthouse)", base.actions, base.not_actions, (), (),
                               base.builtin)
            self.roles.setdefault(key, role)
        return Assignment(dl.ref, dl.scope, key, dl.role_definition_id, dl.principal_id, "Unknown", None,
                          dl.eligible, dl)

    # -- scopes ---------------------------------------------------------------------------------------
    def scopes_above(self, target_id: str) -> list[str]:
        """The target's scope and every scope above it, including management groups.

        A subscription's management groups come from the inventory (``managementGroupAncestorsChain`` of the
        subscription resource); when that is unknown, every management-group scope that holds an assignment
        is assumed to contain it (fail closed: such assignments were collected because they apply here).
        """
        return list(self._scopes_above(target_id))

    def _scopes_above(self, target_id: str) -> list[str]:
        """:meth:`scopes_above`'s cached list itself, for the index's own loops (which never modify it)."""
        key = norm(target_id)
        cached = self._scopes_cache.get(key)
        if cached is None:
            chain = ancestor_scopes(target_id)
            # no subscription's management groups are known: every target gets them all (its id is not parsed)
            mgs = self._mg_chain.get(subscription_of(target_id) or "") if self._mg_chain else None
            mg_scopes = ([f"/providers/microsoft.management/managementgroups/{m}" for m in mgs] if mgs is not None
                         else sorted(self.mg_scopes))
            cached = self._scopes_cache[key] = chain[:-1] + mg_scopes + ["/"]
        return cached

    def coverage_problem(self, target_id: str) -> str | None:
        """Why role assignments for ``target_id`` cannot be trusted as complete, or None when they can.

        Worked out once per target (several rules ask for every silo's account), keyed also on how many
        unreadable records and collected types the inventory holds, should either grow after a first answer."""
        inv = self.inventory
        if not isinstance(target_id, str):  # None asks about every scope: not the answer for ""
            return self._coverage_problem(target_id)
        key = (norm(target_id), len(inv.unreadable), -1 if inv.collected is None else len(inv.collected))
        if key in self._coverage_memo:
            return self._coverage_memo[key]
        got = self._coverage_memo[key] = self._coverage_problem(target_id)
        return got

    def _coverage_problem(self, target_id: str) -> str | None:
        unreadable = self.inventory.unreadable_for(RA, target_id)
        if unreadable:
            u = unreadable[0]
            return (f"role assignments at {u.scope or 'the scope'} could not be read "
                    f"(HTTP {u.status}: {u.message})" if u.status else f"role assignments could not be read: {u.message}")
        if not self.assignment_count and self.inventory.coverage(RA) != "collected":
            return "the input holds no role assignments, so access cannot be evaluated"
        eligible = self.inventory.unreadable_for(RESI, target_id)
        if eligible:
            u = eligible[0]
            return (f"PIM-eligible role assignments (roleEligibilityScheduleInstances) at {u.scope or 'the scope'} "
                    f"could not be read (HTTP {u.status}: {u.message})")
        delegated = self.inventory.unreadable_for(lighthouse.RASG, target_id)
        if delegated:
            u = delegated[0]
            return (f"Azure Lighthouse registration assignments at {u.scope or 'the scope'} could not be read "
                    f"(HTTP {u.status}: {u.message}), so a managing tenant's roles there are unknown")
        return self.delegations.problem_for(target_id)

    def role(self, guid: str) -> RoleDef | None:
        return self.roles.get(guid.lower())

    # -- evaluation -----------------------------------------------------------------------------------
    def _classified(self, guid: str) -> RoleGrants | None:
        role = self.roles.get(guid)
        if role is None:
            return None
        kinds = self._role_grants.get(guid)
        if kinds is None:  # classify each role once per index (hashing a RoleDef per call is not free)
            kinds = self._role_grants[guid] = role.grants
        return kinds

    def _grants(self, a: Assignment, below: bool, target: str = "storage") -> list[Grant]:
        """What assignment ``a`` grants on a storage account (from a scope below it when ``below``) or on an
        identity, built once per (assignment, below, target): the per-account index (principals_with_access)
        and the per-pair evaluation (access) ask for the same assignments' grants. The list is shared: callers
        copy it (``extend``), and nothing modifies a Grant."""
        key = (id(a), below, target)
        got = self._grants_cache.get(key)
        if got is None:
            got = self._grants_cache[key] = self._grants_of(a, below, target)
        return got

    def _grants_of(self, a: Assignment, below: bool, target: str) -> list[Grant]:
        kinds = self._classified(a.role_guid)
        if kinds is None:
            return [Grant("unknown", a, None, "(role definition not available)", "")]
        role = self.roles[a.role_guid]
        table = (kinds.identity if target == "identity" else kinds.below[_service_of(a.scope)] if below
                 else kinds.storage)
        return [Grant(kind, a, role, op, pat) for kind, hits in table.items() for op, pat in hits]

    def _granting(self, scope: str, assignments: Iterable[Assignment], below: bool, target: str = "storage"
                  ) -> list[tuple[Assignment, list[Grant]]]:
        """Assignments at ``scope`` that grant anything on a storage account, with their grants (cached).

        A resource group or subscription can hold thousands of assignments (Reader for everyone); they are
        classified once here instead of once per storage account below them.
        """
        key = (scope, below, target)
        cached = self._granting_cache.get(key)
        if cached is None:
            cached = [(a, g) for a in assignments if (g := self._grants(a, below, target))]
            self._granting_cache[key] = cached
        return cached

    def _assignments_on(self, target_id: str) -> Iterable[tuple[Assignment, list[Grant]]]:
        # a scope without assignments grants nothing (most scopes above most targets hold none)
        for scope in self._scopes_above(target_id):
            if here := self.by_scope.get(scope):
                yield from self._granting(scope, here, below=False)
        acct = norm(target_id)
        if inside := self.below_account.get(acct):
            yield from self._granting(acct + "/*", inside, below=True)

    def _denies_covering(self, target_id: str) -> list[Deny]:
        """Deny assignments at or above the account, and below it (on a container or queue)."""
        acct = norm(target_id)
        out = [d for s in self._scopes_above(target_id) for d in self.denies_by_scope.get(s, ())]
        out.extend(d for d in self.denies if d.scope != acct and is_within(d.scope, acct))
        return out

    @staticmethod
    def _deny_reaches(d: Deny, grant_scope: str, acct: str) -> bool:
        """Whether deny ``d`` covers what a grant at ``grant_scope`` reaches on account ``acct``.

        A grant at or above the account reaches the account itself; a grant on a container reaches only
        that container. ``doNotApplyToChildScopes`` limits a deny to exactly its own scope.
        """
        effective = grant_scope if is_within(grant_scope, acct) else acct
        if d.scope == effective:
            return True
        return d.child_scopes and is_within(effective, d.scope)

    def _apply_denies(self, access: Access, target_id: str) -> None:
        if self.denies:
            self._deny(access, target_id)
        kinds = {g.kind for g in access.grants}  # both settlements below change nothing without their kind
        if "role-admin" in kinds:
            self._settle_role_admin(access, "storage")
        if "delegation" in kinds:
            _settle_delegation(access)

    def _settle_role_admin(self, access: Access, target: str) -> None:
        """Role-admin grants whose assignment condition (a delegation condition: ``@Request[Microsoft.
        Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {...}``) lets them assign
        only roles that grant nothing on the target are idle, not a path."""
        if not any(g.kind == "role-admin" and _restriction(g.assignment) for g in access.grants):
            return
        kept = []
        for g in access.grants:
            cond = _restriction(g.assignment)
            if g.kind == "role-admin" and cond and not self.delegation_reaches(cond, g.action, target):
                access.idle.append(g)
            else:
                kept.append(g)
        access.grants = kept

    def delegation_reaches(self, condition: str, action: str, target: str) -> bool:
        """Whether a role-admin action under ``condition`` can still grant some role that reaches ``target``
        (``storage`` or ``identity``). Fail closed: an unparseable condition, an undecidable one, or one
        allowing a role id flaudit does not know (a custom role defined elsewhere) reaches."""
        key = (condition, action.lower(), target)
        cached = self._delegation_cache.get(key)
        if cached is not None:
            return cached
        tree = conditions.parse(condition)
        result = True
        if tree is not None:
            assigning = action.lower() == "microsoft.authorization/roleassignments/write"
            def allowed(guid: str) -> bool:
                attrs = {conditions.ROLE_ATTRIBUTE: guid} if assigning else {}
                return conditions.evaluate(tree, conditions.Request(action, None, attrs)) is not False
            named = {str(v).lower() for cmp in conditions.comparisons(tree) if isinstance(cmp.right, conditions.Literal)
                     for v in (cmp.right.value if cmp.right.kind == "set" else (cmp.right.value,))}
            unknown = [_UNKNOWN_ROLE, *(g for g in named if _GUID.fullmatch(g) and g not in self.roles)]
            result = any(allowed(g) for g in unknown) or any(
                allowed(guid) and bool((kinds := self._classified(guid)) is None
                                       or (kinds.identity if target == "identity" else kinds.storage))
                for guid in self.roles if "~" not in guid)  # not the Lighthouse views of a role
        self._delegation_cache[key] = result
        return result

    def _deny(self, access: Access, target_id: str) -> None:
        acct = norm(target_id)
        pid = access.principal_id
        denies = [d for d in self._denies_covering(target_id) if EVERYONE in d.principals or pid in d.principals]
        if not denies:
            return
        kept: list[Grant] = []
        lost: dict[tuple[str, str], Grant] = {}
        for g in access.grants:
            if g.kind == "unknown":
                kept.append(g)
                continue
            hit = self._denied_by(g.assignment.scope, g.action, g.kind == "data", denies, acct, pid, access, g)
            if hit is None:
                kept.append(g)
            else:
                access.denied.append((g, hit))
                lost.setdefault((g.assignment.id, g.kind), g)
        # A kind's grants carry a few representative operations; when all of them are denied, another operation
        # of the same kind may still be allowed (a deny on storageAccounts/write leaves privateEndpointConnections
        # /write): look through the role's full list before dropping the kind.
        have = {(g.assignment.id, g.kind) for g in kept}
        for (aid, kind), g in lost.items():
            if (aid, kind) in have or g.role is None:
                continue
            full = self._classified(g.assignment.role_guid)
            for op, pat in (full.full.get(kind, ()) if full else ()):
                if self._denied_by(g.assignment.scope, op, kind == "data", denies, acct, pid, None, None) is None:
                    kept.append(Grant(kind, g.assignment, g.role, op, pat))
                    break
        access.grants = kept

    def _denied_by(self, grant_scope: str, action: str, data: bool, denies: list[Deny], acct: str, pid: str,
                   access: Access | None, g: Grant | None) -> Deny | None:
        hits = [d for d in denies if self._deny_reaches(d, grant_scope, acct) and d.denies(action, data=data)]
        hit = next((d for d in hits if d.applies_to(pid)), None)
        if hit is None and access is not None and g is not None:
            access.exempted.extend((g, d) for d in hits)
        return hit

    def access(self, principal_id: str, target_id: str) -> Access:
        """What ``principal_id`` can do to storage account ``target_id``.

        Worked out once per (principal, account) pair (FL-ID-003 and FL-ID-008 both ask for each silo principal
        on the orchestrator's storage); the index is fixed once built, and each caller gets its own Access with
        its own lists (the Grant and Deny objects in them are shared, and nothing modifies them)."""
        got = self.shared_access(principal_id, target_id)
        return Access(got.principal_id, got.principal_type, got.target_id, list(got.grants), list(got.denied),
                      list(got.exempted), list(got.idle))

    def shared_access(self, principal_id: str, target_id: str) -> Access:
        """:meth:`access` without the copy: the memoised Access itself, which callers must not modify (as with
        :meth:`principals_with_access`), for rules that only read it."""
        key = (principal_id, target_id)
        got = self._access_memo.get(key)
        if got is None:
            got = self._access_memo[key] = self._access(principal_id, target_id)
        return got

    def _access(self, principal_id: str, target_id: str) -> Access:
        pid = norm(principal_id)
        mine = self.by_principal.get(pid)
        if not mine:
            return Access(pid, "Unknown", target_id)
        key = norm(target_id)
        scopes = self._scope_sets.get(key)
        if scopes is None:
            scopes = self._scope_sets[key] = frozenset(self._scopes_above(target_id))
        below = key + "/"  # assignment scopes are normalised already
        matched = [(a, False) if a.scope in scopes else (a, True) for a in mine
                   if a.scope in scopes or a.scope.startswith(below)]
        if len(matched) == 1:
            known = self._from_account_index(pid, key, target_id, matched[0][0])
            if known is not None:
                return known
        result = Access(pid, "Unknown", target_id)
        for a, inside in matched:
            result.grants.extend(self._grants(a, below=inside))
            result.principal_type = a.principal_type
        self._apply_denies(result, target_id)
        return result

    def _from_account_index(self, pid: str, key: str, target_id: str, only: Assignment) -> Access | None:
        """The principal's access to storage account ``key`` as :meth:`principals_with_access` already worked it
        out, when that is exactly what evaluating its one assignment reaching the account gives: the account's
        index holds that assignment's grants once, in the same order, with the same deny assignments applied.
        None when the account was not indexed yet, the principal is not in it (nothing left after denies), the
        target is not a storage account id (its index then reads assignments below it differently) or a scope
        repeats in its scopes above (the index would hold the grants twice)."""
        indexed = self._with_access_cache.get(key)
        if indexed is None:
            return None
        usable = self._index_usable.get(key)
        if usable is None:
            usable = self._index_usable[key] = (_account_of(key) == key
                                                and len(self._scope_sets[key]) == len(self._scopes_above(key)))
        if not usable:
            return None
        acc = indexed.get(pid)
        if acc is None:
            return None
        if acc.principal_id == pid and acc.principal_type == only.principal_type and acc.target_id == target_id:
            return acc  # the very answer (both are shared, never modified)
        return Access(pid, only.principal_type, target_id, list(acc.grants), list(acc.denied), list(acc.exempted),
                      list(acc.idle))

    def principals_with_access(self, target_id: str) -> dict[str, Access]:
        """Every principal with any kind of access to storage account ``target_id`` (computed once per
        account; callers must not modify the returned objects)."""
        key = norm(target_id)
        cached = self._with_access_cache.get(key)
        if cached is not None:
            return cached
        out: dict[str, Access] = {}
        for a, grants in self._assignments_on(target_id):
            acc = out.get(a.principal_id)
            if acc is None:
                acc = out[a.principal_id] = Access(a.principal_id, a.principal_type, target_id)
            acc.grants.extend(grants)
        for acc in out.values():
            self._apply_denies(acc, target_id)
        cached = self._with_access_cache[key] = {p: acc for p, acc in out.items() if acc.grants or acc.idle}
        return cached

    def principals_with_identity_access(self, identity_id: str) -> dict[str, Access]:
        """Every principal whose roles let it act as user-assigned identity ``identity_id``: write a federated
        identity credential on it, assign it to a resource, write it, or assign roles over it (at the identity,
        below it, or at any scope containing it; deny assignments and delegation conditions applied). Kinds:
        ``identity-takeover``, ``role-admin``, ``eligible``, ``unknown``."""
        out: dict[str, Access] = {}
        key = norm(identity_id)
        pairs = [p for s in self._scopes_above(identity_id) if (here := self.by_scope.get(s))
                 for p in self._granting(s, here, below=False, target="identity")]
        if inside := self.below_identity.get(key):
            pairs += self._granting(key + "/*", inside, below=False, target="identity")
        for a, grants in pairs:
            acc = out.get(a.principal_id)
            if acc is None:
                acc = out[a.principal_id] = Access(a.principal_id, a.principal_type, identity_id)
            acc.grants.extend(grants)
        for acc in out.values():
            if self.denies:
                self._deny(acc, identity_id)
            self._settle_role_admin(acc, "identity")
        return {p: acc for p, acc in out.items() if acc.grants}


def _restriction(a: Assignment) -> str | None:
    """What confines a role-admin grant: the assignment's ABAC condition, or a Lighthouse User Access
    Administrator's ``delegatedRoleDefinitionIds`` spelt as the same kind of condition."""
    if a.condition:
        return a.condition
    return a.delegation.delegation_condition() if a.delegation is not None else None


def _settle_delegation(access: Access) -> None:
    """A user-delegation key is access only beside data access (after deny assignments): a user-delegation SAS
    grants the intersection of the key holder's data permissions and the SAS's own. Without data grants the
    delegation grants are idle; with only conditional data grants they are as conditional as those."""
    grants = access.grants
    if not any(g.kind == "delegation" for g in grants):
        return
    data = [g for g in grants if g.kind == "data"]
    if not data and not any(g.kind == "unknown" for g in grants):
        access.idle.extend(g for g in grants if g.kind == "delegation")
        access.grants = [g for g in grants if g.kind != "delegation"]
    elif data and all(g.conditional for g in data):
        access.grants = [g if g.kind != "delegation" else
                         Grant(g.kind, g.assignment, g.role, g.action, g.pattern, True) for g in grants]


def _raw_scope(res: dict[str, Any]) -> str:
    """An assignment's scope, lower case, from ``properties.scope`` or else its id."""
    scope = _read(_properties(res), "scope")
    if not scope:
        rid = str(res.get("id", "")).lower()
        i = rid.rfind("/providers/microsoft.authorization/")
        return rid[:i] if i > 0 else "/"
    return str(scope).lower()


def _may_reach_storage(scope: str) -> bool:
    """Whether a scope is at or above some storage account or user-assigned identity (root, management group,
    subscription, resource group) or is one (or inside one); any other resource scope holds neither."""
    i = scope.find("/providers/")
    return (i <= 0 or "/providers/microsoft.storage/storageaccounts/" in scope
            or "/providers/microsoft.managedidentity/userassignedidentities/" in scope)


def _account_of(scope: str) -> str | None:
    """The storage account id a scope lies in (the account itself or a container/queue below it)."""
    marker = "/providers/microsoft.storage/storageaccounts/"
    i = scope.find(marker)
    if i < 0:
        return None
    rest = scope[i + len(marker):].split("/")
    return scope[: i + len(marker)] + rest[0]


def _identity_of(scope: str) -> str | None:
    """The user-assigned identity id a scope lies in (the identity itself or a federated credential below it)."""
    marker = "/providers/microsoft.managedidentity/userassignedidentities/"
    i = scope.find(marker)
    if i < 0:
        return None
    return scope[: i + len(marker)] + scope[i + len(marker):].split("/")[0]


def _management_group_chains(inventory: Inventory) -> dict[str, list[str]]:
    """Subscription id -> its management groups (nearest first), where the inventory says."""
    out: dict[str, list[str]] = {}
    for sub in inventory.of_type(SUBS):
        chain = get_path(sub, "properties.managementGroupAncestorsChain")
        sid = str(get_path(sub, "subscriptionId") or get_path(sub, "properties.subscriptionId")
                  or name_of(sub.get("id", ""))).lower()
        names = [str(get_path(m, "name") or "").strip().lower() for m in chain if isinstance(m, dict)] \
            if isinstance(chain, list) else []
        # Every subscription sits at least under the tenant root group, so an empty chain, or one whose entries
        # have no name, is not understood: leave the subscription out and every management group applies.
        if names and all(names) and len(names) == len(chain):
            out[sid] = names
    return out
