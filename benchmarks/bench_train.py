"""Benchmarks for the gated trainer (prints figures; not a test).

    python benchmarks/bench_train.py [--rounds 20]

1. The bundled demo end to end (`flaudit train --sample --baseline`: audit, gate, attestation, 3 silo
   processes, 20 FedAvg rounds, baselines): wall time, target < 60 s on 2 cores.
2. Per-round cost of the federation (process start aside) vs the same training in one process
   (three silo trainers called in turn and averaged in memory), as a ratio.
3. FL accuracy vs the centralized baseline on the demo split, target within 2 points.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def in_process_rounds(rounds: int) -> list[float]:
    """The same demo training without the federation: no processes, no files, no JSON."""
    import torch

    from flaudit.train.demo import DEMO_PARAMS, split_digits
    from flaudit.train.fedavg import fedavg
    from flaudit.train.params import parse_params
    from flaudit.train.training import SiloTrainer

    torch.set_num_threads(1)
    params = parse_params({**DEMO_PARAMS, "num_of_iterations": rounds})
    trainers = []
    for i, (xtr, ytr, xte, yte) in enumerate(split_digits(3, seed=params.seed)):
        trainers.append(SiloTrainer(
            params=params, x_train=torch.tensor(xtr, dtype=torch.float32), y_train=torch.tensor(ytr),
            x_test=torch.tensor(xte, dtype=torch.float32), y_test=torch.tensor(yte), n_classes=10,
            seed=params.seed + 1 + i, total_rounds=rounds))
    state = trainers[0].initial_state()
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for tr in trainers:  # the worker evaluates the incoming global model, then trains
            tr.evaluate(state)
        ups = [tr.train_round(state) for tr in trainers]
        state = fedavg([(s, tr.n_train) for tr, (s, _) in zip(trainers, ups, strict=True)])
        times.append(time.perf_counter() - t)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=20)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, python {sys.version.split()[0]}")

    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp) / "run"
        t = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "flaudit", "train", "--sample", "--rounds", str(args.rounds),
                               "--baseline", "--no-plot", "--quiet", "--output", str(run_dir)],
                              capture_output=True, text=True)
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            print(proc.stderr)
            return 1
        m = json.loads((run_dir / "metrics.json").read_text())
    tm = m["timing"]
    fl_round = statistics.median(tm["round_seconds"])
    print(f"\n1. demo end to end (3 silos x {args.rounds} rounds, with baselines): {wall:.1f} s wall "
          f"({'under' if wall < 60 else 'OVER'} the 60 s target)")
    print(f"   silo worker start-up (3 processes, torch import) {tm['startup_seconds']:.1f} s; "
          f"{args.rounds} rounds {sum(tm['round_seconds']):.2f} s; baselines and the rest "
          f"{wall - tm['federated_seconds']:.1f} s")

    local = in_process_rounds(args.rounds)
    one = statistics.median(local)
    print(f"\n2. per round, median: federated {fl_round * 1000:.1f} ms vs one process {one * 1000:.1f} ms "
          f"-> ratio {fl_round / one:.2f} (overhead {(fl_round - one) * 1000:+.1f} ms per round; the three "
          "silo workers train in parallel, the in-process loop trains them in turn)")

    b = m["baseline"]
    gap = (b["centralized"]["accuracy"] - b["federated"]["accuracy"]) * 100
    alone = ", ".join(f"{k} {v['accuracy'] * 100:.1f}%" for k, v in b["silo_alone"].items())
    print(f"\n3. accuracy on all silos' test data: FL {b['federated']['accuracy'] * 100:.1f}%, centralized "
          f"{b['centralized']['accuracy'] * 100:.1f}% -> gap {gap:+.2f} points "
          f"({'within' if abs(gap) <= 2 else 'OUTSIDE'} 2 points); each silo alone: {alone}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
