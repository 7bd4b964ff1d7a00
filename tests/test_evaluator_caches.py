"""The memos and caches added for scan speed (issue #14) answer exactly what the uncached code answered: each is
keyed on everything its answer depends on. A cache keyed on too little (an NSG rule's content without its NSG, a
string memo that ignores the type, a tokenizer that drops a character) fails here."""

from __future__ import annotations

import copy

import pytest

from flaudit import arm, conditions
from flaudit.nsg import _parse_props, evaluate, parse_rule


def _rule(nsg: str, name: str, **props: object) -> dict:
    base = {"protocol": "Tcp", "sourcePortRange": "*", "destinationPortRange": "22", "sourceAddressPrefix": "*",
            "destinationAddressPrefix": "*", "access": "Allow", "priority": 100, "direction": "Inbound"}
    base.update(props)
    return {"id": f"{nsg}/securityRules/{name}", "name": name, "properties": base}


NSG_A = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-a"
NSG_B = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkSecurityGroups/nsg-b"


def test_rules_with_the_same_content_in_two_nsgs_each_cite_their_own_nsg_and_name():
    a, _ = parse_rule(_rule(NSG_A, "AllowSsh"), NSG_A)
    b, _ = parse_rule(_rule(NSG_B, "OpenSsh"), NSG_B, default=True)
    assert (a.nsg_id, a.name, a.default) == (NSG_A, "AllowSsh", False)
    assert (b.nsg_id, b.name, b.default) == (NSG_B, "OpenSsh", True)
    assert a.evidence()["nsg_id"] == NSG_A and b.evidence()["nsg_id"] == NSG_B
    assert a != b


def test_problems_of_a_cached_rule_name_each_nsg_and_rule():
    _, pa = parse_rule(_rule(NSG_A, "Bad", destinationPortRange="70000"), NSG_A)
    _, pb = parse_rule(_rule(NSG_B, "AlsoBad", destinationPortRange="70000"), NSG_B)
    assert pa == [f"NSG {NSG_A} rule Bad: port range '70000' is outside 0-65535"]
    assert pb == [f"NSG {NSG_B} rule AlsoBad: port range '70000' is outside 0-65535"]
    none_a, ea = parse_rule(_rule(NSG_A, "NoPrio", priority="high"), NSG_A)
    none_b, eb = parse_rule(_rule(NSG_B, "NoPrio2", priority="high"), NSG_B)
    assert none_a is None and none_b is None
    assert ea == [f"NSG {NSG_A} rule NoPrio: priority 'high' is not a number"]
    assert eb == [f"NSG {NSG_B} rule NoPrio2: priority 'high' is not a number"]


@pytest.mark.parametrize("first, second", [(1, True), (1, 1.0), ([1], [True]), (["22"], ["22", "23"])])
def test_values_that_compare_equal_but_parse_differently_are_not_one_cache_entry(first, second):
    """1 == True == 1.0 in Python, but a port 1, True and 1.0 are three different things to the parser."""
    key = "destinationPortRanges" if isinstance(first, list) else "destinationPortRange"
    one = _rule(NSG_A, "R", **{key: first})
    two = _rule(NSG_A, "R", **{key: second})
    got = [parse_rule(r, NSG_A) for r in (one, two, copy.deepcopy(one))]
    assert got[0] != got[1] and got[0] == got[2]
    for r, (rule, problems) in zip((one, two), got, strict=False):
        fields, expected = _parse_props(r["properties"])  # the parser itself, no cache in between
        assert (rule.priority, rule.destination_ports) == (fields[0], fields[10])
        assert problems == [f"NSG {NSG_A} rule R: {p}" for p in expected]


def test_nsg_evaluation_stops_early_only_when_everything_is_decided():
    allow_all = parse_rule(_rule(NSG_A, "AllowAll", destinationPortRange="*", protocol="*", priority=100), NSG_A)[0]
    deny_ssh = parse_rule(_rule(NSG_A, "DenySsh", access="Deny", priority=200), NSG_A)[0]
    res = evaluate([deny_ssh, allow_all], "Inbound", ["10.0.0.0/24"], NSG_A)
    assert [(o.protocol, o.rules[0].name) for o in res.openings] == [("Tcp", "AllowAll"), ("Udp", "AllowAll"),
                                                                      ("Icmp", "AllowAll")]
    assert res.deciding_denies == []  # decided before the deny is reached
    tcp_all = parse_rule(_rule(NSG_A, "AllowTcp", destinationPortRange="*", priority=100), NSG_A)[0]
    dns = parse_rule(_rule(NSG_A, "AllowDns", destinationPortRange="53", protocol="Udp", priority=300), NSG_A)[0]
    res = evaluate([dns, deny_ssh, tcp_all], "Inbound", ["10.0.0.0/24"], NSG_A)
    # Tcp is decided by the first rule; Udp 53 is still decided by a later one
    assert [(o.protocol, o.ports, o.rules[0].name) for o in res.openings if o.rules] == [
        ("Tcp", [(0, 65535)], "AllowTcp"), ("Udp", [(53, 53)], "AllowDns")]
    assert res.problems  # Udp ports other than 53 and Icmp stay undecided


