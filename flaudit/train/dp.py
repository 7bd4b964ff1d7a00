"""Record-level DP-SGD inside a silo with Opacus.

The noise is calibrated once for the whole run (every round times every local epoch), by the same Opacus
accountant that later reports the epsilon spent: calibrating with one accountant and reporting with another
gives figures that disagree (target 8, reported 8.8). The worker is long-lived, so one privacy engine sees
every step of every round.
"""

from __future__ import annotations

from typing import Any

from flaudit.train.params import TrainParams


def make_private(module, optimizer, x, y, params: TrainParams, *, total_epochs: int, generator) -> tuple:
    """Wrap model, optimizer and a Poisson-sampled loader; returns them, the engine and the DP settings."""
    import warnings

    from opacus import PrivacyEngine
    from torch.utils.data import DataLoader, TensorDataset

    loader = DataLoader(TensorDataset(x, y), batch_size=params.batch_size, shuffle=True, generator=generator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Opacus warns about secure RNG and about its own defaults
        engine = PrivacyEngine(accountant=params.dp_accountant)
        if params.dp_target_epsilon is not None:
            model, optimizer, loader = engine.make_private_with_epsilon(
                module=module, optimizer=optimizer, data_loader=loader,
                target_epsilon=params.dp_target_epsilon, target_delta=params.dp_target_delta,
                epochs=total_epochs, max_grad_norm=params.dp_max_grad_norm, noise_generator=generator)
        else:
            model, optimizer, loader = engine.make_private(
                module=module, optimizer=optimizer, data_loader=loader,
                noise_multiplier=params.dp_noise_multiplier, max_grad_norm=params.dp_max_grad_norm,
                noise_generator=generator)
    info = {
        "accountant": params.dp_accountant,
        "noise_multiplier": float(optimizer.noise_multiplier),
        "max_grad_norm": params.dp_max_grad_norm,
        "delta": params.dp_target_delta,
        "target_epsilon": params.dp_target_epsilon,
        "sample_rate": 1 / len(loader),
        "planned_steps": total_epochs * len(loader),
    }
    return model, optimizer, loader, engine, info


def spent(engine, info: dict[str, Any]) -> dict[str, Any]:
    """(epsilon, delta) spent so far, from the engine's own accountant (the one that calibrated the noise)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eps = float(engine.get_epsilon(info["delta"])) if engine.accountant.history else 0.0
    return {"epsilon": eps, "delta": info["delta"], "noise_multiplier": info["noise_multiplier"],
            "accountant": info["accountant"], "steps": sum(n for _, _, n in engine.accountant.history)}
