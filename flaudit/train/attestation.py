"""The attestation: which audit allowed this training run, written before any silo data is touched.

``RUN_DIR/attestation.json`` records the digest of the audit result (kept beside it as
``audit-result.json``), the inventory digest, rule pack version, profile, verdict, time, FL config digests,
the waivers the gate honoured and, once training ends, the (epsilon, delta) each silo spent.

:func:`verify` re-checks all of it: the file's own digest, the saved result against the recorded digest and
verdict, the training config copy, and (unless told not to) that the inventory and FL config being trained
on are still the ones audited; a mismatch is *tampered* or *stale*, and the trainer refuses both.

Once training ends (or fails) the attestation also covers what was trained: the digest of every silo data file
as the silo worker read it, of each round's global model and of the final model, the DP settings and spend,
the isolation mode and secure aggregation. A run that fails after the gate passed says so (``training.status``
``failed``), and :func:`verify` refuses it.

Signatures. Without a key the digests catch edits by anyone who does not bother to recompute them (state
``unsigned``). ``FLAUDIT_ATTESTATION_SIGNING_KEY`` (a PEM Ed25519 private key file) makes the trainer sign it;
verifiers hold only the public key (``--public-key`` or ``FLAUDIT_ATTESTATION_PUBLIC_KEY``), so a verifier cannot
forge one. ``FLAUDIT_ATTESTATION_KEY`` (a shared secret) adds an HMAC-SHA256 instead, for setups where signer and
verifier are the same party. A signed attestation with no key to check it is ``key missing`` and refused.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from flaudit.errors import FlauditError, InputError
from flaudit.train.gate import GateDecision, canonical_json, sha256_text

ATTESTATION = "attestation.json"
AUDIT_RESULT = "audit-result.json"
TRAINING_CONFIG = "training-config.yaml"
REFUSAL = "refusal.json"
KEY_ENV = "FLAUDIT_ATTESTATION_KEY"
SIGNING_KEY_ENV = "FLAUDIT_ATTESTATION_SIGNING_KEY"
PUBLIC_KEY_ENV = "FLAUDIT_ATTESTATION_PUBLIC_KEY"
SEAL_FIELDS = ("attestation_sha256", "hmac_sha256", "signature", "_signature")
KIND = "flaudit.attestation"
#: Options whose values are file system paths, recognised by their metavar (made absolute when recorded).
PATH_METAVARS = {"PATH", "FILE", "DIR"}
#: Options that write files or only tune output: never replayed when re-checking the inputs.
NOT_REPLAYED = {"save_snapshot"}


class AttestationError(FlauditError):
    """The attestation is missing, tampered or stale: exit 1 (the gate refuses), with a one-line reason."""

    exit_code = 1


def now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat()


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _audit_dests() -> dict[str, bool]:
    """Every option the audit takes (shared with scan, whatever sources exist), and whether it is a path."""
    from flaudit.audit import add_audit_arguments

    p = argparse.ArgumentParser(add_help=False)
    add_audit_arguments(p)
    return {a.dest: a.metavar in PATH_METAVARS for a in p._actions if a.dest != "help"}


def record_inputs(args: argparse.Namespace) -> dict[str, Any]:
    """The audit options as given (paths made absolute), so :func:`verify` can reload the same inventory."""
    out: dict[str, Any] = {}
    for dest, is_path in _audit_dests().items():
        if dest in NOT_REPLAYED:
            continue
        value = getattr(args, dest, None)
        if is_path and value:
            value = [str(Path(v).resolve()) for v in value] if isinstance(value, list) else str(Path(value).resolve())
        try:
            json.dumps(value)
        except TypeError:
            continue
        out[dest] = value
    return out


def _reload(recorded: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Inventory digest, audited config path and its digest, recomputed from the recorded options."""
    from flaudit import sources
    from flaudit.audit import add_audit_arguments
    from flaudit.config import load_config

    p = argparse.ArgumentParser(add_help=False)
    add_audit_arguments(p)
    ns = p.parse_args([])
    for k, v in recorded.items():
        setattr(ns, k, v)
    ns.fl_config = load_config(ns.config) if getattr(ns, "config", None) else None
    inventory = sources.load_inventory(ns)
    cfg = audited_config_path(ns)
    return inventory.sha256(), cfg, (sha256_file(cfg) if cfg and Path(cfg).is_file() else None)


