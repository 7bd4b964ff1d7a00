"""Declared administrators (federated_learning.administrators): shown as administrative access, never blocking.

Role assignments are in the shape of specification/authorization/resource-manager/Microsoft.Authorization/stable/
2022-04-01/examples/RoleAssignments_ListForScope.json (tests.support.role_assignment).
"""

from __future__ import annotations

import pytest

from flaudit.config import parse_config
from flaudit.errors import InputError
from flaudit.samples import generate
from tests.support import audit, config, findings, principal, role_assignment, sample_resources, statuses

RG = f"/subscriptions/{generate.SUB}/resourceGroups/{generate.RG}"
OWNER = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
BREAK_GLASS = "4f6d1c2e-9b8a-4e7f-a1b2-c3d4e5f60718"
PIPELINE = "0c1d2e3f-4a5b-4c6d-8e9f-a0b1c2d3e4f5"


def _with_owner(pid: str = BREAK_GLASS, principal_type: str = "User") -> list[dict]:
    res = sample_resources("hardened")
    res.append(role_assignment(RG, OWNER, pid, principal_type=principal_type))
    return res


def _admins(*entries: dict):
    return config(federated_learning={**generate.fl_config(3)["federated_learning"],
                                      "administrators": list(entries)})


def test_without_a_declaration_an_owner_on_the_resource_group_blocks_production():
    result = audit(_with_owner())
    assert "fail" in statuses(result, "FL-WS-001")
    assert result["verdict"]["production"]["status"] == "not_ready"
    assert {e["relation"] for e in result["access"] if e["principal_id"] == BREAK_GLASS} == {"unlisted"}


def test_a_declared_administrator_is_shown_and_does_not_block():
    cfg = _admins({"object_id": BREAK_GLASS.upper(), "kind": "user", "reason": "break-glass account, PIM-audited"})
    result = audit(_with_owner(), cfg)
    assert result["verdict"]["production"]["status"] == "ready"
    mine = [f for f in findings(result, "FL-WS-001") if f["subject"] == BREAK_GLASS]
    assert len(mine) == 3 and {f["status"] for f in mine} == {"pass"}
    assert all("declared administrator" in f["message"] and "break-glass account" in f["message"] for f in mine)
    edges = [e for e in result["access"] if e["principal_id"] == BREAK_GLASS]
    assert edges and all(e["relation"] == "administrator" and e["path_kind"] == "administrative" for e in edges)
    assert all(e["administrator_reason"] == "break-glass account, PIM-audited" for e in edges)
    assert result["topology"]["administrators"] == [
        {"object_id": BREAK_GLASS, "kind": "user", "reason": "break-glass account, PIM-audited"}]


def test_administrative_access_appears_in_terminal_markdown_and_html():
    from flaudit.reports import html, markdown, terminal

    cfg = _admins({"object_id": BREAK_GLASS, "kind": "user", "reason": "break-glass account"})
    result = audit(_with_owner(), cfg)
    for text in (terminal.render(result), markdown.render(result)):
        assert "(administrator)" in text and "administrative, not blocking: break-glass account" in text
    assert "declared administrator" in html.render(result)


def test_everything_else_still_blocks_next_to_an_administrator():
    cfg = _admins({"object_id": BREAK_GLASS, "kind": "user", "reason": "break-glass"})
    res = _with_owner()
    res.append(role_assignment(RG, OWNER, PIPELINE))
    result = audit(res, cfg)
    assert result["verdict"]["production"]["status"] == "not_ready"
    failing = {f["subject"] for f in findings(result, "FL-WS-001", status="fail")}
    assert failing == {PIPELINE}


def test_declaring_an_fl_member_identity_changes_nothing():
    res = sample_resources("hardened")
    orch = principal(res, "uai-orchestrator")
    silo1 = principal(res, "uai-silo1")
    res.append(role_assignment(f"{RG}/providers/Microsoft.Storage/storageAccounts/"
                               + next(r["name"] for r in res if (r.get("tags") or {}).get("silo") == "silo0"),
                               generate.ROLE["blob-reader"], silo1))
    cfg = _admins({"object_id": orch, "kind": "managed-identity", "reason": "aggregator"},
                  {"object_id": silo1, "kind": "managed-identity", "reason": "trying to hide a cross-silo read"})
    result = audit(res, cfg)
    assert "fail" in statuses(result, "FL-WS-001", silo="silo0")
    assert "fail" in statuses(result, "FL-ID-004", silo="silo1")
    assert not [e for e in result["access"] if e["relation"] == "administrator"]


@pytest.mark.parametrize("entry, message", [
    ({"object_id": "not-a-guid", "kind": "user", "reason": "x"}, "object_id must be an Entra object id"),
    ({"object_id": BREAK_GLASS, "kind": "robot", "reason": "x"}, "kind must be one of"),
    ({"object_id": BREAK_GLASS, "kind": "user"}, "reason must say why"),
    ({"object_id": BREAK_GLASS, "kind": "user", "reason": "  "}, "reason must say why"),
    ({"object_id": BREAK_GLASS, "kind": "user", "reason": "x", "scope": "/"}, "unknown key(s) scope"),
    ("someone", "must be a mapping"),
])
def test_bad_administrator_entries_are_one_line_input_errors(entry, message):
    doc = generate.fl_config(3)
    doc["federated_learning"]["administrators"] = [entry]
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_config(doc, "cfg.yaml")


def test_administrators_must_be_a_list_without_duplicates():
    doc = generate.fl_config(3)
    doc["federated_learning"]["administrators"] = {"object_id": BREAK_GLASS}
    with pytest.raises(InputError, match="must be a list"):
        parse_config(doc, "cfg.yaml")
    doc["federated_learning"]["administrators"] = [
        {"object_id": BREAK_GLASS, "kind": "user", "reason": "a"},
        {"object_id": BREAK_GLASS.upper(), "kind": "group", "reason": "b"}]
    with pytest.raises(InputError, match="appears twice"):
        parse_config(doc, "cfg.yaml")


def test_no_administrators_key_means_none():
    assert parse_config(generate.fl_config(3), "cfg.yaml").administrators == []


def test_cli_reports_a_bad_administrators_entry_in_one_line_and_exits_2(tmp_path, capsys):
    import yaml

    from flaudit.cli import main

    doc = generate.fl_config(3)
    doc["federated_learning"]["administrators"] = [{"object_id": BREAK_GLASS, "kind": "user"}]
    cfg = tmp_path / "config.yaml"
    cfg.write_text(yaml.safe_dump(doc))
    out = tmp_path / "r.json"
    assert main(["scan", "--sample", "hardened", "-c", str(cfg), "--format", "json", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "administrators[0].reason" in err
    assert not out.exists()