def test_arm_string_memos_answer_like_the_functions_they_wrap():
    ids = ["subscriptions/S//resourceGroups/RG/providers/Microsoft.Network/virtualNetworks/V/subnets/X/",
           "/subscriptions/s", "", "  /providers/Microsoft.Management/managementGroups/M ", "not-an-id"]
    for _ in range(2):  # the second round is answered from the memos
        for v in ids:
            assert arm.norm(v) == arm._norm(v)
            assert arm.name_of(v) == arm.name_of.__wrapped__(v)
            assert arm.parent_id(v) == arm.parent_id.__wrapped__(v)
            assert arm.type_of(v) == arm.type_of.__wrapped__(v)
            assert arm.subscription_of(v) == arm.subscription_of.__wrapped__(v)
            assert arm.resource_group_id(v) == arm.resource_group_id.__wrapped__(v)
            for rtype in (None, "Microsoft.Network/virtualNetworks/subnets", "microsoft.resources/subscriptions"):
                assert arm.is_resource_id(v, rtype) == arm._is_resource_id(v, rtype)
    assert arm.norm(None) == "" and arm.norm(5) == "" and arm.norm(["/subscriptions/s"]) == ""
    assert arm.is_resource_id(["/subscriptions/s"]) is False


def test_a_str_subclass_is_answered_but_not_memoised():
    class Loud(str):
        pass

    v = Loud("/Subscriptions/S/")
    assert arm.norm(v) == "/subscriptions/s"
    assert arm.get_path({"a": {"B": 1}}, "a.b") == 1 and arm.get_path({"a.b": 2}, "a.b") is None


@pytest.mark.parametrize("text", [
    "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'a\\'b/'  ",
    "  (ActionMatches{'x'})\n", "'unterminated", "a  ~ b", "@Bogus[x] StringEquals 'y'", "'x' \t", "",
    "12345678-1234-1234-1234-123456789abc GuidEquals @Principal[x]", "-1.5 NumericEquals 2",
])
def test_condition_tokens_and_syntax_errors_are_positioned_as_before(text):
    try:
        toks = [(t.kind, t.text, t.value) for t in conditions._tokens(text)]
    except conditions.ConditionSyntaxError as e:
        toks = str(e)
    expected = {
        "'unterminated": "unexpected character \"'\" at 0",
        "a  ~ b": "unexpected character '~' at 3",
        "@Bogus[x] StringEquals 'y'": "unknown attribute source @Bogus",
        "": [],
        "'x' \t": [("string", "'x'", "x")],
        "  (ActionMatches{'x'})\n": [("punct", "(", None), ("name", "ActionMatches", None), ("punct", "{", None),
                                     ("string", "'x'", "x"), ("punct", "}", None), ("punct", ")", None)],
    }
    if text in expected:
        assert toks == expected[text]
    elif text.startswith("@Resource"):
        assert toks[-1] == ("string", "'a\\'b/'", "a'b/") and toks[1] == ("name", "StringStartsWith", None)
    elif text.startswith("1234"):
        assert [k for k, _, _ in toks] == ["guid", "name", "attr"]
    else:
        assert [k for k, _, _ in toks] == ["number", "name", "number"]


def _fresh(rules, *args, **kwargs):
    from flaudit import nsg

    saved = dict(nsg._EVALUATED)
    nsg._EVALUATED.clear()
    try:
        return evaluate(rules, *args, **kwargs)
    finally:
        nsg._EVALUATED.clear()
        nsg._EVALUATED.update(saved)


def _shape(res):
    return ([(o.protocol, o.ports, [(r.nsg_id, r.name) for r in o.rules]) for o in res.openings],
            [(r.nsg_id, r.name) for r in res.deciding_denies], res.problems, res.nsg_ids, res.direction)


