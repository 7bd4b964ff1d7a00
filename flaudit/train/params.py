"""``training_parameters`` from the FL config, checked once so a typo is one line before anything runs.

Keys follow the Azure ML FL sample (``num_of_iterations``, ``epochs``, ``lr``, ``batch_size``, ``dp``,
``dp_target_epsilon``, ``dp_target_delta``, ``dp_max_grad_norm``, ``dp_noise_multiplier``) plus flaudit's
``target``, ``model``, ``train_step``, ``hidden``, ``n_classes``, ``momentum``, ``seed``, ``dp_accountant`` and
``secure_aggregation``.
Unknown keys are ignored, so the sample's own config works unchanged.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from flaudit.errors import InputError

ACCOUNTANTS = ("rdp", "prv")


@dataclass
class TrainParams:
    num_of_iterations: int = 10
    epochs: int = 1
    lr: float = 0.1
    batch_size: int = 32
    target: str = "label"
    model: str = "logreg"
    train_step: str | None = None
    hidden: int = 64
    n_classes: int | None = None
    momentum: float = 0.0
    seed: int = 0
    dp: bool = False
    dp_target_epsilon: float | None = None
    dp_target_delta: float = 1e-5
    dp_max_grad_norm: float = 1.0
    dp_noise_multiplier: float | None = None
    dp_accountant: str = "rdp"
    secure_aggregation: bool | None = None  # None: on for the production profile, off for prototype

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _num(tp: dict[str, Any], key: str, kind: type, default: Any, origin: str, *, low: float | None = None,
         strict: bool = False) -> Any:
    v = tp.get(key, default)
    if v is None:
        return None
    if isinstance(v, str):  # YAML 1.1 reads 1e-5 (no dot) as a string
        try:
            v = float(v)
        except ValueError:
            pass
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (kind is int and not float(v).is_integer()):
        raise InputError(f"{origin}: training_parameters.{key} must be {'an integer' if kind is int else 'a number'}")
    v = kind(v)
    if low is not None and (v <= low if strict else v < low):
        raise InputError(f"{origin}: training_parameters.{key} must be {'>' if strict else '>='} {low:g}")
    return v


def parse_params(tp: dict[str, Any] | None, origin: str = "FL config") -> TrainParams:
    tp = dict(tp or {})
    d = TrainParams()
    dp = tp.get("dp", False)
    if not isinstance(dp, bool):
        raise InputError(f"{origin}: training_parameters.dp must be true or false")
    secagg = tp.get("secure_aggregation")
    if secagg is not None and not isinstance(secagg, bool):
        raise InputError(f"{origin}: training_parameters.secure_aggregation must be true or false")
    for key in ("target", "model", "train_step", "dp_accountant"):
        if tp.get(key) is not None and not isinstance(tp[key], str):
            raise InputError(f"{origin}: training_parameters.{key} must be a string")
    p = TrainParams(
        num_of_iterations=_num(tp, "num_of_iterations", int, d.num_of_iterations, origin, low=1),
        epochs=_num(tp, "epochs", int, d.epochs, origin, low=1),
        lr=_num(tp, "lr", float, d.lr, origin, low=0, strict=True),
        batch_size=_num(tp, "batch_size", int, d.batch_size, origin, low=1),
        target=tp.get("target") or d.target,
        model=tp.get("model") or d.model,
        train_step=tp.get("train_step") or None,
        hidden=_num(tp, "hidden", int, d.hidden, origin, low=1),
        n_classes=_num(tp, "n_classes", int, None, origin, low=2),
        momentum=_num(tp, "momentum", float, d.momentum, origin, low=0),
        seed=_num(tp, "seed", int, d.seed, origin),
        dp=dp,
        dp_target_epsilon=_num(tp, "dp_target_epsilon", float, None, origin, low=0, strict=True),
        dp_target_delta=_num(tp, "dp_target_delta", float, d.dp_target_delta, origin, low=0, strict=True),
        dp_max_grad_norm=_num(tp, "dp_max_grad_norm", float, d.dp_max_grad_norm, origin, low=0, strict=True),
        dp_noise_multiplier=_num(tp, "dp_noise_multiplier", float, None, origin, low=0, strict=True),
        dp_accountant=tp.get("dp_accountant") or d.dp_accountant,
        secure_aggregation=secagg,
    )
    if p.dp_accountant not in ACCOUNTANTS:
        raise InputError(f"{origin}: training_parameters.dp_accountant must be one of {', '.join(ACCOUNTANTS)}")
    if p.dp and p.dp_target_epsilon is None and p.dp_noise_multiplier is None:
        raise InputError(f"{origin}: training_parameters.dp is true: give dp_target_epsilon (noise calibrated "
                         "for the whole run) or dp_noise_multiplier")
    if p.dp and p.dp_target_delta >= 1:
        raise InputError(f"{origin}: training_parameters.dp_target_delta must be below 1")
    return p
