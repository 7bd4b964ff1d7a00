"""The local backend: data validation before any silo starts, one long-lived worker per silo given only its
own paths, safetensors updates, sample-weighted FedAvg, metrics per silo per round."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

pytest.importorskip("torch")  # the trainer extra: pip install 'flaudit[train]'
pytest.importorskip("safetensors")

from flaudit.errors import InputError
from flaudit.train.data import SiloData, preflight, read_csv
from flaudit.train.params import parse_params

from .conftest import run_cli, write_config, write_silo_csvs


def _silos(root: Path, n: int = 3) -> list[SiloData]:
    write_silo_csvs(root, n)
    return [SiloData(f"silo{i}", str(root / f"silo{i}/train.csv"), str(root / f"silo{i}/test.csv")) for i in range(n)]


@pytest.mark.parametrize("content,message", [
    ("a,b\n1,2\n", "no label column 'label'"),
    ("a,label\nx,1\n", "'x' is not a number"),
    ("a,label\n1,0.5\n", "is not a class index"),
    ("a,label\n1\n", "line 2 has 1 cells"),
    ("", "empty file"),
    ("a,label\n", "no data rows"),
])
def test_bad_csv_is_one_line_input_error_naming_the_file(tmp_path, content, message):
    f = tmp_path / "train.csv"
    f.write_text(content)
    with pytest.raises(InputError) as e:
        read_csv(f)
    assert message in str(e.value) and str(f) in str(e.value) and "\n" not in str(e.value)


def test_missing_file_and_feature_mismatch_fail_preflight(tmp_path):
    silos = _silos(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        preflight([*silos, SiloData("silo9", str(tmp_path / "nope.csv"), silos[0].test)])
    (tmp_path / "silo1/test.csv").write_text("g0,label\n1,0\n")
    with pytest.raises(InputError, match="feature columns differ"):
        preflight(silos)


def test_bad_data_stops_the_cli_before_any_silo_process_starts(tmp_path, capsys, fake_audit, monkeypatch):
    doc = write_silo_csvs(tmp_path / "fl")
    (tmp_path / "fl/silo2/train.csv").write_text("f0,f1,f2,f3\n1,2,3,4\n")
    cfg = write_config(tmp_path / "fl/config.yaml", doc)
    fake_audit("ready")
    started = []
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: started.append(a) or (_ for _ in ()).throw(
        AssertionError("started")))
    code, _, err = run_cli(["train", "--sample", "--config", str(cfg), "--output", str(tmp_path / "run")], capsys)
    last = err.strip().splitlines()[-1]
    assert code == 2 and last.startswith("flaudit: error: ")
    assert "no label column 'label'" in last and "silo2/train.csv" in last
    assert started == []


def test_federated_run_uses_one_worker_per_silo_with_only_its_own_paths(tmp_path, monkeypatch):
    from flaudit.train import local

    silos = _silos(tmp_path / "fl")
    launched: list[list[str]] = []
    real_popen = subprocess.Popen

    def spy(args, *a, **k):
        launched.append(list(args))
        return real_popen(args, *a, **k)

    monkeypatch.setattr(local.subprocess, "Popen", spy)
    params = parse_params({"num_of_iterations": 3, "epochs": 5, "lr": 0.3, "batch_size": 16})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    m = local.run_local(run_dir, silos, params)

    assert len(launched) == 3  # long-lived: one process per silo for all three rounds
    for argv in launched:  # no data path on any command line (/proc/*/cmdline is world-readable)
        assert not any(p in " ".join(argv) for s in silos for p in (s.train, s.test, str(Path(s.train).parent)))
    assert not (run_dir / "exchange").exists()  # no shared directory: weights travel over the pipes
    models = sorted(p.name for p in (run_dir / "models").iterdir())
    assert models == [f"global_{r:03d}.safetensors" for r in range(4)]
    from flaudit.train.attestation import sha256_file

    assert [g["sha256"] for g in m["global_models"]] == [sha256_file(run_dir / "models" / n) for n in models]
    assert m["n_train"] == {s.silo: 40 for s in silos}  # the orchestrator's own counts weight FedAvg

    assert [r["round"] for r in m["rounds"]] == [1, 2, 3]
    for r in m["rounds"]:
        assert set(r["silos"]) == {"silo0", "silo1", "silo2"}
        assert r["aggregate"]["accuracy"] is not None
    assert m["final"]["accuracy"] > max(m["initial"]["accuracy"], 0.5)  # learned: chance is 1/3
    assert m["dp"] is None and len(m["timing"]["round_seconds"]) == 3


def test_a_silo_worker_that_finds_bad_data_stops_the_run_with_its_reason(tmp_path):
    from flaudit.train import local
    from flaudit.train.isolation import prepare

    silos = _silos(tmp_path / "fl", 2)
    spec = {"params": parse_params({}).to_dict(), "n_classes": 3, "rounds": 1}
    (tmp_path / "fl/silo1/test.csv").write_text("f0,f1,f2,f3,label\n1,2,3,x,0\n")
    iso = prepare(silos)
    try:
        with pytest.raises(local.WorkerError, match="silo silo1: .*'x' is not a number"):
            local.start_workers(silos, {s.silo: spec for s in silos}, tmp_path / "logs", iso)
    finally:
        iso.cleanup()


def test_plugin_model_from_the_callers_path_is_used_by_every_worker(tmp_path, monkeypatch):
    from flaudit.train import local

    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    (plugin_dir / "fl_plugin_mlp.py").write_text(
        "import torch.nn as nn\n"
        "def build(n_features, n_classes, params):\n"
        "    return nn.Sequential(nn.Linear(n_features, 5), nn.ReLU(), nn.Linear(5, n_classes))\n")
    monkeypatch.syspath_prepend(str(plugin_dir))
    silos = _silos(tmp_path / "fl", 2)
    params = parse_params({"num_of_iterations": 1, "model": "fl_plugin_mlp:build"})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    local.run_local(run_dir, silos, params)
    from flaudit.train.training import load_state

    update = load_state(run_dir / "models/global_001.safetensors")
    assert tuple(update["0.weight"].shape) == (5, 4)
