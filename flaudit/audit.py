"""One audit, start to finish: inventory -> deployment model -> rules -> findings -> result dict.

Used by ``flaudit scan``, by ``flaudit train`` (the gate) and by programs that embed flaudit.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Iterable

from flaudit.config import FLConfig, load_config
from flaudit.inventory import Inventory


def add_audit_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that audits (scan, train): inputs, FL config, profile, rules."""
    from flaudit import sources

    sources.add_arguments(parser)
    parser.add_argument("--config", "-c", metavar="FILE", help="FL config (config.yaml of the Azure ML FL sample)")
    parser.add_argument("--profile", choices=("prototype", "production"), default="production",
                        help="readiness profile the exit code gates on (default: production)")
    parser.add_argument("--rules-dir", action="append", default=[], metavar="DIR",
                        help="also load the rules declared in DIR/*.py (repeatable)")


def run_audit(inventory: Inventory, config: FLConfig | None = None, *, profile: str = "production",
              rules_dirs: Iterable[Path] = (), generated_at: str | None = None) -> dict[str, Any]:
    from flaudit.engine import load_rules, run_rules
    from flaudit.result import build_result
    from flaudit.topology import build_deployment

    deployment = build_deployment(inventory, config)
    rules = load_rules(rules_dirs)
    findings = run_rules(deployment, rules)
    return build_result(
        findings=findings, profile=profile, inventory=inventory, topology=deployment.topology_dict(),
        access=deployment.access_edges(), network_paths=deployment.network_paths(), rules=rules,
        generated_at=generated_at,
    )


def audit_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """Load the inputs and FL config named on the command line and audit them."""
    from flaudit import sources

    config = load_config(args.config) if getattr(args, "config", None) else None
    args.fl_config = config  # sources such as live collection read the workspace from it
    inventory = sources.load_inventory(args)
    return run_audit(inventory, args.fl_config, profile=args.profile,
                     rules_dirs=[Path(d) for d in getattr(args, "rules_dir", [])])
