"""The CLI as a user runs it: exit codes, outputs, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flaudit.cli import main
from flaudit.samples import generate
from tests import support


def run(*argv: str) -> int:
    return main(list(argv))


def test_ready_deployment_exits_0_and_blocked_one_exits_1(capsys):
    assert run("scan", "--sample", "hardened", "--quiet") == 0
    assert run("scan", "--sample", "eyes-on", "--quiet") == 1
    assert run("scan", "--sample", "eyes-on", "--profile", "prototype", "--quiet") == 0
    assert capsys.readouterr().out == ""


def test_fail_on_only_counts_blocking_findings_at_or_above_the_severity(tmp_path):
    snap = generate.snapshot("hardened")  # a snapshot says what was collected: no unknown blocks the gate
    support.storage(snap["resources"], "silo1")["properties"]["minimumTlsVersion"] = "TLS1_0"
    p = tmp_path / "d.json"
    p.write_text(json.dumps(snap))
    cfg = tmp_path / "c.yaml"
    cfg.write_text(json.dumps(generate.fl_config()))  # JSON is YAML
    assert run("scan", "-i", str(p), "-c", str(cfg), "-q") == 1
    assert run("scan", "-i", str(p), "-c", str(cfg), "-q", "--fail-on", "critical") == 0


def test_json_output_follows_the_contract(tmp_path):
    out = tmp_path / "r.json"
    assert run("scan", "--sample", "eyes-off", "--format", "json", "--output", str(out)) == 1
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == "1.0" and doc["tool"]["name"] == "flaudit"
    assert len(doc["input"]["sha256"]) == 64
    assert doc["topology"]["source"] == "config" and len(doc["topology"]["silos"]) == 3
    assert doc["verdict"]["production"]["status"] == "not_ready"
    assert set(doc["summary"]["by_status"]) == {"pass", "fail", "unknown", "not_applicable"}
    f = doc["findings"][0]
    assert {"id", "rule_id", "title", "area", "severity", "status", "resource_id", "silo", "message",
            "evidence"} <= set(f)


def test_several_formats_need_a_directory(tmp_path, capsys):
    assert run("scan", "--sample", "open", "--format", "json,terminal") == 2
    assert "--output DIR" in capsys.readouterr().err
    assert run("scan", "--sample", "open", "--format", "json,sarif,terminal", "--output", str(tmp_path / "out")) == 1
    assert (tmp_path / "out" / "flaudit-report.json").exists() and (tmp_path / "out" / "flaudit-report.sarif").exists()
    # one file format: --output names the file itself
    assert run("scan", "--sample", "open", "--format", "json,terminal", "-q", "--output", str(tmp_path / "r.json")) == 1
    assert json.loads((tmp_path / "r.json").read_text())["schema_version"] == "1.0"


def test_input_errors_exit_2_with_one_line_and_nothing_written(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{oops")
    out = tmp_path / "r.json"
    assert run("scan", "-i", str(bad), "--format", "json", "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "bad.json: not JSON" in err
    assert not out.exists()
    assert run("scan", "-i", str(tmp_path / "missing.json")) == 2
    assert run("scan") == 2
    assert run("scan", "--sample", "nope") == 2
    assert run("scan", "--sample", "open", "--format", "pdf") == 2
    assert run("scan", "--sample", "open", "-c", str(tmp_path / "nope.yaml")) == 2
    assert run("scan", "--bogus-flag") == 2
    assert run("--help") == 0


def test_rules_list_and_show(capsys):
    assert run("rules", "list", "--json") == 0
    rules = json.loads(capsys.readouterr().out)
    assert {r["area"] for r in rules} >= {"topology"}
    assert run("rules", "show", "fl-top-001") == 0
    assert "At least one silo is found" in capsys.readouterr().out
    assert run("rules", "show", "NOPE-1") == 2


def test_no_color_when_not_a_tty_or_no_color_is_set(tmp_path):
    env = dict(os.environ, NO_COLOR="1")
    proc = subprocess.run([sys.executable, "-m", "flaudit", "scan", "--sample", "eyes-off"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "\x1b[" not in proc.stdout and "production" in proc.stdout


def test_help_is_fast_because_azure_sdks_load_lazily():
    code = "import sys, flaudit.cli as c; c.build_parser(); print(sorted(m for m in sys.modules if m.startswith(('azure', 'torch', 'jinja2'))))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_sample_scan_works_from_another_directory(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "flaudit", "scan", "--sample", "hardened", "--format", "json"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["verdict"]["production"]["status"] == "ready"


@pytest.mark.parametrize("posture, prototype, production", [
    ("open", "ready", "not_ready"),
    ("eyes-on", "ready", "not_ready"),
    ("eyes-off", "ready", "not_ready"),
    ("private", "ready", "not_ready"),
    ("hardened", "ready", "ready"),
])
def test_each_sample_gives_the_verdict_its_design_intends(posture, prototype, production):
    from flaudit.audit import run_audit
    from flaudit.config import load_config
    from flaudit.sources import samples
    from flaudit.sources.files import parse_snapshot

    inv = parse_snapshot(json.loads(samples.sample_text(posture)), posture)
    result = run_audit(inv, load_config(samples.config_path()))
    blocking = {p: [f["rule_id"] for f in result["findings"] if f["id"] in result["verdict"][p]["blocking"]]
                for p in ("prototype", "production")}
    assert result["verdict"]["prototype"]["status"] == prototype, blocking["prototype"]
    assert result["verdict"]["production"]["status"] == production, blocking["production"]


def test_bundled_samples_are_what_the_generator_writes():
    here = Path(generate.__file__).parent
    for posture in generate.POSTURES:
        assert json.loads((here / f"{posture}.json").read_text()) == generate.snapshot(posture), posture


def test_written_reports_get_ordinary_file_permissions(tmp_path):
    import stat

    out = tmp_path / "r.json"
    run("scan", "--sample", "hardened", "-f", "json", "-o", str(out))
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask


def test_the_console_script_ends_a_scan_without_teardown_yet_every_byte_and_the_exit_code_arrive(tmp_path):
    """`python -m flaudit` (like the console script) ends scan/report with os._exit after flushing: stdout piped to
    a reader, a file output and stderr must still be complete, and the exit code the command's own."""
    code = ("import os, flaudit.cli as c\n"
            "real = os._exit\n"
            "def spy(rc):\n"
            "    import sys; sys.stderr.write(f'hard-exit {rc}\\n'); sys.stderr.flush(); real(rc)\n"
            "os._exit = spy\n"
            "import sys; sys.argv = ['flaudit', *sys.argv[1:]]; c.entry()\n")
    proc = subprocess.run([sys.executable, "-c", code, "scan", "--sample", "eyes-off", "--format", "json,terminal",
                           "--output", str(tmp_path / "r.json")], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1 and "hard-exit 1" in proc.stderr, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["verdict"]["production"]["status"] == "not_ready"
    assert "production" in proc.stdout and proc.stdout.endswith("\n")  # the terminal report, to its last line
    big = subprocess.run([sys.executable, "-m", "flaudit", "scan", "--sample", "eyes-off", "--format", "json"],
                         capture_output=True, cwd=tmp_path)  # a result larger than a pipe's buffer, to stdout
    assert big.returncode == 1 and json.loads(big.stdout)["verdict"]["production"]["status"] == "not_ready"
    bad = subprocess.run([sys.executable, "-m", "flaudit", "scan", "--input", str(tmp_path / "missing.json")],
                         capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "missing.json" in bad.stderr


def test_commands_that_may_leave_work_for_exit_handlers_exit_normally():
    from flaudit.cli import FAST_EXIT_COMMANDS

    assert {"train", "collect"}.isdisjoint(FAST_EXIT_COMMANDS)
    assert "scan" in FAST_EXIT_COMMANDS
