"""The local backend: real horizontal FL on one machine, one long-lived, isolated process per silo.

The orchestrator (this module) copies each silo's two files into that silo's private sandbox
(:mod:`flaudit.train.isolation`), starts one worker per silo under its own uid when it is root, and tells it its
paths over its stdin pipe. Each round it sends the global weights down every worker's pipe, waits (with a
timeout) for their updates on their pipes, and averages them weighted by the row counts *it* measured in the
pre-flight check, never by a count a worker reports. With secure aggregation the workers send pairwise-masked
fixed-point vectors instead (:mod:`flaudit.train.secagg`) and the orchestrator only ever holds their sum.
There is no shared writable directory: the run directory is the orchestrator's alone (0700).
"""

from __future__ import annotations

import base64
import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flaudit.errors import FlauditError, InputError
from flaudit.train.data import SiloData, preflight
from flaudit.train.params import TrainParams

#: Seconds a worker may take to start (Python and torch imports on a busy machine) or to answer a round.
START_TIMEOUT = 180.0
ROUND_TIMEOUT = 600.0


class WorkerError(FlauditError):
    """A silo worker failed (bad data it found, a crash, a timeout); exit 2 with one line naming the silo."""

    exit_code = 2


@dataclass
class Worker:
    silo: str
    proc: subprocess.Popen
    log: Path
    buf: bytearray = field(default_factory=bytearray)

    def send(self, msg: dict[str, Any]) -> None:
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write((json.dumps(msg) + "\n").encode("utf-8"))
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise WorkerError(f"silo {self.silo}: worker died ({self._died()})") from None

    def _died(self) -> str:
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            code = None
        tail = ""
        try:
            lines = [ln for ln in self.log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
            tail = f"; last log line: {lines[-1][:200]}" if lines else ""
        except OSError:
            pass
        how = f"exit code {code}" if code is None or code >= 0 else f"killed by signal {-code}"
        return f"{how}{tail}; log: {self.log}"

    def receive(self, expect: str, timeout: float = ROUND_TIMEOUT) -> dict[str, Any]:
        """The next message; a worker that dies or stays silent past ``timeout`` is one clear error."""
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                self.proc.kill()
                raise WorkerError(f"silo {self.silo}: no answer to {expect!r} within {timeout:g} s (worker killed; "
                                  f"log: {self.log})")
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise WorkerError(f"silo {self.silo}: worker died ({self._died()})")
            self.buf.extend(chunk)
        i = self.buf.index(b"\n")
        line = bytes(self.buf[:i])
        del self.buf[:i + 1]
        try:
            msg = json.loads(line)
        except json.JSONDecodeError:
            raise WorkerError(f"silo {self.silo}: sent something that is not a protocol message") from None
        if msg.get("event") == "error":
            raise WorkerError(f"silo {self.silo}: {msg.get('message')}")
        if msg.get("event") != expect:
            raise WorkerError(f"silo {self.silo}: expected {expect!r} from the worker, got {msg.get('event')!r}")
        return msg


def start_workers(silos: list[SiloData], specs: dict[str, dict[str, Any]], log_dir: Path, iso, *,
                  secure_aggregation: bool = False, dp_history: dict[str, Any] | None = None,
                  wait: bool = True, hide_extra: list[str] | None = None) -> list[Worker]:
    """Start one worker per silo in its sandbox; with ``wait``, until every one has loaded its data.

    All are started before any is waited on, so their start-ups (Python, torch import) overlap.
    """
    from flaudit.train.isolation import worker_env

    log_dir.mkdir(parents=True, exist_ok=True)
    env = worker_env()
    workers: list[Worker] = []
    try:
        for s in silos:
            box = iso.sandboxes[s.silo]
            log = log_dir / f"{s.silo}.log"
            cmd = [sys.executable, "-m", "flaudit.train.silo_worker", "serve", "--silo", s.silo]
            if box.uid is not None:
                cmd += ["--uid", str(box.uid), "--gid", str(box.gid)]
            with log.open("w", encoding="utf-8") as err:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env,
                                        cwd=str(box.home), umask=0o077, close_fds=True)
            w = Worker(s.silo, proc, log)
            workers.append(w)
            init = {"cmd": "init", "train": str(box.train), "test": str(box.test), "spec": specs[s.silo],
                    "secure_aggregation": secure_aggregation}
            if iso.mode == "namespace":
                init["hide"] = iso.hidden_from(s.silo, silos, hide_extra or [])
            if dp_history and s.silo in dp_history:
                init["dp_history"] = dp_history[s.silo]
            w.send(init)
        for w in workers if wait else []:
            w.receive("ready", START_TIMEOUT)
    except BaseException:
        stop_workers(workers, grace=1.0)
        raise
    return workers


