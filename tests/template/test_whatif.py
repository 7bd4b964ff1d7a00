"""--what-if: ARM's own prediction of the deployment applied on top of a live snapshot given with --input."""

from __future__ import annotations

import json

import pytest

from flaudit.arm import norm
from flaudit.cli import main
from flaudit.errors import InputError
from flaudit.inventory import Inventory
from flaudit.sources.whatif import apply_what_if
from tests import support
from tests.template.helpers import write_json

RG = "/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/rg-fl"
ST0 = f"{RG}/providers/Microsoft.Storage/storageAccounts/stsilo0"
ST1 = f"{RG}/providers/Microsoft.Storage/storageAccounts/stsilo1"
RA_OLD = f"{ST0}/providers/Microsoft.Authorization/roleAssignments/aaaaaaaa-0000-0000-0000-000000000001"
RA_NEW = f"{ST1}/providers/Microsoft.Authorization/roleAssignments/bbbbbbbb-0000-0000-0000-000000000002"


def storage(rid: str, public: str) -> dict:
    return {"id": rid, "name": rid.rsplit("/", 1)[1], "type": "Microsoft.Storage/storageAccounts",
            "location": "westeurope", "kind": "StorageV2", "properties": {"publicNetworkAccess": public}}


def assignment(rid: str, scope: str, principal: str) -> dict:
    return {"id": rid, "name": rid.rsplit("/", 1)[1], "type": "Microsoft.Authorization/roleAssignments",
            "properties": {"scope": scope, "principalId": principal, "principalType": "ServicePrincipal",
                           "roleDefinitionId": "/subscriptions/11111111-1111-1111-1111-111111111111/providers/"
                           "Microsoft.Authorization/roleDefinitions/ba92f5b4-2d11-453d-a403-e96b0029c9fe"}}


def snapshot() -> Inventory:
    inv = Inventory()
    for res in (storage(ST0, "Disabled"), storage(ST1, "Disabled"), assignment(RA_OLD, ST0, "p0")):
        inv.add(res)
    return inv


def what_if_doc() -> dict:
    return {
        "status": "Succeeded",
        "error": None,
        "changes": [
            {"changeType": "Modify", "resourceId": ST1, "before": storage(ST1, "Disabled"),
             "after": storage(ST1, "Enabled"), "delta": [{"path": "properties.publicNetworkAccess",
                                                           "propertyChangeType": "Modify",
                                                           "before": "Disabled", "after": "Enabled"}]},
            {"changeType": "Delete", "resourceId": RA_OLD, "before": assignment(RA_OLD, ST0, "p0"), "after": None},
            {"changeType": "Create", "resourceId": RA_NEW, "before": None,
             "after": assignment(RA_NEW, ST1, "p0")},
            {"changeType": "NoChange", "resourceId": ST0, "before": storage(ST0, "Disabled"),
             "after": storage(ST0, "Disabled")},
            {"changeType": "Ignore", "resourceId": f"{RG}/providers/Microsoft.KeyVault/vaults/kv", "before": None,
             "after": None},
            {"changeType": "Unsupported", "resourceId": f"{RG}/providers/Microsoft.Network/virtualNetworks/v",
             "unsupportedReason": "Changes cannot be predicted because the resource name contains reference()"},
        ],
    }


def test_create_modify_and_delete_amend_the_snapshot(tmp_path):
    inv = snapshot()
    path = write_json(tmp_path / "whatif.json", what_if_doc())
    apply_what_if(inv, path)
    assert inv.get(RA_OLD) is None  # Delete
    assert inv.get(RA_NEW)["properties"]["scope"] == ST1  # Create
    assert inv.get(ST1)["properties"]["publicNetworkAccess"] == "Enabled"  # Modify uses 'after'
    assert inv.get(ST0)["properties"]["publicNetworkAccess"] == "Disabled"  # NoChange kept
    assert inv.get(f"{RG}/providers/Microsoft.KeyVault/vaults/kv") is None  # Ignore without payload
    assert inv.unsupported == [{"resource_id": f"{RG}/providers/Microsoft.Network/virtualNetworks/v",
                                "message": f"{path} changes[5]: Changes cannot be predicted because the "
                                           "resource name contains reference()"}]
    source = inv.sources[-1]
    assert source.kind == "what-if" and source.resources == 3
    assert source.detail["changes"] == {"create": 1, "modify": 1, "nochange": 1, "ignore": 1, "delete": 1,
                                        "unsupported": 1}


