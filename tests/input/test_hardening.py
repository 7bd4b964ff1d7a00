"""Input hardening (issue #16): tolerant where Azure is unambiguous, strict where it is not, and no reference
that cannot be placed ever passes or groups resources together.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from flaudit.arm import canonical_id, is_resource_id, norm, type_from_id
from flaudit.cli import main
from flaudit.errors import EXIT_INTERNAL, InputError
from flaudit.inventory import Inventory
from flaudit.readers import as_flag, normalise_resource, user_assigned_identities
from flaudit.sources.files import parse_document
from tests.support import audit, by_type, compute, findings, sample_resources, statuses, storage

VNET_T = "Microsoft.Network/virtualNetworks"
SUBNET_T = "Microsoft.Network/virtualNetworks/subnets"


def _subnet_of(res: list[dict], name: str) -> str:
    return compute(res, name)["properties"]["properties"]["subnet"]["id"]


# -- ids and types ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("spelt", [
    "subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/a",
    "/subscriptions/s//resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/a/",
    "/SUBSCRIPTIONS/s/resourcegroups/R/providers/microsoft.network/VIRTUALNETWORKS/v/subnets/A",
])
def test_every_spelling_of_an_id_normalises_to_one_key(spelt):
    assert norm(spelt) == "/subscriptions/s/resourcegroups/r/providers/microsoft.network/virtualnetworks/v/subnets/a"
    assert is_resource_id(spelt, SUBNET_T)



@pytest.mark.parametrize("example_id, example_type, path_id, path_type", [
    # GetRoleEligibilityScheduleRequestByName.json (Authorization 2020-10-01) against the request path
    ("/subscriptions/s/providers/Microsoft.Authorization/RoleEligibilityRequests/e1",
     "Microsoft.Authorization/RoleEligibilityRequests",
     "/subscriptions/s/providers/Microsoft.Authorization/roleEligibilityScheduleRequests/e1",
     "Microsoft.Authorization/roleEligibilityScheduleRequests"),
    # HubVirtualNetworkConnectionGet.json (Network 2024-07-01): no type, id segment virtualHubVnetConnections
    ("/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualHubs/h/virtualHubVnetConnections/c",
     None,
     "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualHubs/h/hubVirtualNetworkConnections/c",
     "Microsoft.Network/virtualHubs/hubVirtualNetworkConnections"),
])
def test_a_type_spelt_as_the_rest_examples_spell_it_is_read_as_the_path_type(example_id, example_type, path_id,
                                                                            path_type):
    body = {"id": example_id, "name": example_id.rsplit("/", 1)[1], "properties": {}}
    if example_type:
        body["type"] = example_type
    inv = parse_document(body, "example.json")
    assert not inv.ignored_types and list(inv.resources) == [norm(path_id)]
    stored = inv.get(path_id)
    assert stored["id"] == path_id and stored["type"] == path_type
    assert body["id"] == example_id  # the caller's dict is not modified
    assert any("spelt as Microsoft's REST API examples spell them" in n for n in inv.note_lines())

@pytest.mark.parametrize("text", ["test-subnet-resource-id", "string", "", None, 42, "/subscriptions",
                                  "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets",
                                  "/subscriptions/s/resourceGroups/r/providers/virtualNetworks/v"])
def test_strings_that_are_not_arm_ids_are_recognised(text):
    assert not is_resource_id(text)


def test_an_id_of_another_type_is_not_a_subnet_id():
    vnet = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v"
    assert is_resource_id(vnet, VNET_T) and not is_resource_id(vnet, SUBNET_T)
    assert type_from_id(vnet + "/subnets/a") == SUBNET_T
    assert canonical_id("subscriptions/s//resourceGroups/r/") == "/subscriptions/s/resourceGroups/r"


def test_a_child_without_type_gets_the_type_its_id_names_and_a_note():
    body = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/virtualNetworks/v/subnets/a",
            "name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}}
    inv = parse_document(body, "subnet.json")
    stored = inv.get(body["id"])
    assert stored["type"] == SUBNET_T and "type" not in body  # the caller's dict is not modified
    assert inv.note_lines() == [f"1 resource(s) of type {SUBNET_T} had 'id' but no 'type': type derived from the id"]


def test_list_items_without_type_are_read_from_a_list_response():
    items = [{"id": f"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/routeTables/t/routes/r{i}",
              "name": f"r{i}", "properties": {"addressPrefix": "0.0.0.0/0", "nextHopType": "Internet"}}
             for i in range(3)]
    inv = parse_document({"value": items}, "routes.json")
    assert len(inv.of_type("Microsoft.Network/routeTables/routes")) == 3


def test_an_untyped_service_endpoint_policy_definition_is_read_with_the_type_its_id_names():
    item = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/serviceEndpointPolicies/sep/"
            "serviceEndpointPolicyDefinitions/d1", "name": "d1", "properties": {"service": "Microsoft.Storage"}}
    inv = parse_document({"value": [item]}, "list.json")
    assert len(inv.of_type("Microsoft.Network/serviceEndpointPolicies/serviceEndpointPolicyDefinitions")) == 1


@pytest.mark.parametrize("child", [
    "loadBalancers/lb/inboundNatRules/r1",
    "firewallPolicies/fp/ruleCollectionGroups/g1",
    "networkSecurityGroups/nsg/defaultSecurityRules/DenyAllInBound",
])
def test_an_untyped_child_of_a_type_flaudit_does_not_read_is_counted_not_refused(child):
    item = {"id": f"/subscriptions/s/resourceGroups/r/providers/Microsoft.Network/{child}", "name": "x",
            "properties": {}}
    inv = parse_document({"value": [item]}, "list.json")
    assert not inv.resources and sum(inv.ignored_types.values()) == 1


def test_an_untyped_item_whose_id_names_no_type_is_refused_with_its_index():
    items = [{"id": "/subscriptions/s/resourceGroups/r", "name": "r"}] * 3 + [{"id": "subnet-7", "name": "x"}]
    with pytest.raises(InputError, match=r"list\.json: item 3 has 'id' but no 'type', and its id 'subnet-7' names "
                                         r"no resource type$"):
        parse_document(items, "list.json")


def test_a_single_untyped_object_that_is_no_resource_says_what_it_holds():
    with pytest.raises(InputError, match=r"keys: foo, name"):
        parse_document({"name": "x", "foo": 1}, "one.json")
    with pytest.raises(InputError, match=r"the resource has 'id' but no 'type'"):
        parse_document({"id": "not-an-id"}, "one.json")


def test_an_id_without_leading_slash_is_read_as_arm_spells_it():
    body = {"id": "subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/"
                  "computes/c", "type": "Microsoft.MachineLearningServices/workspaces/computes", "name": "c",
            "properties": {"computeType": "AKS"}}
    inv = parse_document(body, "aks.json")
    assert inv.get("/" + body["id"])["id"] == "/" + body["id"]
    assert any("leading slash restored" in n for n in inv.note_lines())


def test_an_id_that_is_no_arm_id_is_refused():
    with pytest.raises(InputError, match=r"item 0 has id 'string', which is not an ARM resource id"):
        parse_document([{"id": "string", "type": "string", "name": "string"}], "ds.json")


def test_two_spellings_of_one_id_with_different_properties_conflict():
    a = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv",
         "type": "Microsoft.KeyVault/vaults", "properties": {"publicNetworkAccess": "Disabled"}}
    b = {**a, "id": "subscriptions/s/resourceGroups/r/providers/Microsoft.KeyVault/vaults/kv/",
         "properties": {"publicNetworkAccess": "Enabled"}}
    with pytest.raises(InputError, match="repeats an earlier item's id with different properties"):
        parse_document([a, b], "two.json")
    assert len(parse_document([a, {**a, "id": b["id"]}], "same.json").resources) == 1


def test_a_trailing_or_doubled_slash_in_a_reference_still_matches_the_resource():
    res = sample_resources("hardened")
    c = compute(res, "silo0-01")
    sid = _subnet_of(res, "silo0-01")
    c["properties"]["properties"]["subnet"]["id"] = sid.replace("/subnets/", "//subnets/") + "/"
    result = audit(res)
    assert statuses(result, "FL-NET-001", silo="silo0") == {"pass"}
    assert statuses(result, "FL-NET-003", silo="silo0") == {"pass"}


# -- references that cannot be placed ----------------------------------------------------------------------------
def test_a_free_text_subnet_reference_is_unknown_never_pass():
    res = sample_resources("hardened")
    compute(res, "silo0-01")["properties"]["properties"]["subnet"]["id"] = "test-subnet-resource-id"
    result = audit(res)
    for rule in ("FL-NET-001", "FL-NET-003", "FL-NET-004", "FL-NET-005", "FL-PE-003", "FL-PE-004"):
        assert statuses(result, rule, silo="silo0") == {"unknown"}, rule
    msg = findings(result, "FL-NET-001", silo="silo0")[0]["message"]
    assert "'test-subnet-resource-id'" in msg and "not an ARM subnet id" in msg
    assert result["verdict"]["production"]["status"] != "ready"


def test_computes_sharing_a_free_text_subnet_are_not_grouped_as_one_vnet():
    res = sample_resources("hardened")
    for name in ("silo0-01", "silo1-01"):
        compute(res, name)["properties"]["properties"]["subnet"]["id"] = "test-subnet-resource-id"
    result = audit(res)
    for silo in ("silo0", "silo1"):
        found = findings(result, "FL-NET-006", silo=silo)
        assert [f["status"] for f in found] == ["unknown"]
        assert "same VNet" not in found[0]["message"]
    assert statuses(result, "FL-NET-006", silo="silo2") == {"pass"}


def test_an_nsg_reference_that_is_no_nsg_id_is_unknown():
    res = sample_resources("hardened")
    sid = norm(_subnet_of(res, "silo0-01"))
    for v in by_type(res, VNET_T):
        for s in v["properties"]["subnets"]:
            if norm(s["id"]) == sid:
                s["properties"]["networkSecurityGroup"] = {"id": "nsg-silo0"}
    result = audit(res)
    assert statuses(result, "FL-NET-003", silo="silo0") == {"unknown"}
    assert statuses(result, "FL-NET-004", silo="silo0") == {"unknown"}


def test_a_peering_whose_remote_is_no_vnet_id_makes_silo_connectivity_unknown():
    res = sample_resources("hardened")
    vid = norm(_subnet_of(res, "silo0-01")).split("/subnets/")[0]
    vnet = next(v for v in by_type(res, VNET_T) if norm(v["id"]) == vid)
    vnet["properties"]["virtualNetworkPeerings"] = [{
        "id": vnet["id"] + "/virtualNetworkPeerings/mystery", "name": "mystery",
        "properties": {"remoteVirtualNetwork": {"id": "vnet-silo1"}, "peeringState": "Connected"}}]
    result = audit(res)
    found = findings(result, "FL-NET-006", silo="silo0")
    assert [f["status"] for f in found] == ["unknown"] and "'vnet-silo1'" in found[0]["message"]


def test_a_private_endpoint_in_a_free_text_subnet_is_never_reachable():
    res = sample_resources("hardened")
    for pe in by_type(res, "Microsoft.Network/privateEndpoints"):
        pe["properties"]["subnet"]["id"] = "test-subnet-resource-id"
    result = audit(res)
    assert "pass" not in statuses(result, "FL-PE-003", silo="silo0")


def test_overlap_unknown_names_the_vnet_whose_address_space_is_missing():
    res = sample_resources("hardened")
    vid = norm(_subnet_of(res, "silo0-01")).split("/subnets/")[0]
    vnet = next(v for v in by_type(res, VNET_T) if norm(v["id"]) == vid)
    del vnet["properties"]["addressSpace"]
    for v in by_type(res, VNET_T):  # nor does any peering say what it is
        for p in v["properties"].get("virtualNetworkPeerings") or []:
            if norm(p["properties"]["remoteVirtualNetwork"]["id"]) == vid:
                p["properties"].pop("remoteAddressSpace", None)
                p["properties"].pop("remoteVirtualNetworkAddressSpace", None)
    for p in by_type(res, "Microsoft.Network/virtualNetworks/virtualNetworkPeerings"):
        if norm(p["properties"]["remoteVirtualNetwork"]["id"]) == vid:
            p["properties"].pop("remoteAddressSpace", None)
    result = audit(res)
    mine = [f for f in findings(result, "FL-NET-008") if norm(f["resource_id"]) == vid]
    assert [f["status"] for f in mine] == ["unknown"]
    assert "its own address space is not in the input" in mine[0]["message"]
    others = [f for f in findings(result, "FL-NET-008", status="unknown") if norm(f["resource_id"]) != vid]
    for f in others:  # a peer's finding may name silo0's VNet (missing space), never its own
        assert norm(f["resource_id"]) not in f["message"].lower()


def test_a_storage_account_name_matching_two_accounts_is_not_resolved():
    res = sample_resources("hardened")
    twin = copy.deepcopy(storage(res, "silo0"))
    twin["id"] = twin["id"].replace("/resourceGroups/", "/resourceGroups/other-")
    res.append(twin)
    result = audit(res)
    assert "pass" not in statuses(result, "FL-PE-001", silo="silo0")
    assert statuses(result, "FL-TOP-002", silo="silo0") == {"fail"}
    assert "ambiguous" in findings(result, "FL-TOP-002", silo="silo0")[0]["message"] + json.dumps(
        findings(result, "FL-TOP-002", silo="silo0")[0]["evidence"])


# -- shapes seen in the wild ---------------------------------------------------------------------------------------
UAI = "/subscriptions/s/resourceGroups/r/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"


@pytest.mark.parametrize("shape", [
    {"type": "UserAssigned", "userAssignedIdentities": {UAI: {"principalId": "p1", "clientId": "c1"}}},
    {"type": "UserAssigned", "userAssignedIdentities": {UAI: None}},
    {"type": "UserAssigned", "userAssignedIdentities": [UAI]},
    {"type": "user_assigned", "user_assigned_identities": [{"resource_id": UAI, "principal_id": "p1",
                                                             "client_id": "c1"}]},
    {"type": "UserAssigned", "userAssignedIdentities": [{"id": UAI, "principalId": "p1"}]},
])
def test_user_assigned_identities_in_every_shape_read_as_one_map(shape):
    assert list(user_assigned_identities(shape)) == [UAI]


def test_user_assigned_identities_as_a_list_credit_the_compute_with_its_identity():
    res = sample_resources("hardened")
    c = compute(res, "silo0-01")
    c["identity"]["userAssignedIdentities"] = list(c["identity"]["userAssignedIdentities"])
    result, base = audit(res), audit(sample_resources("hardened"))
    assert statuses(result, "FL-ID-001", silo="silo0") == {"pass"}
    assert [(f["rule_id"], f["status"]) for f in result["findings"]] == \
        [(f["rule_id"], f["status"]) for f in base["findings"]]


def test_user_assigned_identities_as_a_list_in_a_file_exit_normally_with_a_note(tmp_path, capsys):
    res = sample_resources("hardened")
    c = compute(res, "silo0-01")
    c["identity"]["userAssignedIdentities"] = list(c["identity"]["userAssignedIdentities"])
    src = tmp_path / "r.json"
    src.write_text(json.dumps(res))
    out = tmp_path / "out.json"
    rc = main(["scan", str(src), "--config", _config_file(tmp_path), "--format", "json", "--output", str(out)])
    # a plain file cannot say that no replication policies or PIM-eligible assignments exist, so the verdict is
    # unknown (exit 1), never an internal error (exit 4)
    assert rc == 1, capsys.readouterr().err
    result = json.loads(out.read_text())
    assert {v["status"] for v in result["verdict"].values()} == {"unknown"}
    assert any("userAssignedIdentities given as a list" in n for n in result["input"]["notes"])


@pytest.mark.parametrize("value, expected", [("true", True), ("False", False), (" TRUE ", True), (True, True),
                                             (None, None), ("Enabled", "Enabled"), (1, 1)])
def test_flags_read_as_booleans_only_when_they_say_true_or_false(value, expected):
    assert as_flag(value) == expected and type(as_flag(value)) is type(expected)


def test_string_flags_in_a_payload_are_read_as_booleans_before_any_rule_sees_them():
    st = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/st",
          "type": "Microsoft.Storage/storageAccounts",
          "properties": {"allowSharedKeyAccess": "false", "supportsHttpsTrafficOnly": "True",
                         "isHnsEnabled": "false", "minimumTlsVersion": "TLS1_2", "description": "true"}}
    fixed, notes = normalise_resource(st)
    assert fixed["properties"]["allowSharedKeyAccess"] is False
    assert fixed["properties"]["supportsHttpsTrafficOnly"] is True
    assert fixed["properties"]["description"] == "true"  # not a flag name: left alone
    assert st["properties"]["allowSharedKeyAccess"] == "false" and len(notes) == 1


def test_string_flags_change_no_verdict_compared_with_booleans():
    res = sample_resources("hardened")
    st = storage(res, "silo0")
    st["properties"] = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in st["properties"].items()}
    inv = parse_document(res, "strings.json")
    inv.collected = None
    base = parse_document(sample_resources("hardened"), "bools.json")
    assert inv.sha256() == base.sha256()


def test_adls_gen2_filesystem_is_the_datastore_container():
    from flaudit.model import Datastore

    ds = Datastore(id="x", name="d", raw={"properties": {"datastoreType": "AzureDataLakeGen2", "filesystem": "fs0",
                                                          "accountName": "st"}})
    assert ds.container_name == "fs0"
    assert Datastore(id="x", name="d", raw={"properties": {"containerName": "c"}}).container_name == "c"


# -- internal errors -----------------------------------------------------------------------------------------------
def _config_file(tmp_path: Path) -> str:
    from flaudit.samples import generate

    p = tmp_path / "fl.yaml"
    p.write_text(json.dumps(generate.fl_config(3)))
    return str(p)


def _sample_file(tmp_path: Path) -> str:
    p = tmp_path / "deployment.json"
    p.write_text(json.dumps(sample_resources("hardened")))
    return str(p)


def test_an_unexpected_exception_in_the_model_exits_4_with_one_line_and_no_report(tmp_path, capsys, monkeypatch):
    import flaudit.topology

    def boom(*a, **k):
        raise AttributeError("'list' object has no attribute 'items'")

    monkeypatch.setattr(flaudit.topology, "build_deployment", boom)
    src, out = _sample_file(tmp_path), tmp_path / "out"
    rc = main(["scan", src, "--format", "json,html", "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == EXIT_INTERNAL == 4
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error in the deployment model" in err and src in err and "AttributeError" in err
    assert not any(out.iterdir()) if out.exists() else True


def test_verbose_adds_the_traceback(tmp_path, capsys, monkeypatch):
    import flaudit.topology

    monkeypatch.setattr(flaudit.topology, "build_deployment", lambda *a, **k: 1 / 0)
    rc = main(["scan", _sample_file(tmp_path), "--verbose", "-q"])
    err = capsys.readouterr().err
    assert rc == 4 and "Traceback" in err and "ZeroDivisionError" in err
    rc = main(["--verbose", "scan", _sample_file(tmp_path), "-q"])
    assert rc == 4 and "Traceback" in capsys.readouterr().err


def test_a_built_in_rule_that_raises_is_an_internal_error_naming_the_rule(tmp_path, capsys, monkeypatch):
    import dataclasses

    import flaudit.engine as engine

    def broken(d):
        raise KeyError("properties")

    pack = [dataclasses.replace(r, func=broken) if r.id == "FL-NET-001" else r for r in engine.builtin_rules()]
    monkeypatch.setattr(engine, "builtin_rules", lambda: pack)
    rc = main(["scan", _sample_file(tmp_path), "--config", _config_file(tmp_path), "-q"])
    err = capsys.readouterr().err
    assert rc == 4 and "internal error in rule FL-NET-001" in err and "KeyError" in err


def test_a_source_that_raises_is_an_internal_error_naming_the_source_and_file(tmp_path, capsys, monkeypatch):
    import flaudit.sources.files as files

    monkeypatch.setattr(files, "parse_document", lambda doc, origin: {}["missing"])
    src = _sample_file(tmp_path)
    rc = main(["scan", src, "-q"])
    err = capsys.readouterr().err
    assert rc == 4 and f"source flaudit.sources.files reading {src}" in err


def test_a_renderer_that_raises_leaves_no_report_behind(tmp_path, capsys, monkeypatch):
    from flaudit.reports import renderer

    monkeypatch.setattr(renderer("html"), "render", lambda result, color=False: 1 / 0)
    out = tmp_path / "reports"
    rc = main(["scan", _sample_file(tmp_path), "--format", "json,html", "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 4 and "the html renderer" in err
    assert list(out.iterdir()) == []  # the JSON report was rendered but not written


def test_input_errors_still_exit_2_not_4(tmp_path, capsys):
    p = tmp_path / "bad.json"
    p.write_text('[{"id": "nope", "type": "Microsoft.Storage/storageAccounts"}]')
    assert main(["scan", str(p), "-q"]) == 2
    assert "not an ARM resource id" in capsys.readouterr().err


def test_inventory_notes_merge_across_files():
    a, b = Inventory(), Inventory()
    a.notes["{n} x"] += 1
    b.notes["{n} x"] += 2
    a.merge(b)
    assert a.note_lines() == ["3 x"]



def test_an_internal_error_in_report_names_the_result_file(tmp_path, capsys, monkeypatch):
    from flaudit.reports import renderer

    src = tmp_path / "deployment.json"
    src.write_text(json.dumps(sample_resources("hardened")))
    saved = tmp_path / "result.json"
    assert main(["scan", str(src), "--format", "json", "--output", str(saved)]) in (0, 1)
    monkeypatch.setattr(renderer("markdown"), "render", lambda result, color=False: {}["boom"])
    rc = main(["report", str(saved), "--format", "markdown"])
    err = capsys.readouterr().err
    assert rc == 4 and f"result {saved}" in err and "the markdown renderer" in err
