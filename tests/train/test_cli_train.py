"""`flaudit train --sample` end to end on the hardened sample, and `flaudit verify-attestation` on its run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("torch")  # the trainer extra: pip install 'flaudit[train]'
pytest.importorskip("safetensors")
import yaml

from flaudit import RULE_PACK_VERSION
from flaudit.cli import main

from .conftest import run_cli, write_config, write_silo_csvs


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("demo") / "run"
    code = main(["train", "--sample", "--rounds", "2", "--baseline", "--output", str(run_dir), "--no-plot"])
    assert code == 0
    return run_dir


@pytest.fixture(scope="module")
def dp_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("dp") / "run"
    # DP on (the FL sample's keys) so one run proves the per-silo (epsilon, delta) reporting
    code = main(["train", "--sample", "--rounds", "2", "--output", str(run_dir), "--no-plot",
                 "--set", "dp=true", "--set", "dp_target_epsilon=8", "--set", "dp_target_delta=1e-5"])
    assert code == 0
    return run_dir


def test_demo_passes_the_gate_on_hardened_and_trains_every_silo(demo_run):
    names = sorted(p.name for p in demo_run.iterdir())
    for expected in ("attestation.json", "audit-result.json", "metrics.json", "metrics.jsonl",
                     "training-config.yaml", "data", "models", "logs", "checkpoint.json"):
        assert expected in names
    assert "exchange" not in names  # updates travel over the workers' pipes, not a shared directory
    m = json.loads((demo_run / "metrics.json").read_text())
    assert m["silos"] == ["silo0", "silo1", "silo2"]
    assert len(m["rounds"]) == 2
    for r in m["rounds"]:
        for s in m["silos"]:
            assert set(r["silos"][s]) >= {"train_loss", "test_loss", "accuracy", "n_train"}
        assert set(r["aggregate"]["silos"]) == set(m["silos"])
    assert m["final"]["accuracy"] > 0.3  # 10 classes: well above chance after two rounds
    assert m["secure_aggregation"]["error_bound"] < 1e-9  # on by default for the production profile
    b = m["baseline"]
    assert set(b["silo_alone"]) == set(m["silos"]) and 0 < b["centralized"]["accuracy"] <= 1


def test_demo_training_config_is_the_sample_topology_with_demo_data_in_the_run_dir(demo_run):
    doc = yaml.safe_load((demo_run / "training-config.yaml").read_text())
    silos = doc["federated_learning"]["silos"]
    assert [s["name"] for s in silos] == ["silo0", "silo1", "silo2"]
    assert [s["computes"] for s in silos] == [["silo0-01"], ["silo1-01"], ["silo2-01"]]
    for s in silos:
        assert Path(s["training_data"]["path"]).is_relative_to(demo_run.resolve()) or \
            Path(s["training_data"]["path"]).is_relative_to(demo_run)
    assert doc["training_parameters"]["num_of_iterations"] == 2


def test_attestation_records_the_gate_and_verifies(demo_run, capsys):
    att = json.loads((demo_run / "attestation.json").read_text())
    assert att["verdict"] == "ready" and att["profile"] == "production"
    assert att["rule_pack_version"] == RULE_PACK_VERSION
    result = json.loads((demo_run / "audit-result.json").read_text())
    assert att["input"]["sha256"] == result["input"]["sha256"]
    assert att["waivers"] == result["waivers"]["applied"]
    assert att["config"]["path"].endswith("config.yaml") and len(att["config"]["sha256"]) == 64
    assert att["training"]["metrics"]["file"] == "metrics.json"
    code, out, _ = run_cli(["verify-attestation", str(demo_run)], capsys)
    assert code == 0 and out.startswith("attestation OK") and "inputs unchanged" in out


def test_dp_spent_per_silo_is_in_metrics_and_attestation_and_within_target(dp_run):
    m = json.loads((dp_run / "metrics.json").read_text())
    att = json.loads((dp_run / "attestation.json").read_text())
    assert set(m["dp"]) == {"silo0", "silo1", "silo2"}
    assert att["training"]["dp"] == m["dp"]
    for silo, dp in m["dp"].items():
        assert 0 < dp["epsilon"] <= 8.05 and dp["delta"] == 1e-5 and dp["accountant"] == "rdp"
        assert dp["max_grad_norm"] == 1.0 and 0 < dp["sample_rate"] < 1 and dp["steps"] > 0
        assert {k: v for k, v in m["rounds"][-1]["silos"][silo]["dp"].items() if k != "history"} == dp


def test_with_dp_on_silos_send_nothing_computed_from_rows_without_noise(dp_run):
    m = json.loads((dp_run / "metrics.json").read_text())
    for r in m["rounds"]:
        assert r["aggregate"] is None
        for silo in m["silos"]:
            assert set(r["silos"][silo]) == {"dp", "withheld"}
    assert m["final"] is None and m["initial"] is None and m["withheld"]
    for line in (dp_run / "metrics.jsonl").read_text().splitlines():
        entry = json.loads(line)
        assert entry["aggregate_accuracy_before"] is None
        assert all(set(v) == {"dp", "withheld"} for v in entry["silos"].values())
    # the silo keeps its own figures in its own log
    assert "[silo-only] round 2" in (dp_run / "logs" / "silo0.log").read_text()


@pytest.mark.parametrize("target,edit", [
    ("attestation.json", lambda d: d.update(profile="prototype")),
    ("audit-result.json", lambda d: d["verdict"]["production"].update(status="ready", blocking=[]) or
     d.update(generated_at="2000-01-01T00:00:00+00:00")),
    ("metrics.json", lambda d: d["final"].update(accuracy=1.0)),
    ("checkpoint.json", None),
])
def test_tampered_run_fails_verification_with_one_line(demo_run, tmp_path, capsys, target, edit):
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    if edit is None:  # the final model itself: one weight changed
        from safetensors.torch import load_file, save_file

        model = copy / json.loads((copy / "attestation.json").read_text())["training"]["final_model"]["file"]
        state = load_file(str(model))
        next(iter(state.values())).view(-1)[0] += 0.5
        save_file(state, str(model))
    else:
        doc = json.loads((copy / target).read_text())
        edit(doc)
        (copy / target).write_text(json.dumps(doc))
    code, out, err = run_cli(["verify-attestation", str(copy)], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "tampered" in err


def test_tampered_training_config_fails_verification(demo_run, tmp_path, capsys):
    copy = tmp_path / "run"
    shutil.copytree(demo_run, copy)
    with (copy / "training-config.yaml").open("a") as fh:
        fh.write("# extra silo would go here\n")
    code, _, err = run_cli(["verify-attestation", str(copy), "--no-recheck"], capsys)
    assert code == 1 and "training-config.yaml" in err


def test_refused_run_has_no_attestation_to_verify(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert run_cli(["train", "--sample", "eyes-on", "--output", str(run_dir)], capsys)[0] == 1
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and "refused" in err


def test_changed_fl_config_makes_the_attestation_stale_and_the_trainer_refuses(tmp_path, capsys, fake_audit,
                                                                                monkeypatch):
    doc = write_silo_csvs(tmp_path / "fl")
    cfg = write_config(tmp_path / "fl" / "config.yaml", doc)
    fake_audit("ready")
    run_dir = tmp_path / "run"
    assert run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir), "--dry-run"],
                   capsys)[0] == 0
    assert run_cli(["verify-attestation", str(run_dir)], capsys)[0] == 0
    with cfg.open("a") as fh:
        fh.write("# edited after the audit\n")
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and "stale" in err and "changed since the audit" in err

    # the trainer re-verifies between writing the attestation and starting silos: an edit in between refuses
    from flaudit.train import attestation

    real_write = attestation.write

    def write_then_edit(*a, **k):
        att = real_write(*a, **k)
        with cfg.open("a") as fh:
            fh.write("# edited during the run\n")
        return att

    monkeypatch.setattr(attestation, "write", write_then_edit)
    started = []
    monkeypatch.setattr("flaudit.train.local.run_local", lambda *a, **k: started.append(1))
    code, _, err = run_cli(["train", "--sample", "--config", str(cfg), "--output", str(tmp_path / "run2")], capsys)
    assert code == 1 and "stale" in err and started == []


def test_changed_inventory_makes_the_attestation_stale(tmp_path, capsys, fake_audit):
    from flaudit.sources.samples import sample_text

    snap = tmp_path / "deployment.json"
    snap.write_text(sample_text("hardened"))
    doc = write_silo_csvs(tmp_path / "fl")
    cfg = write_config(tmp_path / "fl" / "config.yaml", doc)
    fake_audit("ready")
    run_dir = tmp_path / "run"
    code, _, _ = run_cli(["train", "--input", str(snap), "--config", str(cfg), "--output", str(run_dir),
                          "--dry-run"], capsys)
    assert code == 0
    data = json.loads(snap.read_text())
    resources = data["resources"] if isinstance(data, dict) and "resources" in data else data
    resources.pop()
    snap.write_text(json.dumps(data))
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and "inventory changed since the audit" in err


def test_signed_attestation_needs_the_key(tmp_path, capsys, fake_audit, monkeypatch):
    doc = write_silo_csvs(tmp_path / "fl")
    cfg = write_config(tmp_path / "fl" / "config.yaml", doc)
    fake_audit("ready")
    monkeypatch.setenv("FLAUDIT_ATTESTATION_KEY", "k1")
    run_dir = tmp_path / "run"
    assert run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir), "--dry-run"],
                   capsys)[0] == 0
    assert "hmac_sha256" in json.loads((run_dir / "attestation.json").read_text())
    assert run_cli(["verify-attestation", str(run_dir)], capsys)[0] == 0
    monkeypatch.setenv("FLAUDIT_ATTESTATION_KEY", "other")
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and "HMAC" in err
    monkeypatch.delenv("FLAUDIT_ATTESTATION_KEY")
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and "FLAUDIT_ATTESTATION_KEY" in err


def test_existing_non_empty_run_dir_is_an_input_error(tmp_path, capsys):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("")
    code, _, err = run_cli(["train", "--sample", "--output", str(tmp_path / "run")], capsys)
    assert code == 2 and "not empty" in err


def test_gate_on_a_saved_scan_result_of_the_same_inventory_passes(tmp_path, capsys):
    saved = tmp_path / "scan.json"
    code, out, _ = run_cli(["scan", "--sample", "hardened", "--format", "json"], capsys)
    assert code == 0
    saved.write_text(out)
    run_dir = tmp_path / "run"
    code, out, _ = run_cli(["train", "--sample", "--result", str(saved), "--dry-run", "--output", str(run_dir)],
                           capsys)
    assert code == 0 and "dry run: nothing trained" in out
    att = json.loads((run_dir / "attestation.json").read_text())
    assert att["gate_source"] == "saved-result"
    assert att["input"]["sha256"] == json.loads(saved.read_text())["input"]["sha256"]
    assert not (run_dir / "exchange").exists()  # dry run: no silo started
