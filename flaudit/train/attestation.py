"""The attestation: which audit allowed this training run, written before any silo data is touched.

``RUN_DIR/attestation.json`` records the digest of the audit result (kept beside it as
``audit-result.json``), the inventory digest, rule pack version, profile, verdict, time, FL config digests,
the waivers the gate honoured and, once training ends, the (epsilon, delta) each silo spent.

:func:`verify` re-checks all of it: the file's own digest, the saved result against the recorded digest and
verdict, the training config copy, and (unless told not to) that the inventory and FL config being trained
on are still the ones audited; a mismatch is *tampered* or *stale*, and the trainer refuses both.

Without a key the digests catch edits by anyone who does not bother to recompute them. With
``FLAUDIT_ATTESTATION_KEY`` set, the attestation carries an HMAC-SHA256 that only key holders can produce.
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


def _seal(att: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in att.items() if k not in ("attestation_sha256", "hmac_sha256")}
    text = canonical_json(body)
    body["attestation_sha256"] = sha256_text(text)
    key = os.environ.get(KEY_ENV)
    if key:
        body["hmac_sha256"] = hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()
    return body


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
        "verdict": decision.status,
        "gate_source": decision.source,
        "audit_result": {"file": AUDIT_RESULT, "sha256": sha256_text(result_text),
                         "generated_at": decision.result.get("generated_at")},
        "input": {"sha256": decision.input_sha256, "sources": decision.result.get("input", {}).get("sources", []),
                  "options": record_inputs(args)},
        "rule_pack_version": decision.rule_pack_version,
        "config": {"path": cfg, "sha256": sha256_file(cfg) if cfg else None},
        "training_config": {"file": training_config.name, "sha256": sha256_file(training_config)},
        "waivers": decision.waivers,
        "backend": backend,
        "training": None,
    }
    att = _seal(att)
    _write(run_dir / ATTESTATION, canonical_json(att))
    return att


def finish(run_dir: Path, *, dp: dict[str, Any] | None, metrics_file: Path | None) -> dict[str, Any]:
    """Record the training outcome (DP spent per silo, metrics digest) in the attestation, re-sealed."""
    att = verify(run_dir, recheck_inputs=False)
    att["training"] = {
        "completed_at": now(),
        "dp": dp,
        "metrics": ({"file": metrics_file.name, "sha256": sha256_file(metrics_file)} if metrics_file else None),
    }
    att = _seal(att)
    _write(run_dir / ATTESTATION, canonical_json(att))
    return att


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


def verify(run_dir: Path, *, recheck_inputs: bool = True) -> dict[str, Any]:
    """Check the attestation in ``run_dir``; raises :class:`AttestationError` with the first problem found."""
    run_dir = Path(run_dir)
    att = load(run_dir)
    path = run_dir / ATTESTATION
    body = {k: v for k, v in att.items() if k not in ("attestation_sha256", "hmac_sha256")}
    text = canonical_json(body)
    if att.get("attestation_sha256") != sha256_text(text):
        raise AttestationError(f"{path}: tampered: its content does not match its digest")
    key = os.environ.get(KEY_ENV)
    if att.get("hmac_sha256") or key:
        if not key:
            raise AttestationError(f"{path}: the attestation is signed; set {KEY_ENV} to verify it")
        want = hmac.new(key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(str(att.get("hmac_sha256") or ""), want):
            raise AttestationError(f"{path}: tampered: the HMAC does not match (or the attestation is unsigned)")
    if att.get("verdict") != "ready":
        raise AttestationError(f"{path}: verdict is {att.get('verdict')!r}, not ready")
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
    if training.get("metrics"):
        mf = run_dir / training["metrics"]["file"]
        if not mf.is_file() or sha256_file(mf) != training["metrics"]["sha256"]:
            raise AttestationError(f"{mf}: tampered or missing: does not match the attested digest")
    if recheck_inputs:
        check_fresh(att)
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
