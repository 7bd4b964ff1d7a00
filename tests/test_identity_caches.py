"""The memos and shared lists added to the identity, RBAC and storage evaluation for scan speed (issue #14) answer
exactly what the code before them answered: each is compared here with the plain computation it replaced (kept
in this file as the reference), on inputs chosen to break a memo keyed on too little."""

from __future__ import annotations

import itertools
import re
from typing import Any

import pytest

from flaudit import arm, conditions, operations, reach
from flaudit.access import access_edges
from flaudit.config import parse_config
from flaudit.engine import load_rules
from flaudit.identities import _references
from flaudit.inventory import Inventory
from flaudit.rbac import RbacIndex
from flaudit.samples import generate
from flaudit.topology import build_deployment
from tests.test_rbac import BLOB_READ, BLOB_WRITE, deny
from tests.test_results_fleet_pinned import weakened

N = 20  # weakened() breaks a different silo up to silo 19


def _deployment(resources: list[dict[str, Any]] | None = None, n: int = N):
    inv = Inventory()
    inv.extend(resources if resources is not None else weakened(n))
    inv.collected = {(generate.rg_id().lower(), t) for t in generate.COLLECTED_TYPES}
    return build_deployment(inv, parse_config(generate.fl_config(n), "test"))


# -- arm.ancestor_scopes ---------------------------------------------------------------------------------------
def _ancestors_walked(resource_id: str) -> list[str]:
    """ancestor_scopes as it was: a walk up parent_id, one normalised scope at a time."""
    out = []
    cur: str | None = arm.norm(resource_id) or "/"
    seen = set()
    while cur and cur not in seen:
        seen.add(cur)
        out.append(cur)
        if cur == "/":
            break
        cur = arm.norm(arm.parent_id(cur)) or "/"
    return out


IDS = [
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1",
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1/blobServices/default/"
    "containers/c1",
    "subscriptions/S1//resourceGroups/RG/providers/Microsoft.Storage/storageAccounts/ST1/",
    "/subscriptions/s1/resourceGroups/rg",
    "/subscriptions/s1",
    "/providers/Microsoft.Management/managementGroups/mg1",
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/s/providers/"
    "Microsoft.Authorization/roleAssignments/x",
    "/", "", "not-an-id", "a/b/c/d/e/f/g", "/providers/x", "/subscriptions/s1/providers/Microsoft.Foo/bars/b",
    "/" + "/".join(f"seg{i}" for i in range(60)),
    # resources directly in a resource group, with "providers" where a name or type would be
    "/subscriptions/s1/resourceGroups/providers/providers/Microsoft.Storage/storageAccounts/st2",
    "/subscriptions/providers/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/providers",
    "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Storage/providers/st3",
    "/subscriptions/s1/resourceGroups/rg/providers/providers/x/y",
    "/subscriptions/s1/resourcegroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uai ",
    "/subscriptions/s1/subscriptions/rg/providers/a.b/c/d", "/subscriptions/s1/resourceGroups/rg/foo/a.b/c/d",
]


@pytest.mark.parametrize("order", ["children first", "parents first"])
def test_ancestor_chains_from_the_memo_equal_the_walk_up_the_parents(order):
    ids = IDS + [r["id"] for r in weakened()]
    arm._CHAINS.clear()
    for rid in (ids if order == "children first" else ids[::-1]):
        assert arm.ancestor_scopes(rid) == _ancestors_walked(rid), rid
    # asked again (answered from the memo), and each caller gets its own list
    got = arm.ancestor_scopes(IDS[1])
    got.append("mutated")
    assert arm.ancestor_scopes(IDS[1]) == _ancestors_walked(IDS[1])


def test_the_chain_memo_stays_bounded_and_keeps_answering(monkeypatch):
    monkeypatch.setattr(arm, "_MEMO_MAX", 5)
    arm._CHAINS.clear()
    for rid in IDS * 2:
        assert arm.ancestor_scopes(rid) == _ancestors_walked(rid)
        assert len(arm._CHAINS) <= 5 + 60  # cleared before a walk that would overflow it; one walk may add its own


