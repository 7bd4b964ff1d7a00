"""Template expansion: resources, ids, copy loops, modules, outputs, symbolic runtime values, scopes."""

from __future__ import annotations

import copy
import json

from flaudit.arm import norm
from flaudit.inventory import Inventory
from flaudit.sources.template import expand_into
from flaudit.sources.template.evaluate import TemplateExpander
from flaudit.sources.template.locate import line_index
from tests.template.helpers import FIXTURES, RG_ID, SUB, expand_file, expander_for, target

IDENTITY = "Microsoft.ManagedIdentity/userAssignedIdentities"


def fl() -> Inventory:
    return expand_file("fl_silos.json", params=["prefix=fltest"])


def by_type(inv: Inventory, rtype: str) -> list[dict]:
    return inv.of_type(rtype)


def sym(rid: str, path: str) -> str:
    return f"[symbolic:{rid.lower()}:{path}]"


def test_copy_loop_over_a_module_creates_each_silos_resources_with_full_ids():
    inv = fl()
    identities = sorted(r["id"] for r in by_type(inv, IDENTITY))
    assert identities == [f"{RG_ID}/providers/{IDENTITY}/uai-silo0", f"{RG_ID}/providers/{IDENTITY}/uai-silo1"]
    computes = {r["name"]: r for r in by_type(inv, "Microsoft.MachineLearningServices/workspaces/computes")}
    assert set(computes) == {"silo0-01", "silo1-01"}
    assert computes["silo1-01"]["id"] == \
        f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/aml-fltest/computes/silo1-01"
    # Azure ML computes keep the subnet where templates put it
    assert computes["silo1-01"]["properties"]["properties"]["subnet"]["id"] == \
        f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-fltest/subnets/snet-silo1"
    # deployments themselves are not resources of the audited deployment
    assert not any("microsoft.resources/deployments" in rid for rid in inv.resources)
    assert inv.unsupported == []


def test_role_assignment_principal_is_the_symbol_the_identity_resource_carries():
    inv = fl()
    identity = inv.get(f"{RG_ID}/providers/{IDENTITY}/uai-silo1")
    principal = identity["properties"]["principalId"]
    assert principal == sym(identity["id"], "principalId")
    assert identity["properties"]["clientId"] == sym(identity["id"], "clientId")
    silo1_storage = next(r for r in by_type(inv, "Microsoft.Storage/storageAccounts")
                         if r["name"].startswith("stsilo1"))
    assignments = [r for r in by_type(inv, "Microsoft.Authorization/roleAssignments")
                   if r["properties"]["scope"] == silo1_storage["id"]]
    assert len(assignments) == 2
    for ra in assignments:
        assert ra["properties"]["principalId"] == principal
        assert ra["id"] == f"{silo1_storage['id']}/providers/Microsoft.Authorization/roleAssignments/{ra['name']}"


def test_module_outputs_flow_back_into_the_parent():
    inv = fl()
    orch = f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/stfltestorch"
    principals = sorted(r["properties"]["principalId"] for r in by_type(inv, "Microsoft.Authorization/roleAssignments")
                        if r["properties"]["scope"] == orch)
    expected = sorted([sym(f"{RG_ID}/providers/{IDENTITY}/uai-silo0", "principalId"),
                       sym(f"{RG_ID}/providers/{IDENTITY}/uai-silo1", "principalId"),
                       sym(f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/aml-fltest",
                           "identity.principalId")])
    assert principals == expected


