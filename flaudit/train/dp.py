"""Record-level DP-SGD inside a silo with Opacus.

The noise is calibrated once for the whole run (every round times every local epoch), by the same Opacus
accountant that later reports the epsilon spent: calibrating with one accountant and reporting with another
gives figures that disagree (target 8, reported 8.8).

Randomness: the Gaussian noise and the Poisson sampling draw from a generator seeded with 64 bits from
``os.urandom``, never from the config's ``seed``. Whoever knows ``training-config.yaml`` (the orchestrator)
could otherwise regenerate the noise bit for bit and subtract it from the update, and the epsilon would
protect nothing. The config seed still drives the initial weights and non-DP shuffling, so a non-DP run stays
reproducible. (torch's generator is a Mersenne Twister, not a CSPRNG; its seed never leaves the silo and its
outputs are never revealed except added to clipped gradients. Opacus ``secure_mode`` needs torchcsprng,
which is unmaintained and not installable for torch 2.13.)

Accounting across rounds: the local worker is long-lived, so one engine sees every step. An Azure ML silo
step is a fresh process per round, so it loads the previous rounds' accountant history (kept in the silo's
own datastore) before training and saves it after: ``meta.json`` reports the run's epsilon so far, not one
round's.
"""

from __future__ import annotations

import os
from typing import Any

from flaudit.train.params import TrainParams


def os_generator():
    """A torch generator seeded from the OS entropy pool (not reproducible from any config)."""
    import torch

    return torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little") & ((1 << 63) - 1))


def make_private(module, optimizer, x, y, params: TrainParams, *, total_epochs: int) -> tuple:
    """Wrap model, optimizer and a Poisson-sampled loader; returns them, the engine and the DP settings."""
    import warnings

    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    rng = os_generator()  # Poisson sampling (the DPDataLoader takes the loader's generator) and noise
    loader = DataLoader(TensorDataset(x, y), batch_size=params.batch_size, shuffle=True, generator=rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns about secure RNG and about its own defaults
        engine = PrivacyEngine(accountant=params.dp_accountant)
        if params.dp_target_epsilon is not None:
            model, optimizer, loader = engine.make_private_with_epsilon(
                module=module, optimizer=optimizer, data_loader=loader,
                target_epsilon=params.dp_target_epsilon, target_delta=params.dp_target_delta,
                epochs=total_epochs, max_grad_norm=params.dp_max_grad_norm, noise_generator=rng)
        else:
            model, optimizer, loader = engine.make_private(
                module=module, optimizer=optimizer, data_loader=loader,
                noise_multiplier=params.dp_noise_multiplier, max_grad_norm=params.dp_max_grad_norm,
                noise_generator=rng)
    info = {
        "accountant": params.dp_accountant,
        "noise_multiplier": float(optimizer.noise_multiplier),
        "max_grad_norm": params.dp_max_grad_norm,
        "delta": params.dp_target_delta,
        "target_epsilon": params.dp_target_epsilon,
        "sample_rate": 1 / len(loader),
        "planned_steps": total_epochs * len(loader),
        "randomness": "os.urandom-seeded generator (noise and Poisson sampling)",
    }
    return model, optimizer, loader, engine, info


def history(engine) -> list[list[float]]:
    """The accountant's history as JSON-ready ``[noise_multiplier, sample_rate, steps]`` rows."""
    return [[float(n), float(q), int(s)] for n, q, s in engine.accountant.history]


def restore(engine, rows: list[Any]) -> None:
    """Load earlier rounds' accountant history (Azure ML: one process per round)."""
    engine.accountant.history = [(float(n), float(q), int(s)) for n, q, s in rows]


def spent(engine, info: dict[str, Any]) -> dict[str, Any]:
    """(epsilon, delta) spent so far, from the engine's own accountant (the one that calibrated the noise)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eps = float(engine.get_epsilon(info["delta"])) if engine.accountant.history else 0.0
    return {"epsilon": eps, "delta": info["delta"], "noise_multiplier": info["noise_multiplier"],
            "sample_rate": info["sample_rate"], "max_grad_norm": info["max_grad_norm"],
            "accountant": info["accountant"], "steps": sum(n for _, _, n in engine.accountant.history),
            "history": history(engine)}
