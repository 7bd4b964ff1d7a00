"""FL-DM-010: a silo identity's write access to public, shared or outsider-readable storage.

Storage accounts are in the shape of specification/storage/resource-manager/Microsoft.Storage/stable/2025-01-01/
examples/StorageAccountList.json (flaudit.samples.generate); role assignments in the shape of
specification/authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples/
RoleAssignments_ListForScope.json (tests.support.role_assignment).
"""

from __future__ import annotations

from flaudit.samples import generate
from tests.support import audit, config, findings, principal, role_assignment, sample_resources, statuses, storage

BLOB_CONTRIBUTOR = generate.ROLE["blob-contributor"]
BLOB_READER = generate.ROLE["blob-reader"]
ANALYST = "5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"


def _ws_storage(res: list[dict]) -> dict:
    return storage(res, "workspace")


def _external(res: list[dict], name: str = "stpartnerexport", *, public: bool = False) -> dict:
    b = generate.Builder("hardened")
    st = b.storage(name, private=not public, hardened=True, tags={})
    res.append(st)
    return st


def _paths(f: dict) -> list[dict]:
    return [e for e in f["evidence"] if e["kind"] == "path"]


def test_hardened_sample_passes_and_stays_ready():
    result = audit(sample_resources("hardened"))
    assert statuses(result, "FL-DM-010") == {"pass"}
    assert result["verdict"]["production"]["status"] == "ready"


def test_public_orchestrator_storage_is_a_sink_for_every_silo_and_blocks_production_only():
    result = audit(sample_resources("eyes-on"))
    for silo in ("silo0", "silo1", "silo2"):
        f = findings(result, "FL-DM-010", silo=silo, status="fail")
        assert f and all(p["relation"] == "orchestrator" and p["path_kind"] == "data" for x in f for p in _paths(x))
    assert "FL-DM-010" in {r["id"] for r in result["rules"]}
    proto = audit(sample_resources("eyes-on"), profile="prototype")
    assert proto["verdict"]["prototype"]["status"] == "ready"


def test_two_silos_writing_to_the_workspace_default_storage_share_it():
    res = sample_resources("hardened")
    ws = _ws_storage(res)
    for silo in ("silo0", "silo1"):
        res.append(role_assignment(ws["id"], BLOB_CONTRIBUTOR, principal(res, f"uai-{silo}")))
    result = audit(res)
    f = findings(result, "FL-DM-010", silo="silo0", status="fail")
    assert [p["outsider_name"] for x in f for p in _paths(x)] == ["silo silo1"]
    assert _paths(f[0])[0]["relation"] == "other-silo"
    assert statuses(result, "FL-DM-010", silo="silo2") == {"pass"}
    assert result["verdict"]["production"]["status"] == "not_ready"


def test_a_container_of_its_own_per_silo_confines_the_shared_account():
    res = sample_resources("hardened")
    ws = _ws_storage(res)
    for silo in ("silo0", "silo1"):
        res.append(role_assignment(f"{ws['id']}/blobServices/default/containers/{silo}", BLOB_CONTRIBUTOR,
                                   principal(res, f"uai-{silo}")))
    assert statuses(audit(res), "FL-DM-010") == {"pass"}


def test_a_reader_of_the_whole_account_breaks_a_container_confinement():
    res = sample_resources("hardened")
    ws = _ws_storage(res)
    res.append(role_assignment(f"{ws['id']}/blobServices/default/containers/silo0", BLOB_CONTRIBUTOR,
                               principal(res, "uai-silo0")))
    res.append(role_assignment(ws["id"], BLOB_READER, principal(res, "uai-silo1")))
    assert "fail" in statuses(audit(res), "FL-DM-010", silo="silo0")


def test_write_to_a_public_account_outside_the_deployment_is_an_external_path():
    res = sample_resources("hardened")
    st = _external(res, public=True)
    res.append(role_assignment(st["id"], BLOB_CONTRIBUTOR, principal(res, "uai-silo2")))
    f = findings(audit(res), "FL-DM-010", silo="silo2", status="fail")
    assert {p["relation"] for x in f for p in _paths(x)} == {"external"}


def test_a_private_account_an_unlisted_principal_reads_is_a_sink_unless_declared_administrator():
    res = sample_resources("hardened")
    st = _external(res)
    res.append(role_assignment(st["id"], BLOB_CONTRIBUTOR, principal(res, "uai-silo1")))
    res.append(role_assignment(st["id"], BLOB_READER, ANALYST, principal_type="User"))
    result = audit(res)
    f = findings(result, "FL-DM-010", silo="silo1", status="fail")
    assert [p["relation"] for x in f for p in _paths(x)] == ["unlisted"]
    cfg = config(federated_learning={**generate.fl_config(3)["federated_learning"],
                                     "administrators": [{"object_id": ANALYST, "kind": "user",
                                                         "reason": "data protection officer"}]})
    result = audit(res, cfg)
    assert statuses(result, "FL-DM-010", silo="silo1") == {"pass"}
    admin = [p for x in findings(result, "FL-DM-010", silo="silo1") for p in _paths(x)]
    assert [(p["relation"], p["path_kind"]) for p in admin] == [("administrator", "administrative")]
    assert result["verdict"]["production"]["status"] == "ready"


def test_orchestrator_reading_its_storage_is_the_protocol_not_a_sink():
    res = sample_resources("hardened")
    # the orchestrator identity already reads and writes its storage in the hardened sample
    orch_pid = principal(res, "uai-orchestrator")
    assert any(r["properties"]["principalId"] == orch_pid for r in res if r["type"].endswith("roleAssignments"))
    assert statuses(audit(res), "FL-DM-010") == {"pass"}


