"""The per-silo process. It is given only its own silo's files and never sees another silo's data.

Two ways to run it:

``python -m flaudit.train.silo_worker serve [--uid N --gid N]``
    the local backend's long-lived worker. Its command line holds no path: the first line on stdin (``init``)
    names its data files and the training spec. It imports its libraries, drops to ``--uid``/``--gid`` when
    given (see :mod:`flaudit.train.isolation`), hashes and loads its data, and then answers one JSON line per
    command (``peers``, ``round``, ``eval``, ``stop``) with one JSON line on stdout. Weights travel inside the
    messages as base64 safetensors (never pickle); with secure aggregation the update is a masked fixed-point
    vector instead. With DP on, nothing computed from the rows without noise (loss, accuracy) is sent.
``python -m flaudit.train.silo_worker preprocess --raw-train PATH --raw-test PATH ...``
    the Azure ML per-silo pre-processing step: validates the raw data and writes the processed copy and the
    silo's private state (data digests, DP accountant history, secure-aggregation private key) to the silo's own
    datastore, and its public key to the orchestrator's.
``python -m flaudit.train.silo_worker step --train-data PATH --test-data PATH --output DIR ...``
    one training round as an Azure ML pipeline step on the silo's own compute, carrying its private state from
    the previous round. Both steps re-check the attestation digest they were given before reading any data.
"""

from __future__ import annotations

import argparse
import base64
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


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def state_bytes(state: dict[str, Any]) -> str:
    from safetensors.torch import save

    return base64.b64encode(save({k: v.contiguous() for k, v in state.items()})).decode("ascii")


