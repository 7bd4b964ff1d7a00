"""Data movement (FL-DM-001..004): object replication out of a silo, inventory reports readable by outsiders,
vaulted backup, allowedCopyScope; each as a path in access[] and in the finding's evidence; unknown when the
policy types were not read. Fixture shapes: tests/movement_fixtures.py (REST spec examples named there)."""

from __future__ import annotations

from typing import Any

import flaudit.rules.data_movement as pack

from flaudit.inventory import Unreadable
from flaudit.samples import generate
from tests import movement_fixtures as mf
from tests import support

RULES = support.rules_of(pack)
ROLE = generate.ROLE


def run(resources: list[dict[str, Any]], unreadable: list[Unreadable] = (), collected: bool = True
        ) -> dict[str, Any]:
    return support.run_area(resources, RULES, unreadable=unreadable, collected=collected)


def one(result: dict[str, Any], rule_id: str, silo: str, status: str | None = None) -> dict[str, Any]:
    return support.single(support.findings(result, rule_id, silo=silo, status=status))


def path_of(finding: dict[str, Any]) -> dict[str, Any]:
    return support.single([e for e in finding["evidence"] if e["kind"] == "path"])


# -- FL-DM-001 object replication ---------------------------------------------------------------------------
def test_replication_from_a_silo_to_another_silo_fails_critical_with_the_path():
    res = support.sample_resources("hardened")
    s1, s2 = support.storage(res, "silo1"), support.storage(res, "silo2")
    res.append(mf.object_replication(s1["id"], s1["name"], s2["name"]))
    f = one(run(res), "FL-DM-001", "silo1")
    assert f["status"] == "fail" and f["severity"] == "critical"
    p = path_of(f)
    assert (p["path_kind"], p["relation"], p["outsider_name"]) == ("copy", "other-silo", s2["name"])
    assert "allowCrossTenantReplication is false" in p["chain"][-1]["text"]
    assert one(run(res), "FL-DM-001", "silo2")["status"] == "pass"  # replication INTO silo2 copies nothing out


def test_replication_named_by_resource_ids_to_an_account_outside_the_input_is_external():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    outside = "/subscriptions/00000000-0000-0000-0000-000000000009/resourceGroups/x/providers/Microsoft.Storage/storageAccounts/exfil"
    res.append(mf.object_replication(s0["id"], s0["id"], outside))
    p = path_of(one(run(res), "FL-DM-001", "silo0", "fail"))
    assert (p["relation"], p["outsider_id"]) == ("external", outside)


def test_destination_side_policy_alone_is_a_path():
    # The policy read from the destination account (e.g. the orchestrator's) names the silo as source.
    res = support.sample_resources("hardened")
    s0, orch = support.storage(res, "silo0"), support.storage(res, "orchestrator")
    res.append(mf.object_replication(orch["id"], s0["name"], orch["name"]))
    p = path_of(one(run(res), "FL-DM-001", "silo0", "fail"))
    assert p["relation"] == "orchestrator" and "destination account" in p["chain"][0]["text"]


def test_replication_to_the_workspace_storage_names_the_workspace():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]
    ws_st = next(r for r in support.by_type(res, "Microsoft.Storage/storageAccounts")
                 if r["id"].lower() == ws["properties"]["storageAccount"].lower())
    res.append(mf.object_replication(s0["id"], s0["name"], ws_st["name"].upper()))  # names compare case-blind
    assert path_of(one(run(res), "FL-DM-001", "silo0", "fail"))["relation"] == "workspace"


def test_policy_on_the_silo_account_without_a_source_counts_as_sourced_there():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    pol = mf.object_replication(s0["id"], s0["name"], "elsewhere1")
    del pol["properties"]["sourceAccount"]
    res.append(pol)
    assert path_of(one(run(res), "FL-DM-001", "silo0", "fail"))["relation"] == "external"


def test_replication_policies_not_read_make_the_silo_unknown():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    u = Unreadable(s0["id"], "Microsoft.Storage/storageAccounts/objectReplicationPolicies", 403, "AuthorizationFailed")
    result = run(res, unreadable=[u])
    assert one(result, "FL-DM-001", "silo0")["status"] == "unknown"
    assert one(result, "FL-DM-001", "silo1")["status"] == "pass"  # the failed list covered silo0's account only
    assert one(run(res, collected=False), "FL-DM-001", "silo1")["status"] == "unknown"


def test_replication_path_is_an_access_edge_in_the_result():
    res = support.sample_resources("hardened")
    s1, s2 = support.storage(res, "silo1"), support.storage(res, "silo2")
    res.append(mf.object_replication(s1["id"], s1["name"], s2["name"]))
    result = support.audit(res)
    edges = [e for e in result["access"] if e.get("path_kind") == "copy"]
    assert [(e["silo"], e["relation"], e["rule_id"]) for e in edges] == [("silo1", "other-silo", "FL-DM-001")]
    assert result["verdict"]["production"]["status"] == "not_ready"