def test_missing_allow_blob_public_access_is_an_anonymous_reader():
    res = sample_resources("hardened")
    st = _external(res)
    del st["properties"]["allowBlobPublicAccess"]
    res.append(role_assignment(st["id"], BLOB_CONTRIBUTOR, principal(res, "uai-silo0")))
    f = findings(audit(res), "FL-DM-010", silo="silo0", status="fail")
    assert [p["outsider_name"] for x in f for p in _paths(x)] == ["anonymous readers"]


def test_read_only_access_to_an_outside_account_is_not_a_sink():
    res = sample_resources("hardened")
    st = _external(res, public=True)
    res.append(role_assignment(st["id"], BLOB_READER, principal(res, "uai-silo0")))
    assert statuses(audit(res), "FL-DM-010", silo="silo0") == {"pass"}


def test_an_unreadable_role_on_an_outside_account_is_unknown():
    res = sample_resources("hardened")
    st = _external(res, public=True)
    res.append(role_assignment(st["id"], "9a3e1f7c-0b2d-4c5e-8f6a-7b8c9d0e1f2a", principal(res, "uai-silo0")))
    result = audit(res)
    assert statuses(result, "FL-DM-010", silo="silo0") == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def test_perimeter_secured_orchestrator_storage_is_unknown():
    res = sample_resources("hardened")
    storage(res, "orchestrator")["properties"]["publicNetworkAccess"] = "SecuredByPerimeter"
    assert "unknown" in statuses(audit(res), "FL-DM-010")


def test_an_auxiliary_identity_that_writes_to_a_public_account_is_still_a_sink():
    res = sample_resources("hardened")
    b = generate.Builder("hardened")
    aux = b.identity("uai-tools")
    res.append(aux)
    for c in res:
        if c["type"] == "Microsoft.MachineLearningServices/workspaces/computes":
            c["identity"]["userAssignedIdentities"][aux["id"]] = {"principalId": aux["properties"]["principalId"]}
    st = _external(res, public=True)
    res.append(role_assignment(st["id"], BLOB_CONTRIBUTOR, aux["properties"]["principalId"]))
    result = audit(res)
    assert "fail" in statuses(result, "FL-DM-010", silo="silo0")
    assert "pass" in statuses(result, "FL-ID-002")  # not a shared *silo* identity: it reaches no silo data


def test_one_identity_run_by_two_silos_that_writes_to_a_private_account_is_shared_for_both():
    res = sample_resources("hardened")
    b = generate.Builder("hardened")
    shared = b.identity("uai-tools")
    res.append(shared)
    for c in res:
        if c["type"] == "Microsoft.MachineLearningServices/workspaces/computes" and c["name"] in ("silo0-01",
                                                                                                "silo1-01"):
            c["identity"]["userAssignedIdentities"][shared["id"]] = {"principalId": shared["properties"]["principalId"]}
    res.append(role_assignment(_ws_storage(res)["id"], BLOB_CONTRIBUTOR, shared["properties"]["principalId"]))
    result = audit(res)
    for silo, other in (("silo0", "silo silo1"), ("silo1", "silo silo0")):
        f = findings(result, "FL-DM-010", silo=silo, status="fail")
        assert [p["outsider_name"] for x in f for p in _paths(x)] == [other]


def test_unreadable_storage_accounts_make_fl_dm_010_unknown_not_pass():
    from flaudit.inventory import Unreadable
    from tests.support import inventory

    inv = inventory(sample_resources("hardened"))
    inv.unreadable.append(Unreadable(f"/subscriptions/{generate.SUB}/resourceGroups/rg-other",
                                     "Microsoft.Storage/storageAccounts", 403, "AuthorizationFailed"))
    result = audit(inv)
    assert statuses(result, "FL-DM-010") == {"unknown"}
    assert result["verdict"]["production"]["status"] != "ready"


def _path_condition(prefix: str) -> str:
    blob = "Microsoft.Storage/storageAccounts/blobServices/containers/blobs"
    return ("((!(ActionMatches{'" + blob + "/read'}) AND !(ActionMatches{'" + blob + "/write'}) "
            "AND !(ActionMatches{'" + blob + "/add/action'}) AND !(ActionMatches{'" + blob + "/delete'})) "
            f"OR (@Resource[{blob}:path] StringStartsWith '{prefix}'))")


def test_abac_path_prefixes_separate_silos_unless_one_prefix_starts_the_other():
    res = sample_resources("hardened")
    ws = _ws_storage(res)
    res.append(role_assignment(ws["id"], BLOB_CONTRIBUTOR, principal(res, "uai-silo0"),
                               condition=_path_condition("silo0/")))
    res.append(role_assignment(ws["id"], BLOB_CONTRIBUTOR, principal(res, "uai-silo1"),
                               condition=_path_condition("silo1/")))
    assert statuses(audit(res), "FL-DM-010", silo="silo0") == {"pass"}
    res.append(role_assignment(ws["id"], BLOB_CONTRIBUTOR, principal(res, "uai-silo2"),
                               condition=_path_condition("silo")))  # 'silo' starts 'silo0/' and 'silo1/'
    result = audit(res)
    assert "fail" in statuses(result, "FL-DM-010", silo="silo0")
    assert "fail" in statuses(result, "FL-DM-010", silo="silo2")