# -- conditions._shape -----------------------------------------------------------------------------------------
def _shape_substituted(text: str) -> tuple[str, list[str]]:
    """The shape as it was computed: a substitution calling back per match."""
    values: list[str] = []

    def placeholder(m: re.Match[str]) -> str:
        if m.group(2) is None:
            return m.group(1)
        raw = m.group(2)[1:-1]
        values.append(conditions._ESCAPE.sub(r"\1", raw) if "\\" in raw else raw)
        return f"'\x00{len(values) - 1}'"

    return conditions._STRINGS.sub(placeholder, text), values


SHAPES = [
    "", "'", "''", "'''", "'a' 'b'", "x 'unterminated", "@Resource[a:'b'] StringEquals 'c'",
    "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'silo1/'",
    r"'it\'s' 'back\\slash' '\x'", "@R[x] @R[y'z] 'q'", "((!(ActionMatches{'a/read'}) AND !(ActionMatches{'b'})) "
    "OR (@Resource[p] StringLike 's*?'))", "@ 'no attr' @x[ 'open bracket", "'\x00' 'é' '\n'",
]


@pytest.mark.parametrize("text", SHAPES)
def test_condition_shapes_by_split_equal_the_substitution(text):
    assert conditions._shape(text) == _shape_substituted(text)


def test_every_condition_of_a_fleet_is_shaped_as_before():
    conds = {a.condition for a in _deployment().rbac.assignments if a.condition}
    assert conds
    for c in conds:
        assert conditions._shape(c) == _shape_substituted(c)


# -- flaudit.rbac: grants per assignment, scope sets, empty scopes skipped --------------------------------------
def _access_key(acc: Any) -> tuple:
    def g(x: Any) -> tuple:
        return (x.kind, x.assignment.id, x.assignment.principal_id, x.role.id if x.role else None, x.action,
                x.pattern, x.capped_by_condition)

    return (acc.principal_id, acc.principal_type, acc.target_id, [g(x) for x in acc.grants],
            [(g(x), d.id) for x, d in acc.denied], [(g(x), d.id) for x, d in acc.exempted], [g(x) for x in acc.idle])


def _every_answer(index: RbacIndex, d: Any, *, pairs_first: bool) -> dict:
    storages = [r["id"] for r in d.inventory.of_type("microsoft.storage/storageaccounts")]
    identities = [r["id"] for r in d.inventory.of_type("microsoft.managedidentity/userassignedidentities")]
    principals = sorted({a.principal_id for a in index.assignments} | {"nobody"})
    out: dict = {}

    def pairs() -> None:
        for p, t in itertools.product(principals, storages):
            out[("access", p, t)] = _access_key(index.access(p, t))

    def per_target() -> None:
        for t in storages:
            out[("pwa", t)] = {p: _access_key(a) for p, a in index.principals_with_access(t).items()}
        for t in identities:
            out[("pwi", t)] = {p: _access_key(a) for p, a in index.principals_with_identity_access(t).items()}

    for step in ((pairs, per_target) if pairs_first else (per_target, pairs)):
        step()
    return out


