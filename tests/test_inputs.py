"""Every input shape flaudit reads, and the one-line errors for input it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flaudit.errors import InputError
from flaudit.inventory import Inventory
from flaudit.samples import generate
from flaudit.sources.files import parse_document, read_file, write_snapshot
from tests import support


def _write(tmp_path: Path, name: str, doc) -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return p


def test_resource_array_list_response_and_graph_output_give_the_same_inventory(tmp_path):
    resources = support.sample_resources("eyes-off")
    as_array = read_file(_write(tmp_path, "a.json", resources))
    as_list = read_file(_write(tmp_path, "b.json", {"value": resources, "nextLink": None}))
    graph_rows = [dict(r, type=r["type"].lower()) for r in resources]
    as_graph = read_file(_write(tmp_path, "c.json", {"count": len(graph_rows), "data": graph_rows,
                                                     "skip_token": None, "total_records": len(graph_rows)}))
    assert len(as_array.resources) == len(resources)
    assert set(as_array.resources) == set(as_list.resources) == set(as_graph.resources)
    assert as_graph.sources[0].kind == "resource-graph"
    # Resource Graph lower-cases types; lookups are case-insensitive, so both see the same storage accounts.
    assert len(as_graph.of_type("Microsoft.Storage/storageAccounts")) == len(
        as_array.of_type("microsoft.storage/storageaccounts")) == 5


def test_single_resource_object_as_az_resource_show_prints_it(tmp_path):
    res = support.storage(support.sample_resources("open"), "silo0")
    inv = read_file(_write(tmp_path, "one.json", res))
    assert list(inv.resources) == [res["id"].lower()]


def test_inventory_digest_ignores_order_and_file_layout(tmp_path):
    resources = support.sample_resources("eyes-on")
    a = read_file(_write(tmp_path, "a.json", resources))
    b = read_file(_write(tmp_path, "b.json", {"value": list(reversed(resources))}))
    assert a.sha256() == b.sha256()


def test_snapshot_round_trip_keeps_resources_unreadable_and_collected(tmp_path):
    doc = generate.snapshot("eyes-off")
    doc["unreadable"] = [{"scope": "/subscriptions/x", "resource_type": "Microsoft.Authorization/roleAssignments",
                          "status": 403, "message": "AuthorizationFailed"}]
    inv = parse_document(doc, "snap.json")
    assert inv.unreadable[0].status == 403
    assert inv.coverage("Microsoft.Authorization/roleAssignments") == "unreadable"
    assert inv.coverage("Microsoft.Network/routeTables") == "collected"
    out = tmp_path / "again.json"
    write_snapshot(inv, out, tool={"name": "flaudit"}, collected_at=doc["collected_at"], scope=doc["scope"])
    again = read_file(out)
    assert again.sha256() == inv.sha256()
    assert again.collected == inv.collected


def test_child_resources_given_separately_are_read(tmp_path):
    vnet_id = f"{generate.rg_id()}/providers/Microsoft.Network/virtualNetworks/vnet-x"
    subnet = {"id": f"{vnet_id}/subnets/default", "name": "default",
              "type": "Microsoft.Network/virtualNetworks/subnets", "properties": {"addressPrefix": "10.9.0.0/24"}}
    link = {"id": f"{generate.rg_id()}/providers/Microsoft.Network/privateDnsZones/privatelink.blob.core.windows.net"
                  "/virtualNetworkLinks/l1", "name": "l1",
            "type": "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
            "properties": {"virtualNetwork": {"id": vnet_id}}}
    inv = read_file(_write(tmp_path, "children.json", [subnet, link]))
    assert inv.get(subnet["id"]) is not None and inv.get(link["id"]) is not None


def test_unknown_resource_types_are_ignored_and_counted(tmp_path):
    doc = [{"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.Web/sites/app", "type": "Microsoft.Web/sites",
            "name": "app"}] * 2
    inv = read_file(_write(tmp_path, "web.json", doc))
    assert not inv.resources
    assert inv.ignored_types["microsoft.web/sites"] == 2


def test_directory_input_reads_every_json_file_below_it(tmp_path):
    from flaudit.sources.files import expand

    resources = support.sample_resources("open")
    (tmp_path / "nested").mkdir()
    _write(tmp_path, "a.json", resources[:5])
    _write(tmp_path / "nested", "b.json", {"value": resources[5:]})
    inv = Inventory()
    for p in expand(tmp_path):
        inv.merge(read_file(p))
    assert len(inv.resources) == len(resources)


def test_secrets_in_input_are_redacted_on_load(tmp_path):
    ds = {"id": "/subscriptions/s/resourceGroups/r/providers/Microsoft.MachineLearningServices/workspaces/w/datastores/d",
          "type": "Microsoft.MachineLearningServices/workspaces/datastores", "name": "d",
          "properties": {"accountName": "st", "credentials": {"credentialsType": "AccountKey",
                                                               "secrets": {"secretsType": "AccountKey", "key": "c2VjcmV0"}},
                         "connection": "DefaultEndpointsProtocol=https;AccountName=st;AccountKey=c2VjcmV0;"}}
    inv = read_file(_write(tmp_path, "ds.json", [ds]))
    text = json.dumps(inv.resources)
    assert "c2VjcmV0" not in text
    assert inv.get(ds["id"])["properties"]["credentials"]["credentialsType"] == "AccountKey"


@pytest.mark.parametrize("content, message", [
    ("{not json", "not JSON"),
    ('"just a string"', "not ARM resources"),
    ('{"foo": 1}', "not ARM resources"),
    ('[{"name": "x"}]', "item 0 is not an ARM resource"),
    ('[{"id": "storage1", "type": "Microsoft.Storage/storageAccounts"}]', "not an ARM resource id"),
    ('{"kind": "flaudit.snapshot", "snapshot_version": 99, "resources": []}', "snapshot_version 99"),
    ('{"$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#", '
     '"resources": []}', "use --template"),
])
def test_bad_input_is_one_line_error_naming_the_file(tmp_path, content, message):
    p = _write(tmp_path, "bad.json", content)
    with pytest.raises(InputError) as exc:
        read_file(p)
    text = str(exc.value)
    assert str(p) in text and message in text and "\n" not in text


def test_binary_file_is_rejected_cleanly(tmp_path):
    p = tmp_path / "bin.json"
    p.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(InputError, match="UTF-8|not JSON"):
        read_file(p)


def test_coverage_index_follows_collected_as_it_grows_or_is_replaced():
    from flaudit.inventory import Inventory

    inv = Inventory()
    inv.collected = {("/subscriptions/s", "microsoft.storage/storageaccounts")}
    assert inv.coverage("Microsoft.Storage/storageAccounts") == "collected"
    assert inv.coverage("microsoft.storage/storageaccounts/objectreplicationpolicies") == "absent"
    inv.collected.add(("/subscriptions/s/x", "microsoft.storage/storageaccounts/objectreplicationpolicies"))
    assert inv.coverage("microsoft.storage/storageaccounts/objectreplicationpolicies") == "collected"
    inv.collected = {("/subscriptions/s", "microsoft.network/routetables")}
    assert inv.coverage("microsoft.storage/storageaccounts") == "absent"
