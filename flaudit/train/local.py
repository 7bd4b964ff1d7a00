"""The local backend: real horizontal FL on one machine, one long-lived process per silo.

The orchestrator (this module) never hands a silo anything but its own file paths and the global weights.
Each round it writes the global model as safetensors, tells every worker to train from it, waits for their
updates (also safetensors), and averages them weighted by sample count. Workers run in parallel; they stay up
for the whole run, so a round costs file writes and a line of JSON per silo rather than a Python start-up
and a torch import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flaudit.errors import FlauditError, InputError
from flaudit.train.data import SiloData, preflight
from flaudit.train.params import TrainParams


class WorkerError(FlauditError):
    """A silo worker failed (bad data it found, or a crash); exit 2 with the worker's one-line reason."""

    exit_code = 2


@dataclass
class Worker:
    silo: str
    proc: subprocess.Popen
    log: Path

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(json.dumps(msg) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerError(f"silo {self.silo}: worker exited early (log: {self.log})") from None

    def receive(self, expect: str) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=5)
            raise WorkerError(f"silo {self.silo}: worker exited with code {self.proc.returncode} (log: {self.log})")
        msg = json.loads(line)
        if msg.get("event") == "error":
            raise WorkerError(f"silo {self.silo}: {msg.get('message')}")
        if msg.get("event") != expect:
            raise WorkerError(f"silo {self.silo}: expected {expect!r} from the worker, got {msg.get('event')!r}")
        return msg


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    # One thread per silo: several silos share the machine's cores, and oversubscription costs more than it gains.
    env.update({"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    # Plug-in models (module:function) must import in the worker exactly as they did here.
    env["PYTHONPATH"] = os.pathsep.join(p for p in [os.getcwd(), *sys.path] if p)
    return env


def start_workers(silos: list[SiloData], specs: dict[str, dict[str, Any]], log_dir: Path, *,
                  wait: bool = True) -> list[Worker]:
    """Start one worker per silo, each given only its own two paths; with ``wait``, until every one has loaded.

    All are started before any is waited on, so their start-ups (Python, torch import) overlap.
    """
    log_dir.mkdir(parents=True, exist_ok=True)
    env = _worker_env()
    workers: list[Worker] = []
    try:
        for s in silos:
            log = log_dir / f"{s.silo}.log"
            with log.open("w", encoding="utf-8") as err:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "flaudit.train.silo_worker", "serve", "--silo", s.silo,
                     "--train", s.train, "--test", s.test, "--spec", json.dumps(specs[s.silo])],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
            workers.append(Worker(s.silo, proc, log))
        for w in workers if wait else []:
            w.receive("ready")
    except BaseException:
        stop_workers(workers)
        raise
    return workers


def stop_workers(workers: list[Worker]) -> None:
    for w in workers:
        if w.proc.poll() is None:
            try:
                w.send({"cmd": "stop"})
            except WorkerError:
                pass
    for w in workers:
        try:
            w.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        for fh in (w.proc.stdin, w.proc.stdout):
            if fh:
                fh.close()


def _aggregate_eval(evals: dict[str, dict[str, Any]]) -> dict[str, Any]:
    n = sum(e["n_test"] for e in evals.values())
    return {
        "accuracy": sum(e["correct"] for e in evals.values()) / n,
        "test_loss": sum(e["test_loss"] * e["n_test"] for e in evals.values()) / n,
        "silos": {k: {"accuracy": e["accuracy"], "test_loss": e["test_loss"], "n_test": e["n_test"]}
                  for k, e in evals.items()},
    }


def run_local(run_dir: Path, silos: list[SiloData], params: TrainParams, *, baseline: bool = False,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``params.num_of_iterations`` FedAvg rounds; returns the metrics dict (see metrics.py)."""
    t0 = time.perf_counter()
    schema = preflight(silos, params.target)  # before torch is even imported: bad data fails fast
    say = progress or (lambda _msg: None)
    n_classes = params.n_classes or schema.n_classes
    if schema.n_classes > n_classes:
        raise InputError(f"training_parameters.n_classes is {n_classes} but the data has label {schema.n_classes - 1}")
    from flaudit.train.models import BUILTIN_MODELS, check_specs

    if params.model not in BUILTIN_MODELS or params.train_step:
        check_specs(params.to_dict(), len(schema.features), n_classes)  # a bad plug-in fails before any silo

    exchange = run_dir / "exchange"
    exchange.mkdir(parents=True, exist_ok=True)
    rounds = params.num_of_iterations
    base_spec = {"params": params.to_dict(), "n_classes": n_classes, "rounds": rounds, "threads": 1}
    specs = {s.silo: dict(base_spec, seed=params.seed + 1 + i) for i, s in enumerate(silos)}
    say(f"starting {len(silos)} silo workers")
    t_start = time.perf_counter()
    workers: list[Worker] = []
    try:
        workers = start_workers(silos, specs, run_dir / "logs", wait=False)
        # the orchestrator's own torch import overlaps with the workers' start-up
        import torch

        from flaudit.train.fedavg import fedavg
        from flaudit.train.models import build_model
        from flaudit.train.training import load_state, save_state, state_of

        torch.manual_seed(params.seed)
        model = build_model(params.model, len(schema.features), n_classes, params.to_dict())
        global_path = exchange / "global_000.safetensors"
        save_state(state_of(model), global_path)
        like = state_of(model)
        for w in workers:
            w.receive("ready")
        startup = time.perf_counter() - t_start
        history: list[dict[str, Any]] = []
        initial: dict[str, Any] | None = None
        round_seconds: list[float] = []
        for r in range(1, rounds + 1):
            tr = time.perf_counter()
            rdir = exchange / f"round_{r:03d}"
            rdir.mkdir(exist_ok=True)
            for w in workers:
                w.send({"cmd": "round", "round": r, "global": str(global_path),
                        "out": str(rdir / f"{w.silo}.safetensors")})
            replies = {w.silo: w.receive("update") for w in workers}
            evals = {k: m["global_eval"] for k, m in replies.items()}
            if r == 1:
                initial = _aggregate_eval(evals)
            else:
                history[-1]["aggregate"] = _aggregate_eval(evals)
            updates = [(load_state(m["path"], like), int(m["n_train"])) for m in replies.values()]
            global_path = exchange / f"global_{r:03d}.safetensors"
            save_state(fedavg(updates), global_path)
            round_seconds.append(time.perf_counter() - tr)
            history.append({"round": r, "silos": {k: m["local"] for k, m in replies.items()}, "aggregate": None})
            say(f"round {r}/{rounds} done")
        for w in workers:
            w.send({"cmd": "eval", "global": str(global_path)})
        final = _aggregate_eval({w.silo: w.receive("eval")["global_eval"] for w in workers})
        history[-1]["aggregate"] = final
    finally:
        stop_workers(workers)
    fl_seconds = time.perf_counter() - t_start

    dp = None
    if params.dp:
        dp = {k: v["dp"] for k, v in history[-1]["silos"].items()}
    metrics: dict[str, Any] = {
        "backend": "local",
        "silos": [s.silo for s in silos],
        "n_train": schema.train_rows,
        "n_test": schema.test_rows,
        "n_features": len(schema.features),
        "n_classes": n_classes,
        "params": params.to_dict(),
        "initial": initial,
        "rounds": history,
        "final": final,
        "final_model": str(global_path.relative_to(run_dir)),
        "dp": dp,
        "timing": {"startup_seconds": startup, "round_seconds": round_seconds,
                   "federated_seconds": fl_seconds},
        "baseline": None,
    }
    if baseline:
        say("training baselines (centralized, each silo alone)")
        metrics["baseline"] = run_baselines(silos, params, n_classes, final)
    metrics["timing"]["total_seconds"] = time.perf_counter() - t0
    return metrics


def run_baselines(silos: list[SiloData], params: TrainParams, n_classes: int,
                  federated: dict[str, Any]) -> dict[str, Any]:
    """Parity check: the same model and training, centrally on the union and on each silo alone.

    A centralized baseline needs all the data in one place, which is exactly what FL avoids in production;
    it runs here, on the machine that already holds every silo's files, only to measure what FL costs.
    Every model is scored on the union of the silos' test files (what the federated model is scored on).
    """
    import torch

    from flaudit.train.data import read_csv
    from flaudit.train.training import SiloTrainer, evaluate, tensors

    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    train = {s.silo: tensors(read_csv(s.train, params.target)) for s in silos}
    test = {s.silo: tensors(read_csv(s.test, params.target)) for s in silos}
    xt = torch.cat([x for x, _ in test.values()])
    yt = torch.cat([y for _, y in test.values()])

    def fit(x, y) -> dict[str, Any]:
        t = SiloTrainer(params=params, x_train=x, y_train=y, x_test=xt, y_test=yt, n_classes=n_classes,
                        seed=params.seed + 1, total_rounds=params.num_of_iterations)
        for _ in range(params.num_of_iterations):
            t.train_round()
        out = {"accuracy": evaluate(t.base, xt, yt)["accuracy"],
               "silos": {k: evaluate(t.base, x_, y_)["accuracy"] for k, (x_, y_) in test.items()}}
        if t.privacy is not None:
            from flaudit.train.dp import spent

            out["dp"] = spent(t.privacy, t.dp_info)
        return out

    central = fit(torch.cat([x for x, _ in train.values()]), torch.cat([y for _, y in train.values()]))
    alone = {k: fit(x, y) for k, (x, y) in train.items()}
    return {
        "evaluated_on": "union of every silo's test data",
        "federated": {"accuracy": federated["accuracy"],
                      "silos": {k: v["accuracy"] for k, v in federated["silos"].items()}},
        "centralized": central,
        "silo_alone": alone,
        "gap_points": round((central["accuracy"] - federated["accuracy"]) * 100, 2),
    }
