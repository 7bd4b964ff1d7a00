"""The ARM function library: each function behaves as ARM documents it, including ARM's oddities."""

from __future__ import annotations

import uuid

import pytest

from flaudit.sources.template.expressions import ExpressionSyntaxError, parse_expression
from flaudit.sources.template.functions import unique_string
from tests.template.helpers import RG_ID, SUB, evaluate


def ev(expr: str, **kw):
    value, unsupported = evaluate(expr, **kw)
    assert unsupported == [], unsupported
    return value


# -- hashing functions -------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, expected", [
    (["test"], "rbgf3xv4ufgzg"),
    (["hello", "world"], "a7wkljktk6wne"),
    (["abc"], "cgtzqvhu4i23s"),
    ([f"/subscriptions/{SUB}/resourceGroups/my-rg"], "bmg7c6xu4tw46"),
    (["foo", "bar", "baz"], "xzi4ioaxtmth4"),
])
def test_unique_string_matches_published_arm_values(args, expected):
    assert unique_string(*args) == expected


def test_unique_string_expression_is_13_base32_characters_of_joined_arguments():
    value = ev("[uniqueString('hello', 'world')]")
    assert value == "a7wkljktk6wne" and len(value) == 13


def test_guid_is_uuid5_in_the_arm_namespace_over_hyphen_joined_arguments():
    value = ev("[guid('a', 'b', 'c')]")
    expected = uuid.uuid5(uuid.UUID("11fb06fb-712d-4ddd-98c7-e71bbd588830"), "a-b-c")
    assert value == str(expected)
    assert uuid.UUID(value).version == 5


# -- strings -----------------------------------------------------------------------------------------------

def test_format_follows_dotnet_composite_formatting():
    assert ev("[format('{0}-{1:D3}-{{x}}-{2}', 'silo', 7, true)]") == "silo-007-{x}-True"
    assert ev("[format('{0,5}|{0,-5}|', 'ab')]") == "   ab|ab   |"


def test_string_conversion_uses_arm_spellings():
    assert ev("[string(true)]") == "True"
    assert ev("[string(createObject('a', 1))]") == '{"a":1}'
    assert ev("[string(42)]") == "42"


def test_concat_joins_strings_and_arrays():
    assert ev("[concat('st', 1, 'x')]") == "st1x"
    assert ev("[concat(createArray(1), createArray(2, 3))]") == [1, 2, 3]


def test_string_helpers():
    assert ev("[split('a/b/c', '/')]") == ["a", "b", "c"]
    assert ev("[split('a,b;c', createArray(',', ';'))]") == ["a", "b", "c"]
    assert ev("[replace('st-fl-demo', '-', '')]") == "stfldemo"
    assert ev("[toLower('ABC')]") == "abc" and ev("[toUpper('abc')]") == "ABC"
    assert ev("[trim('  x ')]") == "x"
    assert ev("[padLeft('7', 3, '0')]") == "007"
    assert ev("[substring('abcdef', 1, 3)]") == "bcd"
    assert ev("[base64ToString(base64('silo'))]") == "silo"
    assert ev("[uri('https://example.com/a/', 'b.json')]") == "https://example.com/a/b.json"
    assert ev("[uriComponent('a b/c')]") == "a%20b%2Fc"
    assert ev("[json('{\"a\": [1, null]}')]") == {"a": [1, None]}
    assert ev("[dataUriToString(dataUri('hi'))]") == "hi"


def test_case_rules_are_those_of_arm():
    assert ev("[indexOf('Hello', 'LL')]") == 2  # case-insensitive
    assert ev("[startsWith('Microsoft.Storage', 'microsoft.')]") is True
    assert ev("[endsWith('ABC', 'bc')]") is True
    assert ev("[contains('Hello', 'hello')]") is False  # case-sensitive for strings
    assert ev("[contains(createObject('Key', 1), 'key')]") is True  # object keys ignore case
    assert ev("[equals('a', 'A')]") is False


def test_substring_out_of_range_is_reported_not_raised():
    value, unsupported = evaluate("[substring('abc', 2, 5)]")
    assert value == "[unsupported:$.outputs.out.value]"
    assert "substring()" in unsupported[0]["message"] and "$.outputs.out.value" in unsupported[0]["message"]


# -- arrays and objects ------------------------------------------------------------------------------------