def test_rest_response_shape_is_accepted(tmp_path):
    doc = what_if_doc()
    rest = {"status": "Succeeded", "properties": {"changes": doc["changes"]}}
    inv = snapshot()
    apply_what_if(inv, write_json(tmp_path / "w.json", rest))
    assert inv.get(RA_NEW) is not None


@pytest.mark.parametrize("doc, message", [
    ([], "not a what-if result"),
    ({"status": "Succeeded"}, "no 'changes' array"),
    ({"changes": ["x"]}, r"changes\[0\] is not an object"),
    ({"changes": [{"changeType": "Explode", "resourceId": ST0}]}, "has changeType 'Explode'"),
    ({"changes": [{"changeType": "Create", "after": {}}]}, "has no ARM resourceId"),
    ({"changes": [{"changeType": "Create", "resourceId": ST0, "after": {"name": "x"}}]}, "has no 'type'"),
    ({"status": "Failed", "error": {"code": "InvalidTemplate", "message": "boom"}, "changes": []},
     "the what-if operation failed: boom"),
])
def test_bad_shapes_are_input_errors_naming_the_file(tmp_path, doc, message):
    path = write_json(tmp_path / "odd-whatif.json", doc)
    with pytest.raises(InputError, match=message) as err:
        apply_what_if(Inventory(), path)
    assert "odd-whatif.json" in str(err.value)


def test_not_json_is_an_input_error(tmp_path):
    path = tmp_path / "w.json"
    path.write_text("Resource and property changes are indicated with these symbols:")
    with pytest.raises(InputError, match="w.json: not JSON"):
        apply_what_if(Inventory(), path)


def test_cli_applies_what_if_after_the_snapshot_so_a_new_cross_silo_grant_is_audited(tmp_path):
    resources = support.sample_resources("hardened")
    snap = tmp_path / "snapshot.json"
    # a snapshot (with its collected list), so the base audit is ready and only the what-if change can fail it
    snap.write_text(json.dumps({**support.generate.snapshot("hardened"), "resources": resources}))
    silo1 = support.storage(resources, "silo1")
    silo0_principal = support.principal(resources, next(
        r["name"] for r in support.by_type(resources, "Microsoft.ManagedIdentity/userAssignedIdentities")
        if "silo0" in r["name"]))
    grant = support.role_assignment(silo1["id"], "ba92f5b4-2d11-453d-a403-e96b0029c9fe", silo0_principal)
    whatif = write_json(tmp_path / "whatif.json", {"status": "Succeeded", "changes": [
        {"changeType": "Create", "resourceId": grant["id"], "after": grant}]})
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(support.generate.fl_config()))
    out = tmp_path / "r.json"
    base = tmp_path / "base.json"
    assert main(["scan", "-i", str(snap), "-c", str(cfg), "--format", "json", "-o", str(base), "-q"]) == 0
    code = main(["scan", "-i", str(snap), "--what-if", str(whatif), "-c", str(cfg), "--format", "json",
                 "-o", str(out), "-q"])
    result = json.loads(out.read_text())
    assert code == 1
    kinds = [s["kind"] for s in result["input"]["sources"]]
    assert kinds[-1] == "what-if"
    crossing = [e for e in result["access"] if e["crosses_boundary"] and norm(e.get("storage_id")) == norm(silo1["id"])]
    assert crossing and crossing[0]["relation"] == "other-silo"
