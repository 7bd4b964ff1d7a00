"""FedAvg, DP accounting, plug-in models and the Azure ML step entry points, in-process."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from flaudit.errors import InputError  # noqa: E402
from flaudit.train.fedavg import fedavg  # noqa: E402
from flaudit.train.params import parse_params  # noqa: E402
from flaudit.train.training import SiloTrainer, load_state, save_state  # noqa: E402

from .conftest import write_silo_csvs  # noqa: E402


def test_fedavg_weights_by_sample_count_not_silo_count():
    a = {"w": torch.tensor([0.0, 0.0]), "n": torch.tensor(3)}
    b = {"w": torch.tensor([4.0, 8.0]), "n": torch.tensor(5)}
    out = fedavg([(a, 300), (b, 100)])
    assert torch.allclose(out["w"], torch.tensor([1.0, 2.0]))  # 0.75*0 + 0.25*[4, 8]
    assert int(out["n"]) == 5  # integer buffers are not averaged


def test_fedavg_refuses_updates_that_disagree():
    with pytest.raises(InputError, match="disagree"):
        fedavg([({"w": torch.zeros(2)}, 1), ({"w": torch.zeros(3)}, 1)])
    with pytest.raises(InputError, match="no silo updates"):
        fedavg([])


def test_safetensors_update_with_wrong_shape_is_refused(tmp_path):
    save_state({"weight": torch.zeros(2, 3)}, tmp_path / "u.safetensors")
    with pytest.raises(InputError, match="shape"):
        load_state(tmp_path / "u.safetensors", {"weight": torch.zeros(3, 3)})
    (tmp_path / "bad.safetensors").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(InputError, match="not a readable safetensors"):
        load_state(tmp_path / "bad.safetensors")


def _trainer(params, rows=200, seed=1):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 3, (rows,), generator=g)
    x = torch.randn(rows, 4, generator=g) * 0.5
    x[:, 0] += y * 2.0
    return SiloTrainer(params=params, x_train=x, y_train=y, x_test=x[:50], y_test=y[:50], n_classes=3, seed=seed,
                       total_rounds=params.num_of_iterations)


def test_dp_noise_is_calibrated_for_the_whole_run_and_reported_by_the_same_accountant():
    p = parse_params({"num_of_iterations": 4, "epochs": 2, "batch_size": 20, "lr": 0.3, "dp": True,
                      "dp_target_epsilon": 3.0, "dp_target_delta": 1e-4, "dp_max_grad_norm": 1.0})
    t = _trainer(p)
    eps = []
    for _ in range(p.num_of_iterations):
        _, m = t.train_round(t.initial_state())
        eps.append(m["dp"]["epsilon"])
    assert eps == sorted(eps)  # spending only grows
    final = eps[-1]
    # calibrated for every round x epoch: the run ends just under the target, not at a fraction or a multiple
    assert 0.85 * 3.0 <= final <= 3.0 + 0.05
    assert t.dp_info["accountant"] == "rdp" and t.dp_info["planned_steps"] == 4 * 2 * 10
    assert m["dp"]["steps"] == t.dp_info["planned_steps"] and m["dp"]["delta"] == 1e-4


def test_dp_needs_a_target_or_a_noise_multiplier():
    with pytest.raises(InputError, match="dp_target_epsilon"):
        parse_params({"dp": True})
    p = parse_params({"num_of_iterations": 1, "dp": True, "dp_noise_multiplier": 1.1})
    _, m = _trainer(p).train_round()
    assert m["dp"]["noise_multiplier"] == pytest.approx(1.1) and m["dp"]["epsilon"] > 0


def test_plugin_model_and_training_step_are_used(tmp_path, monkeypatch):
    (tmp_path / "my_fl_plugin.py").write_text(
        "import torch.nn as nn\n"
        "CALLS = []\n"
        "def build(n_features, n_classes, params):\n"
        "    return nn.Sequential(nn.Linear(n_features, 8), nn.Tanh(), nn.Linear(8, n_classes))\n"
        "def step(model, optimizer, x, y):\n"
        "    CALLS.append(len(y))\n"
        "    optimizer.zero_grad()\n"
        "    loss = nn.functional.cross_entropy(model(x), y)\n"
        "    loss.backward(); optimizer.step()\n"
        "    return loss.item()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    p = parse_params({"num_of_iterations": 1, "model": "my_fl_plugin:build", "train_step": "my_fl_plugin:step"})
    t = _trainer(p)
    state, _ = t.train_round()
    assert "0.weight" in state and tuple(state["0.weight"].shape) == (8, 4)
    assert sum(sys.modules["my_fl_plugin"].CALLS) == 200


@pytest.mark.parametrize("spec,message", [
    ("nomodule_xyz:build", "cannot import"),
    ("json:nothere", "has no function"),
    ("resnet", "neither a built-in nor module:function"),
])
def test_bad_plugin_names_are_one_line_input_errors(spec, message):
    from flaudit.train.models import check_specs

    with pytest.raises(InputError, match=message):
        check_specs({"model": spec}, 4, 3)


def test_azureml_silo_step_refuses_an_attestation_it_was_not_built_with(tmp_path):
    from flaudit.train.silo_worker import main

    write_silo_csvs(tmp_path, 1)
    att = tmp_path / "attestation.json"
    att.write_text('{"kind": "flaudit.attestation"}')
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"params": parse_params({"num_of_iterations": 1}).to_dict(), "n_classes": 3}))
    argv = ["step", "--silo", "silo0", "--round", "1", "--train-data", str(tmp_path / "silo0/train.csv"),
            "--test-data", str(tmp_path / "silo0/test.csv"), "--spec-file", str(spec), "--output",
            str(tmp_path / "out"), "--attestation", str(att)]
    assert main([*argv, "--attestation-sha256", "0" * 64]) == 2
    assert not (tmp_path / "out").exists()
    good = hashlib.sha256(att.read_bytes()).hexdigest()
    assert main([*argv, "--attestation-sha256", good]) == 0
    meta = json.loads((tmp_path / "out/meta.json").read_text())
    assert meta["n_train"] == 40 and (tmp_path / "out/update.safetensors").is_file()


def test_azureml_aggregation_step_averages_silo_folders(tmp_path):
    from flaudit.train.fedavg import main

    for i, (val, n) in enumerate([(1.0, 10), (3.0, 30)]):
        d = tmp_path / f"u{i}"
        d.mkdir()
        save_state({"w": torch.full((2,), val)}, d / "update.safetensors")
        (d / "meta.json").write_text(json.dumps({"n_train": n}))
    att = tmp_path / "attestation.json"
    att.write_text("{}")
    assert main(["--update", str(tmp_path / "u0"), "--update", str(tmp_path / "u1"), "--output",
                 str(tmp_path / "agg"), "--attestation", str(att)]) == 0
    out = load_state(tmp_path / "agg/model.safetensors")
    assert torch.allclose(out["w"], torch.full((2,), 2.5))
    assert Path(tmp_path / "agg/attestation.json").read_text() == "{}"
