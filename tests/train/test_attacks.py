"""The attacks of issue #12, each pinned as refused or harmless: DP noise regenerated from the config, a saved
`ready` result reused for another config, an attestation that outlives its data or model, forged or unsigned
attestations, a failed run that looks like a success."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("safetensors")

from flaudit.train.params import parse_params  # noqa: E402
from flaudit.train.training import SiloTrainer  # noqa: E402

from .conftest import run_cli, write_config, write_silo_csvs  # noqa: E402


def _trainer(params):
    g = torch.Generator().manual_seed(1)
    y = torch.randint(0, 3, (120,), generator=g)
    x = torch.randn(120, 4, generator=g) + y[:, None].float()
    return SiloTrainer(params=params, x_train=x, y_train=y, x_test=x[:30], y_test=y[:30], n_classes=3, seed=7,
                       total_rounds=2)


def test_dp_noise_and_sampling_cannot_be_regenerated_from_the_config_but_non_dp_runs_repeat():
    dp = parse_params({"dp": True, "dp_noise_multiplier": 1.0, "seed": 3, "batch_size": 16})
    a, _ = _trainer(dp).train_round()
    b, _ = _trainer(dp).train_round()  # same config, same seed: what an orchestrator could replay
    assert any(not torch.equal(a[k], b[k]) for k in a)
    plain = parse_params({"seed": 3, "batch_size": 16})
    c, _ = _trainer(plain).train_round()
    d, _ = _trainer(plain).train_round()
    assert all(torch.equal(c[k], d[k]) for k in c)


def test_dp_round_metrics_hold_only_the_accounting():
    t = _trainer(parse_params({"dp": True, "dp_noise_multiplier": 1.0, "batch_size": 16}))
    _, m = t.train_round()
    assert set(m) == {"dp", "withheld"}
    assert {"epsilon", "delta", "noise_multiplier", "sample_rate", "max_grad_norm", "accountant", "steps",
            "history"} <= set(m["dp"])
    assert "accuracy" in t.silo_only_metrics  # kept for the silo's own log


def test_accountant_state_carries_across_processes_so_epsilon_accumulates():
    from flaudit.train.dp import history, restore, spent

    params = parse_params({"dp": True, "dp_noise_multiplier": 1.0, "batch_size": 16})
    first = _trainer(params)
    first.train_round()
    one = spent(first.privacy, first.dp_info)
    second = _trainer(params)  # a fresh process for round 2, as in Azure ML
    restore(second.privacy, history(first.privacy))
    second.train_round()
    two = spent(second.privacy, second.dp_info)
    assert two["steps"] == 2 * one["steps"] and two["epsilon"] > one["epsilon"]


@pytest.fixture
def own_config(tmp_path):
    doc = write_silo_csvs(tmp_path / "fl")
    return write_config(tmp_path / "fl" / "config.yaml", doc)


def test_saved_ready_result_of_one_config_cannot_open_the_gate_for_another(tmp_path, capsys, own_config):
    saved = tmp_path / "scan.json"
    code, out, _ = run_cli(["scan", "--sample", "hardened", "--format", "json"], capsys)
    assert code == 0
    saved.write_text(out)
    run_dir = tmp_path / "run"
    code, out, err = run_cli(["train", "--sample", "--config", str(own_config), "--result", str(saved),
                              "--output", str(run_dir)], capsys)
    assert code == 1
    first = err.strip().splitlines()[0]
    assert first.startswith("flaudit train: refused:") and "audited FL config" in first
    assert sorted(p.name for p in run_dir.iterdir()) == ["refusal.json"]


@pytest.fixture
def trained(tmp_path_factory):
    """A small local run on the caller's own config, gated by a fake `ready` audit of the real inventory."""
    root = tmp_path_factory.mktemp("own")
    doc = write_silo_csvs(root / "fl")
    cfg = write_config(root / "fl" / "config.yaml", doc)
    return root, cfg


def _train(root, cfg, capsys, *extra):
    run_dir = root / "run"
    code, out, err = run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir), "--no-plot",
                              *extra], capsys)
    assert code == 0, err
    return run_dir, out


def test_attestation_covers_data_and_models_and_refuses_changed_data(trained, capsys, fake_audit, tmp_path):
    root, cfg = trained
    fake_audit("ready")
    run_dir, out = _train(root, cfg, capsys, "--jsonl")
    lines = [json.loads(ln) for ln in out.splitlines() if ln.startswith("{")]
    assert [ln["round"] for ln in lines] == [1, 2]  # streamed as each round completed
    att = json.loads((run_dir / "attestation.json").read_text())
    tr = att["training"]
    assert tr["status"] == "completed"
    assert set(tr["data"]) == {"silo0", "silo1", "silo2"}
    from flaudit.train.attestation import sha256_file

    for rec in tr["data"].values():
        for f in rec.values():
            assert sha256_file(f["path"]) == f["sha256"]  # the digest the worker computed inside its sandbox
    assert [g["round"] for g in tr["global_models"]] == [0, 1, 2]
    assert tr["final_model"]["sha256"] == tr["global_models"][-1]["sha256"]
    assert tr["isolation"]["mode"] in ("uid", "best-effort")
    code, out, _ = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 0 and "signature: unsigned" in out and "3 global models" in out

    data = Path(tr["data"]["silo1"]["train"]["path"])
    data.write_text(data.read_text() + "0,0,0,0,1\n")
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and err.count("\n") == 1 and "silo silo1 train data" in err and "changed" in err


