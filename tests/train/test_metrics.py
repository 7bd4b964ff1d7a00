"""Metrics output: JSON without NaN, the terminal tables, the plot."""

from __future__ import annotations

import json

import pytest

from flaudit.train.metrics import plot, render, write_metrics


def _metrics(baseline: bool = True, dp: bool = True):
    silo = {"train_loss": 0.5, "test_loss": 0.6, "accuracy": 0.9, "n_train": 10}
    agg = {"accuracy": 0.91, "test_loss": 0.55,
           "silos": {s: {"accuracy": 0.91, "test_loss": 0.55, "n_test": 5} for s in ("a", "b")}}
    m = {"silos": ["a", "b"], "n_test": {"a": 5, "b": 5},
         "rounds": [{"round": 1, "silos": {"a": dict(silo, train_loss=float("nan")), "b": silo}, "aggregate": agg},
                    {"round": 2, "silos": {"a": silo, "b": silo}, "aggregate": agg}],
         "final": agg, "dp": None, "baseline": None}
    if dp:
        m["dp"] = {s: {"epsilon": 2.5, "delta": 1e-5, "noise_multiplier": 1.2, "accountant": "rdp", "steps": 40,
                       "sample_rate": 0.05, "max_grad_norm": 1.0}
                   for s in ("a", "b")}
    if baseline:
        m["baseline"] = {"evaluated_on": "union of every silo's test data", "federated": {"accuracy": 0.91},
                         "centralized": {"accuracy": 0.95}, "silo_alone": {"a": {"accuracy": 0.7},
                                                                           "b": {"accuracy": 0.6}},
                         "gap_points": 4.0}
    return m


def test_metrics_json_replaces_nan_with_null(tmp_path):
    path = write_metrics(tmp_path, _metrics())
    doc = json.loads(path.read_text())  # strict JSON: would fail on NaN
    assert doc["rounds"][0]["silos"]["a"]["train_loss"] is None


def test_tables_show_rounds_dp_and_parity():
    from rich.console import Console

    c = Console(record=True, width=160)
    render(_metrics(), c)
    text = c.export_text()
    assert "2 rounds" in text and "0.5000 / 90.0%" in text
    assert "Differential privacy" in text and "2.500" in text
    assert "centralized" in text and "+4.00 points" in text and "outside 2 points" in text


def test_plot_is_written_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    png = plot(tmp_path, _metrics())
    assert png is not None and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
