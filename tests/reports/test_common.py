"""Shared renderer helpers: the matrix every format shows, finding order, and the wording of evidence."""

from __future__ import annotations

from flaudit.reports._common import evidence_text, matrix, problem_findings, short_actions, short_scope


def test_matrix_cell_is_the_worst_status_and_waived_only_when_everything_failing_is_waived(result):
    rows = {r.label: r for r in matrix(result)}
    assert rows["silo-1"].cells["private-endpoints"].state == "fail"
    assert rows["silo-2"].cells["network-isolation"].state == "unknown"  # unknown beats pass
    assert rows["silo-3"].cells["private-endpoints"].state == "waived"
    assert rows["silo-0"].cells["workspace-access"].state == "none"
    assert rows["(deployment-wide)"].cells["workspace-access"].state == "fail"
    silo3 = rows["silo-3"].cells["private-endpoints"].findings[0]
    other = dict(silo3, waiver=None, id="FL-PE-001:other")
    result["findings"].append(other)
    assert {r.label: r for r in matrix(result)}["silo-3"].cells["private-endpoints"].state == "fail"


def test_silos_only_findings_mention_still_get_a_row(result):
    result["findings"][0] = dict(result["findings"][0], silo="ghost-silo")
    assert "ghost-silo" in [r.label for r in matrix(result)]


def test_problem_order_is_blocking_then_severity(result):
    order = [(f["rule_id"], f["status"]) for f in problem_findings(result)]
    assert order[0] == ("FL-ID-001", "fail")
    assert order[-1] == ("FL-WH-001", "fail")  # low and blocks nothing
    assert all(not f["waiver"] for f in problem_findings(result))
    assert len(problem_findings(result, include_waived=True)) == len(order) + 1


def test_scopes_and_actions_are_shortened_for_reading():
    sub = "/subscriptions/0000"
    assert short_scope(f"{sub}/resourcegroups/rg-a/providers/microsoft.storage/storageaccounts/st1") == \
        "storageaccounts/st1 in rg-a"
    assert short_scope(f"{sub}/resourceGroups/rg-a") == "resource group rg-a"
    assert short_scope(sub) == "subscription 0000"
    assert short_scope("/providers/Microsoft.Management/managementGroups/mg1") == "management group mg1"
    assert short_actions(["Microsoft.Storage/storageAccounts/listKeys/action", "a", "b", "c"]) == \
        "listKeys/action, a, b, +1 more"


def test_evidence_text_for_every_kind():
    assert evidence_text({"kind": "property", "resource_id": "/x/st1", "path": "properties.a", "value": None,
                          "default_assumed": True, "default_note": "off"}) == \
        "st1: properties.a = null (not set; off)"
    assert evidence_text({"kind": "access", "principal_name": "uai", "role_name": "Reader",
                          "scope": "/subscriptions/s/resourceGroups/rg", "matched_actions": []}) == \
        "uai -> Reader at resource group rg"
    assert evidence_text({"kind": "nsg-rule", "nsg_id": "/x/nsg1", "rule": "AllowAll", "priority": 100,
                          "direction": "Inbound", "access": "Allow", "source": "*", "ports": "*"}) == \
        "NSG nsg1 rule AllowAll (priority 100, Inbound Allow) from * ports *"
    assert evidence_text({"kind": "network-path", "path_kind": "public", "source": "0.0.0.0/0", "detail": "d"}) == \
        "network path public from 0.0.0.0/0: d"
    assert evidence_text({"kind": "note", "text": "hello"}) == "hello"
    assert "mystery" in evidence_text({"kind": "mystery", "x": 1})


def test_malformed_gate_or_fix_first_in_a_saved_result_is_recomputed_not_a_crash(result):
    import copy

    from flaudit.reports import html, junit, markdown, sarif, terminal

    bad = []
    for change in ({"gate": {"reason": "x"}}, {"summary": None}, {"summary": {"fix_first": "bogus"}}):
        r = copy.deepcopy(result)
        r.update(change)
        bad.append(r)
    r = copy.deepcopy(result)
    r["findings"][3]["silo"] = 7
    bad.append(r)
    for r in bad:
        for mod in (terminal, markdown, html, junit, sarif):
            assert mod.render(r)
    assert "Gate: exit 1: production is NOT READY" in terminal.render(bad[0])


def test_a_path_edge_reads_as_silo_resource_to_outsider_with_its_hops():
    from flaudit.reports._common import access_chain_text

    from flaudit.paths import Hop, Path

    st = "/subscriptions/s/resourceGroups/r/providers/Microsoft.Storage/storageAccounts/stsilo0"
    edge = Path("copy", "silo0", st, "/x/bv", "bv", "unlisted",
                (Hop("vaulted backup copies the blobs into vault bv", "/x/bv"),), "FL-DM-003").edge()
    assert access_chain_text(edge) == ("silo0: stsilo0 -[copy]-> bv (unlisted) via vaulted backup copies the blobs "
                                       "into vault bv")
