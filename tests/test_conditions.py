"""ABAC conditions are parsed with a grammar (flaudit/conditions.py) and evaluated, and confinement is decided
against every other silo's place (flaudit/confinement.py), never by the shape of the text.

Condition texts follow Microsoft's "Azure role assignment condition format and syntax" and "Example Azure role
assignment conditions for Blob Storage" pages, and the delegation example of "Delegate Azure role assignment
management to others with conditions"; the condition string of a role eligibility schedule instance is the one
in GetRoleEligibilityScheduleInstancesByScope.json (specification/authorization/resource-manager/
Microsoft.Authorization/stable/2020-10-01/examples/).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flaudit import conditions as c
from flaudit.confinement import Witness, WitnessIndex, reached, witnesses_of

BLOB = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
READ, WRITE, ADD, DELETE = (f"{BLOB}/read", f"{BLOB}/write", f"{BLOB}/add/action", f"{BLOB}/delete")
PATH = f"@Resource[{BLOB}:path]"
CONTAINER = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name]"
RA_WRITE = "Microsoft.Authorization/roleAssignments/write"
BLOB_CONTRIBUTOR = "ba92f5b4-2d11-453d-a403-e96b0029c9fe"
BLOB_READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"


def path_condition(prefix: str, actions=(READ, WRITE, ADD, DELETE), op: str = "StringStartsWith") -> str:
    guard = " AND ".join(f"!(ActionMatches{{'{a}'}})" for a in actions)
    return f"(({guard}) OR ({PATH} {op} '{prefix}'))"


def delegation_condition(*roles: str) -> str:
    ids = ", ".join(roles)
    return (f"((!(ActionMatches{{'{RA_WRITE}'}})) OR (@Request[Microsoft.Authorization/roleAssignments:"
            f"RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ids}}})) AND "
            "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR "
            f"(@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{ids}}}))")


def allows(cond: str, action: str, **attrs: object) -> bool | None:
    keys = {"path": c.PATH_ATTRIBUTE, "container": c.CONTAINER_ATTRIBUTE, "role": c.ROLE_ATTRIBUTE}
    return c.evaluate(c.parse(cond), c.Request(action, None, {keys[k]: v for k, v in attrs.items()}))


# -- the grammar ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [
    path_condition("silo0/"),
    f"(!(ActionMatches{{'{READ}'}} AND SubOperationMatches{{'Blob.List'}})) || ({CONTAINER} StringEquals 'data')",
    delegation_condition(BLOB_CONTRIBUTOR, BLOB_READER),
    "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:ContainerName] StringEqualsIgnoreCase "
    "'foo_storage_container'",
    f"NOT Exists @Resource[{BLOB}/tags:Project<$key_case_sensitive$>] OR {PATH} StringLike 'a*'",
    "@Environment[UtcNow] DateTimeGreaterThan '2026-01-01T00:00:00.0Z' && @Request[x:y] NumericLessThan 5",
    "@Environment[isPrivateLink] BoolEquals true",
    f"@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Eng_Project] ForAllOfAnyValues:StringEquals "
    f"{{'a', 'b'}} AND {PATH} StringNotStartsWith 'x/'",
])
def test_conditions_in_microsofts_documented_forms_parse(text):
    assert c.parse(text) is not None and c.syntax_error(text) is None


@pytest.mark.parametrize("text", ["", "(((", "ActionMatches{read}", f"{PATH} StringEquals", "@Nowhere[x] StringEquals 'a'",
                                  f"{PATH} StringEquals 'a' AND", f"{PATH} ForSomeValues:StringEquals 'a'",
                                  "'a' 'b' 'c'", "!" * 10000, "(" * 5000 + ")" * 5000])
def test_text_outside_the_grammar_is_not_a_condition(text):
    assert c.parse(text) is None and c.syntax_error(text)


def test_operators_keep_their_precedence_and_and_binds_tighter_than_or():
    tree = c.parse("ActionMatches{'a'} OR ActionMatches{'b'} AND ActionMatches{'c'}")
    assert isinstance(tree, c.Or) and isinstance(tree.right, c.And)
    assert c.evaluate(tree, c.Request("a")) is True and c.evaluate(tree, c.Request("b")) is False


@pytest.mark.parametrize("cond,path,expected", [
    (f"{PATH} StringStartsWith 'silo1'", "silo10/x", True),  # a prefix is not a directory
    (f"{PATH} StringStartsWith 'silo1/'", "silo10/x", False),
    (f"{PATH} StringLike '*'", "anything", True),
    (f"{PATH} StringLike 'silo1/*'", "silo1/a/b", True),
    (f"{PATH} StringLike 'silo1/*'", "silo2/a", False),
    (f"{PATH} StringLike 'silo?/*'", "silo1/a", None),  # '?' undocumented: both readings disagree
    (f"{PATH} StringNotLike 'silo1/*'", "silo2/a", True),
    (f"{PATH} StringEquals 'Silo1/a'", "silo1/a", False),
    (f"{PATH} StringEqualsIgnoreCase 'Silo1/a'", "silo1/a", True),
    (f"{PATH} StringStartsWithIgnoreCase 'SILO1/'", "silo1/a", True),
    (f"{PATH} StringNotStartsWith 'silo1/'", "silo1/a", False),
    (f"{PATH} ForAnyOfAnyValues:StringStartsWith {{'silo1/', 'silo2/'}}", "silo2/a", True),
    (f"!({PATH} StringStartsWith 'silo1/')", "silo2/a", True),
    (f"@Resource[{BLOB}/tags:project] StringEquals 'x'", "silo1/a", None),  # attribute not known: undecided
])
def test_comparisons_are_evaluated_by_their_documented_meaning(cond, path, expected):
    assert allows(cond, READ, path=path) is expected


def test_numeric_bool_datetime_and_guid_operators():
    req = c.Request("x", None, {"@request[n]": 5, "@request[b]": True, "@environment[utcnow]": "2026-06-01T00:00:00Z",
                                "@request[g]": BLOB_READER.upper()})
    for text, expected in [("@Request[n] NumericGreaterThan 4", True), ("@Request[n] NumericLessThanEquals 4", False),
                           ("@Request[b] BoolEquals false", False), ("@Request[b] BoolNotEquals false", True),
                           ("@Environment[UtcNow] DateTimeLessThan '2027-01-01T00:00:00.0Z'", True),
                           (f"@Request[g] GuidEquals {BLOB_READER}", True),
                           (f"@Request[g] GuidNotEquals {BLOB_READER}", False),
                           ("@Request[n] SomeFutureOperator 4", None)]:
        assert c.evaluate(c.parse(text), req) is expected, text


def test_quantifiers_over_multi_valued_attributes():
    req = c.Request("x", None, {"@request[v]": ["a", "b"]})
    for q, expected in [("ForAnyOfAnyValues", True), ("ForAllOfAnyValues", False), ("ForAnyOfAllValues", False),
                        ("ForAllOfAllValues", False)]:
        assert c.evaluate(c.parse(f"@Request[v] {q}:StringEquals {{'a', 'c'}}"), req) is expected, q
    assert c.evaluate(c.parse("@Request[v] ForAllOfAnyValues:StringEquals {'a', 'b'}"), req) is True


def test_an_action_the_condition_does_not_name_is_allowed_by_its_guard():
    cond = path_condition("silo0/", actions=(READ,))
    assert allows(cond, READ, path="silo1/x") is False
    assert allows(cond, WRITE, path="silo1/x") is True


def test_delegation_conditions_limit_which_roles_can_be_assigned():
    cond = delegation_condition(BLOB_CONTRIBUTOR, BLOB_READER)
    assert allows(cond, RA_WRITE, role=BLOB_READER) is True
    assert allows(cond, RA_WRITE, role=OWNER) is False
    assert allows(cond, "Microsoft.Authorization/roleDefinitions/write") is True  # not an action it targets


# -- fuzzing: never raise --------------------------------------------------------------------------------------
_ATOMS = st.sampled_from(["(", ")", "!", "&&", "||", " AND ", " OR ", " NOT ", "{", "}", ",", "'", "\\'",
                          f"ActionMatches{{'{READ}'}}", "SubOperationMatches{'Blob.List'}", PATH, CONTAINER,
                          " StringStartsWith ", " StringLike ", " ForAnyOfAnyValues:GuidEquals ", " Exists ",
                          "'silo1/'", "'*'", BLOB_READER, "5", "true", "@Request[", "]", "@", ":", " "])


@settings(max_examples=400, deadline=None)
@given(st.lists(_ATOMS, max_size=40).map("".join))
def test_parser_never_raises_on_token_soup(text):
    tree = c.parse(text)
    assert (tree is None) == (c.syntax_error(text) is not None)
    if tree is not None:
        assert c.evaluate(tree, c.Request(READ, None, {c.PATH_ATTRIBUTE: "silo1/x"})) in (True, False, None)


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_parser_never_raises_on_arbitrary_text(text):
    c.parse(text)
    c.syntax_error(text)


def _expr(depth: int) -> st.SearchStrategy[str]:
    leaf = st.one_of(
        st.sampled_from([READ, WRITE, "Microsoft.Storage/*"]).map(lambda a: f"ActionMatches{{'{a}'}}"),
        st.tuples(st.sampled_from(["StringStartsWith", "StringLike", "StringEquals", "StringNotStartsWith",
                                   "StringNotLike", "StringEqualsIgnoreCase"]),
                  st.text(alphabet="ab1/*", max_size=5)).map(lambda t: f"{PATH} {t[0]} '{t[1]}'"))
    if depth == 0:
        return leaf
    sub = _expr(depth - 1)
    return st.one_of(leaf, sub.map(lambda e: f"!({e})"),
                     st.tuples(sub, st.sampled_from([" AND ", " OR ", " && ", " || "]), sub)
                     .map(lambda t: f"({t[0]}{t[1]}{t[2]})"))


@settings(max_examples=300, deadline=None)
@given(_expr(3), st.text(alphabet="ab1/", max_size=6))
def test_generated_grammatical_conditions_parse_and_evaluate_consistently(text, path):
    tree = c.parse(text)
    assert tree is not None
    req = c.Request(READ, None, {c.PATH_ATTRIBUTE: path})
    v = c.evaluate(tree, req)
    assert v in (True, False, None)
    # confinement's indexed evaluation agrees with evaluating every witness
    index = WitnessIndex([Witness("other", path, None)])
    got = reached(text, READ, index, "me")
    assert (got != []) == (v is not False)


# -- confinement against other silos' places ---------------------------------------------------------------
def _index(*silos: tuple[str, str | None]) -> WitnessIndex:
    return WitnessIndex([w for name, cond in silos for w in witnesses_of(name, [cond], [])])


def test_per_silo_path_conditions_confine_each_silo():
    idx = _index(*[(f"silo{i}", path_condition(f"silo{i}/")) for i in range(12)])
    for i in range(12):
        for a in (READ, WRITE, ADD, DELETE):
            assert reached(path_condition(f"silo{i}/"), a, idx, f"silo{i}") == []


def test_a_prefix_without_a_slash_reaches_the_silo_whose_name_extends_it():
    idx = _index(*[(f"silo{i}", path_condition(f"silo{i}")) for i in range(11)])
    hits = reached(path_condition("silo1"), READ, idx, "silo1")
    assert {w.silo for w, _ in hits} == {"silo10"}


def test_a_wildcard_condition_reaches_every_other_silo():
    idx = _index(("silo0", None), ("silo1", None), ("silo2", None))
    assert {w.silo for w, _ in reached(path_condition("*", op="StringLike"), READ, idx, "silo0")} == {"silo1", "silo2"}


def test_a_condition_copied_from_another_silo_reaches_that_silo():
    idx = _index(("silo0", path_condition("silo0/")), ("silo1", path_condition("silo0/")))
    assert {w.silo for w, _ in reached(path_condition("silo0/"), READ, idx, "silo1")} == {"silo0"}


def test_an_action_left_out_of_the_condition_reaches_everything():
    idx = _index(("silo0", None), ("silo1", None))
    cond = path_condition("silo0/", actions=(READ, WRITE))
    assert reached(cond, DELETE, idx, "silo0") and not reached(cond, READ, idx, "silo0")


def test_or_true_and_double_negation_do_not_confine():
    idx = _index(("silo0", None), ("silo1", None))
    assert reached(f"({path_condition('silo0/')}) OR ActionMatches{{'{READ}'}}", READ, idx, "silo0")
    assert not reached(f"!(!({path_condition('silo0/')}))", READ, idx, "silo0")


def test_an_unparseable_or_undecidable_condition_confines_nothing():
    idx = _index(("silo0", None), ("silo1", None))
    assert [v for _, v in reached("(((garbage", READ, idx, "silo0")] == [None]
    tag = f"@Resource[{BLOB}/tags:silo] StringEquals 'silo0'"
    assert [v for _, v in reached(tag, READ, idx, "silo0")] == [None]


def test_container_conditions_confine_by_container():
    cond0 = f"(!(ActionMatches{{'{READ}'}})) OR ({CONTAINER} StringEquals 'updates-silo0')"
    cond1 = cond0.replace("silo0", "silo1")
    idx = _index(("silo0", cond0), ("silo1", cond1))
    assert reached(cond0, READ, idx, "silo0") == []
    shared = f"(!(ActionMatches{{'{READ}'}})) OR ({CONTAINER} StringEquals 'updates')"
    idx = _index(("silo0", shared), ("silo1", shared))
    assert reached(shared, READ, idx, "silo0")


# -- delegated role-assignment conditions on role-admin roles ----------------------------------------------------
def _rbac_index(*resources):
    from tests.test_rbac import index
    return index(*resources)


def test_a_role_admin_confined_to_roles_without_storage_access_is_not_a_path():
    from tests.support import role_assignment
    from tests.test_rbac import ACCT, PID, kinds
    rbac_admin = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"  # Role Based Access Control Administrator
    acr_pull = "7f951dda-4ed3-4680-a7ca-43fe172d538d"  # AcrPull: not in flaudit's bundle -> unknown to it
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    idx = _rbac_index(role_assignment(ACCT, rbac_admin, PID, condition=delegation_condition(reader)))
    assert kinds(idx) == [] and [g.kind for g in idx.access(PID, ACCT).idle] == ["role-admin"]
    idx = _rbac_index(role_assignment(ACCT, rbac_admin, PID, condition=delegation_condition(BLOB_READER)))
    assert kinds(idx) == ["role-admin"]  # it can grant a data role
    idx = _rbac_index(role_assignment(ACCT, rbac_admin, PID, condition=delegation_condition(acr_pull)))
    assert kinds(idx) == ["role-admin"]  # a role id flaudit cannot read: fail closed
    idx = _rbac_index(role_assignment(ACCT, rbac_admin, PID, condition="not a (condition"))
    assert kinds(idx) == ["role-admin"]


def test_a_delegation_condition_does_not_limit_role_definition_writes():
    """User Access Administrator under a delegation condition still writes role definitions (the condition
    targets roleAssignments/write and /delete only), so it stays role-admin."""
    from tests.support import role_assignment
    from tests.test_rbac import ACCT, PID, UAA
    reader = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
    idx = _rbac_index(role_assignment(ACCT, UAA, PID, condition=delegation_condition(reader)))
    acc = idx.access(PID, ACCT)
    assert [g.action for g in acc.of("role-admin")] == ["Microsoft.Authorization/roleDefinitions/write"]


def test_a_disjunction_naming_another_silos_prefix_reaches_it_and_negations_are_evaluated_fully():
    idx = _index(("silo0", path_condition("silo0/")), ("silo1", path_condition("silo1/")),
                 ("silo2", path_condition("silo2/")))
    both = f"(!(ActionMatches{{'{READ}'}})) OR {PATH} StringStartsWith 'silo0/' OR {PATH} StringStartsWith 'silo1/'"
    assert {w.silo for w, _ in reached(both, READ, idx, "silo0")} == {"silo1"}
    neither = (f"(!(ActionMatches{{'{READ}'}})) OR ({PATH} StringNotStartsWith 'silo1/' AND "
               f"{PATH} StringNotStartsWith 'silo2/')")
    assert reached(neither, READ, idx, "silo0") == []
    idx4 = _index(("silo0", None), ("silo1", None), ("silo2", None), ("silo3", None))
    assert {w.silo for w, _ in reached(neither, READ, idx4, "silo0")} == {"silo3"}