def _with_denies() -> list[dict[str, Any]]:
    """weakened() with deny assignments: one at the resource group for every principal but silo0's (data read),
    one on silo3's account (blob write) that does not apply to child scopes, one with a condition."""
    res = weakened()
    uai = {r["name"]: r["properties"]["principalId"] for r in res
           if r["type"] == "Microsoft.ManagedIdentity/userAssignedIdentities"}
    acct = next(r["id"] for r in res if r["type"] == "Microsoft.Storage/storageAccounts"
                and r["tags"].get("silo") == "silo3")
    rg = "/subscriptions/" + acct.split("/")[2] + "/resourceGroups/" + acct.split("/")[4]
    ra = [r for r in res if r["type"] == "Microsoft.Authorization/roleAssignments"]
    # a second assignment of silo4's principal, on a container of silo4's account (two reach that account)
    extra = dict(ra[0], id=ra[0]["id"] + "x", properties=dict(ra[0]["properties"]))
    acct4 = next(r["id"] for r in res if r["type"] == "Microsoft.Storage/storageAccounts"
                 and r["tags"].get("silo") == "silo4")
    extra["properties"].update(scope=acct4 + "/blobServices/default/containers/c1", principalId=uai["uai-silo4"])
    conditioned = deny(rg, "conditioned", data_actions=[BLOB_READ])
    conditioned["properties"]["condition"] = "@Resource[x] StringEquals 'y'"
    return res + [extra, deny(rg, "no reads", data_actions=[BLOB_READ], exclude=[uai["uai-silo0"]]),
                  deny(acct, "no writes", data_actions=[BLOB_WRITE], child_scopes=False), conditioned]


@pytest.mark.parametrize("resources", [weakened, _with_denies])
def test_rbac_answers_do_not_depend_on_which_question_came_first_nor_on_the_grants_memo(monkeypatch, resources):
    d = _deployment(resources())
    a = _every_answer(RbacIndex(d.inventory), d, pairs_first=True)
    b = _every_answer(RbacIndex(d.inventory), d, pairs_first=False)
    # the index without the per-assignment grants memo: every question builds its grants afresh
    monkeypatch.setattr(RbacIndex, "_grants", lambda self, x, below, target="storage": self._grants_of(x, below, target))
    c = _every_answer(RbacIndex(d.inventory), d, pairs_first=True)
    assert a == b == c
    assert any(v[3] for k, v in a.items() if k[0] == "access")  # some pair holds grants: the test tests something
    if resources is _with_denies:
        assert any(v[4] for k, v in a.items() if k[0] == "access") and any(v[5] for k, v in a.items()
                                                                             if k[0] == "access")


def test_shared_grant_lists_are_not_modified_by_a_whole_audit():
    d = _deployment()
    reach.all_paths(d)
    for r in load_rules():
        list(r.func(d))
    access_edges(d)
    index = d.rbac
    assert index._grants_cache
    by_id = {id(a): a for a in index.assignments}
    for (aid, below, target), grants in index._grants_cache.items():
        fresh = index._grants_of(by_id[aid], below, target)
        assert [(g.kind, g.action, g.pattern, g.capped_by_condition, g.assignment) for g in grants] == \
            [(g.kind, g.action, g.pattern, g.capped_by_condition, g.assignment) for g in fresh]


def test_scope_sets_equal_the_scopes_above():
    d = _deployment()
    index = d.rbac
    for r in d.inventory.of_type("microsoft.storage/storageaccounts"):
        index.access("nobody", r["id"])
        index.access(next(iter(index.by_principal)), r["id"])
        assert index._scope_sets[arm.norm(r["id"])] == frozenset(index.scopes_above(r["id"]))
        got = index.scopes_above(r["id"])
        got.append("mutated")  # a caller's copy: the index's own list stays as it was
        assert "mutated" not in index.scopes_above(r["id"])


# -- operations._gate ------------------------------------------------------------------------------------------
def test_operation_gates_memoised_per_action_answer_like_the_catalogue():
    raws = [{"properties": {}}, {"properties": {"allowSharedKeyAccess": False, "allowBlobPublicAccess": False,
                                                "isHnsEnabled": False}},
            {"properties": {"allowSharedKeyAccess": True, "isHnsEnabled": True}}]
    names = [o.name for o in operations.catalogue().values()]
    actions = names + [n.upper() for n in names] + [n.lower() for n in names] + ["Microsoft.Foo/bar/read", ""]
    for action in actions * 2:
        op = operations.catalogue().get(action.lower())
        assert operations._gate(action) == (op.gate if op else None)
        for raw in raws:
            want = None
            if op is not None and op.gate is not None:
                prop, values, why = op.gate
                want = why if arm.get_path(raw, prop) in values else None
            assert operations.inert_reason(action, raw) == want
    assert any(operations._gate(n) for n in names)  # some operation is gated


