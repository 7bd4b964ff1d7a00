"""Models and training steps: logistic regression, a small MLP, or the user's own via ``module:function``.

A plug-in model is ``build(n_features, n_classes, params) -> torch.nn.Module``; a plug-in training step is
``step(model, optimizer, x, y) -> loss`` (it runs backward and ``optimizer.step()`` itself). The same names
resolve in the orchestrator (to fail early with one line) and in each silo worker.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from flaudit.errors import InputError

BUILTIN_MODELS = ("logreg", "mlp")


def _plugin(spec: str, what: str) -> Callable[..., Any]:
    module, _, func = spec.partition(":")
    if not module or not func:
        raise InputError(f"training_parameters.{what}: {spec!r} is neither a built-in nor module:function")
    try:
        mod = importlib.import_module(module)
    except Exception as exc:  # a plug-in's import error is the user's, shown as one line
        raise InputError(f"training_parameters.{what}: cannot import {module!r} ({type(exc).__name__}: {exc})") \
            from None
    fn = getattr(mod, func, None)
    if not callable(fn):
        raise InputError(f"training_parameters.{what}: {module!r} has no function {func!r}")
    return fn


def build_model(spec: str, n_features: int, n_classes: int, params: dict[str, Any]):
    """The model named by ``training_parameters.model`` (default logistic regression)."""
    import torch.nn as nn

    if spec == "logreg":
        return nn.Linear(n_features, n_classes)
    if spec == "mlp":
        hidden = int(params.get("hidden", 64))
        return nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU(), nn.Linear(hidden, n_classes))
    fn = _plugin(spec, "model")
    try:
        model = fn(n_features=n_features, n_classes=n_classes, params=dict(params))
    except Exception as exc:
        raise InputError(f"training_parameters.model: {spec} failed ({type(exc).__name__}: {exc})") from None
    if not isinstance(model, nn.Module):
        raise InputError(f"training_parameters.model: {spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def default_step(model, optimizer, x, y) -> float:
    """One optimisation step with cross-entropy loss; returns the batch loss."""
    import torch.nn.functional as F

    optimizer.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def train_step(spec: str | None) -> Callable[..., Any]:
    """The training step named by ``training_parameters.train_step`` (default cross-entropy)."""
    if not spec:
        return default_step
    return _plugin(spec, "train_step")


def check_specs(params: dict[str, Any], n_features: int, n_classes: int) -> None:
    """Resolve model and step once in the orchestrator so a bad plug-in fails before any silo starts."""
    build_model(str(params.get("model", "logreg")), n_features, n_classes, params)
    train_step(params.get("train_step"))