def audited_config_path(args: argparse.Namespace) -> str | None:
    """The FL config the audit read: ``--config``, else the bundled one a ``--sample`` audit uses."""
    if getattr(args, "config", None):
        return str(Path(args.config).resolve())
    if getattr(args, "sample", None):
        from flaudit.sources.samples import config_path

        return config_path()
    return None


def _body_text(att: dict[str, Any]) -> str:
    return canonical_json({k: v for k, v in att.items() if k not in SEAL_FIELDS})


def _load_pem(path: str, private: bool):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    what = "signing" if private else "public"
    try:
        data = Path(path).read_bytes()
        key = (serialization.load_pem_private_key(data, password=None) if private
               else serialization.load_pem_public_key(data))
    except (OSError, ValueError, TypeError) as exc:
        raise InputError(f"{path}: not a readable PEM Ed25519 {what} key ({type(exc).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey if private else Ed25519PublicKey):
        raise InputError(f"{path}: the {what} key is not an Ed25519 key")
    return key


def _public_raw(pub) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return pub.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _seal(att: dict[str, Any]) -> dict[str, Any]:
    import base64

    body = {k: v for k, v in att.items() if k not in SEAL_FIELDS}
    text = canonical_json(body)
    body["attestation_sha256"] = sha256_text(text)
    key = os.environ.get(KEY_ENV)
    if key:
        body["hmac_sha256"] = hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()
    signing = os.environ.get(SIGNING_KEY_ENV)
    if signing:
        priv = _load_pem(signing, private=True)
        body["signature"] = {"alg": "ed25519",
                             "public_key_sha256": hashlib.sha256(_public_raw(priv.public_key())).hexdigest(),
                             "value": base64.b64encode(priv.sign(text.encode("utf-8"))).decode("ascii")}
    return body


def signature_state(att: dict[str, Any], public_key: str | None = None) -> dict[str, str]:
    """``signed`` (and by what), ``unsigned`` or ``key missing``; raises on a signature that does not verify."""
    import base64

    path = ATTESTATION
    text = _body_text(att)
    sig = att.get("signature")
    if sig:
        pub_path = public_key or os.environ.get(PUBLIC_KEY_ENV)
        if not pub_path and os.environ.get(SIGNING_KEY_ENV):
            pub = _load_pem(os.environ[SIGNING_KEY_ENV], private=True).public_key()
        elif pub_path:
            pub = _load_pem(pub_path, private=False)
        else:
            return {"state": "key missing", "detail": f"Ed25519-signed; give --public-key or {PUBLIC_KEY_ENV}"}
        from cryptography.exceptions import InvalidSignature

        if not isinstance(sig, dict) or sig.get("alg") != "ed25519":
            raise AttestationError(f"{path}: tampered: unknown signature algorithm")
        try:
            pub.verify(base64.b64decode(str(sig.get("value", ""))), text.encode("utf-8"))
        except (InvalidSignature, ValueError):
            raise AttestationError(f"{path}: tampered: the Ed25519 signature does not verify with the public key "
                                   f"(sha256 {hashlib.sha256(_public_raw(pub)).hexdigest()[:12]})") from None
        return {"state": "signed", "detail": f"Ed25519, key {sig.get('public_key_sha256', '')[:12]}"}
    key = os.environ.get(KEY_ENV)
    if att.get("hmac_sha256"):
        if not key:
            return {"state": "key missing", "detail": f"HMAC-signed; set {KEY_ENV}"}
        want = hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(str(att.get("hmac_sha256")), want):
            raise AttestationError(f"{path}: tampered: the HMAC does not match")
        return {"state": "signed", "detail": "HMAC-SHA256"}
    if key or public_key or os.environ.get(PUBLIC_KEY_ENV):
        raise AttestationError(f"{path}: tampered or unsigned: a key is configured but the attestation carries no "
                               "signature")
    return {"state": "unsigned", "detail": "digests only: anyone who can rewrite the run directory can forge it"}


def _write(path: Path, text: str) -> None:
    from flaudit.output import write_text_atomic

    write_text_atomic(path, text)


def write(run_dir: Path, decision: GateDecision, args: argparse.Namespace, *, backend: str,
          training_config: Path) -> dict[str, Any]:
    """Write ``audit-result.json`` and ``attestation.json`` into ``run_dir`` (the gate has passed)."""
    if not decision.ready:
        raise AttestationError(f"gate is {decision.status}: no attestation for a refused run")
    result_text = canonical_json(decision.result)
    _write(run_dir / AUDIT_RESULT, result_text)
    cfg = audited_config_path(args)
    att = {
        "kind": KIND,
        "version": 1,
        "created_at": now(),
        "tool": decision.result.get("tool", {}),
        "profile": decision.profile,
        "prototype": decision.profile == "prototype",
        "verdict": decision.status,
        "gate_source": decision.source,
        "audit_result": {"file": AUDIT_RESULT, "sha256": sha256_text(result_text),
                         "generated_at": decision.result.get("generated_at")},
        "input": {"sha256": decision.input_sha256, "sources": decision.result.get("input", {}).get("sources", []),
                  "options": record_inputs(args)},
        "rule_pack_version": decision.rule_pack_version,
        "config": {"path": cfg, "sha256": sha256_file(cfg) if cfg else None,
                   "topology_sha256": decision.result.get("topology_sha256")},
        "training_config": {"file": training_config.name, "sha256": sha256_file(training_config)},
        "waivers": decision.waivers,
        "backend": backend,
        "training": None,
    }
    att = _seal(att)
    _write(run_dir / ATTESTATION, canonical_json(att))
    return att


def finish(run_dir: Path, *, metrics: dict[str, Any], metrics_file: Path | None) -> dict[str, Any]:
    """Record what was trained in the attestation, re-sealed: data digests as the silo workers read them, every
    round's global model, the final model, DP settings and spend, isolation and secure aggregation."""
    att = verify(run_dir, recheck_inputs=False, allow_failed=True)
    final = metrics["global_models"][-1]
    att["training"] = {
        "status": "completed",
        "completed_at": now(),
        "dp": metrics.get("dp"),
        "metrics": ({"file": metrics_file.name, "sha256": sha256_file(metrics_file)} if metrics_file else None),
        "final_model": {"file": final["file"], "sha256": final["sha256"]},
        "global_models": metrics["global_models"],
        "data": _data_record(run_dir, metrics.get("data_sha256") or {}),
        "isolation": metrics.get("isolation"),
        "secure_aggregation": metrics.get("secure_aggregation"),
        "resumed_from_round": metrics.get("resumed_from_round"),
    }
    att = _seal(att)
    _write(run_dir / ATTESTATION, canonical_json(att))
    return att


def _data_record(run_dir: Path, digests: dict[str, dict[str, str]]) -> dict[str, Any]:
    """Silo -> {train, test} -> {path, sha256}: the paths from the training config, digests from the workers."""
    import yaml

    from flaudit.train.data import data_path

    doc = yaml.safe_load((run_dir / TRAINING_CONFIG).read_text(encoding="utf-8"))
    out: dict[str, Any] = {}
    for i, s in enumerate(doc["federated_learning"]["silos"]):
        if s["name"] not in digests:
            continue
        out[s["name"]] = {
            "train": {"path": data_path(s.get("training_data"), f"silos[{i}].training_data"),
                      "sha256": digests[s["name"]]["train"]},
            "test": {"path": data_path(s.get("testing_data"), f"silos[{i}].testing_data"),
                     "sha256": digests[s["name"]]["test"]},
        }
    return out


def fail(run_dir: Path, reason: str) -> None:
    """A run that fails after the gate passed leaves an attestation that says so (never a silent success)."""
    try:
        att = load(run_dir)
    except FlauditError:
        return
    if (att.get("training") or {}).get("status") == "completed":
        return
    att["training"] = {**(att.get("training") or {}), "status": "failed", "failed_at": now(), "error": reason}
    att = _seal(att)
    _write(run_dir / ATTESTATION, canonical_json(att))


def parse_age(text: str) -> float:
    """``30m``, ``12h``, ``7d``, ``90s`` or plain seconds -> seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = str(text).strip().lower()
    try:
        value = float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise InputError(f"--max-age {text!r}: expected a duration such as 12h, 7d, 30m or seconds") from None
    if value <= 0:
        raise InputError(f"--max-age {text!r}: must be positive")
    return value


def summary_lines(att: dict[str, Any], *, rechecked: bool) -> list[str]:
    """What ``verify-attestation`` prints after every check passed."""
    sig = att.get("_signature") or signature_state(att)
    lines = [f"attestation OK: profile {att['profile']} {att['verdict']}, audit {att['audit_result']['sha256'][:12]}, "
             f"inventory {att['input']['sha256'][:12]}, rule pack {att['rule_pack_version']}"
             f"{'' if not rechecked else ', inputs unchanged'}"]
    lines.append(f"signature: {sig['state']} ({sig['detail']})")
    if att.get("prototype") or att.get("profile") == "prototype":
        lines.append("PROTOTYPE: gated on the prototype profile; not cleared for production data")
    tr = att.get("training") or {}
    if tr.get("status") == "completed":
        lines.append(f"training: completed {tr.get('completed_at')}, final model {tr['final_model']['sha256'][:12]}, "
                     f"{len(tr.get('global_models') or [])} global models and {2 * len(tr.get('data') or {})} silo "
                     "data files match their digests")
        iso = tr.get("isolation") or {}
        if iso:
            lines.append(f"isolation: {iso.get('mode')}: {iso.get('summary', '')}")
        sa = tr.get("secure_aggregation")
        lines.append("secure aggregation: " + (f"on (error bound {sa['error_bound']:.2g})" if sa else "off"))
        if tr.get("dp"):
            lines.append("DP epsilon per silo: " + ", ".join(
                f"{k} {v['epsilon']:.2f} (delta {v['delta']:g}, noise {v['noise_multiplier']:.3f}, "
                f"q {v.get('sample_rate', 0):.4f}, clip {v.get('max_grad_norm')}, {v.get('steps')} steps, "
                f"{v.get('accountant')})" for k, v in tr["dp"].items()))
    elif not tr:
        lines.append("training: not recorded (dry run, or submitted to Azure ML)")
    return lines


def load(run_dir: Path) -> dict[str, Any]:
    path = Path(run_dir) / ATTESTATION
    if not Path(run_dir).is_dir():
        raise InputError(f"{run_dir}: no such run directory")
    try:
        att = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if (Path(run_dir) / REFUSAL).is_file():
            raise AttestationError(f"{run_dir}: the gate refused this run (see {REFUSAL}); there is no attestation") \
                from None
        raise AttestationError(f"{path}: no attestation") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise AttestationError(f"{path}: unreadable attestation ({exc})") from None
    if not isinstance(att, dict) or att.get("kind") != KIND:
        raise AttestationError(f"{path}: not a flaudit attestation")
    return att


def verify(run_dir: Path, *, recheck_inputs: bool = True, allow_failed: bool = False, max_age: float | None = None,
           public_key: str | None = None) -> dict[str, Any]:
    """Check the attestation in ``run_dir``; raises :class:`AttestationError` with the first problem found."""
    run_dir = Path(run_dir)
    att = load(run_dir)
    path = run_dir / ATTESTATION
    if att.get("attestation_sha256") != sha256_text(_body_text(att)):
        raise AttestationError(f"{path}: tampered: its content does not match its digest")
    sig = signature_state(att, public_key)
    if sig["state"] == "key missing":
        raise AttestationError(f"{path}: signature: key missing: {sig['detail']} to verify it")
    if att.get("verdict") != "ready":
        raise AttestationError(f"{path}: verdict is {att.get('verdict')!r}, not ready")
    if max_age is not None:
        try:
            created = _dt.datetime.fromisoformat(str(att.get("created_at")))
        except ValueError:
            raise AttestationError(f"{path}: created_at is not a time") from None
        age = (_dt.datetime.now(_dt.UTC) - created).total_seconds()
        if age > max_age:
            raise AttestationError(f"stale: the attestation is {age / 3600:.1f} h old, older than --max-age "
                                   f"({max_age / 3600:.1f} h); re-run the gate")
    result_file = run_dir / AUDIT_RESULT
    if not result_file.is_file() or sha256_file(result_file) != att["audit_result"]["sha256"]:
        raise AttestationError(f"{result_file}: tampered or missing: does not match the attested digest")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    verdict = result.get("verdict", {}).get(att["profile"], {})
    if verdict.get("status") != "ready" or verdict.get("blocking"):
        raise AttestationError(f"{result_file}: the attested result is not ready for profile {att['profile']}")
    if result.get("input", {}).get("sha256") != att["input"]["sha256"]:
        raise AttestationError(f"{path}: tampered: input digest differs from the attested result's")
    if str(result.get("tool", {}).get("rule_pack_version", "")) != att.get("rule_pack_version"):
        raise AttestationError(f"{path}: tampered: rule pack version differs from the attested result's")
    if list((result.get("waivers") or {}).get("applied") or []) != att.get("waivers"):
        raise AttestationError(f"{path}: tampered: waivers differ from the attested result's")
    tc = run_dir / att["training_config"]["file"]
    if not tc.is_file() or sha256_file(tc) != att["training_config"]["sha256"]:
        raise AttestationError(f"{tc}: tampered or missing: does not match the attested digest")
    training = att.get("training") or {}
    if training.get("status") == "failed" and not allow_failed:
        raise AttestationError(f"{path}: the run failed after the gate passed: {training.get('error')}")
    if training.get("metrics"):
        mf = run_dir / training["metrics"]["file"]
        if not mf.is_file() or sha256_file(mf) != training["metrics"]["sha256"]:
            raise AttestationError(f"{mf}: tampered or missing: does not match the attested digest")
    for model in [*(training.get("global_models") or []), *([training["final_model"]]
                                                            if training.get("final_model") else [])]:
        mp = run_dir / model["file"]
        if not mp.is_file() or sha256_file(mp) != model["sha256"]:
            raise AttestationError(f"{mp}: tampered or missing: the model does not match the attested digest")
    if recheck_inputs:
        check_fresh(att)
        for silo, files in (training.get("data") or {}).items():
            for kind, rec in files.items():
                dp_ = Path(rec["path"])
                if not dp_.is_file():
                    raise AttestationError(f"stale: silo {silo} {kind} data {dp_} is gone (use --no-recheck to skip)")
                if sha256_file(dp_) != rec["sha256"]:
                    raise AttestationError(f"tampered: silo {silo} {kind} data {dp_} changed since it was trained on")
    att["_signature"] = sig
    return att


def check_fresh(att: dict[str, Any]) -> None:
    """Stale check: the inventory, FL config and rule pack must still be the ones the audit saw."""
    from flaudit import RULE_PACK_VERSION

    if att.get("rule_pack_version") != RULE_PACK_VERSION:
        raise AttestationError(f"stale: audited with rule pack {att.get('rule_pack_version')}, this flaudit has "
                               f"{RULE_PACK_VERSION}; re-run the gate")
    cfg = att["config"]
    if cfg.get("path"):
        if not Path(cfg["path"]).is_file():
            raise AttestationError(f"stale: the audited FL config {cfg['path']} is gone")
        if sha256_file(cfg["path"]) != cfg["sha256"]:
            raise AttestationError(f"stale: the FL config {cfg['path']} changed since the audit")
    try:
        inv_sha, _, _ = _reload(att["input"]["options"])
    except FlauditError as exc:
        raise AttestationError(f"stale: cannot reload the audited inputs ({exc})") from None
    if inv_sha != att["input"]["sha256"]:
        raise AttestationError(f"stale: the inventory changed since the audit (now {inv_sha[:12]}, "
                               f"audited {att['input']['sha256'][:12]})")


def tags(att: dict[str, Any]) -> dict[str, str]:
    """The attestation as Azure ML job tags (strings only; the full file travels as an artifact)."""
    return {
        "flaudit.attestation_sha256": att["attestation_sha256"],
        "flaudit.audit_result_sha256": att["audit_result"]["sha256"],
        "flaudit.input_sha256": att["input"]["sha256"],
        "flaudit.rule_pack_version": str(att["rule_pack_version"]),
        "flaudit.profile": att["profile"],
        "flaudit.verdict": att["verdict"],
        "flaudit.attested_at": att["created_at"],
        "flaudit.config_sha256": str(att["config"]["sha256"]),
        "flaudit.training_config_sha256": att["training_config"]["sha256"],
        "flaudit.waivers": str(len(att["waivers"])),
    }