def test_ed25519_signature_verifies_with_the_public_key_and_a_verifier_cannot_forge(trained, capsys, fake_audit,
                                                                                   monkeypatch, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    root, cfg = trained
    key = Ed25519PrivateKey.generate()
    priv = tmp_path / "signing.pem"
    priv.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    pub = tmp_path / "public.pem"
    pub.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo))
    fake_audit("ready")
    monkeypatch.setenv("FLAUDIT_ATTESTATION_SIGNING_KEY", str(priv))
    run_dir = root / "run"
    assert run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir), "--dry-run"],
                   capsys)[0] == 0
    monkeypatch.delenv("FLAUDIT_ATTESTATION_SIGNING_KEY")
    code, out, _ = run_cli(["verify-attestation", str(run_dir), "--public-key", str(pub)], capsys)
    assert code == 0 and "signature: signed (Ed25519" in out
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and "key missing" in err

    # a verifier holds only the public key: editing and re-digesting the attestation breaks the signature
    from flaudit.train.attestation import SEAL_FIELDS
    from flaudit.train.gate import canonical_json, sha256_text

    att = json.loads((run_dir / "attestation.json").read_text())
    att["profile"] = "prototype"
    att["attestation_sha256"] = sha256_text(canonical_json({k: v for k, v in att.items() if k not in SEAL_FIELDS}))
    (run_dir / "attestation.json").write_text(json.dumps(att))
    code, _, err = run_cli(["verify-attestation", str(run_dir), "--public-key", str(pub)], capsys)
    assert code == 1 and "Ed25519 signature does not verify" in err
    # and stripping the signature leaves an unsigned attestation, refused while a key is configured
    att.pop("signature")
    (run_dir / "attestation.json").write_text(json.dumps(att))
    code, _, err = run_cli(["verify-attestation", str(run_dir), "--public-key", str(pub)], capsys)
    assert code == 1 and "unsigned" in err


def test_max_age_refuses_an_old_attestation(trained, capsys, fake_audit, monkeypatch):
    from flaudit.train import attestation

    root, cfg = trained
    fake_audit("ready")
    monkeypatch.setattr(attestation, "now", lambda: "2020-01-01T00:00:00+00:00")
    run_dir = root / "run"
    assert run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir), "--dry-run"],
                   capsys)[0] == 0
    code, _, err = run_cli(["verify-attestation", str(run_dir), "--max-age", "7d"], capsys)
    assert code == 1 and "older than --max-age" in err
    assert run_cli(["verify-attestation", str(run_dir), "--max-age", "100000d"], capsys)[0] == 0
    code, _, err = run_cli(["verify-attestation", str(run_dir), "--max-age", "soon"], capsys)
    assert code == 2 and "--max-age" in err


def test_prototype_training_is_in_the_attestation_and_shown(trained, capsys, fake_audit):
    root, cfg = trained
    fake_audit("ready")
    run_dir = root / "run"
    code, out, err = run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir), "--dry-run",
                              "--profile", "prototype"], capsys)
    assert code == 0 and "not cleared for production data" in err
    assert "secure aggregation off" in out  # off by default for prototype, on for production
    assert json.loads((run_dir / "attestation.json").read_text())["prototype"] is True
    code, out, _ = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 0 and "PROTOTYPE" in out


def test_a_run_that_fails_after_the_gate_leaves_an_attestation_that_says_so(trained, capsys, fake_audit,
                                                                              monkeypatch):
    from flaudit.train import local

    root, cfg = trained
    fake_audit("ready")

    def boom(*a, **k):
        raise local.WorkerError("silo silo1: worker died (exit code 9)")

    monkeypatch.setattr(local, "run_local", boom)
    run_dir = root / "run"
    code, _, err = run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir)], capsys)
    assert code == 2 and "worker died" in err
    tr = json.loads((run_dir / "attestation.json").read_text())["training"]
    assert tr["status"] == "failed" and "worker died" in tr["error"]
    code, _, err = run_cli(["verify-attestation", str(run_dir)], capsys)
    assert code == 1 and "failed after the gate passed" in err


def test_resume_continues_from_the_last_round_with_the_same_attestation(trained, capsys, fake_audit, monkeypatch):
    from flaudit.train import local

    root, cfg = trained
    fake_audit("ready")
    real = local.run_local

    def two_rounds_then_crash(run_dir, silos, params, **k):
        import dataclasses

        real(run_dir, silos, dataclasses.replace(params, num_of_iterations=1), **k)
        raise local.WorkerError("silo silo0: worker died (killed by signal 9)")

    monkeypatch.setattr(local, "run_local", two_rounds_then_crash)
    run_dir = root / "run"
    code, _, _ = run_cli(["train", "--sample", "--config", str(cfg), "--output", str(run_dir), "--no-plot"], capsys)
    assert code == 2
    assert json.loads((run_dir / "checkpoint.json").read_text())["round"] == 1
    monkeypatch.setattr(local, "run_local", real)
    code, out, err = run_cli(["train", "--resume", str(run_dir), "--no-plot"], capsys)
    assert code == 0, err
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["resumed_from_round"] == 1 and [r["round"] for r in m["rounds"]] == [1, 2]
    assert run_cli(["verify-attestation", str(run_dir)], capsys)[0] == 0
    code, _, err = run_cli(["train", "--resume", str(run_dir)], capsys)
    assert code == 2 and "already completed" in err


def test_copy_of_a_run_keeps_verifying_its_own_models(trained, capsys, fake_audit, tmp_path):
    root, cfg = trained
    fake_audit("ready")
    run_dir, _ = _train(root, cfg, capsys)
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    (copy / "models" / "global_001.safetensors").unlink()
    code, _, err = run_cli(["verify-attestation", str(copy), "--no-recheck"], capsys)
    assert code == 1 and "global_001" in err and "tampered or missing" in err