def test_nsgs_with_the_same_rules_are_evaluated_once_and_each_result_cites_its_own_rules():
    def rules(nsg):
        return [parse_rule(_rule(nsg, "AllowSsh", sourceAddressPrefix="Internet"), nsg)[0],
                parse_rule(_rule(nsg, "DenyAll", access="Deny", destinationPortRange="*", protocol="*",
                                 priority=4000), nsg)[0]]
    a = evaluate(rules(NSG_A), "Inbound", ["10.0.0.0/25"], NSG_A)
    b = evaluate(rules(NSG_B), "Inbound", ["10.0.1.0/25"], NSG_B)
    assert _shape(a) == _shape(_fresh(rules(NSG_A), "Inbound", ["10.0.0.0/25"], NSG_A))
    assert _shape(b) == _shape(_fresh(rules(NSG_B), "Inbound", ["10.0.1.0/25"], NSG_B))
    assert [r.nsg_id for o in b.openings for r in o.rules] == [NSG_B]
    assert [r.nsg_id for r in b.deciding_denies] == [NSG_B]
    b.openings[0].ports.append((1, 1))  # a caller changing its result changes nobody else's
    assert evaluate(rules(NSG_A), "Inbound", ["10.0.0.0/25"], NSG_A).openings[0].ports == [(22, 22)]


def test_the_subnets_prefixes_are_part_of_the_key_when_a_rule_names_addresses():
    rules = [parse_rule(_rule(NSG_A, "AllowToSubnet", sourceAddressPrefix="Internet",
                              destinationAddressPrefix="10.0.0.0/24"), NSG_A)[0]]
    inside = evaluate(rules, "Inbound", ["10.0.0.0/25"], NSG_A)
    outside = evaluate(rules, "Inbound", ["10.9.0.0/25"], NSG_A)
    v6 = evaluate(rules, "Inbound", ["10.0.0.0/25", "fd00::/64"], NSG_A)
    assert [o.rules[0].name for o in inside.openings if o.rules] == ["AllowToSubnet"]
    assert [o.rules for o in outside.openings if o.rules] == []
    for res, local in ((inside, ["10.0.0.0/25"]), (outside, ["10.9.0.0/25"]), (v6, ["10.0.0.0/25", "fd00::/64"])):
        assert _shape(res) == _shape(_fresh(rules, "Inbound", local, NSG_A))


def test_equal_rules_of_two_nsgs_in_one_evaluation_are_not_merged_like_equal_rules_of_one():
    def deny(nsg, name="DenyAll"):
        return parse_rule(_rule(nsg, name, access="Deny", destinationPortRange="*", protocol="*",
                                sourceAddressPrefix="Internet"), nsg)[0]
    one = evaluate([deny(NSG_A), deny(NSG_A)], "Inbound", ["10.0.0.0/25"], NSG_A)
    two = evaluate([deny(NSG_A), deny(NSG_B)], "Inbound", ["10.0.0.0/25"], NSG_A)
    assert [r.nsg_id for r in one.deciding_denies] == [NSG_A]
    assert _shape(two) == _shape(_fresh([deny(NSG_A), deny(NSG_B)], "Inbound", ["10.0.0.0/25"], NSG_A))


def test_string_memos_stay_bounded_and_keep_answering(monkeypatch):
    monkeypatch.setattr(arm, "_MEMO_MAX", 8)
    memo = next(c.cell_contents for c in arm.norm.__closure__ if isinstance(c.cell_contents, dict))
    ids = [f"/Subscriptions/S/resourceGroups/RG{i}/" for i in range(50)]
    for v in ids + ids[::-1]:
        assert arm.norm(v) == v.lower().rstrip("/")
        assert len(memo) <= 8
        assert arm.is_resource_id(v) is True and len(arm._IS_ID) <= 8


def test_a_parsed_rule_equals_the_dataclass_built_field_by_field():
    from flaudit.nsg import NsgRule

    raw = _rule(NSG_A, "AllowSsh", sourceAddressPrefixes=["1.2.3.0/24", "Internet"], sourceAddressPrefix=None,
                destinationPortRanges=["22", "2200-2300"], destinationPortRange=None)
    rule, problems = parse_rule(raw, NSG_A, default=True)
    fields, _ = _parse_props(raw["properties"])
    expected = NsgRule(NSG_A, "AllowSsh", *fields, True)
    assert rule == expected and hash(rule) == hash(expected) and repr(rule) == repr(expected)
    assert problems == []
    with pytest.raises(AttributeError):  # still frozen
        rule.priority = 1
    assert rule.sources == ("1.2.3.0/24", "Internet") and rule.destination_ports == ((22, 22), (2200, 2300))


_PATH = "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path]"