def state_from(b64: str, like: dict[str, Any] | None = None) -> dict[str, Any]:
    """Weights from a message; with ``like``, refuse other tensor names or shapes."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    try:
        state = load(base64.b64decode(b64))
    except (SafetensorError, ValueError) as exc:
        raise InputError(f"model weights in a message are not readable safetensors ({exc})") from None
    if like is not None:
        if set(state) != set(like):
            raise InputError("model weights: tensor names differ from the model's")
        for k, v in like.items():
            if tuple(state[k].shape) != tuple(v.shape):
                raise InputError(f"model weights: tensor {k!r} has shape {tuple(state[k].shape)}, "
                                 f"the model's is {tuple(v.shape)}")
    return state


def _preload(spec: dict[str, Any], secagg: bool) -> None:
    """Exercise a whole round on made-up rows while the interpreter's files are still readable (before the drop).

    torch, Opacus and the standard library import modules lazily on first use; after the worker has dropped
    to its uid they may no longer be readable (the interpreter lives under /root), so every code path a round
    takes runs once here, on random data, with the built-in model. Plug-in models are imported after the drop.
    """
    import csv  # noqa: F401
    import encodings.utf_8_sig  # noqa: F401

    import torch

    from flaudit.train.params import parse_params
    from flaudit.train.training import SiloTrainer

    warm = {**spec["params"], "model": "logreg", "train_step": None, "num_of_iterations": 1, "epochs": 1}
    if warm.get("dp"):  # a fixed noise multiplier: any target epsilon is reachable on the real data, maybe not here
        warm.update(dp_target_epsilon=None, dp_noise_multiplier=1.0)
        from opacus.accountants.utils import get_noise_multiplier

        get_noise_multiplier(target_epsilon=8.0, target_delta=1e-5, sample_rate=0.5, epochs=1,
                             accountant=warm.get("dp_accountant") or "rdp")
    params = parse_params(warm, "warm-up")
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(8, 3, generator=g), torch.tensor([0, 1] * 4)
    t = SiloTrainer(params=params, x_train=x, y_train=y, x_test=x, y_test=y, n_classes=2, seed=0, total_rounds=1)
    state, _ = t.train_round(t.initial_state())
    state_from(state_bytes(state), state)
    import importlib

    for key in ("model", "train_step"):  # plug-in modules are imported here, their functions run after the drop
        module = str(spec["params"].get(key) or "").partition(":")[0]
        if ":" in str(spec["params"].get(key) or "") and module:
            try:
                importlib.import_module(module)
            except Exception:  # noqa: BLE001 - reported as one line when the trainer resolves it
                pass
    if secagg:
        from flaudit.train import secagg as sa

        priv, _ = sa.keypair()
        _, pub = sa.keypair()
        sa.masked_update(state, 1.0, "a", sa.pair_seeds(priv, "a", {"b": pub}, "warm-up"), 1, 2)


def serve(args: argparse.Namespace, out: TextIO, inp: TextIO) -> int:
    def send(msg: dict[str, Any]) -> None:
        out.write(json.dumps(msg) + "\n")
        out.flush()

    def silo_log(what: str, data: Any) -> None:  # the silo's own log (stderr), never sent
        print(f"[silo-only] {what}: {json.dumps(data, default=str)}", file=sys.stderr, flush=True)

    try:
        init = json.loads(inp.readline() or "{}")
        if init.get("cmd") != "init":
            raise InputError("the first command must be init")
        spec, secagg = init["spec"], bool(init.get("secure_aggregation"))
        _preload(spec, secagg)
        if args.uid is not None:
            from flaudit.train.isolation import drop

            drop(args.uid, args.gid)
        elif init.get("hide") is not None:
            from flaudit.train.isolation import enter_namespace

            enter_namespace(init["hide"])
        data_sha = {"train": file_sha256(init["train"]), "test": file_sha256(init["test"])}
        trainer = _trainer(init["train"], init["test"], spec)
        if "dp_history" in init and trainer.privacy is not None:
            from flaudit.train.dp import restore

            restore(trainer.privacy, init["dp_history"])
    except FlauditError as exc:
        send({"event": "error", "message": str(exc)})
        return 2
    except Exception as exc:  # a crash while loading is still one line for the orchestrator
        send({"event": "error", "message": f"{type(exc).__name__}: {exc}"})
        raise
    private = None
    seeds: dict[str, bytes] = {}
    hello: dict[str, Any] = {"event": "ready", "silo": args.silo, "n_train": trainer.n_train,
                             "n_test": int(trainer.y_test.shape[0]), "data_sha256": data_sha,
                             "uid": os.getuid(), "pid": os.getpid()}
    if secagg:
        from flaudit.train import secagg as sa

        private, hello["public_key"] = sa.keypair()
    like = trainer.initial_state()
    dp = trainer.privacy is not None
    send(hello)
    for line in inp:
        if not line.strip():
            continue
        cmd = json.loads(line)
        try:
            if cmd["cmd"] == "stop":
                send({"event": "stopped"})
                return 0
            if cmd["cmd"] == "peers":
                from flaudit.train import secagg as sa

                seeds = sa.pair_seeds(private, args.silo, cmd["keys"], cmd["session"])
                if set(seeds) != set(cmd["keys"]) - {args.silo}:
                    raise InputError("secure aggregation: peer list is inconsistent")
                send({"event": "peers", "silo": args.silo, "peers": len(seeds)})
                continue
            state = state_from(cmd["global"], like)
            if cmd["cmd"] == "eval":
                ev = trainer.evaluate(state)
                if dp:
                    silo_log("final evaluation", ev)
                send({"event": "eval", "silo": args.silo, "global_eval": None if dp else ev})
            elif cmd["cmd"] == "round":
                global_eval = trainer.evaluate(state)
                new_state, metrics = trainer.train_round(state)
                reply: dict[str, Any] = {"event": "update", "silo": args.silo, "round": cmd["round"],
                                         "global_eval": None if dp else global_eval, "local": metrics}
                if dp:
                    silo_log(f"round {cmd['round']}", {"global_eval": global_eval, **trainer.silo_only_metrics})
                if secagg:
                    from flaudit.train import secagg as sa

                    blob = sa.masked_update(new_state, float(trainer.n_train), args.silo, seeds, int(cmd["round"]),
                                            int(cmd["n_silos"]))
                    reply["masked"] = base64.b64encode(blob).decode("ascii")
                else:
                    reply["update"] = state_bytes(new_state)
                send(reply)
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


def _check_attestation(args: argparse.Namespace) -> None:
    digest = hashlib.sha256(Path(args.attestation).read_bytes()).hexdigest()
    if digest != args.attestation_sha256:
        raise InputError(f"{args.attestation}: attestation digest {digest[:12]} is not the one the pipeline was "
                         f"submitted with ({args.attestation_sha256[:12]}); refusing to read silo data")


def preprocess(args: argparse.Namespace) -> int:
    """The per-silo pre-processing step: validate the raw data, write the processed copy and the silo's private
    state (to its own datastore) and, with secure aggregation, its public key (to the orchestrator's)."""
    import shutil

    from flaudit.train.data import read_csv

    _check_attestation(args)
    spec = json.loads(Path(args.spec_file).read_text(encoding="utf-8"))
    target = spec["params"].get("target", "label")
    raw_train, raw_test = _one_csv(args.raw_train), _one_csv(args.raw_test)
    tr, te = read_csv(raw_train, target), read_csv(raw_test, target)
    if tr.features != te.features:
        raise InputError(f"{raw_test}: feature columns differ from {raw_train}")
    for src, out in ((raw_train, args.train_out), (raw_test, args.test_out)):
        Path(out).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, Path(out) / "data.csv")
    state: dict[str, Any] = {"silo": args.silo, "dp_history": [],
                             "data_sha256": {"train": file_sha256(raw_train), "test": file_sha256(raw_test)}}
    if args.public_key_out:
        from flaudit.train import secagg as sa

        private, public = sa.keypair()
        state["secagg_private_key"] = sa.private_bytes(private)
        Path(args.public_key_out).mkdir(parents=True, exist_ok=True)
        (Path(args.public_key_out) / "public_key.json").write_text(
            json.dumps({"silo": args.silo, "key": public}), encoding="utf-8")
    Path(args.state_out).mkdir(parents=True, exist_ok=True)
    (Path(args.state_out) / "state.json").write_text(json.dumps(state), encoding="utf-8")
    return 0


