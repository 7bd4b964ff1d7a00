"""Inputs missing whole resource types, unreadable scopes and contradictory files must give unknown (or an
input error), never a pass: a plain file without role assignments, NSGs, VNets, private endpoints or DNS zones
that other resources reference; role assignments unreadable at the resource group, subscription or a
management group; the same resource twice with different properties, across files or within one; and
Resource Graph's lower-cased types and ids in other casing, which must change nothing."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from flaudit.cli import main
from flaudit.inventory import Unreadable
from flaudit.samples import generate
from flaudit.sources.files import parse_document
from tests.adversarial.common import not_passing, nsg
from tests.support import audit, inventory, sample_resources, statuses, storage

CONFIG = str(Path(generate.__file__).with_name("config.yaml"))
RA = "Microsoft.Authorization/roleAssignments"


def _without(*types: str) -> list[dict]:
    return [r for r in sample_resources() if not any(r["type"].startswith(t) for t in types)]


def test_plain_file_without_role_assignments():
    result = audit(_without(RA), collected=False)
    for rule in ("FL-ID-003", "FL-ID-004", "FL-ID-005", "FL-ID-007", "FL-ID-008", "FL-WS-001"):
        for silo in ("silo0", "silo1", "silo2"):
            assert not_passing(result, rule, silo) == {"unknown"}


@pytest.mark.parametrize("scope", [generate.rg_id(), generate.rg_id().upper(), f"/subscriptions/{generate.SUB}",
                                   "/providers/Microsoft.Management/managementGroups/mg-fl", "/"])
def test_role_assignments_unreadable_at_or_above_the_storage(scope):
    inv = inventory(sample_resources())
    inv.unreadable.append(Unreadable(scope, RA, 403, "AuthorizationFailed"))
    result = audit(inv)
    for rule in ("FL-ID-004", "FL-WS-001"):
        assert not_passing(result, rule, "silo1") == {"unknown"}


def test_role_assignments_unreadable_in_another_resource_group_change_nothing():
    """Control for the test above: an unreadable scope that cannot contain the storage leaves it evaluable."""
    inv = inventory(sample_resources())
    inv.unreadable.append(Unreadable(f"/subscriptions/{generate.SUB}/resourceGroups/rg-other", RA, 403, "x"))
    assert statuses(audit(inv), "FL-ID-004", silo="silo1") == {"pass"}


def test_subnet_references_an_nsg_missing_from_a_plain_file():
    res = sample_resources()
    res.remove(nsg(res, "nsg-silo1"))
    result = audit(res, collected=False)
    for rule in ("FL-NET-004", "FL-NET-005"):
        assert not_passing(result, rule, "silo1") == {"unknown"}


def test_plain_file_without_any_nsg():
    result = audit(_without("Microsoft.Network/networkSecurityGroups"), collected=False)
    for rule in ("FL-NET-004", "FL-NET-005"):
        not_passing(result, rule, "silo1")


def test_plain_file_without_vnets():
    result = audit(_without("Microsoft.Network/virtualNetworks"), collected=False)
    for rule in ("FL-NET-003", "FL-NET-004", "FL-NET-005", "FL-NET-006"):
        assert not_passing(result, rule, "silo1") == {"unknown"}


def test_storage_lists_private_endpoint_connections_but_no_endpoint_is_in_the_file():
    result = audit(_without("Microsoft.Network/privateEndpoints"), collected=False)
    for rule in ("FL-PE-002", "FL-PE-003", "FL-PE-007"):
        assert not_passing(result, rule, "silo1") == {"unknown"}


@pytest.mark.parametrize("types", [("Microsoft.Network/privateDnsZones",),
                                   ("Microsoft.Network/privateDnsZones/virtualNetworkLinks",)])
def test_plain_file_without_private_dns(types):
    assert not_passing(audit(_without(*types), collected=False), "FL-PE-004", "silo1") == {"unknown"}


def test_storage_accounts_unreadable():
    inv = inventory(_without("Microsoft.Storage/storageAccounts"))
    inv.unreadable.append(Unreadable(generate.rg_id(), "Microsoft.Storage/storageAccounts", 403, "x"))
    result = audit(inv)
    for rule in ("FL-PE-001", "FL-STG-004", "FL-WS-001"):
        not_passing(result, rule, "silo1")


def _scan(tmp_path: Path, *docs: object) -> int:
    paths = []
    for i, doc in enumerate(docs):
        p = tmp_path / f"in{i}.json"
        p.write_text(json.dumps(doc))
        paths += ["-i", str(p)]
    return main(["scan", *paths, "-c", CONFIG, "--quiet"])


def test_same_resource_in_two_files_with_different_properties_is_an_input_error(tmp_path, capsys):
    """An old export where silo1's storage was private and a new one where it is public: keeping whichever file
    came last could keep the passing one, so flaudit refuses (exit 2) rather than choose."""
    new = sample_resources()
    storage(new, "silo1")["properties"]["publicNetworkAccess"] = "Enabled"
    assert _scan(tmp_path, new, sample_resources()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stsilo1" in err and "different properties" in err


def test_same_resource_twice_in_one_file_with_different_properties_is_an_input_error(tmp_path, capsys):
    res = sample_resources()
    public = copy.deepcopy(storage(res, "silo1"))
    public["properties"]["publicNetworkAccess"] = "Enabled"
    assert _scan(tmp_path, [public, *res]) == 2
    assert "different properties" in capsys.readouterr().err


def test_identical_duplicates_and_tool_metadata_differences_are_accepted(tmp_path):
    """Control: the same state given twice (one copy with Resource Graph's extra top-level fields) is fine."""
    again = sample_resources()
    for r in again:
        r["tenantId"] = "72f988bf-86f1-41af-91ab-2d7cd011db47"
        r.pop("etag", None)
    (tmp_path / "single").mkdir()
    single = _scan(tmp_path / "single", sample_resources())  # a plain array: not an input error
    assert single != 2
    assert _scan(tmp_path, sample_resources(), {"data": again}) == single


def test_resource_graph_lower_case_types_keep_every_verdict():
    for posture, production in (("hardened", "ready"), ("open", "not_ready"), ("eyes-off", "not_ready")):
        res = sample_resources(posture)
        for r in res:
            r["type"] = r["type"].lower()
        inv = parse_document({"data": res}, "graph.json")
        inv.collected = inventory([]).collected
        assert audit(inv)["verdict"]["production"]["status"] == production


def test_ids_in_other_casing_than_the_references_to_them():
    res = sample_resources()
    for r in res:
        if r["type"] in ("Microsoft.Network/networkSecurityGroups", "Microsoft.Network/privateEndpoints"):
            r["id"] = r["id"].upper()
    result = audit(res)
    assert statuses(result, "FL-NET-004", silo="silo1") == {"pass"}
    assert statuses(result, "FL-PE-003", silo="silo1") == {"pass"}
    nsg(res, "nsg-silo1")["properties"]["securityRules"][0]["properties"]["sourceAddressPrefix"] = "Internet"
    not_passing(audit(res), "FL-NET-004", "silo1")
