"""``flaudit collect`` and ``flaudit scan --subscription``: snapshots, identical offline re-audit, exit codes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import flaudit.sources.live.clients as clients_mod
import flaudit.sources.live.collect as collect_mod
from flaudit.cli import main
from flaudit.samples import generate
from flaudit.sources.live.clients import RetrySettings
from tests.live.conftest import SUB
from tests.live.fakearm import FakeArm, FakeCredential, arm_error


@pytest.fixture
def azure(rsps, sample, monkeypatch, sleeps):
    """A fake ARM behind the CLI: the credential factory and the retry sleep are replaced."""
    fake = FakeArm(sample, [SUB]).register(rsps)
    credential = FakeCredential()
    monkeypatch.setattr(collect_mod, "make_credential", lambda tenant=None, cloud=None: credential)
    monkeypatch.setattr(clients_mod, "RetrySettings", lambda: RetrySettings(sleep=sleeps.append))
    return fake


@pytest.fixture
def fl_config(tmp_path: Path) -> Path:
    path = tmp_path / "fl.yaml"
    path.write_text(yaml.safe_dump(generate.fl_config(3)))
    return path


def findings_of(path: Path) -> list[dict[str, Any]]:
    doc = json.loads(path.read_text())
    return [{k: f[k] for k in ("id", "status", "message")} for f in doc["findings"]]


def test_collect_writes_a_snapshot_and_reports_on_stderr(azure, tmp_path, capsys):
    out = tmp_path / "snap.json"
    assert main(["collect", "--subscription", SUB, "--output", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["kind"] == "flaudit.snapshot" and doc["scope"]["subscriptions"] == [SUB]
    assert len(doc["resources"]) == 59
    err = capsys.readouterr().err
    assert "collected 59 resources" in err and str(out) in err


def test_collect_quiet_prints_nothing(azure, tmp_path, capsys):
    assert main(["collect", "--subscription", SUB, "-o", str(tmp_path / "s.json"), "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_offline_scan_of_the_snapshot_gives_the_live_scan_findings(azure, tmp_path, fl_config):
    snap, live_json, offline_json = tmp_path / "snap.json", tmp_path / "live.json", tmp_path / "offline.json"
    live_rc = main(["scan", "--subscription", SUB, "--config", str(fl_config), "--save-snapshot", str(snap),
                    "--format", "json", "--output", str(live_json), "--quiet"])
    offline_rc = main(["scan", "--input", str(snap), "--config", str(fl_config), "--format", "json",
                       "--output", str(offline_json), "--quiet"])
    assert live_rc == offline_rc
    assert findings_of(live_json) == findings_of(offline_json)
    assert json.loads(live_json.read_text())["input"]["sha256"] == json.loads(offline_json.read_text())["input"][
        "sha256"]


def test_scan_with_only_the_fl_config_collects_its_resource_group(azure, tmp_path, fl_config):
    out = tmp_path / "r.json"
    rc = main(["scan", "--config", str(fl_config), "--format", "json", "--output", str(out), "--quiet"])
    assert rc in (0, 1)
    assert azure.count() > 0
    assert any("/resourcegroups/rg-fl-sample/providers/microsoft.storage/storageaccounts" in p
               for p in azure.paths())
    assert json.loads(out.read_text())["input"]["sources"][0]["kind"] == "live"


def test_scan_of_a_file_with_a_config_does_not_go_live(azure, tmp_path, fl_config, sample):
    data = tmp_path / "res.json"
    data.write_text(json.dumps(sample))
    rc = main(["scan", "--input", str(data), "--config", str(fl_config), "--quiet"])
    assert rc in (0, 1)
    assert azure.count() == 0


@pytest.mark.parametrize("argv", [
    ["collect", "--subscription", SUB],  # no --output
    ["collect", "--subscription", "not-a-guid", "--output", "x.json"],
    ["collect", "--management-group", "mg", "--output", "x.json"],
    ["collect", "--subscription", SUB, "--resource-group", "rg", "--resource-graph", "--output", "x.json"],
    ["collect", "--subscription", SUB, "--cloud", "Mars", "--output", "x.json"],
    ["collect", "--output", "x.json"],
])
def test_bad_arguments_exit_2_before_any_request(azure, argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert azure.count() == 0
    assert not (tmp_path / "x.json").exists()
    assert "Traceback" not in capsys.readouterr().err


def test_save_snapshot_without_a_live_scope_exits_2(azure, tmp_path, sample):
    data = tmp_path / "res.json"
    data.write_text(json.dumps(sample))
    assert main(["scan", "--input", str(data), "--save-snapshot", str(tmp_path / "s.json"), "--quiet"]) == 2


def test_nothing_readable_exits_3_and_writes_no_snapshot(azure, tmp_path, capsys):
    denied = arm_error(403, "AuthorizationFailed", "no access")
    for (path, flt) in list(azure.lists):
        azure.queue(path, denied, flt=flt)
    out = tmp_path / "snap.json"
    assert main(["collect", "--subscription", SUB, "--output", str(out)]) == 3
    assert not out.exists()
    assert "nothing in scope could be read" in capsys.readouterr().err


def test_no_credential_exits_3(azure, tmp_path, monkeypatch, capsys):
    from azure.core.exceptions import ClientAuthenticationError

    failing = FakeCredential(fail=ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token"))
    monkeypatch.setattr(collect_mod, "make_credential", lambda tenant=None, cloud=None: failing)
    assert main(["scan", "--subscription", SUB, "--quiet"]) == 3
    assert "no usable Azure credential" in capsys.readouterr().err
    assert azure.count() == 0


def test_scan_resource_group_option_narrows_live_collection(azure, tmp_path):
    rc = main(["scan", "--subscription", SUB, "--resource-group", generate.RG, "--quiet"])
    assert rc in (0, 1)
    paths = azure.paths()
    assert f"{generate.rg_id()}/providers/microsoft.network/virtualnetworks".lower() in paths
    assert f"/subscriptions/{SUB}/providers/microsoft.network/virtualnetworks" not in paths


def test_collect_accepts_several_resource_groups(azure, tmp_path):
    out = tmp_path / "s.json"
    assert main(["collect", "--subscription", SUB, "--resource-group", generate.RG, "--resource-group",
                 "rg-other", "-o", str(out), "-q"]) == 0
    doc = json.loads(out.read_text())
    assert doc["scope"]["resource_groups"] == [generate.RG, "rg-other"]
    assert len(doc["resources"]) == 59


def test_fleet_mode_from_the_fl_config_reads_the_whole_subscription(azure, tmp_path, fl_config):
    out = tmp_path / "s.json"
    assert main(["collect", "--config", str(fl_config), "--resource-graph", "-o", str(out), "-q"]) == 0
    doc = json.loads(out.read_text())
    assert doc["scope"]["subscriptions"] == [SUB] and "resource_groups" not in doc["scope"]
    assert azure.count("POST") > 0


def test_resource_graph_flag_without_a_scope_exits_2(azure, tmp_path, sample):
    data = tmp_path / "res.json"
    data.write_text(json.dumps(sample))
    assert main(["scan", "--input", str(data), "--resource-graph", "--quiet"]) == 2
    assert azure.count() == 0