def stop_workers(workers: list[Worker], grace: float = 10.0) -> None:
    """Ask every worker to stop, then kill whoever has not within ``grace`` seconds (short after a failure)."""
    for w in workers:
        if w.proc.poll() is None:
            try:
                w.send({"cmd": "stop"})
            except WorkerError:
                pass
    deadline = time.monotonic() + grace
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            w.proc.kill()
            w.proc.wait()
        for fh in (w.proc.stdin, w.proc.stdout):
            if fh:
                fh.close()


def _aggregate_eval(evals: dict[str, dict[str, Any] | None]) -> dict[str, Any] | None:
    """The global model scored on every silo's test data; None when the silos withheld it (DP on)."""
    if not evals or any(e is None for e in evals.values()):
        return None
    n = sum(e["n_test"] for e in evals.values())
    return {
        "accuracy": sum(e["correct"] for e in evals.values()) / n,
        "test_loss": sum(e["test_loss"] * e["n_test"] for e in evals.values()) / n,
        "silos": {k: {"accuracy": e["accuracy"], "test_loss": e["test_loss"], "n_test": e["n_test"]}
                  for k, e in evals.items()},
    }


CHECKPOINT = "checkpoint.json"
MODELS = "models"


def _save_global(run_dir: Path, r: int, state: dict[str, Any]) -> dict[str, Any]:
    from flaudit.train.attestation import sha256_file
    from flaudit.train.training import save_state

    path = run_dir / MODELS / f"global_{r:03d}.safetensors"
    save_state(state, path)
    return {"round": r, "file": str(path.relative_to(run_dir)), "sha256": sha256_file(path)}


def load_checkpoint(run_dir: Path) -> dict[str, Any]:
    """The last completed round of an interrupted run (``--resume``), checked against its model digest."""
    from flaudit.train.attestation import sha256_file

    path = run_dir / CHECKPOINT
    try:
        ck = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{run_dir}: no {CHECKPOINT}: no completed round to resume from") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: unreadable checkpoint ({exc})") from None
    model = run_dir / ck["global_models"][-1]["file"]
    if not model.is_file() or sha256_file(model) != ck["global_models"][-1]["sha256"]:
        raise InputError(f"{model}: the checkpoint's model is missing or changed; cannot resume")
    return ck