@pytest.mark.parametrize("text", [
    f"((!(ActionMatches{{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}})) OR "
    f"({_PATH} StringStartsWith 'silo1/'))",
    f"((!(ActionMatches{{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'}})) OR "
    f"({_PATH} StringStartsWith 'silo2/'))",
    f"{_PATH} StringStartsWith 'a\\'b/'", f"{_PATH} StringLike '*'",
    f"{_PATH} ForAnyOfAnyValues:StringEquals {{'a', 'b', 3, true}}",
    "@Resource[odd'name] StringEquals 'x'", "@Resource[odd'name] StringEquals 'x' OR @Request[y'] StringEquals 'z'",
    "@Request[x] StringEquals '\x000'", "@Request[x] StringEquals 'a' 'b'", "'unterminated", "'a' '",
    "SubOperationMatches{'Blob.List'} AND Exists @Resource[x]", "NOT ActionMatches{'a'} || ActionMatches{'b'}",
    "@Principal[x] GuidEquals 12345678-1234-1234-1234-123456789abc AND @Environment[t] NumericEquals -1.5",
    "ActionMatches{'a'} AND", "(((ActionMatches{'a'})))", "@Request[x] StringEquals {'a', {'b'}}",
    "'x' StringEquals @Request[y] AND NOT ('z' StringLike @Resource[w] OR ActionMatches{'q'})",
    "'x' StringEquals 'y'", "@Request[n] NumericEquals 5 AND ActionMatches{'a'}",
])
def test_conditions_parsed_by_shape_give_the_tree_the_text_gives(text):
    conditions.parse.cache_clear()
    assert conditions.parse(text) == conditions._parse_text(text)


def test_two_conditions_of_one_shape_are_parsed_once_and_keep_their_own_strings():
    conditions.parse.cache_clear()
    conditions._template.cache_clear()
    a = conditions.parse(f"{_PATH} StringStartsWith 'silo1/' AND ActionMatches{{'r'}}")
    b = conditions.parse(f"{_PATH} StringStartsWith 'silo2/' AND ActionMatches{{'w'}}")
    assert a.left.right.value == "silo1/" and b.left.right.value == "silo2/"
    assert (a.right.action, b.right.action) == ("r", "w")
    assert conditions._template.cache_info()[:2] == (1, 1)  # (hits, misses): the second reused the first's shape


_READ = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read"
_WRITE = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"


@pytest.mark.parametrize("text", [
    f"((!(ActionMatches{{'{_READ}'}}) AND !(ActionMatches{{'{_WRITE}'}})) OR ({_PATH} StringStartsWith 'silo1/'))",
    f"((!(ActionMatches{{'{_READ}'}}) AND !(ActionMatches{{'{_WRITE}'}})) OR ({_PATH} StringStartsWith 'silo2/'))",
    f"((!(ActionMatches{{'{_WRITE}'}}) AND !(ActionMatches{{'{_WRITE}'}})) OR ({_PATH} StringStartsWith 'silo1/'))",
    f"(!(ActionMatches{{'{_READ}'}} AND SubOperationMatches{{'Blob.List'}})) OR {_PATH} StringLike 'a*'",
    f"ActionMatches{{'{_READ}'}} AND {_PATH} StringEquals 'x' OR NOT {_PATH} StringStartsWith 'y'",
    f"{_PATH} StringStartsWith 'z'", f"ActionMatches{{'{_READ}'}}", "not a condition", "@Resource[q'] StringEquals 'v'",
])
@pytest.mark.parametrize("action", [_READ, _WRITE, "Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete"])
def test_a_condition_residual_computed_by_shape_equals_the_residual_of_its_own_tree(text, action):
    from flaudit import confinement

    tree = conditions._parse_text(text)
    expected = None if tree is None else confinement._residual(tree, action)
    confinement.residual_of.cache_clear()
    assert confinement.residual_of(text, action) == expected
    # the second condition of a shape (its residual comes from the first's) answers for its own strings
    assert confinement.residual_of(text.replace("silo1", "silo9"), action) == (
        None if tree is None else confinement._residual(conditions._parse_text(text.replace("silo1", "silo9")),
                                                        action))


@pytest.mark.parametrize("props", [
    {"sourceAddressPrefix": "10.0.0.0/8"}, {"sourceAddressPrefix": "Internet", "access": "Deny"},
    {"destinationAddressPrefixes": ["Storage", "2001:db8::/32"], "destinationAddressPrefix": None},
    {"access": "allow"},
])
def test_derived_values_shared_by_rules_of_one_content_are_what_each_rule_computes(props):
    a, _ = parse_rule(_rule(NSG_A, "One", **props), NSG_A)
    b, _ = parse_rule(_rule(NSG_B, "Two", **props), NSG_B, default=True)
    for r in (a, b):
        assert "_names_addresses" in r.__dict__ and "_allow" in r.__dict__  # set when built, from the cache
        assert r.names_addresses == type(r)._names_addresses(r)  # the method, which the memo shadows
        assert r.allow == (r.access.lower() == "allow")