def test_array_functions():
    assert ev("[first(createArray(1, 2))]") == 1 and ev("[last('abc')]") == "c"
    assert ev("[skip(range(0, 5), 3)]") == [3, 4] and ev("[take('abcdef', 2)]") == "ab"
    assert ev("[range(2, 3)]") == [2, 3, 4]
    assert ev("[length(createArray(1, 2, 3))]") == 3
    assert ev("[empty(createArray())]") is True and ev("[empty('')]") is True and ev("[empty(null())]") is True
    assert ev("[union(createArray(1, 2), createArray(2, 3))]") == [1, 2, 3]
    assert ev("[intersection(createArray(1, 2, 3), createArray(3, 2))]") == [2, 3]
    assert ev("[min(createArray(4, 2, 9))]") == 2 and ev("[max(4, 2, 9)]") == 9
    assert ev("[flatten(createArray(createArray(1), createArray(2)))]") == [1, 2]
    assert ev("[join(createArray('a', 'b'), '-')]") == "a-b"
    assert ev("[indexOf(createArray('x', 'y'), 'y')]") == 1


def test_union_merges_nested_objects_and_later_values_win():
    value = ev("[union(createObject('a', createObject('x', 1, 'y', 2), 'b', 1), "
               "createObject('a', createObject('y', 3), 'b', 2))]")
    assert value == {"a": {"x": 1, "y": 3}, "b": 2}


def test_items_sorts_by_key_and_create_object_builds_objects():
    assert ev("[items(createObject('b', 2, 'a', 1))]") == [{"key": "a", "value": 1}, {"key": "b", "value": 2}]
    assert ev("[intersection(createObject('a', 1, 'b', 2), createObject('a', 1, 'b', 3))]") == {"a": 1}


def test_try_get_and_property_access_are_case_insensitive():
    assert ev("[createObject('Name', 'x').name]") == "x"
    assert ev("[tryGet(createObject('a', 1), 'missing')]") is None


# -- comparison, logical, numeric --------------------------------------------------------------------------

def test_comparison_and_logic():
    assert ev("[and(true, not(false), or(false, true))]") is True
    assert ev("[greater(3, 2)]") and ev("[lessOrEquals('a', 'b')]")
    assert ev("[coalesce(null(), null(), 'x')]") == "x"
    assert ev("[bool('TRUE')]") is True and ev("[int('42')]") == 42


def test_numeric_division_truncates_toward_zero_like_dotnet():
    assert ev("[div(-7, 2)]") == -3 and ev("[mod(-7, 2)]") == -1
    assert ev("[add(1, mul(2, sub(5, 3)))]") == 5


def test_if_evaluates_only_the_chosen_branch():
    # the other branch would fail (substring out of range) and must not be reported
    assert ev("[if(equals(1, 1), 'ok', substring('a', 0, 10))]") == "ok"


# -- deployment and scope functions -----------------------------------------------------------------------

def test_scope_functions_use_the_deployment_target():
    assert ev("[subscription().subscriptionId]") == SUB
    assert ev("[resourceGroup().id]") == RG_ID
    assert ev("[resourceGroup().location]") == "eastus"
    assert ev("[deployment().name]") == "inline"
    assert ev("[environment().suffixes.storage]") == "core.windows.net"
    assert ev("[environment().name]") == "AzureCloud"


def test_resource_id_forms():
    assert ev("[resourceId('Microsoft.Storage/storageAccounts', 'st1')]") == \
        f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/st1"
    assert ev("[resourceId('other-rg', 'Microsoft.Storage/storageAccounts', 'st1')]") == \
        f"/subscriptions/{SUB}/resourceGroups/other-rg/providers/Microsoft.Storage/storageAccounts/st1"
    assert ev("[resourceId('sub2', 'rg2', 'Microsoft.Network/virtualNetworks/subnets', 'vnet', 'snet')]") == \
        "/subscriptions/sub2/resourceGroups/rg2/providers/Microsoft.Network/virtualNetworks/vnet/subnets/snet"
    assert ev("[resourceId('Microsoft.MachineLearningServices/workspaces/computes', 'ws/c1')]") == \
        f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/ws/computes/c1"
    assert ev("[subscriptionResourceId('Microsoft.Authorization/roleDefinitions', 'r1')]") == \
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/r1"
    assert ev("[subscriptionResourceId('Microsoft.Resources/resourceGroups', 'rg9')]") == \
        f"/subscriptions/{SUB}/resourceGroups/rg9"
    assert ev("[tenantResourceId('Microsoft.Authorization/policyDefinitions', 'p1')]") == \
        "/providers/Microsoft.Authorization/policyDefinitions/p1"
    assert ev("[extensionResourceId(resourceGroup().id, 'Microsoft.Authorization/locks', 'l1')]") == \
        f"{RG_ID}/providers/Microsoft.Authorization/locks/l1"
    assert ev("[managementGroupResourceId('mg1', 'Microsoft.Authorization/policyAssignments', 'a1')]") == \
        "/providers/Microsoft.Management/managementGroups/mg1/providers/Microsoft.Authorization/policyAssignments/a1"


