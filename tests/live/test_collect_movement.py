"""Live collection of the data-movement types: object replication and inventory policies per storage account,
Backup vaults with their instances and policies, workspace connections (GET only, credentials dropped); a 403
on one account's policies makes only that silo unknown; fleet mode reads the same types."""

from __future__ import annotations

import responses

from flaudit.audit import run_audit
from flaudit.samples import generate
from flaudit.sources.live.collect import collect, make_scope
from flaudit.sources.live.graph import collect_fleet
from tests import movement_fixtures as mf
from tests import support
from tests.live.conftest import SUB
from tests.live.fakearm import FakeArm, FakeCredential, arm_error


def _deployment() -> list[dict]:
    res = generate.Builder("hardened", 3).build()
    s0, s1 = support.storage(res, "silo0"), support.storage(res, "silo1")
    ws = support.by_type(res, "Microsoft.MachineLearningServices/workspaces")[0]["id"]
    vault = mf.backup_vault()
    pol = mf.backup_policy(vault["id"])
    conn = mf.connection(ws, "silo1-key", f"https://{s1['name']}.blob.core.windows.net/data", "AccountKey")
    conn["properties"]["credentials"] = {"key": "c2VjcmV0LWFjY291bnQta2V5"}  # as if a service version sent it
    acct = mf.share_account()
    sh = mf.share(acct["id"])
    res += [mf.object_replication(s0["id"], s0["name"], "exfilaccount"), vault, pol,
            mf.backup_instance(vault["id"], s1, pol["id"]), conn, acct, sh,
            mf.dataset(sh["id"], support.storage(res, "silo2"))]
    return res


def _audit(inv) -> dict:
    return run_audit(inv, support.config(), generated_at="2026-11-30T00:00:00+00:00")


def test_collected_movement_types_give_the_same_findings_as_the_file(live):
    res = _deployment()
    inv, fake = live(res)
    assert inv.unreadable == []
    result = _audit(inv)
    assert support.statuses(result, "FL-DM-001", silo="silo0") == {"fail"}
    assert support.statuses(result, "FL-DM-003", silo="silo1") == {"fail"}
    assert support.statuses(result, "FL-WS-005", silo="silo1") == {"fail"}
    assert support.statuses(result, "FL-DM-005", silo="silo2") == {"fail"}
    assert support.statuses(result, "FL-DM-001", silo="silo2") == {"pass"}
    assert support.statuses(result, "FL-DM-005", silo="silo2") == {"fail"}
    assert {m for m, _ in fake.served} == {"GET"}
    assert not [p for p in fake.paths() if "secret" in p or p.endswith("/listkeys")]
    conn = next(r for r in inv.resources.values() if r["type"].endswith("/connections"))
    assert "credentials" not in conn["properties"]


def test_403_on_one_accounts_policies_makes_only_that_silo_unknown(rsps, retry):
    res = _deployment()
    s2 = support.storage(res, "silo2")
    fake = FakeArm(res, [SUB])
    fake.queue(f"{s2['id']}/objectReplicationPolicies", arm_error(403, "AuthorizationFailed", "no read"))
    fake.register(rsps)
    inv = collect(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    result = _audit(inv)
    assert support.statuses(result, "FL-DM-001", silo="silo2") == {"unknown"}
    assert support.statuses(result, "FL-DM-001", silo="silo1") == {"pass"}
    assert result["verdict"]["production"]["status"] == "not_ready"


def test_fleet_mode_reads_the_movement_types_too(retry):
    res = _deployment()
    fake = FakeArm(res, [SUB])
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake.register(mock)
        inv = collect_fleet(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    result = _audit(inv)
    assert support.statuses(result, "FL-DM-001", silo="silo0") == {"fail"}
    assert support.statuses(result, "FL-DM-003", silo="silo1") == {"fail"}
    assert support.statuses(result, "FL-WS-005", silo="silo1") == {"fail"}
    assert support.statuses(result, "FL-DM-005", silo="silo2") == {"fail"}


def test_a_snapshot_of_the_movement_types_reads_back_to_the_same_findings(live, tmp_path):
    from flaudit.sources.files import read_file
    from flaudit.sources.live.collect import write_collected_snapshot

    inv, _ = live(_deployment())
    snap = tmp_path / "snap.json"
    write_collected_snapshot(inv, snap)
    assert "c2VjcmV0LWFjY291bnQta2V5" not in snap.read_text()
    again = read_file(snap)
    assert again.collected == inv.collected
    first, second = _audit(inv), _audit(again)
    movement = ("FL-DM-001", "FL-DM-002", "FL-DM-003", "FL-DM-005", "FL-WS-005")
    pick = lambda r: sorted((f["id"], f["status"]) for f in r["findings"] if f["rule_id"] in movement)  # noqa: E731
    assert pick(first) == pick(second) and any(s == "fail" for _, s in pick(first))