# -- identities._references ------------------------------------------------------------------------------------
def _references_generated(value: Any, where: str, depth: int):
    """_references as it was: nested generators."""
    if depth > 8:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(v, str) and identities_mark() in v.lower() and v.lower().startswith("/subscriptions/"):
                oid = value.get("objectId") or value.get("principalId")
                yield f"{where}.{k}", arm.norm(v), arm.norm(oid if isinstance(oid, str) else None)
            elif isinstance(v, (dict, list)):
                yield from _references_generated(v, f"{where}.{k}", depth + 1)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            if isinstance(v, (dict, list)):
                yield from _references_generated(v, f"{where}[{i}]", depth + 1)


def identities_mark() -> str:
    from flaudit.identities import _UAI_MARK

    return _UAI_MARK


UAI = "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"


def _nested(depth: int) -> Any:
    node: Any = {"resourceId": UAI + f"deep{depth}", "objectId": "OID"}
    for i in range(depth):
        node = {"k": node} if i % 2 else [node, {"x": UAI + f"l{i}"}]
    return node


@pytest.mark.parametrize("props", [
    None, {}, [], "x",
    {"a": UAI + "one", "objectId": "P1", "b": {"c": [UAI.lower() + "two", {"d": UAI + "three", "principalId": "P3"}]}},
    {"a": " " + UAI + "lead-space", "b": "subscriptions/s/" + UAI, "c": UAI.upper() + "UPPER"},
    {"x": [[{"y": UAI + "in-list"}]], "objectId": 5, "z": {"objectId": None, "w": UAI + "w"}},
    _nested(7), _nested(9), _nested(12),
])
def test_identity_references_are_collected_in_the_order_the_generator_gave(props):
    assert _references(props, "properties", 0) == list(_references_generated(props, "properties", 0))


def test_every_resource_of_a_fleet_names_the_same_identities():
    d = _deployment()
    for res in d.inventory.resources.values():
        assert _references(res.get("properties"), "properties", 0) == \
            list(_references_generated(res.get("properties"), "properties", 0))


# -- confinement: one residual per condition for the actions that leave equal ones; candidates per residual -----
_PATH = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"
_CONT = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]"
_BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/"
ACTIONS = [_BLOB + a for a in ("read", "write", "add/action", "delete", "move/action")] + [
    "Microsoft.Storage/storageAccounts/blobServices/containers/read"]
CONDITIONS = [
    f"((!(ActionMatches{{'{_BLOB}read'}}) AND !(ActionMatches{{'{_BLOB}write'}})) OR ({_PATH} StringStartsWith "
    f"'{s}/'))" for s in ("silo1", "silo10", "silo2")] + [
    # read and write confined to different places: two different residuals from one condition
    f"((!(ActionMatches{{'{_BLOB}read'}})) OR ({_PATH} StringStartsWith 'r1/')) AND "
    f"((!(ActionMatches{{'{_BLOB}write'}})) OR ({_PATH} StringStartsWith 'w1/'))",
    f"((!(ActionMatches{{'{_BLOB}read'}})) OR ({_PATH} StringStartsWith 'r2/')) AND "
    f"((!(ActionMatches{{'{_BLOB}write'}})) OR ({_PATH} StringStartsWith 'w2/'))",
    f"(!(ActionMatches{{'{_BLOB}delete'}})) OR ({_CONT} StringEquals 'c1' AND {_PATH} StringLike 'a*')",
    f"(!(ActionMatches{{'{_BLOB}delete'}})) OR ({_CONT} StringEquals 'c2' AND {_PATH} StringLike 'a*')",
    f"{_PATH} StringStartsWith 'same/'", f"{_PATH} StringStartsWith 'same/' OR {_CONT} ForAnyOfAnyValues:"
    "StringEquals {'x', 'y'}", f"{_PATH} NumericEquals 1.0", f"{_PATH} NumericEquals -0.0", "not a condition",
]


