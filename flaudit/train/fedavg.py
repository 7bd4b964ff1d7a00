"""Federated averaging weighted by each silo's number of training samples.

The Azure ML FL sample averages silo models with an unweighted running mean, which lets a silo with 50 rows
pull as hard as one with 50,000; FedAvg (McMahan et al.) weights by sample count. Floating-point tensors
are averaged; integer buffers (counters such as BatchNorm's ``num_batches_tracked``) take the largest value.

``python -m flaudit.train.fedavg --update DIR ... --output DIR`` is the Azure ML aggregation step: each DIR
holds a silo's ``update.safetensors`` and ``meta.json`` (written by the silo step).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from flaudit.errors import InputError


def fedavg(updates: list[tuple[dict[str, Any], float]]) -> dict[str, Any]:
    """Average ``[(state, n_samples), ...]``; every state must have the same tensor names and shapes."""
    import torch

    if not updates:
        raise InputError("FedAvg: no silo updates to aggregate")
    total = sum(n for _, n in updates)
    if total <= 0 or any(n < 0 for _, n in updates):
        raise InputError("FedAvg: sample counts must be positive")
    first = updates[0][0]
    out: dict[str, Any] = {}
    for key, ref in first.items():
        for state, _ in updates[1:]:
            if key not in state or tuple(state[key].shape) != tuple(ref.shape):
                raise InputError(f"FedAvg: silo updates disagree on tensor {key!r}")
        if torch.is_floating_point(ref):
            acc = torch.zeros_like(ref, dtype=torch.float64)
            for state, n in updates:
                acc += state[key].to(torch.float64) * (n / total)
            out[key] = acc.to(ref.dtype).contiguous()
        else:
            out[key] = torch.stack([state[key] for state, _ in updates]).max(dim=0).values.contiguous()
    if any(set(state) != set(first) for state, _ in updates[1:]):
        raise InputError("FedAvg: silo updates hold different tensors")
    return out


def main(argv: list[str] | None = None) -> int:
    """The aggregation step of the Azure ML pipeline (runs on the orchestrator compute).

    Plain updates are averaged weighted by each folder's ``weight`` (the row count, or 1 with DP on); masked
    updates (secure aggregation) are summed so the masks cancel, and only the sum is ever unmasked here.
    """
    import time

    from flaudit.train.training import load_state, save_state

    ap = argparse.ArgumentParser(prog="flaudit-fedavg")
    ap.add_argument("--update", action="append", required=True, help="a silo step's output folder")
    ap.add_argument("--output", required=True, help="folder for the aggregated model")
    ap.add_argument("--attestation", help="attestation.json to keep beside the model")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    metas = [json.loads((Path(f) / "meta.json").read_text(encoding="utf-8")) for f in args.update]
    masked = [(Path(f) / "masked.bin").is_file() for f in args.update]
    if any(masked) and not all(masked):
        raise InputError("FedAvg: some silo updates are masked and some are not; refusing to aggregate")
    if all(masked):
        import torch

        from flaudit.train import secagg

        expected = {int(m.get("n_silos", 0)) for m in metas}
        if expected != {len(args.update)}:
            raise InputError(f"secure aggregation: {len(args.update)} of {max(expected)} silo updates; a dropped "
                             "silo aborts the round (no dropout recovery)")
        layout = metas[0]["layout"]
        like = {k: torch.zeros(shape, dtype=getattr(torch, dtype)) for k, shape, dtype in layout}
        model = secagg.unmask_sum([(Path(f) / "masked.bin").read_bytes() for f in args.update], like)
        total = model.pop("__weight__")
        summary = {"secure_aggregation": True, "total_weight": total,
                   "error_bound": secagg.error_bound(len(args.update), total)}
    else:
        updates = [(load_state(Path(f) / "update.safetensors"), float(m.get("weight", m.get("n_train", 1))))
                   for f, m in zip(args.update, metas, strict=True)]
        model = fedavg(updates)
        summary = {"secure_aggregation": False}
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    save_state(model, out / "model.safetensors")
    (out / "silos.json").write_text(json.dumps(metas, indent=2), encoding="utf-8")
    if args.attestation:
        (out / "attestation.json").write_bytes(Path(args.attestation).read_bytes())
    from flaudit.train.metrics import log_mlflow

    log_mlflow({"aggregation_seconds": time.perf_counter() - t0,
                **{f"{m['silo']}_epsilon": m["local"]["dp"]["epsilon"] for m in metas
                   if (m.get("local") or {}).get("dp")}})
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
