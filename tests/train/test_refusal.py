"""A refused gate touches nothing: no silo data opened, no process started, no job submitted, and the run
directory holds only the refusal record."""

from __future__ import annotations

import builtins
import io
import json
import multiprocessing
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import make_result, run_cli, write_config, write_silo_csvs


@pytest.fixture
def silo_config(tmp_path) -> Path:
    """Real CSV silo data and an FL config naming it (written before the tripwires are armed)."""
    doc = write_silo_csvs(tmp_path / "fl")
    doc["training_parameters"]["n_classes"] = 3
    return write_config(tmp_path / "fl" / "config.yaml", doc)


@pytest.fixture
def tripwires(monkeypatch, tmp_path, silo_config):
    """Record every process start, job submission and open of a silo data file."""
    events: list[str] = []
    data_root = tmp_path / "fl"

    def no_popen(*a, **k):
        events.append(f"popen {a[0] if a else k.get('args')}")
        raise AssertionError("a process was started")

    def no_mp_start(self):
        events.append("multiprocessing start")
        raise AssertionError("a process was started")

    def no_submit(*a, **k):
        events.append("submit")
        raise AssertionError("a job was submitted")

    real_open, real_io_open = builtins.open, io.open

    def guarded(opener):
        def _open(file, *a, **k):
            if isinstance(file, (str, os.PathLike)) and str(data_root) in str(Path(file).resolve()) \
                    and str(file).endswith(".csv"):
                events.append(f"open {file}")
            return opener(file, *a, **k)
        return _open

    monkeypatch.setattr(subprocess, "Popen", no_popen)
    monkeypatch.setattr(multiprocessing.Process, "start", no_mp_start)
    monkeypatch.setattr("flaudit.train.azureml.submit", no_submit)
    monkeypatch.setattr(builtins, "open", guarded(real_open))
    monkeypatch.setattr(io, "open", guarded(real_io_open))
    return events


def test_eyes_on_sample_is_refused_with_blocking_findings_and_only_a_refusal_record(tmp_path, capsys, tripwires):
    run_dir = tmp_path / "run"
    code, out, err = run_cli(["train", "--sample", "eyes-on", "--output", str(run_dir)], capsys)
    assert code == 1
    assert "refused" in err and "not_ready" in err
    assert "FL-" in err  # blocking findings are printed, one per line
    assert sorted(p.name for p in run_dir.iterdir()) == ["refusal.json"]
    record = json.loads((run_dir / "refusal.json").read_text())
    assert record["status"] == "not_ready" and record["blocking"]
    assert tripwires == []


@pytest.mark.parametrize("status", ["not_ready", "unknown"])
def test_refusal_with_own_config_never_opens_silo_data_or_starts_workers(tmp_path, capsys, tripwires, fake_audit,
                                                                         silo_config, status):
    cfg = silo_config
    fake_audit(status)
    run_dir = tmp_path / "run"
    code, _, err = run_cli(["train", "--sample", "hardened", "--config", str(cfg), "--output", str(run_dir)],
                           capsys)
    assert code == 1 and status in err
    assert [p.name for p in run_dir.iterdir()] == ["refusal.json"]
    assert tripwires == []


def test_refusal_on_azureml_backend_submits_nothing(tmp_path, capsys, tripwires, fake_audit, silo_config):
    pytest.importorskip("azure.ai.ml")
    cfg = silo_config
    fake_audit("not_ready")
    run_dir = tmp_path / "run"
    code, _, _ = run_cli(["train", "--sample", "hardened", "--config", str(cfg), "--backend", "azureml",
                          "--output", str(run_dir)], capsys)
    assert code == 1
    assert [p.name for p in run_dir.iterdir()] == ["refusal.json"]
    assert tripwires == []


def test_saved_result_of_another_inventory_is_refused_as_stale(tmp_path, capsys, tripwires):
    saved = tmp_path / "result.json"
    saved.write_text(json.dumps(make_result("ready", input_sha="f" * 64)))
    run_dir = tmp_path / "run"
    code, _, err = run_cli(["train", "--sample", "--result", str(saved), "--output", str(run_dir)], capsys)
    assert code == 1
    assert "saved result audited inventory ffffffffffff" in err
    assert json.loads((run_dir / "refusal.json").read_text())["status"] == "stale"
    assert [p.name for p in run_dir.iterdir()] == ["refusal.json"]
    assert tripwires == []


def test_bad_training_parameter_is_an_input_error_before_the_audit(tmp_path, capsys, fake_audit):
    calls = fake_audit("ready")
    run_dir = tmp_path / "run"
    code, _, err = run_cli(["train", "--sample", "--set", "epochs=zero", "--output", str(run_dir)], capsys)
    assert code == 2
    assert err.count("\n") == 1 and "training_parameters.epochs must be an integer" in err
    assert calls == [] and not run_dir.exists()