def step(args: argparse.Namespace) -> int:
    """One round on an Azure ML silo compute: verify the attestation, train from the checkpoint, write.

    The silo's private state (accountant history, secure-aggregation key) comes from its own datastore and goes
    back there, so epsilon accumulates over the run although every round is a fresh process.
    """
    from flaudit.train.training import load_state, save_state

    _check_attestation(args)
    spec = json.loads(Path(args.spec_file).read_text(encoding="utf-8"))
    state_in = json.loads((Path(args.state_in) / "state.json").read_text(encoding="utf-8"))
    # each step is a fresh process: vary the shuffling seed by silo and round, reproducibly (DP randomness is
    # drawn from the OS, never from this seed)
    spec["seed"] = int(spec.get("params", {}).get("seed", 0)) + args.round * 1000 + zlib.crc32(args.silo.encode()) % 1000
    trainer = _trainer(_one_csv(args.train_data), _one_csv(args.test_data), spec)
    dp = trainer.privacy is not None
    if dp:
        from flaudit.train.dp import restore

        restore(trainer.privacy, state_in.get("dp_history") or [])
    state = None
    if args.checkpoint:
        state = load_state(Path(args.checkpoint) / "model.safetensors", trainer.initial_state())
    global_eval = trainer.evaluate(state) if state is not None else None
    new_state, metrics = trainer.train_round(state)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    # with DP on, the row count is private too: the aggregation weights silos equally
    weight = 1.0 if dp else float(trainer.n_train)
    meta: dict[str, Any] = {"silo": args.silo, "round": args.round, "local": metrics,
                            "global_eval": None if dp else global_eval, "data_sha256": state_in.get("data_sha256")}
    if not dp:
        meta["n_train"] = trainer.n_train
    if args.peer_key:
        from flaudit.train import secagg as sa

        keys = {}
        for folder in args.peer_key:
            rec = json.loads((Path(folder) / "public_key.json").read_text(encoding="utf-8"))
            keys[rec["silo"]] = rec["key"]
        if set(keys) != set(spec.get("silos") or keys) or args.silo not in keys:
            raise InputError("secure aggregation: the published public keys do not match the pipeline's silos")
        seeds = sa.pair_seeds(sa.private_from(state_in["secagg_private_key"]), args.silo, keys, spec["session"])
        (out / "masked.bin").write_bytes(sa.masked_update(new_state, weight, args.silo, seeds, args.round, len(keys)))
        meta["n_silos"] = len(keys)
        meta["layout"] = [[k, list(new_state[k].shape), str(new_state[k].dtype).replace("torch.", "")]
                          for k in sa.float_keys(new_state)]
    else:
        save_state(new_state, out / "update.safetensors")
        meta["weight"] = weight
    (out / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if dp:
        from flaudit.train.dp import history

        state_in["dp_history"] = history(trainer.privacy)
    Path(args.state_out).mkdir(parents=True, exist_ok=True)
    (Path(args.state_out) / "state.json").write_text(json.dumps(state_in), encoding="utf-8")
    from flaudit.train.metrics import log_mlflow

    log_mlflow({k: v for k, v in metrics.items() if k != "withheld"} if not dp else
                {"epsilon": metrics["dp"]["epsilon"], "steps": metrics["dp"]["steps"]}, args.round, f"{args.silo}_")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="flaudit-silo-worker")
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--silo", required=True)
    s.add_argument("--uid", type=int, help="drop to this uid after importing (the orchestrator is root)")
    s.add_argument("--gid", type=int)
    st = sub.add_parser("step")
    st.add_argument("--silo", required=True)
    st.add_argument("--round", type=int, required=True)
    st.add_argument("--train-data", required=True)
    st.add_argument("--test-data", required=True)
    st.add_argument("--checkpoint")
    st.add_argument("--spec-file", required=True, help="JSON: params, n_classes, rounds, session, silos")
    st.add_argument("--output", required=True)
    st.add_argument("--state-in", required=True, help="the silo's private state folder (its own datastore)")
    st.add_argument("--state-out", required=True)
    st.add_argument("--peer-key", action="append", default=[], help="a silo's published public key folder")
    st.add_argument("--attestation", required=True)
    st.add_argument("--attestation-sha256", required=True)
    pp = sub.add_parser("preprocess")
    pp.add_argument("--silo", required=True)
    pp.add_argument("--raw-train", required=True)
    pp.add_argument("--raw-test", required=True)
    pp.add_argument("--train-out", required=True)
    pp.add_argument("--test-out", required=True)
    pp.add_argument("--state-out", required=True)
    pp.add_argument("--public-key-out")
    pp.add_argument("--spec-file", required=True)
    pp.add_argument("--attestation", required=True)
    pp.add_argument("--attestation-sha256", required=True)
    args = ap.parse_args(argv)
    if args.mode == "serve":
        # stdout carries the protocol only: anything a library prints goes to stderr (the silo's log)
        protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
        sys.stdout = sys.stderr
        return serve(args, protocol, sys.stdin)
    try:
        return preprocess(args) if args.mode == "preprocess" else step(args)
    except FlauditError as exc:
        print(f"flaudit silo {args.mode}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
