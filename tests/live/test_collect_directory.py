"""Microsoft Graph directory facts: principals ARM cannot place are read with GET /directoryObjects/{id} during
collection, saved in the snapshot, and FL-XT-002 places them by those facts (guest users and other tenants'
applications cross the tenant boundary; members and the tenant's own identities do not; a refused read stays
unknown). Graph answers come from the fake in the shapes of Microsoft Graph's v1.0 directoryObject, user and
servicePrincipal documentation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from azure.core.exceptions import ClientAuthenticationError
from azure.core.rest import HttpRequest

import flaudit.sources.live.clients as clients_mod
import flaudit.sources.live.collect as collect_mod
from flaudit.audit import run_audit
from flaudit.cli import main
from flaudit.config import parse_config
from flaudit.errors import InputError
from flaudit.samples import generate
from flaudit.sources.files import parse_document
from flaudit.sources.live.clients import ReadOnlyViolation, RetrySettings
from flaudit.sources.live.collect import collect, make_scope, open_session, write_collected_snapshot
from flaudit.sources.live.directory import GRAPH_TYPE, graph_client
from tests.live.conftest import SUB
from tests.live.fakearm import MS_GRAPH, FakeArm, FakeCredential, graph_error
from tests.support import findings, role_assignment, storage

HOME = "72f988bf-86f1-41af-91ab-2d7cd011db47"  # the fake ARM's subscriptions are in this tenant
PARTNER = "3c2b1a09-8f7e-4d6c-9b5a-1e2f3a4b5c6d"
READER = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"  # Storage Blob Data Reader
GUEST = "8d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a"
APP_SP = "1f2e3d4c-5b6a-4798-8a7b-6c5d4e3f2a1b"
MEMBER = "6ea91a8d-e32e-41a1-b7bd-d2d185eed0e0"
GROUP = "4b5c6d7e-8f90-4a1b-9c2d-3e4f5a6b7c8d"


def guest_user(pid: str = GUEST) -> dict[str, Any]:
    """A B2B guest as the user resource documents it (userType Guest, invited, signing in at its home org)."""
    return {"@odata.type": "#microsoft.graph.user", "id": pid, "displayName": "Alex Wilber (Fabrikam)",
            "userPrincipalName": "alexw_fabrikam.com#EXT#@contoso.onmicrosoft.com", "userType": "Guest",
            "externalUserState": "Accepted", "creationType": "Invitation",
            "identities": [{"signInType": "federated", "issuer": "fabrikam.com",
                            "issuerAssignedId": "alexw@fabrikam.com"}]}


def member_user(pid: str = MEMBER) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.user", "id": pid, "displayName": "Conf Room Adams",
            "userPrincipalName": "Adams@Contoso.com", "mail": "Adams@Contoso.com", "userType": "Member",
            "externalUserState": None, "creationType": None,
            "identities": [{"signInType": "userPrincipalName", "issuer": "contoso.onmicrosoft.com",
                            "issuerAssignedId": "Adams@Contoso.com"}]}


def service_principal(pid: str = APP_SP, owner: str = PARTNER, kind: str = "Application") -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.servicePrincipal", "id": pid, "displayName": "Partner FL Broker",
            "appId": "00000000-1111-4222-8333-444455556666", "appOwnerOrganizationId": owner,
            "servicePrincipalType": kind, "signInAudience": "AzureADMultipleOrgs"}


def with_role(res: list[dict], silo: str, pid: str, principal_type: str) -> list[dict]:
    return res + [role_assignment(storage(res, silo)["id"], READER, pid, principal_type=principal_type)]


def audit_of(inv: Any) -> dict[str, Any]:
    return run_audit(inv, parse_config(generate.fl_config(3), "fl.yaml"), generated_at="2026-12-07T00:00:00+00:00")


def graph_calls(rsps: Any) -> list[Any]:
    return [c for c in rsps.calls if c.request.url.startswith(MS_GRAPH)]


def collect_with(rsps, retry, resources, directory, **fake_options) -> tuple[Any, FakeArm]:
    fake = FakeArm(resources, [SUB], directory={k.lower(): v for k, v in directory.items()}, **fake_options)
    fake.register(rsps)
    return collect(make_scope([SUB]), credential=FakeCredential(), retry=retry), fake


def test_a_guest_user_reading_silo_storage_fails_fl_xt_002_naming_the_guest(rsps, retry, sample):
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo1", GUEST, "User"), {GUEST: guest_user()})
    assert inv.directory[GUEST]["userType"] == "Guest"
    [f] = findings(audit_of(inv), "FL-XT-002", silo="silo1")
    assert f["status"] == "fail"
    assert "Alex Wilber (Fabrikam)" in f["message"] and GUEST in f["message"]
    assert "a B2B guest of another tenant" in f["message"]
    ref = f"{MS_GRAPH}/v1.0/directoryObjects/{GUEST}"
    props = {(e["resource_id"], e["path"]): e["value"] for e in f["evidence"] if e.get("kind") == "property"}
    assert props[(ref, "userType")] == "Guest" and props[(ref, "creationType")] == "Invitation"
    assert any(e.get("role_name") == "Storage Blob Data Reader" for e in f["evidence"])  # the role, too


def test_another_tenants_application_fails_naming_its_app_owner_organization(rsps, retry, sample):
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo2", APP_SP, "ServicePrincipal"),
                          {APP_SP: service_principal()})
    [f] = findings(audit_of(inv), "FL-XT-002", silo="silo2")
    assert f["status"] == "fail" and f"tenant {PARTNER} (appOwnerOrganizationId)" in f["message"]
    assert {"kind": "property", "resource_id": f"{MS_GRAPH}/v1.0/directoryObjects/{APP_SP}",
            "path": "appOwnerOrganizationId", "value": PARTNER} in f["evidence"]


def test_a_member_user_and_the_home_tenants_own_application_pass(rsps, retry, sample):
    res = with_role(with_role(sample, "silo0", MEMBER, "User"), "silo0", APP_SP, "ServicePrincipal")
    inv, _ = collect_with(rsps, retry, res, {MEMBER: member_user(), APP_SP: service_principal(owner=HOME)})
    [f] = findings(audit_of(inv), "FL-XT-002", silo="silo0")
    assert f["status"] == "pass", f["message"]
    assert "Conf Room Adams" in f["message"] and "Microsoft Graph directory object" in f["message"]
    assert {"kind": "property", "resource_id": f"{MS_GRAPH}/v1.0/directoryObjects/{MEMBER}", "path": "userType",
            "value": "Member"} in f["evidence"]


def test_a_group_of_the_tenant_stays_unknown_because_its_members_are_not_read(rsps, retry, sample):
    group = {"@odata.type": "#microsoft.graph.group", "id": GROUP, "displayName": "FL data stewards"}
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo0", GROUP, "Group"), {GROUP: group})
    [f] = findings(audit_of(inv), "FL-XT-002", silo="silo0")
    assert f["status"] == "unknown" and "members are not read" in f["message"]


def test_graph_403_leaves_the_principal_unknown_with_directory_read_refused_and_asks_no_more(
        rsps, retry, sample, monkeypatch):
    import flaudit.sources.live.directory as directory_mod

    monkeypatch.setattr(directory_mod, "WORKERS", 1)  # one at a time: MEMBER (sorted first) is asked first
    res = with_role(with_role(sample, "silo1", GUEST, "User"), "silo1", MEMBER, "User")
    fake = FakeArm(res, [SUB], directory={GUEST: guest_user(), MEMBER: member_user()})
    fake.queue(f"/v1.0/directoryObjects/{MEMBER}", graph_error(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."))
    fake.register(rsps)
    inv = collect(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    assert inv.directory == {}
    assert len(graph_calls(rsps)) == 1  # the same token would be refused again: GUEST is not asked
    records = {u.scope: u for u in inv.unreadable if u.resource_type == GRAPH_TYPE}
    assert records[f"/directoryObjects/{MEMBER}"].status == 403
    assert "Authorization_RequestDenied" in records[f"/directoryObjects/{MEMBER}"].message
    assert records[f"/directoryObjects/{GUEST}"].message.startswith("not asked: Directory read was refused")
    assert all("Directory.Read.All" in u.message for u in records.values())
    [f] = findings(audit_of(inv), "FL-XT-002", silo="silo1")
    assert f["status"] == "unknown" and "Directory read was refused" in f["message"]
    assert any(e.get("kind") == "note" and "Directory read was refused" in e["text"] for e in f["evidence"])


def test_graph_404_and_a_missing_graph_token_stay_unknown_never_same_tenant(rsps, retry, sample):
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo0", MEMBER, "User"), {})  # not in the directory
    [u] = [u for u in inv.unreadable if u.resource_type == GRAPH_TYPE]
    assert u.status == 404 and "Request_ResourceNotFound" in u.message
    assert {f["status"] for f in findings(audit_of(inv), "FL-XT-002", silo="silo0")} == {"unknown"}

    class NoGraphToken(FakeCredential):
        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            if any("graph.microsoft.com" in s for s in scopes):
                raise ClientAuthenticationError("AADSTS65001: consent required")
            return super().get_token(*scopes, **kwargs)

    rsps.calls.reset()
    inv = collect(make_scope([SUB]), credential=NoGraphToken(), retry=retry)
    [u] = [u for u in inv.unreadable if u.resource_type == GRAPH_TYPE]
    assert "no Microsoft Graph token" in u.message and "AADSTS65001" in u.message
    assert graph_calls(rsps) == []
    assert {f["status"] for f in findings(audit_of(inv), "FL-XT-002", silo="silo0")} == {"unknown"}


def test_only_principals_arm_cannot_place_are_asked_and_only_with_get_and_select(rsps, retry, sample):
    res = with_role(sample, "silo1", GUEST, "User")
    res.append(role_assignment(storage(res, "silo2")["id"], READER, "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0",
                               principal_type="ForeignGroup"))
    collect_with(rsps, retry, res, {GUEST: guest_user()})
    calls = graph_calls(rsps)
    assert [c.request.method for c in calls] == ["GET"]  # the silo identities are placed by ARM data
    assert calls[0].request.url.startswith(f"{MS_GRAPH}/v1.0/directoryObjects/{GUEST}?")
    query = parse_qs(urlsplit(calls[0].request.url).query)
    assert query["$select"] == ["id,displayName,userType,externalUserState,creationType,identities,"
                                "appOwnerOrganizationId,servicePrincipalType"]
    assert calls[0].request.headers["Authorization"] == "Bearer fake-token"


def test_the_graph_pipeline_refuses_get_by_ids_and_every_write(rsps, retry):
    FakeArm([], [SUB]).register(rsps)
    session = open_session(FakeCredential(), None, None, retry)
    client = graph_client(session)
    for method, path in (("POST", "/v1.0/directoryObjects/getByIds"), ("PATCH", f"/v1.0/users/{MEMBER}"),
                         ("DELETE", f"/v1.0/directoryObjects/{MEMBER}")):
        with pytest.raises(ReadOnlyViolation):
            client.send_request(HttpRequest(method, MS_GRAPH + path, json={"ids": [MEMBER]}))
    assert graph_calls(rsps) == []


def test_more_principals_than_the_cap_are_recorded_as_not_read(rsps, retry, sample, monkeypatch):
    import flaudit.sources.live.directory as directory_mod

    monkeypatch.setattr(directory_mod, "MAX_DIRECTORY_OBJECTS", 1)
    res = with_role(with_role(sample, "silo1", GUEST, "User"), "silo1", MEMBER, "User")
    inv, _ = collect_with(rsps, retry, res, {GUEST: guest_user(), MEMBER: member_user()})
    assert len(graph_calls(rsps)) == 1 and len(inv.directory) == 1
    [u] = [u for u in inv.unreadable if u.resource_type == GRAPH_TYPE]
    assert "more than 1 principals" in u.message


def test_snapshot_keeps_the_directory_and_an_offline_scan_gives_the_live_findings(
        rsps, sample, monkeypatch, sleeps, tmp_path: Path, capsys):
    res = with_role(with_role(with_role(sample, "silo1", GUEST, "User"), "silo2", APP_SP, "ServicePrincipal"),
                    "silo0", MEMBER, "User")
    FakeArm(res, [SUB], directory={GUEST: guest_user(), APP_SP: service_principal(),
                                   MEMBER: member_user()}).register(rsps)
    credential = FakeCredential()
    monkeypatch.setattr(collect_mod, "make_credential", lambda tenant=None, cloud=None: credential)
    monkeypatch.setattr(clients_mod, "RetrySettings", lambda: RetrySettings(sleep=sleeps.append))
    cfg = tmp_path / "fl.yaml"
    cfg.write_text(yaml.safe_dump(generate.fl_config(3)))
    snap, live_json, offline_json = tmp_path / "snap.json", tmp_path / "live.json", tmp_path / "offline.json"
    assert main(["collect", "--subscription", SUB, "--output", str(snap)]) == 0
    assert "and 3 directory objects" in capsys.readouterr().err
    doc = json.loads(snap.read_text())
    assert sorted(doc["directory"]) == sorted([GUEST, APP_SP, MEMBER])
    assert "issuerAssignedId" not in json.dumps(doc["directory"])  # a sign-in name is not needed to place anyone
    assert doc["directory"][GUEST]["@odata.type"] == "#microsoft.graph.user"
    live_rc = main(["scan", "--subscription", SUB, "--config", str(cfg), "--format", "json", "--output",
                    str(live_json), "--quiet"])
    rsps.calls.reset()
    offline_rc = main(["scan", "--input", str(snap), "--config", str(cfg), "--format", "json", "--output",
                       str(offline_json), "--quiet"])
    assert len(rsps.calls) == 0  # offline: nothing sent
    assert live_rc == offline_rc
    live_doc, offline_doc = json.loads(live_json.read_text()), json.loads(offline_json.read_text())
    strip = lambda d: [{k: f[k] for k in ("id", "status", "message", "evidence")} for f in d["findings"]]  # noqa: E731
    assert strip(live_doc) == strip(offline_doc)
    assert live_doc["input"]["sha256"] == offline_doc["input"]["sha256"]
    xt = {f["silo"]: f["status"] for f in offline_doc["findings"] if f["rule_id"] == "FL-XT-002"}
    assert xt == {"silo0": "pass", "silo1": "fail", "silo2": "fail"}


def test_the_directory_counts_in_the_input_digest_and_a_bad_section_is_an_input_error(rsps, retry, sample):
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo1", GUEST, "User"), {GUEST: guest_user()})
    doc = {"kind": "flaudit.snapshot", "snapshot_version": 1, "resources": [r for r in inv.resources.values()],
           "directory": dict(inv.directory)}
    digest = parse_document(doc, "snap.json").sha256()
    assert digest != parse_document({**doc, "directory": {}}, "snap.json").sha256()
    changed = {GUEST: {**inv.directory[GUEST], "userType": "Member"}}
    assert digest != parse_document({**doc, "directory": changed}, "snap.json").sha256()
    for bad in ([GUEST], {GUEST: {"id": GUEST}}, {GUEST: {**inv.directory[GUEST], "id": MEMBER}}):
        with pytest.raises(InputError, match="snap.json: snapshot 'directory'|snap.json: snapshot directory entry"):
            parse_document({**doc, "directory": bad}, "snap.json")


def test_write_collected_snapshot_round_trips_the_directory(rsps, retry, sample, tmp_path: Path):
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo1", GUEST, "User"), {GUEST: guest_user()})
    write_collected_snapshot(inv, tmp_path / "s.json")
    back = parse_document(json.loads((tmp_path / "s.json").read_text()), "s.json")
    assert back.directory == inv.directory and back.sha256() == inv.sha256()


def test_a_principal_id_that_is_not_a_guid_never_reaches_a_graph_url(rsps, retry, sample):
    odd = "../users/8d3c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a"
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo1", odd, "User"), {})
    assert graph_calls(rsps) == []
    [u] = [u for u in inv.unreadable if u.resource_type == GRAPH_TYPE]
    assert "not a directory object id" in u.message
    [f] = findings(audit_of(inv), "FL-XT-002", silo="silo1")
    assert f["status"] == "unknown" and "could not be read" in f["message"] and "refused" not in f["message"]


def test_graph_throttling_is_waited_out_as_retry_after_says(rsps, retry, sample, sleeps):
    fake = FakeArm(with_role(sample, "silo1", GUEST, "User"), [SUB], directory={GUEST: guest_user()})
    fake.queue(f"/v1.0/directoryObjects/{GUEST}", (429, {"Retry-After": "7", "Content-Type": "application/json"},
                                                     json.dumps({"error": {"code": "TooManyRequests",
                                                                           "message": "Too many requests."}})))
    fake.register(rsps)
    inv = collect(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    assert inv.directory[GUEST]["userType"] == "Guest" and 7.0 in sleeps
    assert [u for u in inv.unreadable if u.resource_type == GRAPH_TYPE] == []


def test_fleet_mode_reads_the_directory_too(rsps, retry, sample):
    from flaudit.sources.live.graph import collect_fleet

    FakeArm(with_role(sample, "silo1", GUEST, "User"), [SUB], directory={GUEST: guest_user()}).register(rsps)
    inv = collect_fleet(make_scope([SUB]), credential=FakeCredential(), retry=retry)
    assert inv.directory[GUEST]["userType"] == "Guest"
    assert {f["status"] for f in findings(audit_of(inv), "FL-XT-002", silo="silo1")} == {"fail"}


def test_each_tenant_of_a_multi_tenant_config_reads_its_directory_with_its_own_credential(rsps, retry):
    from azure.core.credentials import AccessToken

    from flaudit.sources.live.scopes import collect_config_scopes
    from tests.live.test_collect_tenants import SUB2, TENANT_A, TENANT_B, _two_tenants

    res, doc = _two_tenants()
    res = with_role(res, "silo2", GUEST, "User")  # silo2's storage is in TENANT_B's subscription
    FakeArm(res, [SUB, SUB2], directory={GUEST: guest_user()}).register(rsps)

    class TenantCredential(FakeCredential):
        def __init__(self, tenant: str | None) -> None:
            super().__init__()
            self.tenant = tenant

        def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
            super().get_token(*scopes, **kwargs)
            return AccessToken(f"token-{self.tenant}", 4102444800)

    inv = collect_config_scopes(parse_config(doc, "fl.yaml"), credential_for=TenantCredential, retry=retry)
    asked = [c for c in graph_calls(rsps) if GUEST in c.request.url]
    assert [c.request.headers["Authorization"] for c in asked] == [f"Bearer token-{TENANT_B}"]
    assert TENANT_A != TENANT_B and inv.directory[GUEST]["userType"] == "Guest"


def test_two_snapshots_disagreeing_about_a_principal_are_an_input_error(rsps, retry, sample, tmp_path: Path,
                                                                         capsys):
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo1", GUEST, "User"), {GUEST: guest_user()})
    write_collected_snapshot(inv, tmp_path / "a.json")
    doc = json.loads((tmp_path / "a.json").read_text())
    doc["directory"][GUEST]["userType"] = "Member"
    (tmp_path / "b.json").write_text(json.dumps(doc))
    rsps.calls.reset()
    assert main(["scan", "--input", str(tmp_path / "a.json"), "--input", str(tmp_path / "b.json"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"directory object {GUEST} is also in an earlier input" in err and "Traceback" not in err
    assert main(["scan", "--input", str(tmp_path / "a.json"), "--input", str(tmp_path / "a.json"), "--quiet",
                 "--format", "json", "--output", str(tmp_path / "r.json")]) in (0, 1)


def test_a_display_name_cannot_smuggle_terminal_escapes_or_bidi_overrides_into_a_report(rsps, retry, sample,
                                                                                         tmp_path: Path):
    sly = {**guest_user(), "displayName": "Alex\x1b[2J\x1b[32m PASS\u202e\r\nWilber"}
    inv, _ = collect_with(rsps, retry, with_role(sample, "silo1", GUEST, "User"), {GUEST: sly})
    assert inv.directory[GUEST]["displayName"] == "Alex[2J[32m PASSWilber"
    [f] = findings(audit_of(inv), "FL-XT-002", silo="silo1")
    assert "\x1b" not in f["message"] and "\u202e" not in f["message"]
    crafted = {"kind": "flaudit.snapshot", "snapshot_version": 1, "resources": list(inv.resources.values()),
               "directory": {GUEST: sly}}
    assert parse_document(crafted, "crafted.json").directory[GUEST]["displayName"] == "Alex[2J[32m PASSWilber"


def test_a_sovereign_cloud_reads_its_own_graph_root_with_a_token_for_it(rsps, retry, sample):
    import re

    from flaudit.inventory import Inventory
    from flaudit.sources.live.clients import ArmSession
    from flaudit.sources.live.credential import CLOUDS
    from flaudit.sources.live.directory import read_directory

    class Recording(FakeCredential):
        scopes: list[str] = []

        def get_token(self, *scopes: str, **kwargs: Any) -> Any:
            self.scopes.extend(scopes)
            return super().get_token(*scopes, **kwargs)

    inv = Inventory()
    inv.extend(with_role(sample, "silo1", GUEST, "User"))
    rsps.add("GET", re.compile(r"https://graph\.microsoft\.us/v1\.0/directoryObjects/.*"), json=guest_user())
    credential = Recording()
    session = ArmSession(credential, CLOUDS["AzureUSGovernment"], retry)
    read_directory(session, inv)
    session.close()
    assert inv.directory[GUEST]["userType"] == "Guest"
    assert credential.scopes == ["https://graph.microsoft.us/.default"]
