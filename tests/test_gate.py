"""Every exit explained: the gate decision, fix-first, waivers, baselines, rule selection, project settings,
the --output line, stdin input and the small CLI edges of issue 13."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import sys
from pathlib import Path

import pytest
import yaml

from flaudit.cli import main, quiet_azure_logs
from flaudit.gate import decide, fix_first, natural_key
from flaudit.samples import generate
from tests import support


def run(*argv: str) -> int:
    return main(list(argv))


def _json(tmp_path: Path, *argv: str) -> dict:
    out = tmp_path / "r.json"
    run("scan", *argv, "-f", "json", "-o", str(out), "-q")
    return json.loads(out.read_text())


# --- the gate decision -----------------------------------------------------------------------------------------

def test_fail_on_critical_under_not_ready_exits_0_and_says_why(capsys):
    assert run("scan", "--sample", "eyes-off", "--fail-on", "critical") == 0
    out = capsys.readouterr().out
    assert ("Gate: exit 0: production is NOT READY, but none of its 20 blocking findings is critical or worse "
            "(--fail-on critical)") in out


def test_the_gate_names_the_findings_that_decided_it(capsys):
    assert run("scan", "--sample", "eyes-off", "--fail-on", "high") == 1
    out = capsys.readouterr().out
    assert "Gate: exit 1: production is NOT READY; 13 blocking findings decide it (severity high or worse, " \
           "--fail-on high; 7 below it do not count)" in out
    gate = out.split("Gate:", 1)[1]
    assert "FAIL [high] FL-ID-008" in gate and "[medium]" not in gate.split("\n\n", 1)[0]


def test_fail_on_new_marks_the_new_findings_in_every_format(tmp_path, capsys):
    base = tmp_path / "base.json"
    assert run("scan", "--sample", "private", "-f", "json", "-o", str(base), "-q") == 1
    out_dir = tmp_path / "out"
    code = run("scan", "--sample", "eyes-off", "--baseline", str(base), "--fail-on-new", "-f",
               "terminal,json,markdown,html", "-o", str(out_dir))
    assert code == 1
    captured = capsys.readouterr()
    result = json.loads((out_dir / "flaudit-report.json").read_text())
    gate = result["gate"]
    assert gate["fail_on_new"] and gate["baseline"] == str(base) and gate["exit_code"] == 1
    assert set(gate["deciding"]) == set(gate["new"]) == set(result["baseline"]["new_blocking"])
    new_rules = {f["rule_id"] for f in result["findings"] if f["id"] in gate["new"]}
    assert "FL-NET-002" in new_rules  # eyes-off has node public IPs, the private sample does not
    assert re.search(r"NEW FAIL \[high\] FL-NET-002", captured.out)
    assert "already in the baseline do not count" in captured.out
    assert "🆕 **NEW**" in (out_dir / "flaudit-report.md").read_text()
    assert '<span class="badge s-fail">NEW</span>' in (out_dir / "flaudit-report.html").read_text()


def test_expired_and_stale_waivers_are_explained_in_the_terminal(tmp_path, capsys):
    today = dt.datetime.now(dt.UTC).date()
    waivers = tmp_path / "w.yaml"
    waivers.write_text(yaml.safe_dump({"waivers": [
        {"rule": "FL-NET-002", "silo": "silo0", "reason": "NAT gateway pending", "owner": "a@contoso.com",
         "expires": (today + dt.timedelta(days=10)).isoformat()},
        {"rule": "FL-NET-005", "silo": "silo1", "reason": "old", "owner": "b@contoso.com",
         "expires": (today - dt.timedelta(days=1)).isoformat()},
        {"rule": "FL-PE-001", "silo": "silo2", "reason": "nothing fails here", "owner": "c@contoso.com",
         "expires": (today + dt.timedelta(days=5)).isoformat()},
    ]}))
    assert run("scan", "--sample", "eyes-off", "--waivers", str(waivers)) == 1
    out = capsys.readouterr().out
    assert "waiver APPLIED: waiver 1: FL-NET-002 silo0 (a@contoso.com" in out
    assert "waiver EXPIRED: waiver 2: FL-NET-005 silo1" in out
    assert "waiver STALE: waiver 3: FL-PE-001 silo2" in out


def test_a_waiver_naming_a_rule_the_pack_lacks_exits_2_naming_it(tmp_path, capsys):
    waivers = tmp_path / "w.yaml"
    waivers.write_text(yaml.safe_dump({"waivers": [
        {"rule": "FL-NET-0002", "silo": "silo0", "reason": "typo", "owner": "a@contoso.com",
         "expires": dt.date.today().isoformat()}]}))
    out = tmp_path / "r.json"
    assert run("scan", "--sample", "eyes-off", "--waivers", str(waivers), "-f", "json", "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"flaudit: error: {waivers}: waiver 1 (FL-NET-0002, silo silo0): rule FL-NET-0002 does not exist in the "
        "rule pack (did you mean FL-NET-002?)"]
    assert not out.exists()


def test_output_prints_one_line_with_the_verdicts_and_the_files(tmp_path, capsys):
    out = tmp_path / "o"
    assert run("scan", "--sample", "eyes-off", "-f", "json,html", "-o", str(out)) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        "flaudit: prototype READY, production NOT READY; exit 1: production is NOT READY; 20 blocking findings "
        f"decide it; wrote {out / 'flaudit-report.json'}, {out / 'flaudit-report.html'}"]
    assert run("scan", "--sample", "eyes-off", "-f", "json", "-o", str(tmp_path / "x.json"), "-q") == 1
    assert capsys.readouterr().err == ""


def test_a_saved_result_without_a_gate_object_is_explained_the_same_way(tmp_path):
    result = _json(tmp_path, "--sample", "eyes-off")
    saved = result.pop("gate")
    assert decide(result, "production") == saved


# --- fix first ---------------------------------------------------------------------------------------------------

def test_fix_first_groups_blocking_findings_by_rule_biggest_first(tmp_path):
    result = _json(tmp_path, "--sample", "eyes-off")
    ff = result["summary"]["fix_first"]["production"]
    assert ff["changes"] == 11 and ff["verdict"] == "not_ready"
    assert sum(i["findings"] for i in ff["items"]) == len(result["verdict"]["production"]["blocking"])
    counts = [i["findings"] for i in ff["items"]]
    assert counts == sorted(counts, reverse=True)
    by_rule = {i["rule_id"]: i for i in ff["items"]}
    assert by_rule["FL-ID-008"]["silos"] == ["silo0", "silo1", "silo2"] and by_rule["FL-ID-008"]["resources"] == 1
    assert by_rule["FL-ID-008"]["remediation"].startswith("Give each silo a container")
    assert ff["headline"].startswith("11 changes make production ready: FL-STG-005")
    assert result["summary"]["fix_first"]["prototype"] == {
        "profile": "prototype", "verdict": "ready", "changes": 0,
        "headline": "prototype is READY: nothing blocks it", "items": []}
    assert fix_first(result, "production") == ff


def test_unknown_findings_are_resolve_items():
    result = support.audit(support.sample_resources("hardened"), support.config(), profile="production")
    f = next(f for f in result["findings"] if f["rule_id"] == "FL-NET-001")
    f["status"] = "unknown"
    result["verdict"]["production"] = {"status": "unknown", "blocking": [f["id"]]}
    ff = fix_first(result, "production")
    assert ff["items"][0]["action"] == "resolve" and ff["items"][0]["unknown"] == 1
    assert "1 of them: collect what flaudit could not see" in ff["headline"]


def test_silo_names_sort_naturally_everywhere():
    names = ["silo10", "silo2", "silo1", "silo0", "Silo3"]
    assert sorted(names, key=natural_key) == ["silo0", "silo1", "silo2", "Silo3", "silo10"]
    result = support.audit(support.sample_resources("eyes-off", n_silos=12), support.config(n_silos=12))
    from flaudit.reports._common import matrix

    rows = [r.label for r in matrix(result)][:12]
    assert rows == [f"silo{i}" for i in range(12)]
    ff = result["summary"]["fix_first"]["production"]
    assert next(i for i in ff["items"] if i["rule_id"] == "FL-NET-002")["silos"][:3] == ["silo0", "silo1", "silo2"]
    assert [f["silo"] for f in result["findings"] if f["rule_id"] == "FL-NET-002"][:11] == \
        [f"silo{i}" for i in range(11)]


# --- rule selection and project settings -------------------------------------------------------------------------

def test_skipped_blocking_rules_are_named_in_the_verdict_and_every_output(tmp_path, capsys):
    out = tmp_path / "o"
    code = run("scan", "--sample", "eyes-off", "--skip-rule", "network-isolation", "--skip-rule", "FL-WSH-*,FL-PE-*",
               "--skip-rule", "FL-ID-008,FL-STG-005", "-f", "terminal,json,markdown,html", "-o", str(out))
    result = json.loads((out / "flaudit-report.json").read_text())
    assert result["verdict"]["production"]["status"] == "ready" and code == 0
    skipped = result["verdict"]["production"]["skipped_rules"]
    assert {"FL-NET-002", "FL-NET-005", "FL-ID-008", "FL-PE-006", "FL-WSH-001"} <= set(skipped)
    assert not {f["rule_id"] for f in result["findings"]} & set(skipped)
    assert result["selection"]["skip_rules"] == ["network-isolation", "FL-WSH-*", "FL-PE-*", "FL-ID-008", "FL-STG-005"]
    assert "skipped by the rule selection" in result["gate"]["reason"]
    assert "SKIPPED blocking rule FL-NET-002" in capsys.readouterr().out
    assert "blocking rule **FL-NET-002**" in (out / "flaudit-report.md").read_text()
    assert "Not covered:" in (out / "flaudit-report.html").read_text()


def test_skipped_blocking_rules_show_in_sarif_and_junit(tmp_path):
    from flaudit.reports import junit, sarif
    from lxml import etree

    result = _json(tmp_path, "--sample", "eyes-off", "--skip-rule", "FL-NET-005")
    run_ = sarif.build(result)["runs"][0]
    assert run_["properties"]["skippedRules"] == {"prototype": [], "production": ["FL-NET-005"]}
    notes = [n["message"]["text"] for n in run_["invocations"][0]["toolExecutionNotifications"]]
    assert any(t.startswith("Rule FL-NET-005 (") and "the verdict does not cover it" in t for t in notes)
    doc = etree.fromstring(junit.render(result).encode())
    case = next(c for c in doc.iter("testcase") if c.get("name") == "FL-NET-005 (not run)")
    assert "skipped by the rule selection" in case.find("skipped").get("message")
    suite = next(s for s in doc.findall("testsuite") if s.get("name") == "network-isolation")
    assert int(suite.get("tests")) == len(suite.findall("testcase"))


def test_rule_selects_by_id_area_or_glob_and_a_pattern_matching_nothing_is_an_error(tmp_path, capsys):
    result = _json(tmp_path, "--sample", "eyes-off", "--rule", "topology", "--rule", "FL-NET-00[12]")
    assert {f["rule_id"] for f in result["findings"]} == {"FL-NET-001", "FL-NET-002"} | {
        r["id"] for r in result["rules"] if r["area"] == "topology"}
    assert run("scan", "--sample", "eyes-off", "--rule", "FL-NOPE-*", "-q") == 2
    assert "--rule FL-NOPE-*: matches no rule id, area or glob" in capsys.readouterr().err


def test_project_settings_fill_what_the_command_line_leaves_unset(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path(".flaudit.yaml").write_text(yaml.safe_dump({
        "profile": "production", "format": ["json", "markdown"], "output": "reports", "fail-on": "critical",
        "skip-rules": ["FL-WSH-003"]}))
    assert run("scan", "--sample", "eyes-off") == 0  # --fail-on critical from the settings
    result = json.loads(Path("reports/flaudit-report.json").read_text())
    assert result["gate"]["fail_on"] == "critical" and result["selection"]["skip_rules"] == ["FL-WSH-003"]
    assert Path("reports/flaudit-report.md").is_file()
    capsys.readouterr()
    assert run("scan", "--sample", "eyes-off", "--fail-on", "high", "-f", "terminal") == 1  # the CLI wins
    assert "Gate: exit 1" in capsys.readouterr().out
    assert run("scan", "--sample", "eyes-off", "--no-settings", "-q") == 1


def test_settings_in_pyproject_and_typos_in_them(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.flaudit]\nprofile = "prototype"\n')
    assert run("scan", "--sample", "eyes-off", "-q") == 0  # prototype is ready
    Path("pyproject.toml").write_text('[tool.flaudit]\nfail_onn = "high"\n')
    assert run("scan", "--sample", "eyes-off", "-q") == 2
    assert "unknown setting 'fail_onn' (did you mean 'fail-on'?)" in capsys.readouterr().err
    Path("pyproject.toml").write_text('[tool.flaudit]\nprofile = "prototype"\n')
    Path(".flaudit.yaml").write_text("profile: production\n")
    assert run("scan", "--sample", "eyes-off", "-q") == 2
    assert "both hold flaudit settings" in capsys.readouterr().err


# --- small edges ------------------------------------------------------------------------------------------------

def test_scan_input_dash_reads_stdin(monkeypatch, capsys):
    # the bundled hardened snapshot (it says what was collected, so absent types are known to be absent)
    text = Path(generate.__file__).with_name("hardened.json").read_text()
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    cfg = str(Path(generate.__file__).with_name("config.yaml"))
    assert run("scan", "--input", "-", "--config", cfg, "-q") == 0
    monkeypatch.setattr(sys, "stdin", io.StringIO("[]"))
    assert run("scan", "--input", "-", "--input", "-", "-q") == 2
    assert "standard input can be read only once" in capsys.readouterr().err


def test_sarif_artifacts_name_the_input_file_each_finding_came_from(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    res = support.sample_resources("eyes-off")
    computes = [r for r in res if r["type"].lower().endswith("/computes")]
    Path("computes.json").write_text(json.dumps(computes))
    Path("rest.json").write_text(json.dumps([r for r in res if r not in computes]))
    cfg = str(Path(generate.__file__).with_name("config.yaml"))
    assert run("scan", "-i", "computes.json", "-i", "rest.json", "-c", cfg, "-f", "sarif", "-o", "out.sarif") == 1
    sarif = json.loads(Path("out.sarif").read_text())
    uris = {r["ruleId"]: r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
            for r in sarif["runs"][0]["results"]}
    assert uris["FL-NET-002"] == "computes.json" and uris["FL-PE-006"] == "rest.json"
    sample = json.loads(io.StringIO(_sarif_of_sample(tmp_path)).read())
    uri = sample["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.endswith("flaudit/samples/eyes-off.json")


def _sarif_of_sample(tmp_path: Path) -> str:
    out = tmp_path / "s.sarif"
    run("scan", "--sample", "eyes-off", "-f", "sarif", "-o", str(out), "-q")
    return out.read_text()


def test_samples_generate_help_prints_help_and_rewrites_nothing(capsys):
    before = {p: p.stat().st_mtime_ns for p in Path(generate.__file__).parent.glob("*.json")}
    with pytest.raises(SystemExit) as exc:
        generate.main(["--help"])
    assert exc.value.code == 0
    assert "Regenerate the bundled sample deployments" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_azure_sdk_log_chatter_only_with_verbose(caplog):
    chained = logging.getLogger("azure.identity._credentials.chained")  # where the credential dump is logged
    dump = "DefaultAzureCredential failed to retrieve a token from the included credentials."
    with caplog.at_level(logging.WARNING):
        quiet_azure_logs(verbose=False)
        chained.warning(dump)
        assert dump not in caplog.text
        quiet_azure_logs(verbose=True)
        chained.warning(dump)
        assert dump in caplog.text
    quiet_azure_logs(verbose=False)


def test_silo_names_equal_but_for_zeros_or_case_sort_the_same_in_every_run():
    """silo2 / silo02 and Silo1 / silo1 compare equal as natural numbers and case-insensitively: their order is
    their exact text, not the order of the set they came from (which follows the string hash seed)."""
    from flaudit.gate import natural_key

    names = ["silo02", "silo2", "Silo1", "silo1", "silo10", "silo3"]
    assert sorted(names, key=natural_key) == ["Silo1", "silo1", "silo02", "silo2", "silo3", "silo10"]
    assert sorted(reversed(names), key=natural_key) == sorted(names, key=natural_key)
