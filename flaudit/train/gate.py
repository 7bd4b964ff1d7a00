"""The training gate: may this deployment's silo data be used for the chosen profile?

It runs the audit exactly as ``flaudit scan`` does (same options, same result), or loads a saved result and
first checks that it audited the very inventory being trained on. Only ``ready`` opens the gate; ``unknown``
(something could not be read) and ``not_ready`` both refuse. Nothing in this module opens silo data or starts
a process: a refusal leaves the world as it found it, apart from the refusal record.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from flaudit.errors import InputError


def canonical_json(obj: Any) -> str:
    """The one serialisation flaudit hashes and writes, so a digest can be recomputed from the file."""
    return json.dumps(obj, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class GateDecision:
    """What the gate saw and decided; the attestation and the refusal record are written from it."""

    profile: str
    status: str  # ready | not_ready | unknown | stale
    result: dict[str, Any]
    result_sha256: str
    input_sha256: str
    rule_pack_version: str
    blocking: list[dict[str, Any]]
    waivers: list[Any]
    source: str  # audit | saved-result
    reason: str = ""
    inventory_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.status == "ready"


def check_result_shape(result: Any, profile: str, origin: str) -> None:
    """A result the gate can read (contract schema 1.x); anything else is an input error, never a pass."""
    if not isinstance(result, dict):
        raise InputError(f"{origin}: not a flaudit result (expected a JSON object)")
    version = str(result.get("schema_version", ""))
    if version.split(".")[0] != "1":
        raise InputError(f"{origin}: result schema_version {version or '(none)'!r} is not 1.x")
    verdict = result.get("verdict", {}).get(profile) if isinstance(result.get("verdict"), dict) else None
    if not isinstance(verdict, dict) or verdict.get("status") not in ("ready", "not_ready", "unknown") \
            or not isinstance(verdict.get("blocking"), list):
        raise InputError(f"{origin}: result has no verdict for profile {profile!r}")
    if not isinstance(result.get("input", {}).get("sha256"), str):
        raise InputError(f"{origin}: result has no input.sha256")
    if not isinstance(result.get("findings"), list):
        raise InputError(f"{origin}: result has no findings list")


def decide(result: dict[str, Any], profile: str, *, source: str = "audit",
           inventory_sha256: str | None = None, config_sha256: str | None = None,
           topology_sha256: str | None = None) -> GateDecision:
    """Turn a result dict into a decision. A saved result is *stale* unless it audited the very inventory, FL
    config and resolved topology given now (``inventory_sha256``, ``config_sha256``, ``topology_sha256``) with
    this rule pack: a ``ready`` result of one config must not open the gate for another."""
    from flaudit.gate import blocking_findings

    check_result_shape(result, profile, "audit result")
    verdict = result["verdict"][profile]
    try:
        blocking = blocking_findings(result, profile)
    except (KeyError, ValueError):
        raise InputError("audit result: blocking finding ids do not match its findings") from None
    if len(blocking) != len(verdict["blocking"]):
        raise InputError("audit result: some blocking finding ids are not among its findings")
    status, reason = verdict["status"], ""
    if status == "ready" and verdict["blocking"]:  # inconsistent: fail closed
        status, reason = "unknown", "the result says ready but lists blocking findings"
    input_sha = result["input"]["sha256"]
    if inventory_sha256 is not None and inventory_sha256 != input_sha:
        status = "stale"
        reason = (f"the saved result audited inventory {input_sha[:12]}, but the inputs given are inventory "
                  f"{inventory_sha256[:12]}: re-run the audit")
    if source == "saved-result" and status != "stale":
        got_cfg = result["input"].get("config_sha256")
        got_topo = result.get("topology_sha256")
        if not got_cfg or not got_topo:
            status = "stale"
            reason = ("the saved result records no FL config or topology digest (written by an older flaudit), so "
                      "it cannot prove it audited this config: re-run the audit")
        elif config_sha256 is not None and got_cfg != config_sha256:
            status = "stale"
            reason = (f"the saved result audited FL config {got_cfg[:12]}, but the config given is "
                      f"{config_sha256[:12]}: re-run the audit")
        elif topology_sha256 is not None and got_topo != topology_sha256:
            status = "stale"
            reason = (f"the saved result resolved topology {got_topo[:12]}, but the inputs given resolve to "
                      f"{topology_sha256[:12]}: re-run the audit")
    rule_pack = str(result.get("tool", {}).get("rule_pack_version", ""))
    if source == "saved-result" and status == "ready":
        from flaudit import RULE_PACK_VERSION

        if rule_pack != RULE_PACK_VERSION:
            status = "stale"
            reason = (f"the saved result was produced by rule pack {rule_pack or '(unknown)'}, this flaudit "
                      f"has {RULE_PACK_VERSION}: re-run the audit")
    waivers = result.get("waivers") or {}
    return GateDecision(
        profile=profile, status=status, result=result, result_sha256=sha256_text(canonical_json(result)),
        input_sha256=input_sha, rule_pack_version=rule_pack, blocking=blocking,
        waivers=list(waivers.get("applied") or []) if isinstance(waivers, dict) else [],
        source=source, reason=reason, inventory_sha256=inventory_sha256 or input_sha,
    )


def load_saved_result(path: str) -> dict[str, Any]:
    from flaudit.result import load_result

    return load_result(path)


def gate_from_args(args: argparse.Namespace) -> GateDecision:
    """Run the audit named on the command line, or check ``--result`` against the inventory it names."""
    from flaudit import audit, sources
    from flaudit.config import load_config

    if getattr(args, "result", None):
        result = load_saved_result(args.result)
        check_result_shape(result, args.profile, args.result)
        from flaudit.result import topology_sha256
        from flaudit.topology import build_deployment

        args.fl_config = load_config(args.config) if getattr(args, "config", None) else None
        inventory = sources.load_inventory(args)  # a --sample input fills in the bundled config
        topology = build_deployment(inventory, args.fl_config).topology_dict()
        return decide(result, args.profile, source="saved-result", inventory_sha256=inventory.sha256(),
                      config_sha256=args.fl_config.sha256 if args.fl_config else "",
                      topology_sha256=topology_sha256(topology))
    result = audit.audit_from_args(args)
    return decide(result, args.profile, source="audit")


def refusal_record(decision: GateDecision, when: str) -> dict[str, Any]:
    """What ``refusal.json`` holds: enough to see why, without any silo data or paths to it."""
    return {
        "kind": "flaudit.refusal",
        "version": 1,
        "created_at": when,
        "profile": decision.profile,
        "status": decision.status,
        "reason": decision.reason or f"verdict for {decision.profile} is {decision.status}",
        "gate_source": decision.source,
        "audit_result_sha256": decision.result_sha256,
        "input_sha256": decision.input_sha256,
        "inventory_sha256": decision.inventory_sha256,
        "rule_pack_version": decision.rule_pack_version,
        "blocking": [{"id": f["id"], "rule_id": f.get("rule_id"), "severity": f.get("severity"),
                      "status": f.get("status"), "silo": f.get("silo"), "message": f.get("message")}
                     for f in decision.blocking],
    }


def blocking_lines(decision: GateDecision) -> list[str]:
    """The refusal as printed: one line per blocking finding, worst first (the result's order)."""
    head = (f"flaudit train: refused: {decision.reason}" if decision.reason else
            f"flaudit train: refused: profile {decision.profile} is {decision.status} "
            f"({len(decision.blocking)} blocking finding{'s' if len(decision.blocking) != 1 else ''})")
    lines = [head]
    for f in decision.blocking:
        where = f" [{f['silo']}]" if f.get("silo") else ""
        lines.append(f"  {f.get('status', '?'):7} {f.get('severity', '?'):8} {f.get('rule_id', f['id'])}{where}: "
                     f"{f.get('message', '')}")
    return lines