# -- FL-DM-002 blob inventory -------------------------------------------------------------------------------
def test_inventory_report_container_readable_by_the_orchestrator_fails():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    res.append(mf.inventory_policy(s0["id"], "inventory"))
    orch = support.principal(res, "uai-orchestrator")
    res.append(support.role_assignment(f"{s0['id']}/blobServices/default/containers/inventory",
                                       ROLE["blob-reader"], orch))
    f = one(run(res), "FL-DM-002", "silo0", "fail")
    p = path_of(f)
    assert (p["relation"], p["path_kind"]) == ("orchestrator", "copy")
    assert "Metadata" in p["chain"][0]["text"]


def test_outsider_on_another_container_does_not_read_the_inventory_report():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    res.append(mf.inventory_policy(s0["id"], "inventory"))
    orch = support.principal(res, "uai-orchestrator")
    res.append(support.role_assignment(f"{s0['id']}/blobServices/default/containers/public",
                                       ROLE["blob-reader"], orch))
    assert one(run(res), "FL-DM-002", "silo0")["status"] == "pass"


def test_disabled_inventory_rule_writes_no_report():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    res.append(mf.inventory_policy(s0["id"], "inventory", rule_enabled=False))
    res.append(support.role_assignment(s0["id"], ROLE["blob-reader"], support.principal(res, "uai-orchestrator")))
    f = one(run(res), "FL-DM-002", "silo0")
    assert f["status"] == "pass" and "no enabled" in f["message"]


def test_inventory_policies_absent_from_a_plain_file_are_unknown():
    res = support.sample_resources("hardened")
    assert one(run(res, collected=False), "FL-DM-002", "silo0")["status"] == "unknown"


# -- FL-DM-003 backup ---------------------------------------------------------------------------------------
def _backup(res: list[dict[str, Any]], silo: str, store: str | None = "VaultStore", uai: str | None = None):
    vault = mf.backup_vault()
    st = support.storage(res, silo)
    pol = mf.backup_policy(vault["id"], store or "VaultStore")
    res.append(vault)
    if store is not None:
        res.append(pol)
    res.append(mf.backup_instance(vault["id"], st, pol["id"], uai=uai))
    return vault, st


def test_vaulted_backup_of_a_silo_account_fails_with_the_vault_identity_roles():
    res = support.sample_resources("hardened")
    vault, st = _backup(res, "silo0")
    res.append(support.role_assignment(st["id"], "e5e2a7ff-d759-4cd2-bb51-3152d37e2eb1",
                                       vault["identity"]["principalId"]))
    f = one(run(res), "FL-DM-003", "silo0", "fail")
    p = path_of(f)
    assert (p["relation"], p["outsider_id"].lower()) == ("unlisted", vault["id"].lower())
    assert vault["identity"]["principalId"] in p["chain"][-1]["text"]


def test_operational_backup_keeps_data_in_the_account():
    res = support.sample_resources("hardened")
    _backup(res, "silo0", store="OperationalStore")
    result = support.audit(res)
    assert support.statuses(result, "FL-DM-003", silo="silo0") == {"pass"}
    assert not [e for e in result["access"] if e.get("rule_id") == "FL-DM-003"]


def test_backup_whose_policy_is_not_in_the_input_is_unknown_and_still_a_path():
    res = support.sample_resources("hardened")
    _backup(res, "silo1", store=None)
    result = support.audit(res)
    assert support.statuses(result, "FL-DM-003", silo="silo1") == {"unknown"}
    assert [e["silo"] for e in result["access"] if e.get("rule_id") == "FL-DM-003"] == ["silo1"]


def test_backup_reading_as_the_silo_identity_says_so():
    res = support.sample_resources("hardened")
    uai = support.identity(res, "uai-silo2")
    _backup(res, "silo2", uai=uai["id"])
    p = path_of(one(run(res), "FL-DM-003", "silo2", "fail"))
    assert "the silo's own identity" in p["chain"][-1]["text"]


def test_backup_instances_not_read_are_unknown():
    res = support.sample_resources("hardened")
    res.append(mf.backup_vault())
    u = Unreadable(mf.backup_vault()["id"], "Microsoft.DataProtection/backupVaults/backupInstances", 403, "denied")
    assert one(run(res, unreadable=[u]), "FL-DM-003", "silo0")["status"] == "unknown"


