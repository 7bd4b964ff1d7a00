"""The bundled demo: scikit-learn's ``digits`` (1,797 images of 8x8 pixels, 10 classes, shipped with
scikit-learn, so no download) split into one CSV pair per silo with Dirichlet label skew.

Dirichlet(alpha=0.5) over silos for each class gives the uneven, non-IID label mix real silos have (one
hospital sees mostly one condition); a seeded generator makes the split the same on every machine. Each
silo's share is split 80/20 into its own training and testing files.

The demo writes its files only after the gate has passed, and only inside the run directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEMO_PARAMS: dict[str, Any] = {
    "num_of_iterations": 20,
    "epochs": 1,
    "lr": 0.3,
    "batch_size": 32,
    "model": "logreg",
    "target": "label",
    "seed": 0,
}


def load_digits():
    """``sklearn.datasets.load_digits(return_X_y=True)``, read from the file scikit-learn ships.

    Importing scikit-learn costs seconds (scipy and friends); the data is one small gzipped CSV in its
    package, so read it directly when it is there and fall back to the public API otherwise.
    """
    import gzip
    import importlib.util

    import numpy as np

    spec = importlib.util.find_spec("sklearn")
    for root in (spec.submodule_search_locations or []) if spec else []:
        path = Path(root) / "datasets" / "data" / "digits.csv.gz"
        if path.is_file():
            with gzip.open(path, "rt") as fh:
                data = np.loadtxt(fh, delimiter=",")
            return data[:, :-1], data[:, -1].astype(int)
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        from flaudit.errors import InputError

        raise InputError("the demo needs scikit-learn's bundled digits data: pip install 'flaudit[train]'") from None
    return sk_load_digits(return_X_y=True)


def split_digits(n_silos: int, *, alpha: float = 0.5, seed: int = 0, test_fraction: float = 0.2):
    """Return ``[(x_train, y_train, x_test, y_test), ...]`` per silo, features scaled to [0, 1]."""
    import numpy as np

    x, y = load_digits()
    x = x / 16.0
    rng = np.random.default_rng(seed)
    parts: list[list[int]] = [[] for _ in range(n_silos)]
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        props = rng.dirichlet([alpha] * n_silos)
        cuts = (np.cumsum(props)[:-1] * len(idx)).astype(int)
        for s, chunk in enumerate(np.split(idx, cuts)):
            parts[s].extend(chunk.tolist())
    out = []
    for s in range(n_silos):
        idx = rng.permutation(np.array(parts[s], dtype=int))
        n_test = max(1, int(round(len(idx) * test_fraction)))
        te, tr = idx[:n_test], idx[n_test:]
        out.append((x[tr], y[tr], x[te], y[te]))
    return out


def write_demo(run_dir: Path, silo_names: list[str], *, alpha: float = 0.5, seed: int = 0) -> dict[str, dict[str, str]]:
    """Write ``data/<silo>/{train,test}.csv`` under ``run_dir``; returns silo -> {train, test} paths."""
    from flaudit.train.data import write_csv

    features = [f"pixel_{i}" for i in range(64)]
    paths: dict[str, dict[str, str]] = {}
    for name, (xtr, ytr, xte, yte) in zip(silo_names, split_digits(len(silo_names), alpha=alpha, seed=seed), strict=True):
        d = run_dir / "data" / name
        d.mkdir(parents=True, exist_ok=True)
        write_csv(d / "train.csv", features, xtr, ytr)
        write_csv(d / "test.csv", features, xte, yte)
        paths[name] = {"train": str(d / "train.csv"), "test": str(d / "test.csv")}
    return paths


def demo_config(audited: dict[str, Any], paths: dict[str, dict[str, str]]) -> dict[str, Any]:
    """The audited config's topology and training parameters, with the demo's local CSV paths."""
    import copy

    doc = copy.deepcopy(audited)
    for silo in doc["federated_learning"]["silos"]:
        p = paths[silo["name"]]
        silo["training_data"] = {"type": "uri_file", "mode": "download", "path": p["train"]}
        silo["testing_data"] = {"type": "uri_file", "mode": "download", "path": p["test"]}
    return doc
