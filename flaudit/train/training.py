"""One silo's local training and evaluation, shared by the silo worker process, the Azure ML step and the
centralized / silo-alone baselines (so a baseline trains exactly the way a silo does).

Weights travel as safetensors files: loading one never executes code, unlike ``torch.load`` of a pickle.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.errors import InputError
from flaudit.train.params import TrainParams


def state_of(module) -> dict[str, Any]:
    """A detached, contiguous copy of a module's weights, ready for ``safetensors``."""
    return {k: v.detach().clone().contiguous() for k, v in module.state_dict().items()}


def save_state(state: dict[str, Any], path: str | Path, metadata: dict[str, str] | None = None) -> None:
    from safetensors.torch import save_file

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        save_file({k: v.contiguous() for k, v in state.items()}, tmp, metadata=metadata)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_state(path: str | Path, like: dict[str, Any] | None = None) -> dict[str, Any]:
    """Load weights; with ``like``, refuse a file whose tensor names or shapes differ from the model's."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as exc:
        raise InputError(f"{path}: not a readable safetensors model update ({exc})") from None
    if like is not None:
        if set(state) != set(like):
            raise InputError(f"{path}: tensor names differ from the model's")
        for k, v in like.items():
            if tuple(state[k].shape) != tuple(v.shape):
                raise InputError(f"{path}: tensor {k!r} has shape {tuple(state[k].shape)}, "
                                 f"the model's is {tuple(v.shape)}")
    return state


def tensors(table) -> tuple[Any, Any]:
    import torch

    x = torch.tensor(table.x, dtype=torch.float32)
    y = torch.tensor(table.y, dtype=torch.long)
    return x, y


def evaluate(model, x, y) -> dict[str, float | int]:
    import torch
    import torch.nn.functional as F

    model.eval()
    with torch.no_grad():
        out = model(x)
        loss = float(F.cross_entropy(out, y, reduction="sum"))
        correct = int((out.argmax(dim=1) == y).sum())
    model.train()
    n = int(y.shape[0])
    return {"test_loss": loss / n, "accuracy": correct / n, "correct": correct, "n_test": n}


@dataclass
class SiloTrainer:
    """Trains one silo's copy of the model, round after round, keeping its DP accountant for the whole run."""

    params: TrainParams
    x_train: Any
    y_train: Any
    x_test: Any
    y_test: Any
    n_classes: int
    seed: int
    total_rounds: int
    model: Any = None
    base: Any = None
    optimizer: Any = None
    loader: Any = None
    privacy: Any = None
    dp_info: dict[str, Any] = field(default_factory=dict)
    step: Any = None
    generator: Any = None
    silo_only_metrics: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        import torch

        from flaudit.train.models import build_model, train_step

        torch.manual_seed(self.params.seed)  # same seed everywhere: every silo starts from the same weights
        self.base = build_model(self.params.model, int(self.x_train.shape[1]), self.n_classes,
                                self.params.to_dict())
        self.model = self.base
        self.step = train_step(self.params.train_step)
        self.optimizer = torch.optim.SGD(self.base.parameters(), lr=self.params.lr, momentum=self.params.momentum)
        self.generator = torch.Generator().manual_seed(self.seed)
        if self.params.dp:
            from flaudit.train.dp import make_private

            self.model, self.optimizer, self.loader, self.privacy, self.dp_info = make_private(
                self.base, self.optimizer, self.x_train, self.y_train, self.params,
                total_epochs=self.total_rounds * self.params.epochs)

    @property
    def n_train(self) -> int:
        return int(self.y_train.shape[0])

    def initial_state(self) -> dict[str, Any]:
        return state_of(self.base)

    def load(self, state: dict[str, Any]) -> None:
        self.base.load_state_dict(state)

    def evaluate(self, state: dict[str, Any] | None = None) -> dict[str, Any]:
        if state is not None:
            self.load(state)
        return evaluate(self.base, self.x_test, self.y_test)

    def _batches(self):
        import torch

        if self.loader is not None:
            yield from self.loader
            return
        order = torch.randperm(self.n_train, generator=self.generator)
        bs = self.params.batch_size
        for i in range(0, self.n_train, bs):
            idx = order[i:i + bs]
            yield self.x_train[idx], self.y_train[idx]

    def train_round(self, state: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Local epochs from ``state`` (the global model); returns the new weights and this round's metrics.

        With DP on, the metrics hold only the DP accounting (computed from public settings): the training loss
        and test accuracy are computed from private rows without noise, so they stay in the silo
        (:meth:`silo_only_metrics` keeps them for the silo's own log).
        """
        if state is not None:
            self.load(state)
        total, seen = 0.0, 0
        for _ in range(self.params.epochs):
            for xb, yb in self._batches():
                if len(yb) == 0:  # Poisson sampling can draw an empty batch
                    continue
                loss = float(self.step(self.model, self.optimizer, xb, yb))
                total += loss * len(yb)
                seen += len(yb)
        metrics: dict[str, Any] = {"train_loss": total / seen if seen else float("nan"), "n_train": self.n_train}
        metrics.update(self.evaluate())
        if self.privacy is not None:
            from flaudit.train.dp import spent

            self.silo_only_metrics = metrics
            metrics = {"dp": spent(self.privacy, self.dp_info), "withheld": "dp"}
        return state_of(self.base), metrics
