"""Training metrics as ``metrics.json``, a terminal table, and (when matplotlib is installed) a plot.

``metrics.json``: ``rounds[]`` holds, per round, each silo's local ``train_loss``, ``test_loss`` and
``accuracy`` (after local training, on that silo's own test file) and ``aggregate``: the averaged model
scored on every silo's test file (``silos``) and on their union (``accuracy``, ``test_loss``). ``initial``
scores the starting model, ``final`` the last global model, ``dp`` the (epsilon, delta) each silo spent,
``baseline`` the parity check (FL vs centralized vs each silo alone).
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

METRICS = "metrics.json"
PLOT = "metrics.png"


def write_metrics(run_dir: Path, metrics: dict[str, Any]) -> Path:
    from flaudit.output import write_text_atomic

    def clean(v: Any) -> Any:  # JSON has no NaN: a silo that drew no batch reports null
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    path = run_dir / METRICS
    write_text_atomic(path, json.dumps(clean(metrics), indent=2, sort_keys=True) + "\n")
    return path


def _f(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v * 100:.1f}%" if pct else f"{v:.4f}"


def render(metrics: dict[str, Any], console=None) -> None:
    """Per-round table (local metrics per silo, aggregate accuracy), then DP and the parity check."""
    from rich.console import Console
    from rich.table import Table

    console = console or Console()
    silos = metrics["silos"]
    t = Table(title=f"Federated training: {len(silos)} silos, {len(metrics['rounds'])} rounds (FedAvg)")
    t.caption = "per silo: local train loss / accuracy on its own test data; aggregate: global model, all test data"
    t.add_column("round", justify="right")
    for s in silos:
        t.add_column(s, justify="right")
    t.add_column("aggregate", justify="right")
    for r in metrics["rounds"]:
        row = [str(r["round"])]
        for s in silos:
            m = r["silos"].get(s, {})
            row.append(f"{_f(m.get('train_loss'))} / {_f(m.get('accuracy'), True)}")
        row.append(_f((r.get("aggregate") or {}).get("accuracy"), True))
        t.add_row(*row)
    console.print(t)
    if metrics.get("withheld"):
        console.print(f"Loss and accuracy withheld: {metrics['withheld']}.")
    final = metrics["final"] or {"silos": {}}
    f = Table(title="Final global model on each silo's test data")
    for col in ("silo", "test loss", "accuracy", "test rows"):
        f.add_column(col, justify="right" if col != "silo" else "left")
    for s in silos:
        m = final["silos"].get(s) or {}
        f.add_row(s, _f(m.get("test_loss")), _f(m.get("accuracy"), True), str(metrics["n_test"][s]))
    f.add_row("all", _f(final.get("test_loss")), _f(final.get("accuracy"), True),
              str(sum(metrics["n_test"].values())))
    console.print(f)
    iso = metrics.get("isolation")
    if iso:
        console.print(f"Isolation: {iso['mode']}: {iso['summary']}.")
        for w in iso.get("warnings", []):
            console.print(f"  warning: {w}")
    sa = metrics.get("secure_aggregation")
    if sa:
        console.print(f"Secure aggregation: {sa['protocol']}; {sa['fraction_bits']} fractional bits, averaged "
                      f"model within {sa['error_bound']:.2g} of plain FedAvg; no dropout recovery.")
    if metrics.get("dp"):
        d = Table(title="Differential privacy spent (record-level DP-SGD, per silo)")
        for col in ("silo", "epsilon", "delta", "noise multiplier", "sample rate", "clip norm", "accountant",
                    "steps"):
            d.add_column(col)
        for s, v in metrics["dp"].items():
            d.add_row(s, f"{v['epsilon']:.3f}", f"{v['delta']:g}", f"{v['noise_multiplier']:.3f}",
                      f"{v['sample_rate']:.4f}", f"{v['max_grad_norm']:g}", v["accountant"], str(v["steps"]))
        console.print(d)
    b = metrics.get("baseline")
    if b:
        p = Table(title=f"Parity check (accuracy on the {b['evaluated_on']})")
        p.add_column("model")
        p.add_column("accuracy", justify="right")
        p.add_row("federated (FedAvg)", _f(b["federated"]["accuracy"], True))
        p.add_row("centralized (union of silos)", _f(b["centralized"]["accuracy"], True))
        for s, v in b["silo_alone"].items():
            p.add_row(f"{s} alone", _f(v["accuracy"], True))
        console.print(p)
        console.print(f"FL is {b['gap_points']:+.2f} points from centralized "
                      f"({'within' if abs(b['gap_points']) <= 2 else 'outside'} 2 points).")


def plot(run_dir: Path, metrics: dict[str, Any]) -> Path | None:
    """Accuracy and loss curves per silo and for the aggregate; skipped when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    if metrics.get("withheld"):  # DP on: the silos sent no curves to plot
        return None
    rounds = [r["round"] for r in metrics["rounds"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for s in metrics["silos"]:
        if metrics.get("withheld"):
            break
        ax1.plot(rounds, [r["silos"][s]["accuracy"] for r in metrics["rounds"]], label=f"{s} (local)", alpha=0.7)
        ax2.plot(rounds, [r["silos"][s]["train_loss"] for r in metrics["rounds"]], label=f"{s} train", alpha=0.7)
    ax1.plot(rounds, [(r.get("aggregate") or {}).get("accuracy") for r in metrics["rounds"]], "k-", lw=2,
             label="aggregate (all test data)")
    ax2.plot(rounds, [(r.get("aggregate") or {}).get("test_loss") for r in metrics["rounds"]], "k-", lw=2,
             label="aggregate test")
    if metrics.get("baseline"):
        ax1.axhline(metrics["baseline"]["centralized"]["accuracy"], color="grey", ls="--", label="centralized")
    ax1.set(xlabel="round", ylabel="accuracy", title="Accuracy")
    ax2.set(xlabel="round", ylabel="loss", title="Loss")
    ax1.legend(fontsize=7)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path = run_dir / PLOT
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


JSONL = "metrics.jsonl"


def stream_round(run_dir: Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append one round's metrics to ``metrics.jsonl`` as it completes; returns the line written.

    ``aggregate`` is the previous global model scored on every silo's test data (each worker scores the model
    it is sent before training on it), null when the silos withhold it (DP on).
    """
    def clean(v: Any) -> Any:
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if k != "history"}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return v

    prev = entry.get("previous_aggregate") or {}
    line = clean({"event": "round", "round": entry["round"], "seconds": entry["seconds"],
                  "global_model_sha256": entry["model_sha256"],
                  "aggregate_accuracy_before": prev.get("accuracy"), "silos": entry["silos"]})
    with (run_dir / JSONL).open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, sort_keys=True) + "\n")
    return line


def log_mlflow(metrics: dict[str, Any], step: int | None = None, prefix: str = "") -> None:
    """Log numbers to the Azure ML step's MLflow run when MLflow is there (Azure ML sets the tracking URI); one
    level of nested dicts is flattened. Never locally, and never an error: metrics must not fail a step."""
    if not os.environ.get("MLFLOW_TRACKING_URI"):  # set by Azure ML inside a job; never log locally
        return
    try:
        import mlflow
    except ImportError:
        return
    flat = {}
    for k, v in metrics.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            flat[f"{prefix}{k}"] = float(v)
        elif isinstance(v, dict):
            flat.update({f"{prefix}{k}_{kk}": float(vv) for kk, vv in v.items()
                         if isinstance(vv, (int, float)) and not isinstance(vv, bool)})
    try:
        mlflow.log_metrics(flat, step=step)
    except Exception as exc:  # noqa: BLE001 - metrics logging must never fail a training step
        print(f"mlflow logging skipped: {type(exc).__name__}: {exc}", file=sys.stderr)
