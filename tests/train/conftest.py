"""Helpers for the trainer tests: result dicts built per docs/result-contract.md, a fake audit, fake credential."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from flaudit import RULE_PACK_VERSION


def finding(fid: str, status: str = "fail", severity: str = "high", silo: str | None = "silo1",
            rule_id: str = "FL-NET-001", message: str = "silo storage accepts public traffic") -> dict[str, Any]:
    return {"id": fid, "rule_id": rule_id, "title": "t", "area": "network-isolation", "severity": severity,
            "status": status, "blocks": ["prototype", "production"], "resource_id": "/x", "silo": silo,
            "subject": None, "message": message, "evidence": [], "waiver": None, "location": None}


def make_result(status: str = "ready", *, input_sha: str = "0" * 64, blocking: list[dict[str, Any]] | None = None,
                waivers: list[Any] | None = None, rule_pack: str = RULE_PACK_VERSION, config_sha: str | None = "c" * 64,
                topology_sha: str | None = "d" * 64) -> dict[str, Any]:
    """A result in the contract's shape whose production verdict is ``status``."""
    blocking = list(blocking or [])
    if status != "ready" and not blocking:
        blocking = [finding("FL-NET-001:aaaaaaaaaaaa", "fail" if status == "not_ready" else "unknown")]
    passing = finding("FL-PE-001:bbbbbbbbbbbb", "pass", rule_id="FL-PE-001", message="private endpoint ok")
    verdict = {"status": status, "blocking": [f["id"] for f in blocking]}
    return {
        "schema_version": "1.0",
        "tool": {"name": "flaudit", "version": "0.1.0", "rule_pack_version": rule_pack},
        "generated_at": "2026-11-30T06:00:00+00:00",
        "profile": "production",
        "input": {"sha256": input_sha, "resources": 1, "sources": [{"kind": "sample", "path": "x", "resources": 1}],
                  "ignored_types": {}, "unreadable": [], "unsupported": [], "collection": {},
                  "config_sha256": config_sha},
        "topology": {}, "topology_sha256": topology_sha, "rules": [], "findings": [passing, *blocking], "access": [], "network_paths": [],
        "summary": {},
        "verdict": {"prototype": dict(verdict), "production": dict(verdict)},
        "waivers": {"file": None, "applied": list(waivers or []), "expired": [], "stale": []},
    }


@pytest.fixture
def fake_audit(monkeypatch):
    """Replace the audit with one returning a chosen verdict for the real inventory of the given inputs.

    The inventory digest is the real one, so attestation freshness checks work as in production.
    """
    calls: list[Any] = []

    def install(status: str = "ready", **kw: Any):
        def audit_from_args(args):
            from flaudit import sources
            from flaudit.config import load_config

            args.fl_config = load_config(args.config) if getattr(args, "config", None) else None
            inv = sources.load_inventory(args)
            calls.append(args)
            return make_result(status, input_sha=inv.sha256(), **kw)

        monkeypatch.setattr("flaudit.audit.audit_from_args", audit_from_args)
        return calls

    return install


class FakeCredential:
    """Returns an unsigned JWT-shaped token whose audience is the scope asked for (azure-ai-ml decodes it)."""

    def get_token(self, *scopes: str, **_: Any):
        from azure.core.credentials import AccessToken

        def b64(d: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

        claims = {"oid": "11111111-2222-3333-4444-555555555555", "tid": "66666666-7777-8888-9999-000000000000",
                  "aud": scopes[0].removesuffix("/.default"), "name": "tester"}
        return AccessToken(f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}.sig", 4102444800)


def write_silo_csvs(root: Path, n_silos: int = 3, rows: int = 40, features: int = 4, seed: int = 0) -> dict[str, Any]:
    """Small separable CSV files per silo; returns an FL config document pointing at them."""
    import random

    rng = random.Random(seed)
    silos = []
    for i in range(n_silos):
        d = root / f"silo{i}"
        d.mkdir(parents=True, exist_ok=True)
        for kind, n in (("train", rows), ("test", rows // 2)):
            lines = [",".join([*(f"f{j}" for j in range(features)), "label"])]
            for _ in range(n):
                label = rng.randrange(3)
                xs = [rng.gauss(label * 2.0 if j == 0 else 0.0, 0.5) for j in range(features)]
                lines.append(",".join([*(f"{x:.4f}" for x in xs), str(label)]))
            (d / f"{kind}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        silos.append({"name": f"silo{i}", "computes": [f"silo{i}-01"], "datastore": f"datastore_silo{i}",
                      "training_data": {"type": "uri_file", "mode": "download", "path": f"silo{i}/train.csv"},
                      "testing_data": {"type": "uri_file", "mode": "download", "path": f"silo{i}/test.csv"}})
    return {
        "aml": {"subscription_id": "6b6f2d51-8c3e-4f1a-9d7b-2f4e5a6c7d80", "resource_group_name": "rg-fl",
                "workspace_name": "aml-fl"},
        "federated_learning": {"orchestrator": {"compute": "orchestrator-01", "datastore": "datastore_orchestrator"},
                               "silos": silos},
        "training_parameters": {"num_of_iterations": 2, "epochs": 1, "lr": 0.3, "batch_size": 16},
    }


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    from flaudit.cli import main

    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err