@pytest.mark.parametrize("order", ["conditions first", "actions first", "reversed"])
def test_residuals_shared_by_a_conditions_actions_equal_each_actions_residual_of_its_own_tree(order):
    from flaudit import confinement

    pairs = [(t, a) for t in CONDITIONS for a in ACTIONS]
    if order == "actions first":
        pairs = [(t, a) for a in ACTIONS for t in CONDITIONS]
    elif order == "reversed":
        pairs = pairs[::-1]
    confinement.residual_of.cache_clear()
    confinement._SHAPE_RESIDUALS.clear()
    confinement._INTERNED.clear()
    confinement._FILLED.clear()
    confinement._CONDITION_KEYS.clear()
    for text, action in pairs:
        tree = conditions._parse_text(text)
        want = None if tree is None else confinement._residual(tree, action)
        got = confinement.residual_of(text, action)
        assert got == want and type(got) is type(want), (text, action)


def test_reached_with_candidates_per_residual_equals_reached_without(monkeypatch):
    from flaudit import confinement

    silos = [f"silo{i}" for i in range(12)] + ["r1", "w1", "a"]
    conds = CONDITIONS + [None, ""]
    ws = [w for i, s in enumerate(silos) for w in confinement.witnesses_of(
        s, [conds[i % len(conds)]], ["c1"] if i % 3 == 0 else [])]

    def answers() -> list:
        index = confinement.WitnessIndex(ws)
        return [(t, a, s, confinement.reached(t, a, index, s)) for t in conds for a in ACTIONS for s in silos[:6]]

    memoised = answers()
    monkeypatch.setattr(confinement.WitnessIndex, "candidates", lambda self, tree: confinement._candidates(tree, self))
    assert memoised == answers()
    assert any(r for *_, r in memoised) and any(not r for *_, r in memoised)


@pytest.mark.parametrize("text", CONDITIONS + SHAPES + [None, "   ", "x" * 9000, f"{_PATH} StringEquals 'a' OR "
                                                         f"NOT {_PATH} StringStartsWith 'b' AND Exists {_CONT}"])
def test_comparisons_of_a_condition_equal_the_comparisons_of_its_tree(text):
    tree = conditions.parse(text)
    want = None if tree is None else conditions.comparisons(tree)
    assert conditions.comparisons_of(text) == want
    assert conditions.comparisons_of(text) == want  # asked again: its shape's entry is reused


def test_witnesses_of_every_silo_condition_of_a_fleet_are_read_from_its_comparisons():
    from flaudit import confinement

    for a in _deployment().rbac.assignments:
        if a.condition:
            tree = conditions.parse(a.condition)
            comps = conditions.comparisons(tree)
            paths = ["s/x", *conditions.witness_values(tree, conditions.PATH_ATTRIBUTE, comps)]
            conts = conditions.witness_values(tree, conditions.CONTAINER_ATTRIBUTE, comps) or [None]
            want = [confinement.Witness("s", p, k) for p in dict.fromkeys(paths) for k in conts]
            assert confinement.witnesses_of("s", [a.condition], []) == want


@pytest.mark.parametrize("obj", [{"scope": "/a"}, {"Scope": "/b"}, {"SCOPE": None, "scope": ""}, {"scope": None},
                                 {}, [], None, "scope", {1: "x", "sCoPe": 0}, {"scope.x": 1}])
def test_reading_one_key_of_an_assignment_equals_get_path(obj):
    from flaudit.rbac import _read

    for key in ("scope", "Scope", "condition", "principalId"):
        assert _read(obj, key) == arm.get_path(obj, key)