def test_system_assigned_identity_and_full_reference_give_the_same_symbol():
    inv = fl()
    ws = inv.get(f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/aml-fltest")
    assert ws["identity"]["principalId"] == sym(ws["id"], "identity.principalId")


def test_unknown_runtime_properties_become_symbols_naming_their_resource():
    inv = fl()
    orch = inv.get(f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/stfltestorch")
    assert orch["properties"]["primaryEndpointsCopy"] == sym(orch["id"], "primaryEndpoints.blob")


def test_user_assigned_identity_keys_are_evaluated_and_filled():
    inv = fl()
    compute = inv.get(f"{RG_ID}/providers/Microsoft.MachineLearningServices/workspaces/aml-fltest/computes/silo0-01")
    uai_id = f"{RG_ID}/providers/{IDENTITY}/uai-silo0"
    entry = compute["identity"]["userAssignedIdentities"][uai_id]
    assert entry["principalId"] == sym(uai_id, "principalId")


def test_property_copy_condition_false_and_nested_children():
    inv = fl()
    storage = next(r for r in by_type(inv, "Microsoft.Storage/storageAccounts") if r["name"].startswith("stsilo0"))
    assert storage["properties"]["networkAcls"]["virtualNetworkRules"] == [
        {"id": f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-fltest/subnets/snet-silo0",
         "action": "Allow"}]
    assert "copy" not in storage["properties"]["networkAcls"]
    assert inv.get(f"{RG_ID}/providers/{IDENTITY}/uai-debug") is None  # condition false
    subnets = {r["name"]: r for r in by_type(inv, "Microsoft.Network/virtualNetworks/subnets")}
    assert set(subnets) == {"snet-silo0", "snet-silo1"}
    assert subnets["snet-silo1"]["id"] == f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-fltest/subnets/snet-silo1"
    assert subnets["snet-silo1"]["properties"]["addressPrefix"] == "10.0.2.0/24"  # copyIndex(1)


def test_unique_string_names_depend_on_the_resource_group():
    a = expand_file("fl_silos.json", params=["prefix=fltest"])
    b = expand_file("fl_silos.json", params=["prefix=fltest"], resource_group="rg-other")
    names_a = {r["name"] for r in by_type(a, "Microsoft.Storage/storageAccounts")}
    names_b = {r["name"] for r in by_type(b, "Microsoft.Storage/storageAccounts")}
    assert names_a != names_b and "stfltestorch" in names_a & names_b


def test_resource_order_does_not_matter_for_references():
    doc = json.loads((FIXTURES / "fl_silos.json").read_text())
    reordered = copy.deepcopy(doc)
    reordered["resources"].reverse()
    ex1 = expander_for(doc, {"prefix": "fltest"})
    ex2 = expander_for(reordered, {"prefix": "fltest"})
    assert sorted(json.dumps(r, sort_keys=True) for r in ex1.resources) == \
        sorted(json.dumps(r, sort_keys=True) for r in ex2.resources)
    assert ex2.unsupported == []


def test_top_level_output_copy_reads_module_outputs_by_name():
    doc = json.loads((FIXTURES / "fl_silos.json").read_text())
    ex = expander_for(doc, {"prefix": "fltest"})
    ids = ex.outputs["siloStorageIds"]["value"]
    assert len(ids) == 2 and all(i.startswith(f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/stsilo")
                                 for i in ids)


def test_parameter_file_values_and_counts():
    inv = expand_file("fl_silos.json", parameters_file=FIXTURES / "fl_silos.parameters.json")
    assert len(by_type(inv, IDENTITY)) == 3
    assert inv.sources[-1].kind == "template"
    assert inv.sources[-1].detail["parameters"] == ["prefix", "siloRegions"]


def test_symbolic_name_template_with_existing_resources_lambdas_and_user_functions():
    inv = expand_file("symbolic_v2.json")
    assert inv.unsupported == []
    names = sorted(r["name"] for r in by_type(inv, "Microsoft.Storage/storageAccounts"))
    assert names == ["stadata", "stbdata"]  # 'c' filtered out by the lambda
    assert inv.get(f"{RG_ID}/providers/{IDENTITY}/uai-shared") is None  # existing: not created
    ras = by_type(inv, "Microsoft.Authorization/roleAssignments")
    principals = {r["properties"]["principalId"] for r in ras}
    assert sym(f"{RG_ID}/providers/{IDENTITY}/uai-b", "principalId") in principals
    assert sym(f"{RG_ID}/providers/{IDENTITY}/uai-shared", "principalId") in principals


def test_symbolic_name_template_outputs():
    doc = json.loads((FIXTURES / "symbolic_v2.json").read_text())
    ex = expander_for(doc)
    assert ex.outputs["sortedIds"]["value"] == ["c", "b", "a"]
    assert ex.outputs["byName"]["value"] == {"a": 1, "b": 1}
    assert ex.outputs["total"]["value"] == 10  # range(1, 4) is 1, 2, 3, 4
    assert ex.outputs["storageInfo"]["value"] == "stadata"


def test_subscription_scope_template_with_resource_group_module():
    inv = expand_file("subscription_scope.json")
    assert inv.get(f"/subscriptions/{SUB}/resourceGroups/rg-fl-silo") is not None
    ra = by_type(inv, "Microsoft.Authorization/roleAssignments")[0]
    assert ra["id"].startswith(f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/")
    assert ra["properties"]["scope"] == f"/subscriptions/{SUB}"
    storage = by_type(inv, "Microsoft.Storage/storageAccounts")[0]
    assert storage["id"].startswith(f"/subscriptions/{SUB}/resourceGroups/rg-fl-silo/providers/")
    assert inv.unsupported == []


def test_tenant_scope_resources_get_provider_level_ids():
    template = {"$schema": "https://schema.management.azure.com/schemas/2019-08-01/tenantDeploymentTemplate.json#",
                "resources": [{"type": "Microsoft.Management/managementGroups", "name": "mg-fl",
                               "apiVersion": "2021-04-01", "properties": {}}]}
    ex = expander_for(template, kind="tenant")
    assert ex.resources[0]["id"] == "/providers/Microsoft.Management/managementGroups/mg-fl"


def test_outer_scope_nested_template_uses_parent_parameters_and_variables():
    inv = expand_file("outer_scope.json")
    storage = inv.get(f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/stouter")
    assert storage["properties"]["publicNetworkAccess"] == "Disabled"


def test_linked_templates_list_functions_and_unknown_functions_are_reported_and_expansion_continues():
    inv = expand_file("outer_scope.json")
    messages = [u["message"] for u in inv.unsupported]
    assert any("templateLink" in m and "$.resources[1].properties.templateLink" in m for m in messages)
    assert any("listKeys() is not evaluated" in m and "$.resources[2].properties.secretCopy" in m for m in messages)
    assert any("unknown function frobnicate()" in m for m in messages)
    vault = inv.get(f"{RG_ID}/providers/Microsoft.KeyVault/vaults/kv-outer")
    assert vault is not None and vault["properties"]["secretCopy"].startswith("[unsupported:")
    kv_entries = [u for u in inv.unsupported if u["resource_id"] and "kv-outer" in u["resource_id"]]
    assert len(kv_entries) == 2


def test_unevaluable_name_skips_only_that_resource_and_says_so():
    template = {"$schema": "x/deploymentTemplate.json#", "resources": [
        {"type": "Microsoft.Storage/storageAccounts", "name": "[mystery()]", "apiVersion": "1"},
        {"type": "Microsoft.Storage/storageAccounts", "name": "stok", "apiVersion": "1"}]}
    ex = expander_for(template)
    assert [r["name"] for r in ex.resources] == ["stok"]
    assert ex.unsupported[0]["resource_id"] is None and "$.resources[0]" in ex.unsupported[0]["message"]


def test_condition_on_a_runtime_value_creates_the_resource_and_reports_it():
    template = {"$schema": "x/deploymentTemplate.json#", "resources": [
        {"condition": "[equals(reference(resourceId('Microsoft.Storage/storageAccounts', 'a')).x, 'y')]",
         "type": "Microsoft.Storage/storageAccounts", "name": "stcond", "apiVersion": "1"}]}
    ex = expander_for(template)
    assert [r["name"] for r in ex.resources] == ["stcond"]
    assert "resource assumed to be created" in ex.unsupported[0]["message"]


def test_locations_point_at_the_resource_objects_line():
    inv = fl()
    text = (FIXTURES / "fl_silos.json").read_text()
    lines = text.splitlines()
    orch = inv.locations[norm(f"{RG_ID}/providers/Microsoft.Storage/storageAccounts/stfltestorch")]
    assert orch["json_path"] == "$.resources[1]"
    assert lines[orch["line"]].strip() == '"type": "Microsoft.Storage/storageAccounts",'
    assert lines[orch["line"] - 1].strip() == "{"
    silo_storage = next(r for r in by_type(inv, "Microsoft.Storage/storageAccounts") if r["name"].startswith("stsilo1"))
    loc = inv.locations[norm(silo_storage["id"])]
    assert loc["json_path"] == "$.resources[5].properties.template.resources[1]"
    assert lines[loc["line"]].strip() == '"type": "Microsoft.Storage/storageAccounts",'
    assert loc["file"].endswith("fl_silos.json")
    subnet = inv.locations[norm(f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-fltest/subnets/snet-silo0")]
    assert subnet["json_path"] == "$.resources[4].resources[0]"


def test_line_index_handles_strings_with_brackets_and_escapes():
    text = '{\n "a": "[x]{y}",\n "b": [\n  "\\"]",\n  {\n   "c": 1\n  }\n ]\n}'
    index = line_index(text)
    assert index["$"] == 1 and index["$.b"] == 3 and index["$.b[1]"] == 5


def test_expander_is_reusable_for_a_hundred_silos_quickly():
    doc = json.loads((FIXTURES / "fl_silos.json").read_text())
    ex = TemplateExpander("x.json")
    ex.expand(doc, {"prefix": "p", "siloRegions": ["westeurope"] * 30}, target(), "t")
    assert len([r for r in ex.resources if r["type"] == IDENTITY]) == 30


def test_expand_into_counts_only_resources_flaudit_reads():
    inv = Inventory()
    template = FIXTURES / "symbolic_v2.json"
    n = expand_into(inv, template)
    assert n == len(inv.resources) == 7


def test_inline_subnets_and_rules_get_the_ids_arm_reports():
    inv = expand_file("private_endpoint.json")
    vnet = inv.get(f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/vnet-silo0")
    subnet = vnet["properties"]["subnets"][0]
    assert subnet["id"] == f"{vnet['id']}/subnets/snet-training"
    assert subnet["type"] == "Microsoft.Network/virtualNetworks/subnets"
    nsg = inv.get(f"{RG_ID}/providers/Microsoft.Network/networkSecurityGroups/nsg-silo0")
    assert nsg["properties"]["securityRules"][0]["id"] == f"{nsg['id']}/securityRules/DenyInternetOutbound"


def test_private_dns_zone_group_registers_an_a_record_for_the_target():
    zone = f"{RG_ID}/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"
    inv = expand_file("private_endpoint.json")
    record = inv.get(f"{zone}/A/stsilo0")
    pe_id = f"{RG_ID}/providers/Microsoft.Network/privateEndpoints/ple-stsilo0-blob"
    assert record["properties"]["aRecords"] == [{"ipv4Address": sym(pe_id, "customDnsConfigs[0].ipAddresses[0]")}]
    assert inv.locations[norm(record["id"])]["json_path"] == "$.resources[3]"
    static = expand_file("private_endpoint.json", params=["staticIp=10.0.1.50"])
    assert static.get(f"{zone}/A/stsilo0")["properties"]["aRecords"] == [{"ipv4Address": "10.0.1.50"}]


def test_odd_declarations_are_reported_and_never_crash_the_expansion():
    template = {"$schema": "x/deploymentTemplate.json#", "variables": {"loop": "[variables('loop')]"}, "resources": [
        "not an object",
        {"type": "Microsoft.Storage/storageAccounts", "name": "st1", "apiVersion": "1",
         "properties": {"a": "[json('{')]", "b": "[variables('loop')]", "c": "[copyIndex('nope')]"}},
        {"copy": {"name": "x", "count": "[variables('loop')]"}, "type": "Microsoft.Storage/storageAccounts",
         "name": "[format('st{0}', copyIndex())]", "apiVersion": "1"},
        {"type": "Microsoft.Resources/deployments", "name": "m", "apiVersion": "1", "properties": {"template": 3}},
        {"type": "Microsoft.Storage/storageAccounts", "name": "[reference('nothing').x]", "apiVersion": "1"},
    ]}
    ex = expander_for(template)
    assert [r["name"] for r in ex.resources] == ["st1"]
    props = ex.resources[0]["properties"]
    assert all(str(v).startswith("[unsupported:") for v in props.values())
    messages = " | ".join(u["message"] for u in ex.unsupported)
    for expected in ("json(): not JSON", "refers to itself", "copyIndex(nope) used outside",
                     "resource copy loop not expanded", "no inline template", "names no resource"):
        assert expected in messages


def test_scope_functions_in_a_nested_template_resolve_to_the_parent_scope_when_outer_and_to_its_own_when_inner():
    """ARM's "Function resolution in scopes": outer (the default) -> the parent's resource group, inner -> the
    nested deployment's; where the resources deploy is the nested deployment's target either way."""
    from tests.template.helpers import expander_for

    def nested(scope: str) -> dict:
        return {"type": "Microsoft.Resources/deployments", "apiVersion": "2022-09-01", "name": f"n-{scope}",
                "resourceGroup": "rg-other",
                "properties": {"mode": "Incremental", "expressionEvaluationOptions": {"scope": scope}, "template": {
                    "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                    "resources": [{"type": "Microsoft.Network/routeTables", "apiVersion": "2024-05-01",
                                   "name": f"rt-{scope}", "location": "eastus",
                                   "properties": {"owner": "[resourceGroup().name]",
                                                  "peer": "[resourceId('Microsoft.Network/routeTables/', 'x')]"}}]}}}

    ex = expander_for({"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                       "resources": [nested("outer"), nested("inner")]})
    tables = {r["name"]: r for r in ex.resources if r["type"] == "Microsoft.Network/routeTables"}
    assert "/resourceGroups/rg-other/" in tables["rt-outer"]["id"] and "/resourceGroups/rg-other/" in tables["rt-inner"]["id"]
    assert tables["rt-outer"]["properties"]["owner"] == "rg-template"
    assert tables["rt-inner"]["properties"]["owner"] == "rg-other"
    assert "/resourceGroups/rg-template/" in tables["rt-outer"]["properties"]["peer"]
    assert "/resourceGroups/rg-other/" in tables["rt-inner"]["properties"]["peer"]
