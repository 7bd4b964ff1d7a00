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


def _steps_env(tmp_path, params: dict, silos: int = 1):
    write_silo_csvs(tmp_path, silos)
    att = tmp_path / "attestation.json"
    att.write_text('{"kind": "flaudit.attestation"}')
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"params": parse_params(params).to_dict(), "n_classes": 3, "session": "run1",
                                "silos": [f"silo{i}" for i in range(silos)], "rounds": 2}))
    good = hashlib.sha256(att.read_bytes()).hexdigest()
    return att, spec, good


def _preprocess(tmp_path, i, att, spec, good, secagg=False):
    from flaudit.train.silo_worker import main

    d = tmp_path / f"pre{i}"
    argv = ["preprocess", "--silo", f"silo{i}", "--raw-train", str(tmp_path / f"silo{i}/train.csv"),
            "--raw-test", str(tmp_path / f"silo{i}/test.csv"), "--train-out", str(d / "train"),
            "--test-out", str(d / "test"), "--state-out", str(d / "state"), "--spec-file", str(spec),
            "--attestation", str(att), "--attestation-sha256", good]
    if secagg:
        argv += ["--public-key-out", str(d / "key")]
    assert main(argv) == 0
    return d


def _step(tmp_path, i, r, att, spec, good, state_in, checkpoint=None, peers=(), tag=""):
    from flaudit.train.silo_worker import main

    out = tmp_path / f"{tag}r{r}s{i}"
    argv = ["step", "--silo", f"silo{i}", "--round", str(r), "--train-data", str(tmp_path / f"pre{i}/train"),
            "--test-data", str(tmp_path / f"pre{i}/test"), "--spec-file", str(spec), "--output", str(out / "update"),
            "--state-in", str(state_in), "--state-out", str(out / "state"), "--attestation", str(att),
            "--attestation-sha256", good]
    if checkpoint:
        argv += ["--checkpoint", str(checkpoint)]
    for p in peers:
        argv += ["--peer-key", str(p)]
    assert main(argv) == 0
    return out


def test_azureml_silo_steps_refuse_an_attestation_they_were_not_built_with(tmp_path):
    from flaudit.train.silo_worker import main

    att, spec, good = _steps_env(tmp_path, {"num_of_iterations": 1})
    argv = ["preprocess", "--silo", "silo0", "--raw-train", str(tmp_path / "silo0/train.csv"), "--raw-test",
            str(tmp_path / "silo0/test.csv"), "--train-out", str(tmp_path / "t"), "--test-out", str(tmp_path / "v"),
            "--state-out", str(tmp_path / "s"), "--spec-file", str(spec), "--attestation", str(att)]
    assert main([*argv, "--attestation-sha256", "0" * 64]) == 2
    assert not (tmp_path / "t").exists()
    pre = _preprocess(tmp_path, 0, att, spec, good)
    out = _step(tmp_path, 0, 1, att, spec, good, pre / "state")
    meta = json.loads((out / "update/meta.json").read_text())
    assert meta["n_train"] == 40 and (out / "update/update.safetensors").is_file()
    assert meta["data_sha256"]["train"] == hashlib.sha256((tmp_path / "silo0/train.csv").read_bytes()).hexdigest()


def test_azureml_steps_accumulate_epsilon_across_rounds_through_the_silo_state(tmp_path):
    att, spec, good = _steps_env(tmp_path, {"num_of_iterations": 2, "dp": True, "dp_noise_multiplier": 1.0,
                                            "batch_size": 8})
    pre = _preprocess(tmp_path, 0, att, spec, good)
    r1 = _step(tmp_path, 0, 1, att, spec, good, pre / "state")
    r2 = _step(tmp_path, 0, 2, att, spec, good, r1 / "state")
    m1 = json.loads((r1 / "update/meta.json").read_text())
    m2 = json.loads((r2 / "update/meta.json").read_text())
    assert m2["local"]["dp"]["steps"] == 2 * m1["local"]["dp"]["steps"]
    assert m2["local"]["dp"]["epsilon"] > m1["local"]["dp"]["epsilon"]
    for m in (m1, m2):  # nothing computed from rows without noise leaves the silo
        assert set(m["local"]) == {"dp", "withheld"} and m["global_eval"] is None and "n_train" not in m
        assert {"sample_rate", "max_grad_norm", "noise_multiplier", "delta", "accountant"} <= set(m["local"]["dp"])