def run_local(run_dir: Path, silos: list[SiloData], params: TrainParams, *, baseline: bool = False,
              progress: Callable[[str], None] | None = None, secure_aggregation: bool = False,
              round_timeout: float = ROUND_TIMEOUT, on_round: Callable[[dict[str, Any]], None] | None = None,
              resume: dict[str, Any] | None = None, isolation_mode: str | None = None,
              hide: list[str] | None = None) -> dict[str, Any]:
    """Train ``params.num_of_iterations`` FedAvg rounds; returns the metrics dict (see metrics.py)."""
    from flaudit.train import isolation

    t0 = time.perf_counter()
    schema = preflight(silos, params.target)  # before torch is even imported: bad data fails fast
    say = progress or (lambda _msg: None)
    n_classes = params.n_classes or schema.n_classes
    if schema.n_classes > n_classes:
        raise InputError(f"training_parameters.n_classes is {n_classes} but the data has label {schema.n_classes - 1}")
    from flaudit.train.models import BUILTIN_MODELS, check_specs

    if params.model not in BUILTIN_MODELS or params.train_step:
        check_specs(params.to_dict(), len(schema.features), n_classes)  # a bad plug-in fails before any silo

    os.chmod(run_dir, 0o700)
    (run_dir / MODELS).mkdir(exist_ok=True)
    rounds = params.num_of_iterations
    base_spec = {"params": params.to_dict(), "n_classes": n_classes, "rounds": rounds, "threads": 1}
    specs = {s.silo: dict(base_spec, seed=params.seed + 1 + i) for i, s in enumerate(silos)}
    iso = isolation.prepare(silos, isolation_mode)
    for warning in iso.warnings:
        say(f"warning: {warning}")
    if iso.mode == "best-effort":
        say("warning: isolation is best-effort (not root, no user namespaces): silo workers share this user's uid "
            "and can read each other's data")
    elif iso.mode == "namespace":
        say("note: not root: silo workers share this user's uid; each is confined by a user and mount namespace")
        isolation.undumpable()  # the workers share our uid: they must not ptrace the orchestrator
    first = resume["round"] + 1 if resume else 1
    say(f"starting {len(silos)} silo workers (isolation: {iso.mode}"
        f"{', secure aggregation' if secure_aggregation else ''})")
    t_start = time.perf_counter()
    workers: list[Worker] = []
    history: list[dict[str, Any]] = list(resume["rounds"]) if resume else []
    global_models: list[dict[str, Any]] = list(resume["global_models"]) if resume else []
    initial: dict[str, Any] | None = resume.get("initial") if resume else None
    round_seconds: list[float] = list(resume.get("round_seconds", [])) if resume else []
    dp_history: dict[str, Any] = dict(resume.get("dp_history") or {}) if resume else {}
    secagg_info: dict[str, Any] | None = None
    try:
        workers = start_workers(silos, specs, run_dir / "logs", iso, secure_aggregation=secure_aggregation,
                                dp_history=dp_history or None, wait=False,
                                hide_extra=[str(run_dir.resolve()), *(hide or [])])
        # the orchestrator's own torch import overlaps with the workers' start-up
        import torch

        from flaudit.train.fedavg import fedavg
        from flaudit.train.models import build_model
        from flaudit.train.silo_worker import state_bytes, state_from
        from flaudit.train.training import load_state, state_of

        torch.manual_seed(params.seed)
        model = build_model(params.model, len(schema.features), n_classes, params.to_dict())
        like = state_of(model)
        if resume:
            state = load_state(run_dir / global_models[-1]["file"], like)
        else:
            state = like
            global_models.append(_save_global(run_dir, 0, state))
        hello = {w.silo: w.receive("ready", START_TIMEOUT) for w in workers}
        data_sha = {k: m["data_sha256"] for k, m in hello.items()}
        for k, m in hello.items():  # the counts we measured are the weights; a worker that disagrees is wrong
            if int(m["n_train"]) != schema.train_rows[k]:
                raise WorkerError(f"silo {k}: worker reports {m['n_train']} training rows, the orchestrator "
                                  f"counted {schema.train_rows[k]}")
        uids = {k: m["uid"] for k, m in hello.items()}
        if secure_aggregation:
            import secrets

            from flaudit.train import secagg

            secagg.float_keys(like)
            session = secrets.token_hex(16)
            keys = {k: m["public_key"] for k, m in hello.items()}
            for w in workers:
                w.send({"cmd": "peers", "session": session, "keys": keys})
            for w in workers:
                w.receive("peers", START_TIMEOUT)
            total = float(sum(schema.train_rows.values()))
            secagg_info = {"protocol": "pairwise masking (Bonawitz et al. 2017), X25519 + HKDF-SHA256 + ChaCha20",
                           "fraction_bits": secagg.FRACTION_BITS, "dropout_recovery": False,
                           "error_bound": secagg.error_bound(len(silos), total)}
        startup = time.perf_counter() - t_start
        for r in range(first, rounds + 1):
            tr = time.perf_counter()
            payload = state_bytes(state)
            for w in workers:
                w.send({"cmd": "round", "round": r, "global": payload, "n_silos": len(silos)})
            replies = {w.silo: w.receive("update", round_timeout) for w in workers}
            agg = _aggregate_eval({k: m["global_eval"] for k, m in replies.items()})
            if r == 1:
                initial = agg
            elif history:
                history[-1]["aggregate"] = agg
            if secure_aggregation:
                from flaudit.train import secagg

                out = secagg.unmask_sum([base64.b64decode(m["masked"]) for m in replies.values()], like)
                weight = out.pop("__weight__")
                if abs(weight - total) > 0.5:
                    raise WorkerError(f"round {r}: secure aggregation summed weight {weight:g}, the orchestrator "
                                      f"counted {total:g} rows (a silo misreported its weight)")
                state = out
            else:
                updates = [(state_from(m["update"], like), schema.train_rows[k]) for k, m in replies.items()]
                state = fedavg(updates)
            global_models.append(_save_global(run_dir, r, state))
            round_seconds.append(time.perf_counter() - tr)
            entry = {"round": r, "silos": {k: m["local"] for k, m in replies.items()}, "aggregate": None}
            history.append(entry)
            for k, m in replies.items():
                if (m["local"] or {}).get("dp"):
                    dp_history[k] = m["local"]["dp"]["history"]
            _write_json(run_dir / CHECKPOINT, {"round": r, "global_models": global_models, "rounds": history,
                                               "initial": initial, "round_seconds": round_seconds,
                                               "dp_history": dp_history})
            if on_round:
                on_round({"round": r, "seconds": round_seconds[-1], "model_sha256": global_models[-1]["sha256"],
                          "previous_aggregate": history[-2]["aggregate"] if len(history) > 1 else initial,
                          "silos": entry["silos"]})
            say(f"round {r}/{rounds} done ({round_seconds[-1] * 1000:.0f} ms)")
        payload = state_bytes(state)
        for w in workers:
            w.send({"cmd": "eval", "global": payload})
        final = _aggregate_eval({w.silo: w.receive("eval", round_timeout)["global_eval"] for w in workers})
        if history:
            history[-1]["aggregate"] = final
    except BaseException:
        stop_workers(workers, grace=1.0)  # a failed run does not wait for hung silos
        iso.cleanup()
        raise
    stop_workers(workers)
    iso.cleanup()
    fl_seconds = time.perf_counter() - t_start

    dp = None
    if params.dp:
        dp = {k: {kk: vv for kk, vv in v["dp"].items() if kk != "history"} for k, v in history[-1]["silos"].items()}
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
        "final_model": global_models[-1]["file"],
        "dp": dp,
        "withheld": "with DP on, silos send no loss or accuracy (computed from private rows without noise)"
                    if params.dp else None,
        "isolation": {**iso.describe(), "worker_uids": uids},
        "secure_aggregation": secagg_info,
        "data_sha256": data_sha,
        "global_models": global_models,
        "resumed_from_round": resume["round"] if resume else None,
        "timing": {"startup_seconds": startup, "round_seconds": round_seconds,
                   "federated_seconds": fl_seconds},
        "baseline": None,
    }
    if baseline:
        say("training baselines (centralized, each silo alone)")
        metrics["baseline"] = run_baselines(silos, params, n_classes, state)
    metrics["timing"]["total_seconds"] = time.perf_counter() - t0
    return metrics


def _write_json(path: Path, data: Any) -> None:
    from flaudit.output import write_text_atomic

    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def run_baselines(silos: list[SiloData], params: TrainParams, n_classes: int,
                  final_state: dict[str, Any]) -> dict[str, Any]:
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

    from flaudit.train.models import build_model

    fed = build_model(params.model, int(xt.shape[1]), n_classes, params.to_dict())
    fed.load_state_dict(final_state)
    federated = {"accuracy": evaluate(fed, xt, yt)["accuracy"],
                 "silos": {k: evaluate(fed, x_, y_)["accuracy"] for k, (x_, y_) in test.items()}}
    central = fit(torch.cat([x for x, _ in train.values()]), torch.cat([y for _, y in train.values()]))
    alone = {k: fit(x, y) for k, (x, y) in train.items()}
    return {
        "evaluated_on": "union of every silo's test data",
        "federated": federated,
        "centralized": central,
        "silo_alone": alone,
        "gap_points": round((central["accuracy"] - federated["accuracy"]) * 100, 2),
    }