# -- per-target and per-deployment answers shared by several rules ---------------------------------------------
def test_coverage_problems_answered_once_per_target_follow_an_inventory_that_grows():
    from flaudit.inventory import Unreadable

    d = _deployment()
    index = d.rbac
    targets = [r["id"] for r in d.inventory.of_type("microsoft.storage/storageaccounts")] + [
        r["id"].upper() for r in d.inventory.of_type("microsoft.managedidentity/userassignedidentities")] + ["", "/"]
    assert all(index.coverage_problem(t) == index._coverage_problem(t) for t in targets)
    assert index.coverage_problem(None) == index._coverage_problem(None)
    d.inventory.unreadable.append(Unreadable(targets[0].rsplit("/providers/", 1)[0],
                                             "Microsoft.Authorization/roleAssignments", 403, "Forbidden"))
    assert index.coverage_problem(targets[0]) == index._coverage_problem(targets[0]) is not None
    assert all(index.coverage_problem(t) == index._coverage_problem(t) for t in targets)


def _accounts_judged_as_before(d: Any) -> list[tuple[str, Any, Any, str]]:
    """storage_hardening.each_account's walk as it was (members in order, shared accounts once)."""
    from flaudit.rules._shared import members

    out, seen = [], set()
    for m, silo in members(d):
        who = m.name if silo else "orchestrator"
        if m.storage is None:
            out.append(("unresolved", m, silo, who))
            continue
        key = arm.norm(m.storage.id)
        if key in seen:
            continue
        seen.add(key)
        props = m.storage.raw.get("properties")
        out.append(("no-properties" if not isinstance(props, dict) or not props else "judge", m, silo, who))
    return out


def test_storage_rules_judge_the_accounts_they_judged_one_by_one():
    from flaudit.rules import storage_hardening

    res = weakened()
    accounts = [r for r in res if r["type"] == "Microsoft.Storage/storageAccounts"]
    accounts[3]["properties"] = {}  # an export without properties
    accounts[4]["id"] = accounts[4]["id"].upper()  # another spelling of an id
    d = _deployment(res)
    d.silos[6].storage = d.silos[5].storage  # two silos share an account
    d.silos[7].storage = None  # one unresolved
    assert [(s, m.name, silo, who) for s, m, silo, who in storage_hardening._accounts_to_judge(d)] == \
        [(s, m.name, silo, who) for s, m, silo, who in _accounts_judged_as_before(d)]
    states = {s for s, *_ in storage_hardening._accounts_to_judge(d)}
    assert states == {"unresolved", "no-properties", "judge"}


def test_tenant_indexes_read_from_the_identity_blocks_equal_a_pass_over_every_resource():
    from flaudit import tenants

    d = _deployment()
    mi: dict[str, str] = {}
    stated: dict[str, str] = {}
    for uai in d.inventory.of_type(tenants.UAI):
        pid, tenant = arm.get_path(uai, "properties.principalId"), arm.get_path(uai, "properties.tenantId")
        if pid and uai.get("id"):
            mi[arm.norm(pid)] = str(uai["id"])
        if pid and tenant:
            stated[arm.norm(pid)] = str(tenant).lower()
    for res in d.inventory.resources.values():  # every resource, as before
        ident = res.get("identity")
        if not isinstance(ident, dict):
            continue
        if ident.get("principalId") and ident.get("tenantId"):
            stated.setdefault(arm.norm(ident["principalId"]), str(ident["tenantId"]).lower())
        attached = ident.get("userAssignedIdentities")
        for uai_id, entry in (attached.items() if isinstance(attached, dict) else ()):
            if isinstance(entry, dict) and entry.get("principalId"):
                mi.setdefault(arm.norm(entry["principalId"]), str(uai_id))
        if ident.get("principalId") and res.get("id"):
            mi.setdefault(arm.norm(ident["principalId"]), str(res["id"]))
    assert tenants.managed_identity_resources(d) == mi and mi
    assert tenants.principal_tenants(d) == stated


def test_silo_facts_worked_out_once_equal_each_silos_own_answer():
    from flaudit.rules import silo_identity as si

    d = _deployment()
    for silo in d.silos:
        first = si._silo_facts(d, silo)
        again = si._silo_facts(d, silo)
        assert first is again
        assert list(first[1]) == si._silo_principals(d, silo)
        assert list(first[2]) == si._missing_principals(silo)
        assert all(p.key == arm.norm(p.id) for p in first[1])