def test_azureml_secure_aggregation_steps_give_plain_fedavg_within_the_bound(tmp_path):
    from flaudit.train import secagg
    from flaudit.train.fedavg import main as aggregate

    att, spec, good = _steps_env(tmp_path, {"num_of_iterations": 1}, silos=3)
    pres = [_preprocess(tmp_path, i, att, spec, good, secagg=True) for i in range(3)]
    keys = [p / "key" for p in pres]
    masked = [_step(tmp_path, i, 1, att, spec, good, pres[i] / "state", peers=keys, tag="m") for i in range(3)]
    plain = [_step(tmp_path, i, 1, att, spec, good, pres[i] / "state", tag="p") for i in range(3)]
    for name, outs in (("ms", masked), ("pl", plain)):
        argv = [a for o in outs for a in ("--update", str(o / "update"))]
        assert aggregate([*argv, "--output", str(tmp_path / name)]) == 0
    assert (masked[0] / "update/masked.bin").is_file() and not (masked[0] / "update/update.safetensors").exists()
    a, b = load_state(tmp_path / "ms/model.safetensors"), load_state(tmp_path / "pl/model.safetensors")
    bound = secagg.error_bound(3, 120.0)
    for k in a:
        assert float((a[k] - b[k]).abs().max()) <= bound + 1e-6
    # a silo left out: its masks would not cancel, so the round is refused before anything is unmasked
    with pytest.raises(InputError, match="2 of 3 silo updates"):
        aggregate(["--update", str(masked[0] / "update"), "--update", str(masked[1] / "update"), "--output",
                   str(tmp_path / "bad")])
    assert not (tmp_path / "bad").exists()


def test_azureml_aggregation_step_averages_silo_folders(tmp_path):
    from flaudit.train.fedavg import main

    for i, (val, n) in enumerate([(1.0, 10), (3.0, 30)]):
        d = tmp_path / f"u{i}"
        d.mkdir()
        save_state({"w": torch.full((2,), val)}, d / "update.safetensors")
        (d / "meta.json").write_text(json.dumps({"weight": n}))
    att = tmp_path / "attestation.json"
    att.write_text("{}")
    assert main(["--update", str(tmp_path / "u0"), "--update", str(tmp_path / "u1"), "--output",
                 str(tmp_path / "agg"), "--attestation", str(att)]) == 0
    out = load_state(tmp_path / "agg/model.safetensors")
    assert torch.allclose(out["w"], torch.full((2,), 2.5))
    assert Path(tmp_path / "agg/attestation.json").read_text() == "{}"


def test_azureml_steps_log_to_mlflow_only_inside_a_job_and_only_dp_safe_numbers(tmp_path, monkeypatch):
    import types

    logged: list[dict] = []
    fake = types.ModuleType("mlflow")
    fake.log_metrics = lambda metrics, step=None: logged.append(dict(metrics))
    monkeypatch.setitem(sys.modules, "mlflow", fake)
    att, spec, good = _steps_env(tmp_path, {"num_of_iterations": 1, "dp": True, "dp_noise_multiplier": 1.0})
    pre = _preprocess(tmp_path, 0, att, spec, good)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    _step(tmp_path, 0, 1, att, spec, good, pre / "state", tag="a")
    assert logged == []  # no tracking URI: not inside an Azure ML job, nothing logged
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "azureml://example")
    _step(tmp_path, 0, 1, att, spec, good, pre / "state", tag="b")
    assert len(logged) == 1 and set(logged[0]) == {"silo0_epsilon", "silo0_steps"}
