"""The per-silo process. It is given only its own silo's file paths and never sees another silo's data.

Two ways to run it:

``python -m flaudit.train.silo_worker serve --silo NAME --train CSV --test CSV --spec JSON``
    the local backend's long-lived worker: it loads its data once, then answers one JSON line per command on
    stdin (``round``, ``eval``, ``stop``) with one JSON line on stdout. Weights go both ways as safetensors
    files, never pickle; the messages are JSON. Keeping the process for the whole run keeps the per-round
    cost to a file write and a line of JSON, and lets one DP accountant see every step.
``python -m flaudit.train.silo_worker step --train-data PATH --test-data PATH --output DIR ...``
    one training round as an Azure ML pipeline step on the silo's own compute; it re-checks the attestation
    digest it was given before reading any data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any, TextIO

from flaudit.errors import FlauditError, InputError


def _trainer(train: str, test: str, spec: dict[str, Any]):
    import torch

    from flaudit.train.data import read_csv
    from flaudit.train.params import parse_params
    from flaudit.train.training import SiloTrainer, tensors

    torch.set_num_threads(int(spec.get("threads", 1)))
    params = parse_params(spec["params"], "silo spec")
    tr, te = read_csv(train, params.target), read_csv(test, params.target)
    if tr.features != te.features:
        raise InputError(f"{test}: feature columns differ from {train}")
    n_classes = int(spec.get("n_classes") or params.n_classes or max(max(tr.y), max(te.y)) + 1)
    if max(max(tr.y), max(te.y)) >= n_classes:
        raise InputError(f"{train}: a label is >= n_classes ({n_classes})")
    x, y = tensors(tr)
    xt, yt = tensors(te)
    return SiloTrainer(params=params, x_train=x, y_train=y, x_test=xt, y_test=yt, n_classes=n_classes,
                       seed=int(spec.get("seed", params.seed)), total_rounds=int(spec.get("rounds",
                                                                                           params.num_of_iterations)))


def serve(args: argparse.Namespace, out: TextIO) -> int:
    from flaudit.train.training import load_state, save_state

    def send(msg: dict[str, Any]) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    try:
        trainer = _trainer(args.train, args.test, json.loads(args.spec))
    except FlauditError as exc:
        send({"event": "error", "message": str(exc)})
        return 2
    like = trainer.initial_state()
    send({"event": "ready", "silo": args.silo, "n_train": trainer.n_train, "pid": os.getpid()})
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "stop":
                send({"event": "stopped"})
                return 0
            state = load_state(cmd["global"], like)
            if cmd["cmd"] == "eval":
                send({"event": "eval", "silo": args.silo, "global_eval": trainer.evaluate(state)})
            elif cmd["cmd"] == "round":
                global_eval = trainer.evaluate(state)
                new_state, metrics = trainer.train_round(state)
                save_state(new_state, cmd["out"])
                send({"event": "update", "silo": args.silo, "round": cmd["round"], "path": cmd["out"],
                      "n_train": trainer.n_train, "global_eval": global_eval, "local": metrics})
            else:
                send({"event": "error", "message": f"unknown command {cmd['cmd']!r}"})
        except FlauditError as exc:
            send({"event": "error", "message": str(exc)})
            return 2
    return 0


def _one_csv(path: str) -> str:
    """An Azure ML input is a file or a folder (uri_folder); in a folder, take its only CSV file."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.csv"))
        if len(files) != 1:
            raise InputError(f"{p}: expected exactly one *.csv file in the input folder, found {len(files)}")
        return str(files[0])
    return str(p)


def step(args: argparse.Namespace) -> int:
    """One round on an Azure ML silo compute: verify the attestation, train from the checkpoint, write."""
    from flaudit.train.training import load_state, save_state

    digest = hashlib.sha256(Path(args.attestation).read_bytes()).hexdigest()
    if digest != args.attestation_sha256:
        raise InputError(f"{args.attestation}: attestation digest {digest[:12]} is not the one the pipeline was "
                         f"submitted with ({args.attestation_sha256[:12]}); refusing to read silo data")
    spec = json.loads(Path(args.spec_file).read_text(encoding="utf-8"))
    # each step is a fresh process: vary the shuffling seed by silo and round, reproducibly
    spec["seed"] = int(spec.get("params", {}).get("seed", 0)) + args.round * 1000 + zlib.crc32(args.silo.encode()) % 1000
    trainer = _trainer(_one_csv(args.train_data), _one_csv(args.test_data), spec)
    state = None
    if args.checkpoint:
        state = load_state(Path(args.checkpoint) / "model.safetensors", trainer.initial_state())
    global_eval = trainer.evaluate(state) if state is not None else None
    new_state, metrics = trainer.train_round(state)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    save_state(new_state, out / "update.safetensors")
    meta = {"silo": args.silo, "round": args.round, "n_train": trainer.n_train, "local": metrics,
            "global_eval": global_eval}
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="flaudit-silo-worker")
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--silo", required=True)
    s.add_argument("--train", required=True)
    s.add_argument("--test", required=True)
    s.add_argument("--spec", required=True, help="JSON: params, n_classes, seed, rounds")
    st = sub.add_parser("step")
    st.add_argument("--silo", required=True)
    st.add_argument("--round", type=int, required=True)
    st.add_argument("--train-data", required=True)
    st.add_argument("--test-data", required=True)
    st.add_argument("--checkpoint")
    st.add_argument("--spec-file", required=True, help="JSON: params, n_classes, rounds")
    st.add_argument("--output", required=True)
    st.add_argument("--attestation", required=True)
    st.add_argument("--attestation-sha256", required=True)
    args = ap.parse_args(argv)
    if args.mode == "serve":
        # stdout carries the protocol only: anything a library prints goes to stderr (the silo's log)
        protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
        sys.stdout = sys.stderr
        return serve(args, protocol)
    try:
        return step(args)
    except FlauditError as exc:
        print(f"flaudit silo step: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