# -- FL-DM-004 allowedCopyScope ----------------------------------------------------------------------------
def test_copy_scope_missing_is_reported_but_blocks_nothing():
    res = support.sample_resources("hardened")
    del support.storage(res, "silo0")["properties"]["allowedCopyScope"]
    result = support.audit(res)
    f = support.single(support.findings(result, "FL-DM-004", silo="silo0"))
    assert f["status"] == "fail" and f["blocks"] == []
    assert result["verdict"]["production"]["status"] == "ready"
    assert one(run(support.sample_resources("hardened")), "FL-DM-004", "silo0")["status"] == "pass"


def test_a_policy_read_from_both_accounts_is_one_finding_citing_the_source_side():
    res = support.sample_resources("hardened")
    s0, orch = support.storage(res, "silo0"), support.storage(res, "orchestrator")
    res.append(mf.object_replication(orch["id"], s0["name"], orch["name"]))
    res.append(mf.object_replication(s0["id"], s0["name"], orch["name"]))
    found = support.findings(support.audit(res), "FL-DM-001", silo="silo0")
    assert len(found) == 1 and "source account" in path_of(found[0])["chain"][0]["text"]


def test_a_grant_on_the_blob_service_reads_every_container_including_the_inventory_report():
    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    res.append(mf.inventory_policy(s0["id"], "inventory"))
    res.append(support.role_assignment(f"{s0['id']}/blobServices/default", ROLE["blob-reader"],
                                       support.principal(res, "uai-silo1")))
    assert path_of(one(run(res), "FL-DM-002", "silo0", "fail"))["relation"] == "other-silo"


# -- FL-DM-005 Azure Data Share ----------------------------------------------------------------------------
def test_data_share_data_set_on_a_silo_account_fails_as_a_copy_to_outside():
    res = support.sample_resources("hardened")
    acct = mf.share_account()
    sh = mf.share(acct["id"])
    res += [acct, sh, mf.dataset(sh["id"], support.storage(res, "silo2"))]
    f = one(run(res), "FL-DM-005", "silo2", "fail")
    assert (path_of(f)["relation"], path_of(f)["outsider_name"]) == ("external", "partners")
    assert one(run(res), "FL-DM-005", "silo0")["status"] == "pass"


def test_data_set_naming_a_silo_account_with_another_group_still_counts():
    res = support.sample_resources("hardened")
    acct = mf.share_account()
    sh = mf.share(acct["id"])
    ds = mf.dataset(sh["id"], support.storage(res, "silo2"))
    ds["properties"]["resourceGroup"] = "someone-else"
    res += [acct, sh, ds]
    # storage account names are globally unique, so the name alone identifies silo2's account (fail closed)
    assert one(run(res), "FL-DM-005", "silo2")["status"] == "fail"


def test_data_sets_not_read_under_a_share_account_are_unknown():
    res = support.sample_resources("hardened")
    acct = mf.share_account()
    res.append(acct)
    u = Unreadable(acct["id"], "Microsoft.DataShare/accounts/shares", 403, "denied")
    assert one(run(res, unreadable=[u]), "FL-DM-005", "silo0")["status"] == "unknown"


def test_a_declared_administrator_reading_the_inventory_report_is_shown_not_blocking(monkeypatch):
    # access.classify gives "administrator" to principals the FL config declares (federated_learning.administrators)
    import flaudit.access as access

    res = support.sample_resources("hardened")
    s0 = support.storage(res, "silo0")
    res.append(mf.inventory_policy(s0["id"], "inventory"))
    admin = "dddddddd-0000-0000-0000-00000000000a"
    res.append(support.role_assignment(s0["id"], ROLE["blob-reader"], admin, principal_type="User"))
    real = access.classify

    def classify(d, pid, silo):
        p = real(d, pid, silo)
        return access.Principal(p.id, "break-glass", "administrator", None) if pid == admin else p

    monkeypatch.setattr(access, "classify", classify)
    found = support.findings(run(res), "FL-DM-002", silo="silo0")
    assert {f["status"] for f in found} == {"pass"}
    assert any(e["kind"] == "path" and e["relation"] == "administrator" for f in found for e in f["evidence"])


def test_two_backup_instances_in_one_vault_each_cite_their_own_chain():
    res = support.sample_resources("hardened")
    vault = mf.backup_vault()
    pol = mf.backup_policy(vault["id"])
    s0 = support.storage(res, "silo0")
    res += [vault, pol, mf.backup_instance(vault["id"], s0, pol["id"], name="first"),
            mf.backup_instance(vault["id"], s0, pol["id"], name="second")]
    found = support.findings(run(res), "FL-DM-003", silo="silo0", status="fail")
    assert sorted(path_of(f)["chain"][0]["ref"].rsplit("/", 1)[-1] for f in found) == ["first", "second"]