def test_resource_id_with_wrong_name_count_is_unsupported():
    value, unsupported = evaluate("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'vnet')]")
    assert value.startswith("[unsupported:") and "needs 2 name segments" in unsupported[0]["message"]


# -- lambdas, parameters, variables, copy ------------------------------------------------------------------

def test_lambda_functions_as_bicep_emits_them():
    assert ev("[map(range(0, 3), lambda('i', mul(lambdaVariables('i'), 2)))]") == [0, 2, 4]
    assert ev("[filter(createArray(1, 2, 3, 4), lambda('n', equals(mod(lambdaVariables('n'), 2), 0)))]") == [2, 4]
    assert ev("[reduce(createArray(1, 2, 3), 10, lambda('acc', 'n', add(lambdaVariables('acc'), "
              "lambdaVariables('n'))))]") == 16
    assert ev("[sort(createArray(3, 1, 2), lambda('a', 'b', less(lambdaVariables('a'), "
              "lambdaVariables('b'))))]") == [1, 2, 3]
    assert ev("[toObject(createArray('a', 'bb'), lambda('s', lambdaVariables('s')), lambda('s', "
              "length(lambdaVariables('s'))))]") == {"a": 1, "bb": 2}


def test_parameters_defaults_can_use_other_parameters_and_functions():
    params = {"base": {"type": "string", "defaultValue": "fl"},
              "name": {"type": "string", "defaultValue": "[format('st{0}', parameters('base'))]"}}
    assert ev("[parameters('name')]", parameters=params) == "stfl"
    assert ev("[parameters('name')]", parameters=params, values={"base": "x"}) == "stx"


def test_variable_copy_with_named_copy_index_and_offset():
    variables = {"prefix": "silo", "copy": [
        {"name": "names", "count": 3, "input": "[format('{0}{1}', variables('prefix'), copyIndex('names', 1))]"}]}
    assert ev("[variables('names')]", variables=variables) == ["silo1", "silo2", "silo3"]


def test_property_copy_inside_a_variable_object():
    variables = {"acls": {"copy": [{"name": "rules", "count": 2, "input": {"n": "[copyIndex('rules')]"}}],
                          "defaultAction": "Deny"}}
    assert ev("[variables('acls')]", variables=variables) == {"defaultAction": "Deny",
                                                            "rules": [{"n": 0}, {"n": 1}]}


def test_escaped_bracket_is_a_literal_string():
    assert ev("[[not an expression]") == "[not an expression]"


def test_list_functions_are_never_evaluated():
    value, unsupported = evaluate("[listKeys(resourceId('Microsoft.Storage/storageAccounts', 'st'), "
                                  "'2023-01-01').keys[0].value]")
    assert value == "[unsupported:$.outputs.out.value]"
    assert "listKeys() is not evaluated" in unsupported[0]["message"]


def test_unknown_function_is_reported_with_its_json_path():
    value, unsupported = evaluate("[frobnicate(1)]")
    assert len(unsupported) == 1
    assert "unknown function frobnicate()" in unsupported[0]["message"]
    assert "inline.json $.outputs.out.value" in unsupported[0]["message"]


def test_comparing_a_runtime_value_is_unsupported():
    template_params = {"x": {"type": "string", "defaultValue": "[reference(resourceId("
                             "'Microsoft.Storage/storageAccounts', 'st')).primaryEndpoints.blob]"}}
    value, unsupported = evaluate("[equals(parameters('x'), 'y')]", parameters=template_params)
    assert value.startswith("[unsupported:") and "known only after deployment" in unsupported[0]["message"]


@pytest.mark.parametrize("text", ["[concat('a'", "[foo bar]", "['unterminated]", "[a.(]"])
def test_malformed_expressions_raise_syntax_errors(text):
    with pytest.raises(ExpressionSyntaxError):
        parse_expression(text)


def test_malformed_expression_in_a_template_is_unsupported_not_a_crash():
    value, unsupported = evaluate("[concat('a']")
    assert value.startswith("[unsupported:") and unsupported
