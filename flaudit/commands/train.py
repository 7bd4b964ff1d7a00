"""``flaudit train`` (gated federated training) and ``flaudit verify-attestation RUN_DIR``.

Order matters and is the point: arguments and training parameters are checked, then the gate decides from
the audit, and only a ``ready`` verdict creates the run directory's contents, writes the attestation,
re-verifies it, and hands silo paths to a backend. A refusal writes ``refusal.json`` and nothing else.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import sys
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_REFUSED = 0, 1


def register(sub: argparse._SubParsersAction) -> None:
    from flaudit.audit import add_audit_arguments

    p = sub.add_parser(
        "train", help="run federated training only if the audit gate passes",
        description="Audit the deployment (or check a saved result), and only if the profile's verdict is "
        "ready, write an attestation and run horizontal federated learning (FedAvg) locally or as an Azure ML "
        "pipeline. --sample alone runs the bundled digits demo on the hardened sample deployment.",
        epilog="Exit codes: 0 trained (or planned with --dry-run); 1 refused by the gate (blocking findings, "
        "unknowns, a stale result or attestation); 2 usage or input error, or a silo failed; 3 deployment "
        "unreadable.")
    add_audit_arguments(p)
    p.add_argument("--result", metavar="RESULT.json",
                   help="gate on a saved `flaudit scan --format json` result instead of auditing again; its "
                   "input digest must match the inventory given with the input options")
    p.add_argument("--backend", choices=("local", "azureml"), default="local",
                   help="local: one process per silo on this machine (default); azureml: submit an Azure ML "
                   "pipeline (needs flaudit[azureml])")
    p.add_argument("--output", "-o", metavar="RUN_DIR",
                   help="run directory (must be new or empty; default flaudit-runs/train-<UTC time>)")
    p.add_argument("--dry-run", action="store_true", help="gate, attest and print the plan; train nothing")
    p.add_argument("--baseline", action="store_true",
                   help="also train centrally on the union and on each silo alone (parity check)")
    p.add_argument("--rounds", type=int, metavar="N", help="override training_parameters.num_of_iterations")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override one training parameter (YAML value), e.g. --set dp=true (repeatable)")
    p.add_argument("--secure-aggregation", action=argparse.BooleanOptionalAction, default=None,
                   help="pairwise-masked secure aggregation: the orchestrator sees only the sum of the silos' "
                   "updates (default: training_parameters.secure_aggregation, else on for the production "
                   "profile and off for prototype)")
    p.add_argument("--round-timeout", type=float, metavar="SECONDS", default=600.0,
                   help="abort when a silo has not answered a round within this time (default 600)")
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted local run from its last completed round (global model, round "
                   "and DP accountant state), after re-verifying its attestation")
    p.add_argument("--jsonl", action="store_true",
                   help="print one JSON line per round on stdout as it completes (always written to "
                   "RUN_DIR/metrics.jsonl)")
    p.add_argument("--no-plot", action="store_true", help="do not write metrics.png")
    p.add_argument("--experiment", default="flaudit-fl", help="Azure ML experiment name (azureml backend)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only errors and the refusal")
    p.set_defaults(func=run)

    v = sub.add_parser("verify-attestation", help="re-check a training run's attestation (tampered or stale?)",
                       description="Check RUN_DIR/attestation.json against the saved audit result and training "
                       "config, and (unless --no-recheck) that the inventory and FL config are unchanged.",
                       epilog="Exit codes: 0 valid; 1 tampered, stale, failed, refused, or signed with no key to check it; "
                       "2 usage or input error.")
    v.add_argument("run_dir", metavar="RUN_DIR")
    v.add_argument("--no-recheck", action="store_true",
                   help="skip reloading the audited inputs (integrity only, no staleness check)")
    v.add_argument("--max-age", metavar="DURATION",
                   help="refuse an attestation older than this (e.g. 12h, 7d, 30m, or seconds)")
    v.add_argument("--public-key", metavar="FILE",
                   help="Ed25519 public key (PEM) to verify the signature with (default: "
                   "$FLAUDIT_ATTESTATION_PUBLIC_KEY)")
    v.set_defaults(func=run_verify)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    from flaudit.errors import InputError

    out: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--set {item!r}: expected KEY=VALUE")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InputError(f"--set {item!r}: value is not valid YAML") from None
    if args.rounds is not None:
        out["num_of_iterations"] = args.rounds
    return out


def _run_dir(args: argparse.Namespace) -> Path:
    from flaudit.errors import InputError

    if args.output:
        out = Path(args.output)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise InputError(f"{out}: run directory exists and is not empty (choose a new one)")
        return out
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path("flaudit-runs") / f"train-{stamp}"


def _plan_config(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    """The FL config document to train with and whether it is the bundled demo; checked before the gate so
    a bad parameter never needs an audit."""
    import yaml

    from flaudit.errors import InputError
    from flaudit.train.attestation import audited_config_path

    cfg = audited_config_path(args)
    if cfg is None:
        raise InputError("flaudit train needs the FL config that names the silos: give --config FILE "
                         "(or --sample for the bundled demo)")
    try:
        doc = yaml.safe_load(Path(cfg).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"{cfg}: cannot read FL config ({exc.strerror or exc})") from None
    except yaml.YAMLError:
        raise InputError(f"{cfg}: not valid YAML") from None
    from flaudit.config import parse_config

    parse_config(doc, cfg)  # same validation as the audit
    demo = bool(getattr(args, "sample", None)) and not args.config and args.backend == "local"
    if demo:
        from flaudit.train.demo import DEMO_PARAMS

        doc["training_parameters"] = {**(doc.get("training_parameters") or {}), **DEMO_PARAMS}
    elif args.backend == "local":
        _absolute_data_paths(doc, Path(cfg).parent)
    elif getattr(args, "sample", None) and not args.config:
        # the bundled sample describes the digits demo: 10 classes (its data is not readable from here)
        doc["training_parameters"] = {"n_classes": 10, **(doc.get("training_parameters") or {})}
    doc["training_parameters"] = {**(doc.get("training_parameters") or {}), **_overrides(args)}
    return doc, demo


def _absolute_data_paths(doc: dict[str, Any], base: Path) -> None:
    """Local data paths are relative to the FL config; the training config copy records them absolute."""
    from flaudit.train.data import data_path

    for i, s in enumerate(doc["federated_learning"]["silos"]):
        for key in ("training_data", "testing_data"):
            p = Path(data_path(s.get(key), f"federated_learning.silos[{i}].{key}"))
            p = str(p if p.is_absolute() else (base / p).resolve())
            if isinstance(s[key], dict):
                s[key] = {**s[key], "path": p}
            else:
                s[key] = p


def _check_azureml(doc: dict[str, Any], params) -> None:
    """What the azureml backend needs, checked before the gate: the extra, n_classes, a provable plan."""
    from flaudit.errors import InputError

    try:
        import azure.ai.ml  # noqa: F401
    except ImportError:
        raise InputError("--backend azureml needs azure-ai-ml: pip install 'flaudit[azureml]'") from None
    if params.n_classes is None:
        raise InputError("--backend azureml: set training_parameters.n_classes (the silos' data is not "
                         "readable from here to infer it)")
    from flaudit.train.azureml import plan

    plan(doc, params, "check")


def _secure_aggregation(args: argparse.Namespace, doc: dict[str, Any]) -> bool:
    """The flag, else the config key, else on for production and off for prototype."""
    if args.secure_aggregation is not None:
        return bool(args.secure_aggregation)
    configured = (doc.get("training_parameters") or {}).get("secure_aggregation")
    if configured is not None:
        return bool(configured)
    return args.profile == "production"


def run(args: argparse.Namespace) -> int:
    import yaml
    from rich.console import Console

    from flaudit.output import write_text_atomic
    from flaudit.train import attestation
    from flaudit.train.gate import blocking_lines, canonical_json, gate_from_args, refusal_record
    from flaudit.train.params import parse_params

    out = Console(quiet=args.quiet, soft_wrap=True)
    err = Console(stderr=True, quiet=args.quiet, soft_wrap=True)
    if args.resume:
        return _resume(args, out, err)
    doc, demo = _plan_config(args)
    secagg = _secure_aggregation(args, doc)
    doc["training_parameters"]["secure_aggregation"] = secagg
    params = parse_params(doc["training_parameters"], "training_parameters")
    if args.backend == "azureml":
        _check_azureml(doc, params)
    run_dir = _run_dir(args)

    decision = gate_from_args(args)
    if not decision.ready:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / attestation.REFUSAL, canonical_json(refusal_record(decision, attestation.now())))
        for line in blocking_lines(decision):
            print(line, file=sys.stderr)
        print(f"flaudit train: refusal recorded in {run_dir / attestation.REFUSAL}; nothing was trained",
              file=sys.stderr)
        return EXIT_REFUSED

    run_dir.mkdir(parents=True, exist_ok=True)
    run_dir.chmod(0o700)  # silo workers run under other uids: the run directory is the orchestrator's alone
    err.print(f"gate: profile {decision.profile} is ready (audit {decision.result_sha256[:12]}, "
              f"inventory {decision.input_sha256[:12]}); run directory {run_dir}")
    if decision.profile == "prototype":
        err.print("warning: prototype profile: this run is not cleared for production data (recorded in the "
                  "attestation)")
    if demo:
        from flaudit.train.demo import demo_config, write_demo

        names = [s["name"] for s in doc["federated_learning"]["silos"]]
        doc = demo_config(doc, write_demo(run_dir, names, seed=params.seed))
    tc = run_dir / attestation.TRAINING_CONFIG
    write_text_atomic(tc, yaml.safe_dump(doc, sort_keys=False))
    attestation.write(run_dir, decision, args, backend=args.backend, training_config=tc)
    attestation.verify(run_dir)  # refuse a tampered or stale attestation before any silo starts

    try:
        if args.backend == "azureml":
            from flaudit.train import azureml

            return azureml.run(run_dir, doc, params, args, console=out)
        return _run_local(run_dir, doc, params, args, out, err)
    except BaseException as exc:
        attestation.fail(run_dir, _failure_line(exc))
        raise


def _failure_line(exc: BaseException) -> str:
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:500]


def _resume(args: argparse.Namespace, out, err) -> int:
    """Continue a local run: its attestation must still verify (not tampered, not stale) and not be finished."""
    import yaml

    from flaudit.errors import InputError
    from flaudit.train import attestation
    from flaudit.train.local import load_checkpoint
    from flaudit.train.params import parse_params

    run_dir = Path(args.resume)
    att = attestation.verify(run_dir, allow_failed=True)
    if att.get("backend") != "local":
        raise InputError(f"{run_dir}: --resume works for the local backend only")
    if (att.get("training") or {}).get("status") == "completed":
        raise InputError(f"{run_dir}: this run already completed; nothing to resume")
    doc = yaml.safe_load((run_dir / attestation.TRAINING_CONFIG).read_text(encoding="utf-8"))
    params = parse_params(doc["training_parameters"], "training_parameters")
    resume = load_checkpoint(run_dir)
    err.print(f"resuming {run_dir} after round {resume['round']} of {params.num_of_iterations} "
              f"(attestation {att['attestation_sha256'][:12]} verified)")
    args.profile = att["profile"]
    try:
        return _run_local(run_dir, doc, params, args, out, err, resume=resume)
    except BaseException as exc:
        attestation.fail(run_dir, _failure_line(exc))
        raise


def _run_local(run_dir: Path, doc: dict[str, Any], params, args: argparse.Namespace, out, err,
               resume: dict[str, Any] | None = None) -> int:
    import json

    from flaudit.train import attestation
    from flaudit.train.data import SiloData, data_path
    from flaudit.train.local import run_local
    from flaudit.train.metrics import plot, render, stream_round, write_metrics

    silos = [SiloData(s["name"], data_path(s.get("training_data"), f"federated_learning.silos[{i}].training_data"),
                      data_path(s.get("testing_data"), f"federated_learning.silos[{i}].testing_data"))
             for i, s in enumerate(doc["federated_learning"]["silos"])]
    secagg = bool(params.secure_aggregation)
    if args.dry_run:
        out.print(f"plan: local backend, {len(silos)} silos x {params.num_of_iterations} rounds "
                  f"({params.model}, {params.epochs} epoch(s)/round, DP {'on' if params.dp else 'off'}, "
                  f"secure aggregation {'on' if secagg else 'off'})")
        for s in silos:
            out.print(f"  {s.silo}: train {s.train}  test {s.test}")
        out.print(f"attestation: {run_dir / attestation.ATTESTATION} (dry run: nothing trained)")
        return EXIT_OK

    def on_round(entry: dict[str, Any]) -> None:
        line = stream_round(run_dir, entry)
        if args.jsonl:
            print(json.dumps(line), flush=True)

    audited = (attestation.load(run_dir).get("config") or {}).get("path")
    metrics = run_local(run_dir, silos, params, baseline=args.baseline, progress=lambda m: err.print(m),
                        hide=[audited] if audited else None,
                        secure_aggregation=secagg, round_timeout=args.round_timeout, on_round=on_round,
                        resume=resume)
    mf = write_metrics(run_dir, metrics)
    if not args.no_plot:
        png = plot(run_dir, metrics)
        if png:
            err.print(f"plot: {png}")
    att = attestation.finish(run_dir, metrics=metrics, metrics_file=mf)
    if not args.jsonl:
        render(metrics, out)
    out.print(f"metrics: {mf}\nattestation: {run_dir / attestation.ATTESTATION} "
              f"({att['attestation_sha256'][:12]}, {attestation.signature_state(att)['state']})")
    return EXIT_OK


def run_verify(args: argparse.Namespace) -> int:
    from flaudit.train import attestation

    att = attestation.verify(Path(args.run_dir), recheck_inputs=not args.no_recheck,
                             max_age=attestation.parse_age(args.max_age) if args.max_age else None,
                             public_key=args.public_key)
    for line in attestation.summary_lines(att, rechecked=not args.no_recheck):
        print(line)
    return EXIT_OK
