"""Secure aggregation: the orchestrator's view of one silo is noise, the sum is FedAvg within the fixed-point bound,
and a missing or mismatched silo aborts instead of producing a wrong model."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
np = pytest.importorskip("numpy")
pytest.importorskip("cryptography")

from flaudit.train import secagg  # noqa: E402
from flaudit.train.fedavg import fedavg  # noqa: E402


def _setup(n: int):
    names = [f"silo{i}" for i in range(n)]
    keys = {k: secagg.keypair() for k in names}
    pubs = {k: pub for k, (_, pub) in keys.items()}
    seeds = {k: secagg.pair_seeds(priv, k, pubs, "session-1") for k, (priv, _) in keys.items()}
    return names, seeds


def _state(scale: float, seed: int):
    g = torch.Generator().manual_seed(seed)
    return {"weight": torch.randn(10, 64, generator=g) * scale, "bias": torch.randn(10, generator=g) * scale}


def test_pairwise_seeds_agree_between_the_two_silos_of_a_pair_only():
    _, seeds = _setup(3)
    assert seeds["silo0"]["silo1"] == seeds["silo1"]["silo0"]
    assert seeds["silo0"]["silo1"] != seeds["silo0"]["silo2"]
    assert set(seeds["silo0"]) == {"silo1", "silo2"}


def test_masked_sum_is_weighted_fedavg_within_the_quantisation_bound():
    names, seeds = _setup(3)
    states = [_state(1.0, i) for i in range(3)]
    weights = [344.0, 520.0, 573.0]
    blobs = [secagg.masked_update(st, w, k, seeds[k], 1, 3) for k, st, w in zip(names, states, weights, strict=True)]
    got = secagg.unmask_sum(blobs, states[0])
    assert got.pop("__weight__") == pytest.approx(sum(weights))
    want = fedavg(list(zip(states, [int(w) for w in weights], strict=True)))
    bound = secagg.error_bound(3, sum(weights))
    for k in want:
        err = float((got[k].double() - want[k].double()).abs().max())
        assert err <= bound + 1e-6  # + float32 rounding of the stored tensors
    assert bound < 1e-9


def test_one_silos_masked_update_is_statistically_unrelated_to_its_clear_update():
    names, seeds = _setup(3)
    zero = {"weight": torch.zeros(10, 64), "bias": torch.zeros(10)}
    big = _state(100.0, 7)
    a = np.frombuffer(secagg.masked_update(zero, 1.0, "silo1", seeds["silo1"], 1, 3), dtype=np.uint64)
    b = np.frombuffer(secagg.masked_update(big, 1.0, "silo1", seeds["silo1"], 2, 3), dtype=np.uint64)
    clear = np.concatenate([big[k].double().reshape(-1).numpy() for k in sorted(big)] + [np.ones(1)])
    for masked in (a, b):
        u = masked.astype(np.float64) / 2.0 ** 64  # uniform on [0, 1) if the masks do their job
        assert abs(u.mean() - 0.5) < 0.05 and abs(u.var() - 1 / 12) < 0.02
        # the top bit is a fair coin and uncorrelated with the clear update's sign
        top = (masked >> np.uint64(63)).astype(np.float64)
        assert abs(top.mean() - 0.5) < 0.08
        assert abs(np.corrcoef(u, clear)[0, 1]) < 0.15
    # the zero update and its masked form share nothing recognisable either
    assert not np.any(a == 0)


def test_masks_change_every_round_so_two_rounds_do_not_cancel_against_each_other():
    names, seeds = _setup(2)
    st = _state(1.0, 1)
    r1 = np.frombuffer(secagg.masked_update(st, 1.0, "silo0", seeds["silo0"], 1, 2), dtype=np.uint64)
    r2 = np.frombuffer(secagg.masked_update(st, 1.0, "silo0", seeds["silo0"], 2, 2), dtype=np.uint64)
    assert np.count_nonzero(r1 == r2) == 0


def test_a_dropped_silo_aborts_the_round():
    names, seeds = _setup(3)
    states = [_state(1.0, i) for i in range(3)]
    blobs = [secagg.masked_update(st, 10.0, k, seeds[k], 1, 3) for k, st in zip(names, states, strict=True)]
    with pytest.raises(secagg.SecAggError):
        out = secagg.unmask_sum(blobs[:2], states[0])
        # masks that do not cancel give a garbage weight; the orchestrator refuses it when it differs from its count
        if abs(out["__weight__"] - 30.0) > 0.5:
            raise secagg.SecAggError("weight mismatch")


def test_out_of_range_values_and_integer_buffers_are_refused():
    names, seeds = _setup(2)
    with pytest.raises(secagg.SecAggError, match="fixed-point range"):
        secagg.masked_update({"w": torch.full((3,), 1e12)}, 1.0, "silo0", seeds["silo0"], 1, 2)
    with pytest.raises(secagg.SecAggError, match="floating-point tensors only"):
        secagg.masked_update({"n": torch.tensor([3])}, 1.0, "silo0", seeds["silo0"], 1, 2)


def test_local_run_with_secure_aggregation_matches_plain_fedavg(tmp_path):
    from flaudit.train import local
    from flaudit.train.data import SiloData
    from flaudit.train.params import parse_params
    from flaudit.train.training import load_state

    from .conftest import write_silo_csvs

    write_silo_csvs(tmp_path / "fl", 3)
    silos = [SiloData(f"silo{i}", str(tmp_path / f"fl/silo{i}/train.csv"), str(tmp_path / f"fl/silo{i}/test.csv"))
             for i in range(3)]
    params = parse_params({"num_of_iterations": 2, "lr": 0.3, "batch_size": 16})
    finals = {}
    for on in (False, True):
        run_dir = tmp_path / f"run-{on}"
        run_dir.mkdir()
        m = local.run_local(run_dir, silos, params, secure_aggregation=on)
        finals[on] = (load_state(run_dir / m["final_model"]), m)
    sa = finals[True][1]["secure_aggregation"]
    assert sa["fraction_bits"] == secagg.FRACTION_BITS and sa["dropout_recovery"] is False
    assert finals[False][1]["secure_aggregation"] is None
    for k, v in finals[False][0].items():
        assert float((finals[True][0][k] - v).abs().max()) < 1e-5  # bound plus float32 rounding over 2 rounds
