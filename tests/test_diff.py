"""Drift between results and the --fail-on-new gate."""

from __future__ import annotations

import json

from flaudit.cli import main
from flaudit.diff import diff_results
from tests import support


def _result(resources):
    return support.audit(resources)


def test_diff_lists_new_fixed_and_changed_findings_and_resources():
    old_res = support.sample_resources("hardened")
    new_res = support.sample_resources("hardened")
    support.storage(new_res, "silo1")["properties"]["publicNetworkAccess"] = "Enabled"  # new problem
    support.compute(new_res, "silo2-01")["properties"]["properties"]["enableNodePublicIp"] = True  # new problem
    old = _result(old_res)
    new = _result(new_res)
    d = diff_results(old, new)
    assert d["new_findings"] == [] or all(e["old_status"] is None for e in d["new_findings"])
    regressed = [e for e in d["changed"] if e["old_status"] == "pass" and e["new_status"] == "fail"]
    assert {e["silo"] for e in regressed} >= {"silo1", "silo2"}
    back = diff_results(new, old)
    assert {e["silo"] for e in back["fixed"]} >= {"silo1", "silo2"}
    assert not back["changed"] or all(e["new_status"] != "fail" for e in back["changed"])


def test_diff_sees_resources_added_and_removed():
    old = support.audit(support.sample_resources("hardened", 3), support.config(3))
    new = support.audit(support.sample_resources("hardened", 4), support.config(4))
    d = diff_results(old, new)
    assert any("silo3" in r for r in d["resources_added"])
    assert d["new_findings"] == [] or {e["silo"] for e in d["new_findings"]} <= {"silo3", None}


def test_diff_command_formats_and_exit_code(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    main(["scan", "--sample", "hardened", "-f", "json", "-o", str(a)])
    main(["scan", "--sample", "eyes-off", "-f", "json", "-o", str(b)])
    assert main(["diff", str(a), str(a)]) == 0
    capsys.readouterr()
    assert main(["diff", str(a), str(b), "--format", "markdown"]) == 1
    md = capsys.readouterr().out
    assert "## flaudit drift" in md and "| production | ready | not_ready |" in md
    assert main(["diff", str(a), str(b), "--format", "json", "-o", str(tmp_path / "d.json")]) == 1
    d = json.loads((tmp_path / "d.json").read_text())
    assert d["changed"] or d["new_findings"]
    (tmp_path / "x.json").write_text('{"foo": 1}')
    assert main(["diff", str(a), str(tmp_path / "x.json")]) == 2


def test_fail_on_new_passes_on_an_unchanged_deployment_and_fails_on_one_new_finding(tmp_path):
    base = tmp_path / "baseline.json"
    assert main(["scan", "--sample", "eyes-off", "-f", "json", "-o", str(base)]) == 1  # imperfect, signed off
    assert main(["scan", "--sample", "eyes-off", "--baseline", str(base), "--fail-on-new", "-q"]) == 0
    res = json.loads((tmp_path / "baseline.json").read_text())
    assert res["verdict"]["production"]["status"] == "not_ready"
    changed = support.sample_resources("eyes-off")
    support.storage(changed, "silo1")["properties"]["minimumTlsVersion"] = "TLS1_0"
    snap = tmp_path / "changed.json"
    snap.write_text(json.dumps(changed))
    cfg = tmp_path / "c.yaml"
    from flaudit.samples import generate

    cfg.write_text(json.dumps(generate.fl_config()))
    # The same deployment from a plain export (no 'collected' list) is compared against a sample-based baseline,
    # so re-baseline from the export first, then change one thing.
    snap_base = tmp_path / "export.json"
    snap_base.write_text(json.dumps(support.sample_resources("eyes-off")))
    base2 = tmp_path / "baseline2.json"
    main(["scan", str(snap_base), "-c", str(cfg), "-f", "json", "-o", str(base2)])
    assert main(["scan", str(snap_base), "-c", str(cfg), "--baseline", str(base2), "--fail-on-new", "-q"]) == 0
    assert main(["scan", str(snap), "-c", str(cfg), "--baseline", str(base2), "--fail-on-new", "-q"]) == 1
    assert main(["scan", "--sample", "eyes-off", "--fail-on-new", "-q"]) == 2
